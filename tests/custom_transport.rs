//! A custom transport in place of the built-in hyper client: it receives the signed
//! `http::Request` and the route, and its answer is verified by the client like any other.

mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;
use wechatpay_chain::signer::{canonical_response, sign_base64};
use wechatpay_chain::transport::{BoxFuture, Route, Transport};
use wechatpay_chain::{
    Error, ErrorKind, Options, PrivateKey, Response, Result, TransportKind, VerifyError, Wechatpay,
};

const NOW: i64 = support::VECTOR_EPOCH;
const TIMEOUT: Duration = Duration::from_secs(7);
const ANSWER: &str = r#"{"code_url":"weixin://wxpay/bizpayurl?pr=abc"}"#;

/// What the transport was handed.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Bytes,
    route: Route,
}

/// Answers every request in memory with [`ANSWER`], signed by the fixture platform key; with
/// `sign_other_body` the signature covers another body (as a tampered answer would).
#[derive(Debug)]
struct InMemory {
    platform_key: PrivateKey,
    sign_other_body: bool,
    seen: Mutex<Vec<Seen>>,
}

impl InMemory {
    fn new(sign_other_body: bool) -> Self {
        Self {
            platform_key: PrivateKey::from_pem(support::fixture("platform_key.pem"))
                .expect("platform key"),
            sign_other_body,
            seen: Mutex::new(Vec::new()),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn answer(&self) -> Result<Response> {
        let timestamp = NOW.to_string();
        let nonce = "rT7mKq2ZpL9xWc4vB8nY3sD6fH1jG5aE";
        let signed_body = if self.sign_other_body {
            r#"{"code_url":"weixin://wxpay/bizpayurl?pr=evil"}"#
        } else {
            ANSWER
        };
        let message = canonical_response(&timestamp, nonce, signed_body.as_bytes());
        let signature = sign_base64(&self.platform_key, &message)?;
        let mut headers = HeaderMap::new();
        let mut set = |name: &'static str, value: &str| {
            headers.insert(name, HeaderValue::from_str(value).unwrap());
        };
        set("wechatpay-timestamp", &timestamp);
        set("wechatpay-nonce", nonce);
        set("wechatpay-signature", &signature);
        set("wechatpay-serial", &support::fixtures().platform_serial);
        set("request-id", "08F1A2B3C4D5E6F7-0");
        set("content-type", "application/json");
        Ok(Response::new(
            StatusCode::OK,
            headers,
            Bytes::from_static(ANSWER.as_bytes()),
        ))
    }
}

impl Transport for InMemory {
    fn send<'a>(
        &'a self,
        request: http::Request<Bytes>,
        route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>> {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        self.seen.lock().unwrap().push(Seen {
            method: request.method().to_string(),
            uri: request.uri().to_string(),
            authorization: header("authorization"),
            content_type: header("content-type"),
            body: request.body().clone(),
            route: route.clone(),
        });
        Box::pin(async move { self.answer() })
    }
}

fn client_with(transport: std::sync::Arc<dyn Transport>) -> Wechatpay {
    support::builder_at(NOW)
        .timeout(TIMEOUT)
        .transport(transport)
        .build()
        .expect("client")
}

/// A native-pay order as the request body.
fn order() -> Options {
    Options::new().json(json!({"appid": "wxd678efh567hg6787", "mchid": "1900000109", "description": "x",
           "out_trade_no": "T1", "notify_url": "https://example.invalid/n", "amount": {"total": 1}}))
}

#[tokio::test]
async fn a_signed_answer_from_a_custom_transport_is_verified_and_returned() {
    let transport = std::sync::Arc::new(InMemory::new(false));
    let wxpay = client_with(transport.clone());
    let chain = wxpay.chain("v3/pay/transactions/native");
    let prepared = chain
        .prepare(wechatpay_chain::Method::POST, order())
        .expect("prepare");

    let response = chain.post(order()).await.expect("verified answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes(), ANSWER.as_bytes());
    assert_eq!(response.request_id(), Some("08F1A2B3C4D5E6F7-0"));

    let seen = transport.seen();
    assert_eq!(seen.len(), 1, "one request, no retry");
    let seen = &seen[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.uri,
        prepared.url(),
        "absolute URI on the primary origin"
    );
    assert_eq!(
        seen.body,
        prepared.body(),
        "the exact body bytes that were signed"
    );
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    let authorization = seen.authorization.as_deref().expect("signed");
    assert!(
        authorization.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\","),
        "{authorization}"
    );
    assert_eq!(
        seen.route,
        Route::new("https://api.mch.weixin.qq.com", TIMEOUT)
            .with_backup("https://api2.mch.weixin.qq.com")
    );
}

#[tokio::test]
async fn a_wrongly_signed_answer_from_a_custom_transport_is_rejected() {
    let transport = std::sync::Arc::new(InMemory::new(true));
    let wxpay = client_with(transport.clone());
    let e = wxpay
        .chain("v3/pay/transactions/native")
        .post(order())
        .await
        .expect_err("the signature covers another body");
    assert_eq!(e.verify(), Some(&VerifyError::BadSignature), "{e}");
    let kept = e.response().expect("the rejected answer is kept");
    assert_eq!(kept.bytes(), ANSWER.as_bytes());
    assert_eq!(transport.seen().len(), 1);
}

/// Fails like a network that refuses connections.
#[derive(Debug)]
struct Refusing;

impl Transport for Refusing {
    fn send<'a>(
        &'a self,
        _request: http::Request<Bytes>,
        route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>> {
        Box::pin(async move {
            Err(Error::transport_with_source(
                TransportKind::Connect,
                format!("cannot connect to {}", route.origin),
                std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
            ))
        })
    }
}

#[tokio::test]
async fn a_custom_transport_error_keeps_its_kind_and_cause() {
    let wxpay = client_with(std::sync::Arc::new(Refusing));
    let e = wxpay.v3().certificates().get(()).await.unwrap_err();
    assert!(e.is_connect(), "{e}");
    assert!(matches!(e.kind(), ErrorKind::Transport(t) if t.kind == TransportKind::Connect));
    let cause = std::error::Error::source(&e).expect("the cause is kept");
    let io = cause
        .downcast_ref::<std::io::Error>()
        .expect("the io error given by the transport");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// Never answers.
#[derive(Debug)]
struct Hanging;

impl Transport for Hanging {
    fn send<'a>(
        &'a self,
        _request: http::Request<Bytes>,
        _route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn the_client_timeout_bounds_a_custom_transport_that_hangs() {
    let wxpay = support::builder_at(NOW)
        .timeout(Duration::from_millis(200))
        .transport(std::sync::Arc::new(Hanging))
        .build()
        .expect("client");
    let started = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(5), wxpay.v3().certificates().get(()))
        .await
        .expect("the client gave up by itself")
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
