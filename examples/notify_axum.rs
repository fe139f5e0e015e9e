//! Receives a notification in axum: the embedded sandbox delivers a signed, encrypted
//! `TRANSACTION.SUCCESS` to `http://127.0.0.1:<port>/notify`; the route's
//! `VerifiedNotification` extractor verifies and decrypts it with the `Wechatpay` in the
//! router's state, the handler answers `Reply::success()` (204), prints the event, and exits.
//!
//! `cargo run --example notify_axum --features sandbox,axum`

// An example talks to its reader on stdout.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wechatpay_chain::notification::axum::VerifiedNotification;
use wechatpay_chain::notification::{Notification, Reply};
use wechatpay_chain::sandbox::Sandbox;
use wechatpay_chain::{json, Wechatpay};

/// The router's state: the client (reached by the extractor through `FromRef`) and where
/// handled events go.
#[derive(Clone)]
struct App {
    wxpay: Wechatpay,
    events: mpsc::UnboundedSender<Notification>,
}

impl axum::extract::FromRef<App> for Wechatpay {
    fn from_ref(app: &App) -> Wechatpay {
        app.wxpay.clone()
    }
}

/// Runs only for a notification that verified and decrypted; anything else was already
/// refused with `{"code":"FAIL","message":…}`.
async fn notify(
    State(app): State<App>,
    VerifiedNotification(event): VerifiedNotification,
) -> Reply {
    match app.events.send(event) {
        Ok(()) => Reply::success(),
        Err(_) => Reply::failure("shutting down"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::builder().start().await?;
    let (events, mut received) = mpsc::unbounded_channel();
    let app = App {
        wxpay: sandbox.client()?,
        events,
    };
    let router = Router::new().route("/notify", post(notify)).with_state(app);

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/notify", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!("axum listening on {notify_url}");

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
    println!("the sandbox delivered the notification; axum answered HTTP {status}");

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
        return Err(format!("axum answered {status}, not 204").into());
    }
    Ok(())
}
