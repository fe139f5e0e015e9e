//! The sandbox's bench mode: verified answers, one signature per second, refusals kept,
//! nothing recorded.
#![cfg(feature = "sandbox")]

use std::future::Future;
use std::time::Duration;

use serde_json::{json, Value};
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::{PrivateKey, Response, Wechatpay};

#[path = "support/raw_http.rs"]
mod raw;

const NATIVE: &str = "v3/pay/transactions/native";

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the test took longer than 30 s")
}

async fn bench_sandbox() -> SandboxHandle {
    Sandbox::builder()
        .bench_mode(true)
        .start()
        .await
        .expect("sandbox starts")
}

fn order(i: usize) -> Value {
    json!({"json": {
        "appid": "wxd678efh567hg6787",
        "mchid": "1900000109",
        "description": format!("bench order {i}"),
        "out_trade_no": format!("BENCH{i:08}"),
        "notify_url": "https://example.com/notify",
        "amount": {"total": 1},
    }})
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name}"))
}

async fn post(wxpay: &Wechatpay, i: usize) -> Response {
    wxpay
        .chain(NATIVE)
        .post(order(i))
        .await
        .expect("a verified 200")
}

#[tokio::test]
async fn answers_verify_and_share_their_signature_within_a_second() {
    bounded(async {
        let sandbox = bench_sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let signature = |r: &Response| {
            assert_eq!(r.status(), 200);
            assert_eq!(r.json::<Value>().unwrap(), json!({"sandbox": "bench"}));
            [
                header(r, "wechatpay-timestamp").to_string(),
                header(r, "wechatpay-nonce").to_string(),
                header(r, "wechatpay-signature").to_string(),
            ]
        };
        // Two answers within one second (retried if a pair straddles a second).
        let mut same_second = None;
        for i in 0..20 {
            let a = signature(&post(&wxpay, 2 * i).await);
            let b = signature(&post(&wxpay, 2 * i + 1).await);
            if a[0] == b[0] {
                assert_eq!(a, b, "one signature per second");
                same_second = Some(a);
                break;
            }
        }
        let earlier = same_second.expect("two answers within one second");
        // A later second: a new signature.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let later = signature(&post(&wxpay, 99).await);
        assert_ne!(later[0], earlier[0]);
        assert_ne!(later[2], earlier[2], "a new second, a new signature");
        assert!(sandbox.requests().is_empty(), "nothing is recorded");
        assert_eq!(sandbox.recorded_bytes(), 0);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn connections_are_counted_and_reused() {
    bounded(async {
        let sandbox = bench_sandbox().await;
        let wxpay = sandbox.client().unwrap();
        assert_eq!(sandbox.connections_accepted(), 0);
        for i in 0..5 {
            post(&wxpay, i).await;
        }
        assert_eq!(
            sandbox.connections_accepted(),
            1,
            "one keep-alive connection"
        );
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn unsigned_and_badly_signed_requests_are_still_refused() {
    bounded(async {
        let sandbox = bench_sandbox().await;
        let pem = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/platform_key.pem"
        );
        let wrong_key = PrivateKey::from_pem_file(pem).unwrap();
        let forger = sandbox
            .client_builder()
            .private_key(wrong_key)
            .build()
            .unwrap();
        let e = forger.chain(NATIVE).post(order(1)).await.unwrap_err();
        let api = e.api().unwrap_or_else(|| panic!("an API error: {e}"));
        assert_eq!(api.status, 401, "{e}");
        assert_eq!(api.code.as_deref(), Some("SIGN_ERROR"), "{e}");

        let body = order(2)["json"].to_string();
        let request = format!(
            "POST /{NATIVE} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\
             User-Agent: t\r\nContent-Type: application/json\r\nConnection: close\r\n\
             Content-Length: {len}\r\n\r\n{body}",
            addr = sandbox.addr(),
            len = body.len(),
        );
        let (status, _, answer) = raw::raw_http(sandbox.addr(), request.as_bytes()).await;
        assert_eq!(status, 401);
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["code"], "SIGN_ERROR");

        assert!(
            sandbox.requests().is_empty(),
            "refusals are not recorded either"
        );
        sandbox.shutdown();
    })
    .await;
}
