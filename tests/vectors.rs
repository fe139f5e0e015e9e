//! Protocol conformance: `tests/data/vectors.json` (computed with the reference SDK over the
//! keys in `tests/fixtures`). Request signatures byte for byte, response verification outcomes,
//! and the request vectors reproduced through the whole chain → prepare pipeline.

mod support;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};
use wechatpay_chain::signer::{authorization, canonical_request, canonical_response, sign_base64};
use wechatpay_chain::verifier::verify_response;
use wechatpay_chain::{
    Chain, FixedNonce, Method, Options, PreparedRequest, VerifyError, Wechatpay,
};

use support::{array, str_field};

fn request_cases() -> Vec<Value> {
    let cases = array(&support::vectors(), "request_signatures").to_vec();
    assert!(!cases.is_empty(), "no request_signatures vectors");
    cases
}

#[test]
fn request_signatures_are_byte_exact() {
    let f = support::fixtures();
    let key = support::merchant_key();
    for case in request_cases() {
        let name = str_field(&case, "name");
        let (timestamp, nonce) = (str_field(&case, "timestamp"), str_field(&case, "nonce"));
        let message = canonical_request(
            str_field(&case, "method"),
            str_field(&case, "target"),
            timestamp,
            nonce,
            str_field(&case, "body").as_bytes(),
        );
        assert_eq!(
            String::from_utf8(message.clone()).unwrap(),
            str_field(&case, "message"),
            "{name}: canonical message"
        );
        let signature = sign_base64(&key, &message).unwrap();
        assert_eq!(
            signature,
            str_field(&case, "signature"),
            "{name}: signature"
        );
        assert_eq!(
            authorization(&f.mchid, &f.merchant_serial, timestamp, nonce, &signature),
            str_field(&case, "authorization"),
            "{name}: Authorization"
        );
    }
}

// The `media_upload` vector (signer and `Options::upload` path): tests/media_upload.rs.

/// How each request vector is written with this crate: the chain (in the three forms, spread
/// over the cases) and its options. Every vector must have an entry.
fn pipeline_request(wxpay: &Wechatpay, name: &str, body: Option<Value>) -> (Chain, Options) {
    let with_body = |o: Options| match &body {
        Some(b) => o.json(b),
        None => o,
    };
    match name {
        "GET without body" => (wxpay.v3().certificates().into(), Options::new()),
        "GET with query" => (
            wxpay.chain("v3/pay/transactions/id/{transaction_id}"),
            json!({"transaction_id": "4200000000202511220000000001", "query": {"mchid": "1900000109"}})
                .into(),
        ),
        "POST seed send-pendingmessage" => (
            wxpay
                .v3()
                .payscore()
                .partner()
                .serviceorder()
                ._out_order_no_()
                .send_pendingmessage()
                .into(),
            with_body(Options::new().param("out_order_no", "1234323JKHDFE1243252")),
        ),
        "POST with percent-encoded path value" => (
            wxpay["v3/payscore/partner/serviceorder/{out_order_no}/pay"].clone(),
            with_body(Options::new().param("out_order_no", "A/B C中")),
        ),
        "DELETE" => (
            wxpay.chain("v3/marketing/partnerships/build"),
            Options::new().query("idempotency_key", "K1"),
        ),
        "PATCH unicode body" => (
            wxpay
                .v3()
                .merchant_service()
                .complaints_v2()
                ._complaint_id_()
                .response()
                .into(),
            with_body(Options::new().param("complaint_id", "200000020221122000000000001")),
        ),
        other => panic!("request vector {other:?} has no pipeline entry in this test; add one"),
    }
}

fn message_lines(message: &[u8]) -> Vec<&str> {
    std::str::from_utf8(message).unwrap().split('\n').collect()
}

