//! The `axum` feature: `VerifiedNotification` behind a real `axum::serve` on loopback, fed by
//! the sandbox (success and each refusal, whose status the sandbox reports), plus the body cap.

mod support;

use std::time::Duration;

use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wechatpay_chain::notification::axum::{VerifiedNotification, BODY_LIMIT};
use wechatpay_chain::notification::{Notification, Reply};
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::Wechatpay;

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

async fn notify(
    axum::extract::State(app): axum::extract::State<App>,
    VerifiedNotification(event): VerifiedNotification,
) -> Reply {
    let _ = app.events.send(event);
    Reply::success()
}

/// Serves `/notify` with `wxpay` in the state; returns its URL and the handled events.
async fn serve(wxpay: Wechatpay) -> (String, mpsc::UnboundedReceiver<Notification>) {
    let (events, received) = mpsc::unbounded_channel();
    let router = Router::new()
        .route("/notify", post(notify))
        .with_state(App { wxpay, events });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(30), test)
        .await
        .expect("within 30 s");
}

async fn sandbox() -> SandboxHandle {
    Sandbox::builder().start().await.unwrap()
}

#[tokio::test]
async fn axum_receives_a_sandbox_notification() {
    bounded(async {
        let sandbox = sandbox().await;
        let (url, mut received) = serve(sandbox.client().unwrap()).await;
        let resource = json!({"out_trade_no": "AXUM-1", "trade_state": "SUCCESS"});
        let status = sandbox
            .deliver_notification(&url, "TRANSACTION.SUCCESS", resource.clone())
            .await
            .unwrap();
        assert_eq!(status, 204, "the sandbox saw the success reply");
        let event = received.recv().await.unwrap();
        assert_eq!(event.event_type(), "TRANSACTION.SUCCESS");
        assert_eq!(event.resource(), &resource);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn axum_refuses_what_does_not_open_with_the_failure_reply() {
    bounded(async {
        let sandbox = sandbox().await;
        // Another APIv3 key: verifies, does not decrypt → 400; the handler never runs.
        let wrong_key = sandbox
            .client_builder()
            .apiv3_key([3u8; 32])
            .build()
            .unwrap();
        let (url, mut received) = serve(wrong_key).await;
        let status = sandbox
            .deliver_notification(&url, "TRANSACTION.SUCCESS", json!({"a": 1}))
            .await
            .unwrap();
        assert_eq!(status, 400);
        assert!(received.try_recv().is_err(), "the handler did not run");

        // A clock 10 minutes ahead: the timestamp is stale → 401.
        let late = sandbox
            .client_builder()
            .clock(wechatpay_chain::FixedClock(
                sandbox.client().unwrap().now() + 600,
            ))
            .build()
            .unwrap();
        let (url, _received) = serve(late).await;
        let status = sandbox
            .deliver_notification(&url, "TRANSACTION.SUCCESS", json!({"a": 1}))
            .await
            .unwrap();
        assert_eq!(status, 401);
        sandbox.shutdown();
    })
    .await;
}

/// POSTs `body` with `headers` over a raw TCP connection, with a `Content-Length` or (when
/// `chunked`) as one chunk with no declared length; returns (status, body).
async fn post_raw(url: &str, headers: &[(&str, &str)], body: &[u8], chunked: bool) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/notify");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("POST /notify HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let body = if chunked {
        request.push_str("Transfer-Encoding: chunked\r\n");
        let mut framed = format!("{:x}\r\n", body.len()).into_bytes();
        framed.extend_from_slice(body);
        framed.extend_from_slice(b"\r\n0\r\n\r\n");
        framed
    } else {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        body.to_vec()
    };
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // The server may answer (and close) before reading all of a refused body.
    let _ = stream.write_all(&body).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text[9..12].parse().unwrap();
    let json = text
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test]
async fn axum_refuses_unsigned_and_oversized_bodies() {
    bounded(async {
        let (url, mut received) = serve(support::client()).await;
        let (status, body) =
            post_raw(&url, &[("Content-Type", "application/json")], b"{}", false).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "FAIL");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("Wechatpay-Timestamp"),
            "{body}"
        );

        // Too large, declared up front or found while reading a chunked body.
        let big = vec![b' '; BODY_LIMIT + 1];
        for chunked in [false, true] {
            let (status, body) = post_raw(&url, &[], &big, chunked).await;
            assert_eq!(status, 413, "chunked: {chunked}");
            assert_eq!(body["code"], "FAIL");
        }
        // Exactly at the limit is read, then refused only because it is not signed.
        let (status, _) = post_raw(&url, &[], &big[..BODY_LIMIT], true).await;
        assert_eq!(status, 401);
        assert!(received.try_recv().is_err());
    })
    .await;
}
