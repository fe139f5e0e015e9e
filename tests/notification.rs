//! `notification`: every `notifications` and `aes_gcm` vector, tampering that must fail
//! closed, the replies, and end to end: the sandbox delivers a notification to a hyper server
//! in this test, which verifies, decrypts and answers with `Reply`.

mod support;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};
use support::{array, fixture, fixtures, key_store, str_field, vectors};
use wechatpay_chain::crypto::{aes_gcm_decrypt, aes_gcm_encrypt};
use wechatpay_chain::notification::{self, Notification, Reply};
use wechatpay_chain::signer::{canonical_response, sign_base64};
use wechatpay_chain::{
    ApiV3Key, ConfigError, CryptoError, DecodeError, Error, ErrorKind, FixedClock, PrivateKey,
    VerifyError, Wechatpay,
};

/// The second the notification vectors were signed at.
const NOW: i64 = 1_763_780_200;

fn apiv3_key() -> ApiV3Key {
    ApiV3Key::new(fixtures().apiv3_key).unwrap()
}

fn headers_of(case: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in case["headers"].as_object().expect("vector headers") {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    headers
}

/// Asserts that `error` is the vector's error class.
fn assert_class(class: &str, error: &Error, name: &str) {
    let verify = error.verify();
    let matched = match class {
        "clock" => matches!(verify, Some(VerifyError::Clock { .. })),
        "probe" => matches!(verify, Some(VerifyError::SignatureProbe)),
        "bad_signature" | "signature" => matches!(verify, Some(VerifyError::BadSignature)),
        "unknown_serial" | "serial" => matches!(verify, Some(VerifyError::UnknownSerial { .. })),
        "duplicate_header" => matches!(verify, Some(VerifyError::DuplicateHeader(_))),
        "missing_header" => matches!(verify, Some(VerifyError::MissingHeader(_))),
        "decrypt" => matches!(error.kind(), ErrorKind::Crypto(CryptoError::Decrypt)),
        other => panic!("{name}: unknown expected class {other}"),
    };
    assert!(matched, "{name}: expected {class}, got {error:?}");
}

#[test]
fn every_notification_vector_has_its_exact_outcome() {
    let all = vectors();
    let cases = array(&all, "notifications");
    assert!(cases.len() >= 5, "the vector file has the notifications");
    let (keys, key) = (key_store(), apiv3_key());
    let mut ok = 0;
    for case in cases {
        let name = str_field(case, "name");
        let body = str_field(case, "body").as_bytes();
        let now = case["now"].as_i64().expect("now");
        let result = notification::open(&headers_of(case), body, &keys, &key, now);
        match str_field(case, "expect") {
            "ok" => {
                let n = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    n.plaintext(),
                    str_field(case, "plaintext").as_bytes(),
                    "{name}"
                );
                let envelope: Value = serde_json::from_slice(body).unwrap();
                assert_eq!(n.id(), envelope["id"], "{name}");
                assert_eq!(n.event_type(), envelope["event_type"], "{name}");
                assert_eq!(n.create_time(), envelope["create_time"], "{name}");
                assert_eq!(n.resource_type(), "encrypt-resource", "{name}");
                assert_eq!(n.summary(), envelope["summary"], "{name}");
                assert_eq!(
                    n.original_type(),
                    envelope["resource"]["original_type"],
                    "{name}"
                );
                let plain: Value = serde_json::from_str(str_field(case, "plaintext")).unwrap();
                assert_eq!(n.resource(), &plain, "{name}");
                assert_eq!(n.resource_as::<Value>().unwrap(), plain, "{name}");
                ok += 1;
            }
            class => assert_class(class, &result.expect_err(name), name),
        }
    }
    assert!(ok >= 3, "the ok vectors ran");
}

