//! Signing from explicit inputs: `signer::sign_request` over the vectors' inputs, and a client
//! with a fixed clock and a fixed nonce source reproducing every `request_signatures` vector of
//! `tests/data/vectors.json` byte for byte through `prepare()`.

mod support;

use serde_json::Value;
use wechatpay_chain::signer::{sign_request, SigningParams};
use wechatpay_chain::{Chain, FixedNonce, Method, Options, Wechatpay};

use support::{array, str_field};

fn request_cases() -> Vec<Value> {
    let cases = array(&support::vectors(), "request_signatures").to_vec();
    assert!(!cases.is_empty(), "no request_signatures vectors");
    cases
}

/// Each vector written as a chain template with its values as options, so that the values go
/// through template expansion and query encoding as users write them.
fn chain_for(wxpay: &Wechatpay, name: &str, body: Option<Value>) -> (Chain, Options) {
    let with_body = |o: Options| match &body {
        Some(b) => o.json(b),
        None => o,
    };
    match name {
        "GET without body" => (wxpay.chain("v3/certificates"), Options::new()),
        "GET with query" => (
            wxpay.chain("v3/pay/transactions/id/{transaction_id}"),
            Options::new()
                .param("transaction_id", "4200000000202511220000000001")
                .query("mchid", "1900000109"),
        ),
        "POST seed send-pendingmessage" => (
            wxpay.chain("v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage"),
            with_body(Options::new().param("out_order_no", "1234323JKHDFE1243252")),
        ),
        "POST with percent-encoded path value" => (
            wxpay.chain("v3/payscore/partner/serviceorder/{out_order_no}/pay"),
            with_body(Options::new().param("out_order_no", "A/B C中")),
        ),
        "DELETE" => (
            wxpay.chain("v3/marketing/partnerships/build"),
            Options::new().query("idempotency_key", "K1"),
        ),
        "PATCH unicode body" => (
            wxpay.chain("v3/merchant-service/complaints-v2/{complaint_id}/response"),
            with_body(Options::new().param("complaint_id", "200000020221122000000000001")),
        ),
        other => panic!("request vector {other:?} has no entry in this test; add one"),
    }
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
fn fixed_clock_and_nonce_reproduce_every_vector_through_prepare() {
    for case in request_cases() {
        let name = str_field(&case, "name");
        let timestamp: i64 = str_field(&case, "timestamp").parse().unwrap();
        let wxpay = support::builder_at(timestamp)
            .nonce_source(FixedNonce(str_field(&case, "nonce").to_string()))
            .build()
            .expect("client");
        let vector_body = str_field(&case, "body");
        let body = (!vector_body.is_empty()).then(|| serde_json::from_str(vector_body).unwrap());
        let (chain, options) = chain_for(&wxpay, name, body);
        let method = Method::from_bytes(str_field(&case, "method").as_bytes()).unwrap();
        let prepared = chain
            .prepare(method, options)
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        assert_eq!(
            prepared.target(),
            str_field(&case, "target"),
            "{name}: target"
        );
        assert_eq!(&prepared.body()[..], vector_body.as_bytes(), "{name}: body");
        assert_eq!(
            prepared.message(),
            str_field(&case, "message").as_bytes(),
            "{name}: message"
        );
        let authorization = &prepared.headers()["authorization"];
        assert_eq!(
            authorization,
            str_field(&case, "authorization"),
            "{name}: Authorization"
        );
        assert!(
            authorization.is_sensitive(),
            "{name}: Authorization is sensitive"
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
    assert_eq!(a.len(), 32, "{a:?}");
    assert_ne!(a, b, "two requests, two nonces");
}
