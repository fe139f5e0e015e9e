//! Receives a notification in a plain hyper 1 server: the embedded sandbox delivers a signed,
//! encrypted `TRANSACTION.SUCCESS` to `http://127.0.0.1:<port>/notify`; the handler verifies
//! and decrypts it with `Wechatpay::notification`, answers `204`, prints the event, and exits.
//!
//! `cargo run --example notify_hyper --features sandbox`

// An example talks to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wechatpay_chain::notification::{Notification, Reply};
use wechatpay_chain::sandbox::Sandbox;
use wechatpay_chain::{json, Wechatpay};

/// Verifies and decrypts one request; the reply goes back to WeChat Pay (here the sandbox).
async fn handle(
    wxpay: Wechatpay,
    events: mpsc::UnboundedSender<Notification>,
    request: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    // The signature covers the raw bytes: read them as received (bounded), never re-encode.
    let reply = match Limited::new(body, 1 << 20).collect().await {
        Err(_) => Reply::failure_with_status(http::StatusCode::BAD_REQUEST, "unreadable body"),
        Ok(body) => match wxpay.notification(&parts.headers, &body.to_bytes()).await {
            Ok(event) => {
                let _ = events.send(event);
                Reply::success()
            }
            Err(error) => {
                println!("refused: {error}");
                Reply::for_error(&error)
            }
        },
    };
    Ok(reply.into_http().map(Full::new))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::builder().start().await?;
    let wxpay = sandbox.client()?;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/notify", listener.local_addr()?);
    let (events, mut received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (wxpay, events) = (wxpay.clone(), events.clone());
            let service = hyper::service::service_fn(move |request| {
                handle(wxpay.clone(), events.clone(), request)
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    println!("listening on {notify_url}");

    let resource = json!({
        "out_trade_no": "1217752501201407033233368018",
        "transaction_id": "4200000000202511220000000001",
        "trade_state": "SUCCESS",
        "amount": {"total": 100, "currency": "CNY"},
    });
    let status = tokio::time::timeout(
        Duration::from_secs(20),
        sandbox.deliver_notification(&notify_url, "TRANSACTION.SUCCESS", resource),
    )
    .await??;
    println!("the sandbox delivered the notification; the listener answered HTTP {status}");

    let event = received
        .recv()
        .await
        .ok_or("no notification was received")?;
    println!(
        "verified and decrypted: {} {} ({}) at {}",
        event.id(),
        event.event_type(),
        event.summary(),
        event.create_time()
    );
    println!("resource: {}", event.resource());
    sandbox.shutdown();
    if status != 204 {
        return Err(format!("the listener answered {status}, not 204").into());
    }
    Ok(())
}