#[test]
fn every_aes_gcm_vector_decrypts_and_tampering_fails() {
    let all = vectors();
    for case in array(&all, "aes_gcm") {
        let key: &[u8; 32] = str_field(case, "key").as_bytes().try_into().unwrap();
        let (nonce, aad) = (str_field(case, "nonce"), str_field(case, "aad"));
        let cipher = str_field(case, "ciphertext");
        let plain = str_field(case, "plaintext").as_bytes();
        assert_eq!(
            aes_gcm_decrypt(key, nonce.as_bytes(), aad.as_bytes(), cipher).unwrap(),
            plain
        );
        let decrypt_fails = |nonce: &[u8], aad: &[u8], cipher: &str| {
            let e = aes_gcm_decrypt(key, nonce, aad, cipher).unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::Crypto(CryptoError::Decrypt), "{e}");
        };
        let mut sealed = BASE64.decode(cipher).unwrap();
        sealed[0] ^= 1;
        decrypt_fails(nonce.as_bytes(), aad.as_bytes(), &BASE64.encode(&sealed));
        decrypt_fails(nonce.as_bytes(), format!("{aad}x").as_bytes(), cipher);
        let mut other_nonce = nonce.as_bytes().to_vec();
        other_nonce[0] ^= 1;
        decrypt_fails(&other_nonce, aad.as_bytes(), cipher);

        // The same resource inside a signed notification decrypts through `open`.
        let n = signed_open(&envelope(cipher, nonce, aad), NOW, |_| {});
        match std::str::from_utf8(plain)
            .ok()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
        {
            Some(json) => assert_eq!(n.unwrap().resource(), &json),
            None => {
                let e = n.unwrap_err();
                assert!(
                    matches!(e.kind(), ErrorKind::Decode(DecodeError::Field(_))),
                    "{e}"
                );
            }
        }
    }
}

/// A notification body around an encrypted resource.
fn envelope(ciphertext: &str, nonce: &str, aad: &str) -> Vec<u8> {
    json!({
        "id": "EV-TEST-1",
        "create_time": "2025-11-22T10:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": aad,
            "nonce": nonce,
        },
    })
    .to_string()
    .into_bytes()
}

/// Headers signing `body` at `NOW` with the WeChat Pay public key's private half.
fn sign(body: &[u8]) -> HeaderMap {
    let key = PrivateKey::from_pem(fixture("pub_key_private.pem")).unwrap();
    let (ts, nonce) = (NOW.to_string(), "TestNonce0123456789");
    let signature = sign_base64(&key, &canonical_response(&ts, nonce, body)).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Wechatpay-Timestamp", ts.parse().unwrap());
    headers.insert("Wechatpay-Nonce", HeaderValue::from_static(nonce));
    headers.insert("Wechatpay-Signature", signature.parse().unwrap());
    headers.insert(
        "Wechatpay-Serial",
        fixtures().public_key_id.parse().unwrap(),
    );
    headers.insert(
        "Wechatpay-Signature-Type",
        HeaderValue::from_static("WECHATPAY2-SHA256-RSA2048"),
    );
    headers
}

/// Signs `body`, lets `tamper` change the headers, and opens it at `now`.
fn signed_open(
    body: &[u8],
    now: i64,
    tamper: impl FnOnce(&mut HeaderMap),
) -> wechatpay_chain::Result<Notification> {
    let mut headers = sign(body);
    tamper(&mut headers);
    notification::open(&headers, body, &key_store(), &apiv3_key(), now)
}

fn verify_error(result: wechatpay_chain::Result<Notification>) -> VerifyError {
    let e = result.expect_err("must fail closed");
    e.verify()
        .cloned()
        .unwrap_or_else(|| panic!("not a verification error: {e:?}"))
}

fn resource_body() -> Vec<u8> {
    let plain = br#"{"out_trade_no":"ORDER-77","trade_state":"SUCCESS"}"#;
    let key = fixtures().apiv3_key;
    let cipher = aes_gcm_encrypt(
        key.as_bytes().try_into().unwrap(),
        b"0123456789ab",
        b"transaction",
        plain,
    )
    .unwrap();
    envelope(&cipher, "0123456789ab", "transaction")
}

