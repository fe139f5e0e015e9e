//! Signing from explicit inputs: `signer::sign_request` over the vectors' inputs, and the
//! default nonce source. (A client with a fixed clock and nonce source reproducing every
//! `request_signatures` vector through `prepare()` is tests/vectors.rs's pipeline test.)

mod support;

use serde_json::Value;
use wechatpay_chain::signer::{sign_request, SigningParams};
use wechatpay_chain::{Chain, Method};

use support::{array, str_field};

fn request_cases() -> Vec<Value> {
    let cases = array(&support::vectors(), "request_signatures").to_vec();
    assert!(!cases.is_empty(), "no request_signatures vectors");
    cases
}

#[test]
fn sign_request_reproduces_every_vector_from_its_inputs() {
    let f = support::fixtures();
    let key = support::merchant_key();
    for case in request_cases() {
        let name = str_field(&case, "name");
        let timestamp: i64 = str_field(&case, "timestamp").parse().unwrap();
        let params = SigningParams::new(
            &f.mchid,
            &f.merchant_serial,
            &key,
            timestamp,
            str_field(&case, "nonce"),
        );
        let signed = sign_request(
            str_field(&case, "method"),
            str_field(&case, "target"),
            str_field(&case, "body").as_bytes(),
            &params,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            signed.message,
            str_field(&case, "message").as_bytes(),
            "{name}: message"
        );
        assert_eq!(
            signed.authorization,
            str_field(&case, "authorization"),
            "{name}: Authorization"
        );
    }
}

#[test]
fn the_default_nonce_source_gives_a_fresh_nonce_per_request() {
    let wxpay = support::client();
    let nonce_of = |chain: Chain| {
        let prepared = chain.prepare(Method::GET, ()).expect("prepare");
        let message = std::str::from_utf8(prepared.message()).unwrap().to_owned();
        message.split('\n').nth(3).unwrap().to_owned()
    };
    let (a, b) = (
        nonce_of(wxpay.v3().certificates().into()),
        nonce_of(wxpay.v3().certificates().into()),
    );
    for nonce in [&a, &b] {
        assert_eq!(nonce.len(), 32, "{nonce:?}");
        assert!(
            nonce.bytes().all(|c| c.is_ascii_alphanumeric()),
            "{nonce:?}"
        );
    }
    assert_ne!(a, b, "two requests, two nonces");
}
