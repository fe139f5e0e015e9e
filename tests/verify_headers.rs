//! Signature headers fail closed: a repeated `Wechatpay-*` header is a verification error
//! whichever copy is valid, and a header that is present but not visible ASCII is its own
//! error, not "missing". Checked on `verifier::verify_signed`/`verify_response` with the
//! vectors' valid headers, and end to end through the client with a custom transport.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use wechatpay_chain::transport::{BoxFuture, Route, Transport};
use wechatpay_chain::verifier::{verify_response, verify_signed, SIGNED_HEADERS};
use wechatpay_chain::{Response, Result, VerifyError};

/// The first response vector: a valid signed answer, with its `now`, path and body.
struct Signed {
    headers: HeaderMap,
    body: String,
    now: i64,
    path: String,
}

fn signed() -> Signed {
    let vectors = support::vectors();
    let case = vectors["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .find(|c| c["expect"] == "ok")
        .expect("a valid response vector")
        .clone();
    let mut headers = HeaderMap::new();
    for (name, value) in case["headers"].as_object().expect("headers") {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    Signed {
        headers,
        body: case["body"].as_str().unwrap().to_string(),
        now: case["now"].as_i64().unwrap(),
        path: case["path"].as_str().unwrap().to_string(),
    }
}

fn verify(s: &Signed, headers: &HeaderMap) -> std::result::Result<(), VerifyError> {
    verify_signed(headers, s.body.as_bytes(), s.now, &support::key_store())
}

#[test]
fn the_valid_vector_verifies() {
    let s = signed();
    assert_eq!(verify(&s, &s.headers), Ok(()));
    assert_eq!(
        verify_response(
            200,
            &s.path,
            &s.headers,
            s.body.as_bytes(),
            s.now,
            &support::key_store()
        ),
        Ok(())
    );
}

#[test]
fn a_duplicate_after_the_valid_value_is_refused() {
    let s = signed();
    for name in SIGNED_HEADERS {
        for junk in ["junk", "1763780100", "WECHATPAY2-SHA256-RSA2048"] {
            let mut headers = s.headers.clone();
            if !headers.contains_key(*name) {
                // Absent from the vector (`Wechatpay-Statement-Sha1`): a first copy, then junk.
                headers.insert(*name, HeaderValue::from_static("first"));
            }
            headers.append(*name, HeaderValue::from_static(junk));
            let expected = Err(VerifyError::DuplicateHeader(name));
            assert_eq!(verify(&s, &headers), expected, "{name}: {junk}");
            assert_eq!(
                verify_response(
                    200,
                    &s.path,
                    &headers,
                    s.body.as_bytes(),
                    s.now,
                    &support::key_store()
                ),
                expected,
                "verify_response, {name}: {junk}"
            );
        }
    }
}

#[test]
fn the_same_value_twice_is_refused_too() {
    let s = signed();
    for name in [
        "Wechatpay-Signature",
        "Wechatpay-Serial",
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
    ] {
        let mut headers = s.headers.clone();
        let value = headers[name].clone();
        headers.append(name, value);
        assert_eq!(
            verify(&s, &headers),
            Err(VerifyError::DuplicateHeader(name)),
            "{name}"
        );
    }
}

#[test]
fn a_present_header_that_is_not_visible_ascii_is_invalid_not_missing() {
    let s = signed();
    for name in SIGNED_HEADERS {
        for bytes in [&b"\xff\xfe"[..], "签名".as_bytes(), b"ok\x80"] {
            let mut headers = s.headers.clone();
            headers.insert(*name, HeaderValue::from_bytes(bytes).unwrap());
            assert_eq!(
                verify(&s, &headers),
                Err(VerifyError::InvalidHeader(name)),
                "{name}: {bytes:?}"
            );
        }
    }
    let shown = VerifyError::InvalidHeader("Wechatpay-Nonce").to_string();
    assert!(shown.contains("Wechatpay-Nonce"), "{shown}");
    assert!(!shown.contains("missing"), "{shown}");
    let shown = VerifyError::DuplicateHeader("Wechatpay-Signature").to_string();
    assert!(shown.contains("Wechatpay-Signature"), "{shown}");
}

/// Answers every request with the valid vector's response plus `extra` headers appended.
#[derive(Debug)]
struct Replay {
    extra: Vec<(&'static str, HeaderValue)>,
}

impl Transport for Replay {
    fn send<'a>(
        &'a self,
        _request: http::Request<Bytes>,
        _route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>> {
        let s = signed();
        let mut headers = s.headers;
        for (name, value) in &self.extra {
            headers.append(*name, value.clone());
        }
        Box::pin(async move { Ok(Response::new(StatusCode::OK, headers, Bytes::from(s.body))) })
    }
}

async fn through_client(extra: Vec<(&'static str, HeaderValue)>) -> Result<Response> {
    let s = signed();
    let wxpay = support::builder_at(s.now)
        .transport(Arc::new(Replay { extra }))
        .build()
        .expect("client");
    let order = serde_json::json!({"json": {"out_trade_no": "T1"}});
    let chain = wxpay.chain(s.path.trim_start_matches('/'));
    tokio::time::timeout(std::time::Duration::from_secs(10), chain.post(order))
        .await
        .expect("bounded")
}

#[tokio::test]
async fn the_client_refuses_an_answer_with_a_duplicated_signature_header() {
    let ok = through_client(Vec::new())
        .await
        .expect("the plain answer verifies");
    assert_eq!(ok.status(), StatusCode::OK);
    for name in [
        "Wechatpay-Signature",
        "Wechatpay-Serial",
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
    ] {
        let e = through_client(vec![(name, HeaderValue::from_static("junk"))])
            .await
            .expect_err("a duplicate is not trusted");
        assert_eq!(e.verify(), Some(&VerifyError::DuplicateHeader(name)), "{e}");
        assert!(e.to_string().contains(name), "{e}");
        assert!(e.response().is_some(), "the refused answer is kept");
    }
    let e = through_client(vec![(
        "Wechatpay-Nonce",
        HeaderValue::from_bytes(b"\xff").unwrap(),
    )])
    .await
    .expect_err("invalid");
    // Appended: a duplicate first of all.
    assert_eq!(
        e.verify(),
        Some(&VerifyError::DuplicateHeader("Wechatpay-Nonce")),
        "{e}"
    );
}