#[test]
fn tampering_fails_closed() {
    let body = resource_body();
    let n = signed_open(&body, NOW, |_| {}).expect("the untampered notification opens");
    assert_eq!(n.resource()["out_trade_no"], "ORDER-77");
    assert!(
        !format!("{n:?}").contains("ORDER-77"),
        "Debug does not dump the resource: {n:?}"
    );

    // A body byte flipped after signing.
    let headers = sign(&body);
    let mut flipped = body.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    let e = notification::open(&headers, &flipped, &key_store(), &apiv3_key(), NOW);
    assert_eq!(verify_error(e), VerifyError::BadSignature);

    // Signed by another key (the merchant's own) under the public key's id.
    let merchant = support::merchant_key();
    let forged = sign_base64(
        &merchant,
        &canonical_response(&NOW.to_string(), "TestNonce0123456789", &body),
    )
    .unwrap();
    let e = signed_open(&body, NOW, |h| {
        h.insert("Wechatpay-Signature", forged.parse().unwrap());
    });
    assert_eq!(verify_error(e), VerifyError::BadSignature);

    // An unknown serial, a stale and a future timestamp, a probe, a duplicated header.
    let e = signed_open(&body, NOW, |h| {
        h.insert(
            "Wechatpay-Serial",
            HeaderValue::from_static("PUB_KEY_ID_UNKNOWN"),
        );
    });
    assert!(
        matches!(verify_error(e), VerifyError::UnknownSerial { serial, .. } if serial == "PUB_KEY_ID_UNKNOWN")
    );
    assert!(matches!(
        verify_error(signed_open(&body, NOW + 301, |_| {})),
        VerifyError::Clock { .. }
    ));
    assert!(matches!(
        verify_error(signed_open(&body, NOW - 301, |_| {})),
        VerifyError::Clock { .. }
    ));
    signed_open(&body, NOW + 300, |_| {}).expect("300 s is still inside the window");
    let e = signed_open(&body, NOW, |h| {
        h.insert(
            "Wechatpay-Signature",
            HeaderValue::from_static("WECHATPAY/SIGNTEST/abc"),
        );
    });
    assert_eq!(verify_error(e), VerifyError::SignatureProbe);
    let e = signed_open(&body, NOW, |h| {
        let serial = h["Wechatpay-Serial"].clone();
        h.append("Wechatpay-Serial", serial);
    });
    assert_eq!(
        verify_error(e),
        VerifyError::DuplicateHeader("Wechatpay-Serial")
    );
    let e = signed_open(&body, NOW, |h| {
        h.remove("Wechatpay-Signature");
    });
    assert_eq!(
        verify_error(e),
        VerifyError::MissingHeader("Wechatpay-Signature")
    );

    // Signed correctly, but encrypted under another APIv3 key.
    let other = ApiV3Key::new([7u8; 32]).unwrap();
    let e = notification::open(&sign(&body), &body, &key_store(), &other, NOW).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Crypto(CryptoError::Decrypt), "{e}");
    assert!(!e.to_string().contains("ORDER-77"));
}

#[test]
fn malformed_signed_bodies_name_the_field() {
    let field = |body: Value| {
        let body = body.to_string().into_bytes();
        match signed_open(&body, NOW, |_| {}).unwrap_err().kind() {
            ErrorKind::Decode(DecodeError::Field(name)) => *name,
            other => panic!("not a field error: {other:?}"),
        }
    };
    let good: Value = serde_json::from_slice(&resource_body()).unwrap();
    let without = |path: &[&str]| {
        let mut v = good.clone();
        match path {
            [top] => v.as_object_mut().unwrap().remove(*top),
            [_, inner] => v["resource"].as_object_mut().unwrap().remove(*inner),
            _ => unreachable!(),
        };
        v
    };
    assert_eq!(field(json!([1])), "notification body");
    assert_eq!(field(without(&["id"])), "id");
    assert_eq!(field(without(&["event_type"])), "event_type");
    assert_eq!(field(without(&["resource"])), "resource");
    assert_eq!(
        field(without(&["resource", "ciphertext"])),
        "resource.ciphertext"
    );
    assert_eq!(field(without(&["resource", "nonce"])), "resource.nonce");
    let mut wrong = good.clone();
    wrong["resource"]["associated_data"] = json!(5);
    assert_eq!(field(wrong), "resource.associated_data");

    let mut cbc = good.clone();
    cbc["resource"]["algorithm"] = json!("AEAD_AES_128_CBC");
    let e = signed_open(cbc.to_string().as_bytes(), NOW, |_| {}).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Unsupported(m) if m.contains("AEAD_AES_128_CBC")),
        "{e}"
    );
    let mut short = good;
    short["resource"]["nonce"] = json!("short");
    let e = signed_open(short.to_string().as_bytes(), NOW, |_| {}).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Crypto(CryptoError::NonceLength(5)),
        "{e}"
    );
    assert_eq!(Reply::for_error(&e).status(), 400);
}