#[test]
fn request_vectors_reproduce_through_the_pipeline() {
    for case in request_cases() {
        let name = str_field(&case, "name");
        let timestamp: i64 = str_field(&case, "timestamp").parse().unwrap();
        // The vector's clock and nonce, injected: every byte must then be the vector's.
        let wxpay = support::builder_at(timestamp)
            .nonce_source(FixedNonce(str_field(&case, "nonce").to_string()))
            .build()
            .expect("client");
        let vector_body = str_field(&case, "body");
        let body = (!vector_body.is_empty()).then(|| serde_json::from_str(vector_body).unwrap());
        let (chain, options) = pipeline_request(&wxpay, name, body);
        let method = Method::from_bytes(str_field(&case, "method").as_bytes()).unwrap();
        let prepared: PreparedRequest = chain
            .prepare(method, options)
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        assert_eq!(
            prepared.target(),
            str_field(&case, "target"),
            "{name}: target"
        );
        // The JSON body is serialized once, in insertion order, to the very bytes of the vector.
        assert_eq!(&prepared.body()[..], vector_body.as_bytes(), "{name}: body");
        assert_eq!(
            message_lines(prepared.message()),
            message_lines(str_field(&case, "message").as_bytes()),
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
        let headers = prepared.headers();
        assert_eq!(
            headers["wechatpay-serial"],
            support::fixtures().public_key_id.as_str(),
            "{name}"
        );
        assert_eq!(headers["accept"], "application/json", "{name}");
        assert_eq!(
            headers.get("content-type").map(|v| v.to_str().unwrap()),
            (!vector_body.is_empty()).then_some("application/json"),
            "{name}: Content-Type only with a body"
        );
    }
}

fn header_map(headers: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers.as_object().expect("headers object") {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    map
}

#[test]
fn response_vectors_give_their_expected_outcome() {
    let f = support::fixtures();
    let keys = support::key_store();
    // The vectors name the platform certificate by its serial and the public key by its id.
    assert_eq!(
        keys.ids(),
        vec![f.platform_serial.clone(), f.public_key_id.clone()]
    );
    let cases = array(&support::vectors(), "responses").to_vec();
    let mut seen = std::collections::BTreeSet::new();
    for case in &cases {
        let name = str_field(case, "name");
        let status = u16::try_from(case["status"].as_u64().unwrap()).unwrap();
        let path = str_field(case, "path");
        let now = case["now"].as_i64().unwrap();
        let body = str_field(case, "body");
        let headers = header_map(&case["headers"]);
        let expect = str_field(case, "expect");
        seen.insert(expect);

        // What a verified response's signature covers (for the others, `message` is what was
        // signed before the vector broke something).
        if let ("ok", Some(message)) = (expect, case["message"].as_str()) {
            let signed = canonical_response(
                str_field(&case["headers"], "Wechatpay-Timestamp"),
                str_field(&case["headers"], "Wechatpay-Nonce"),
                body.as_bytes(),
            );
            assert_eq!(
                String::from_utf8(signed).unwrap(),
                message,
                "{name}: canonical response message"
            );
        }

        let result = verify_response(status, path, &headers, body.as_bytes(), now, &keys);
        match expect {
            "ok" => assert_eq!(result, Ok(()), "{name}"),
            "api_error" => {
                assert!(
                    status >= 400,
                    "{name}: an api_error vector has an error status"
                );
                assert_eq!(result, Ok(()), "{name}: error statuses are not verified");
            }
            "clock" => assert!(
                matches!(&result, Err(VerifyError::Clock { now: n, .. }) if *n == now),
                "{name}: {result:?}"
            ),
            "signature" => assert_eq!(result, Err(VerifyError::BadSignature), "{name}"),
            "probe" => assert_eq!(result, Err(VerifyError::SignatureProbe), "{name}"),
            "unknown_serial" => match &result {
                Err(VerifyError::UnknownSerial { serial, known }) => {
                    assert_eq!(serial, str_field(&case["headers"], "Wechatpay-Serial"));
                    assert_eq!(known, &keys.ids(), "{name}: lists the known serials");
                }
                other => panic!("{name}: expected UnknownSerial, got {other:?}"),
            },
            "missing_header" => match &result {
                Err(VerifyError::MissingHeader(h)) => assert!(
                    case["headers"].get(*h).is_none(),
                    "{name}: names {h}, which the vector has"
                ),
                other => panic!("{name}: expected MissingHeader, got {other:?}"),
            },
            other => panic!("{name}: unknown expectation {other:?}"),
        }
    }
    // Every outcome the brief names is exercised by at least one vector.
    for outcome in [
        "ok",
        "clock",
        "signature",
        "unknown_serial",
        "probe",
        "missing_header",
        "api_error",
    ] {
        assert!(
            seen.contains(outcome),
            "no response vector expects {outcome}"
        );
    }
}

#[test]
fn certificate_download_response_verifies() {
    let case = &support::vectors()["certificates_response"];
    let result = verify_response(
        u16::try_from(case["status"].as_u64().unwrap()).unwrap(),
        str_field(case, "path"),
        &header_map(&case["headers"]),
        str_field(case, "body").as_bytes(),
        case["now"].as_i64().unwrap(),
        &support::key_store(),
    );
    assert_eq!(result, Ok(()));
}