#[tokio::test]
async fn the_client_uses_its_keys_clock_and_apiv3_key() {
    let body = resource_body();
    let wxpay = support::client_at(NOW);
    let n = wxpay.notification(&sign(&body), &body).await.unwrap();
    assert_eq!(n.resource()["trade_state"], "SUCCESS");
    let late = support::client_at(NOW + 1000);
    let e = late.notification(&sign(&body), &body).await.unwrap_err();
    assert!(matches!(e.verify(), Some(VerifyError::Clock { .. })), "{e}");
    assert_eq!(Reply::for_error(&e).status(), 401);

    let f = fixtures();
    let no_key = Wechatpay::builder()
        .mchid(f.mchid)
        .serial(f.merchant_serial)
        .private_key(support::merchant_key())
        .public_key(f.public_key_id, support::public_key())
        .clock(FixedClock(NOW))
        .build()
        .unwrap();
    let e = no_key.notification(&sign(&body), &body).await.unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Config(ConfigError::MissingApiV3Key("open notifications"))
    );
    assert!(e.to_string().contains("apiv3_key"), "{e}");
}

#[test]
fn replies_have_the_documented_status_and_body() {
    let ok = Reply::success();
    assert_eq!((ok.status().as_u16(), ok.content_type()), (204, None));
    assert!(ok.is_success() && ok.body().is_empty());

    let fail = Reply::failure("签名错误 \"quoted\"\n");
    assert_eq!(fail.status(), 500);
    assert!(!fail.is_success());
    assert_eq!(fail.content_type(), Some("application/json"));
    let body: Value = serde_json::from_slice(fail.body()).unwrap();
    assert_eq!(
        body,
        json!({"code": "FAIL", "message": "签名错误 \"quoted\"\n"})
    );
    let http = fail.into_http();
    assert_eq!(http.headers()["content-type"], "application/json");
    assert_eq!(http.status(), 500);

    assert_eq!(
        Reply::failure_with_status(http::StatusCode::BAD_REQUEST, "x").status(),
        400
    );
    assert_eq!(
        Reply::failure_with_status(http::StatusCode::OK, "x").status(),
        500
    );
}

#[cfg(feature = "sandbox")]
mod end_to_end {
    use std::time::Duration;

    use wechatpay_chain::sandbox::Sandbox;

    use super::*;

    use super::support::notify_listener::listener;

    #[tokio::test]
    async fn a_sandbox_notification_is_verified_decrypted_and_acknowledged() {
        tokio::time::timeout(Duration::from_secs(30), async {
            let sandbox = Sandbox::builder().start().await.unwrap();
            let (url, mut received) = listener(sandbox.client().unwrap()).await;
            let resource = json!({"out_trade_no": "E2E-1", "trade_state": "SUCCESS", "amount": {"total": 100}});
            let status = sandbox
                .deliver_notification(&url, "TRANSACTION.SUCCESS", resource.clone())
                .await
                .unwrap();
            assert_eq!(status, 204, "the sandbox saw the success reply");
            let n = received.recv().await.unwrap().unwrap();
            assert_eq!(n.event_type(), "TRANSACTION.SUCCESS");
            assert_eq!(n.original_type(), "transaction");
            assert_eq!(n.resource(), &resource);

            // A listener whose APIv3 key differs refuses it; the sandbox sees the 400.
            let wrong = sandbox
                .client_builder()
                .apiv3_key([1u8; 32])
                .build()
                .unwrap();
            let (url, mut received) = listener(wrong).await;
            let status = sandbox
                .deliver_notification(&url, "REFUND.SUCCESS", json!({"out_refund_no": "R-1"}))
                .await
                .unwrap();
            assert_eq!(status, 400, "the sandbox saw the failure reply");
            let e = received.recv().await.unwrap().unwrap_err();
            assert!(e.contains("AES-GCM authentication failed"), "{e}");

            // A listener that does not know the sandbox's key refuses it with 401.
            let stranger = Wechatpay::builder()
                .mchid(fixtures().mchid)
                .serial(fixtures().merchant_serial)
                .private_key(support::merchant_key())
                .certificate(support::platform_certificate())
                .apiv3_key(fixtures().apiv3_key)
                .build()
                .unwrap();
            let (url, _received) = listener(stranger).await;
            let status = sandbox
                .deliver_notification(&url, "TRANSACTION.SUCCESS", json!({}))
                .await
                .unwrap();
            assert_eq!(status, 401);
            sandbox.shutdown();
        })
        .await
        .expect("within 30 s");
    }
}
