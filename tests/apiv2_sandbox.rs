//! The sandbox's APIv2 endpoints over plain HTTP: XML requests signed with the fixtures'
//! test-only APIv2 key by hand (`v2::sign`), checked like the platform, answered in signed
//! XML; refusals in the platform's `return_code FAIL` shape.
#![cfg(feature = "sandbox")]

use std::io::Read as _;
use std::net::SocketAddr;

use serde_json::{Map, Value};
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::v2::sign::{sign, verify, SignType};
use wechatpay_chain::v2::xml::{from_xml, to_xml};

#[path = "support/raw_http.rs"]
mod raw;
#[path = "support/apiv2.rs"]
mod v2s;
use v2s::*;

/// POSTs an XML body over plain HTTP/1.1; returns the status and the body.
async fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, Vec<u8>) {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, _, body) = raw::raw_http(addr, request.as_bytes()).await;
    (status, body)
}

/// POSTs `data` and parses the XML answer (always HTTP 200, like the platform).
async fn call(
    sandbox: &SandboxHandle,
    path: &str,
    data: &Map<String, Value>,
) -> Map<String, Value> {
    let (status, body) = post(sandbox.addr(), path, &to_xml(data)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    from_xml(&body).unwrap()
}

async fn sandbox() -> SandboxHandle {
    Sandbox::builder().start().await.unwrap()
}

#[tokio::test]
async fn the_sandbox_exposes_the_test_only_apiv2_key() {
    let sandbox = sandbox().await;
    assert_eq!(sandbox.apiv2_key(), APIV2_KEY);
    let config: Value =
        serde_json::from_slice(&std::fs::read(sandbox.config_json_path()).unwrap()).unwrap();
    assert_eq!(config["apiv2_key"], APIV2_KEY);
    let generated = Sandbox::builder().generate_keys().start().await.unwrap();
    assert_eq!(generated.apiv2_key().len(), 32);
    assert_ne!(generated.apiv2_key(), APIV2_KEY);
}

#[tokio::test]
async fn micropay_signed_md5_is_paid_and_answered_with_an_md5_sign() {
    let sandbox = sandbox().await;
    let request = signed(micropay("V2MD5001", "101"), SignType::Md5);
    let answer = call(&sandbox, "/pay/micropay", &request).await;
    assert_eq!(text(&answer, "return_code"), "SUCCESS", "{answer:?}");
    assert_eq!(text(&answer, "result_code"), "SUCCESS", "{answer:?}");
    assert_eq!(text(&answer, "trade_type"), "MICROPAY");
    assert_eq!(text(&answer, "total_fee"), "101");
    assert_eq!(text(&answer, "out_trade_no"), "V2MD5001");
    assert!(!text(&answer, "transaction_id").is_empty());
    assert_eq!(text(&answer, "sign").len(), 32);
    verify(&answer, &key(), Some(SignType::Md5)).unwrap();
    assert!(verify(&answer, &key(), Some(SignType::HmacSha256)).is_err());

    let recorded = sandbox.requests();
    let last = recorded.last().unwrap();
    assert!(last.authenticated);
    assert_eq!(last.target, "/pay/micropay");
    let body = from_xml(&last.body).unwrap();
    assert_eq!(text(&body, "sign"), text(&request, "sign"));
}

#[tokio::test]
async fn micropay_signed_hmac_sha256_is_answered_with_a_64_character_sign() {
    let sandbox = sandbox().await;
    let request = signed(micropay("V2HMAC001", "2"), SignType::HmacSha256);
    assert_eq!(text(&request, "sign").len(), 64);
    let answer = call(&sandbox, "/pay/micropay", &request).await;
    assert_eq!(text(&answer, "result_code"), "SUCCESS", "{answer:?}");
    assert_eq!(text(&answer, "sign").len(), 64);
    verify(&answer, &key(), Some(SignType::HmacSha256)).unwrap();
    // By length, as a client without the request's sign type does.
    verify(&answer, &key(), None).unwrap();
}

#[tokio::test]
async fn micropay_business_errors_are_signed_fail_results() {
    let sandbox = sandbox().await;
    let mut bad_code = micropay("V2BIZ001", "5");
    bad_code.insert("auth_code".into(), "12345".into());
    let answer = call(&sandbox, "/pay/micropay", &signed(bad_code, SignType::Md5)).await;
    assert_eq!(text(&answer, "return_code"), "SUCCESS");
    assert_eq!(text(&answer, "result_code"), "FAIL");
    assert_eq!(text(&answer, "err_code"), "AUTH_CODE_INVALID");
    verify(&answer, &key(), Some(SignType::Md5)).unwrap();

    let first = call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2BIZ002", "5"), SignType::Md5),
    )
    .await;
    assert_eq!(text(&first, "result_code"), "SUCCESS");
    // The same order again is the same payment; another amount is refused.
    let again = call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2BIZ002", "5"), SignType::Md5),
    )
    .await;
    assert_eq!(
        text(&again, "transaction_id"),
        text(&first, "transaction_id")
    );
    let other = call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2BIZ002", "6"), SignType::Md5),
    )
    .await;
    assert_eq!(text(&other, "err_code"), "OUT_TRADE_NO_USED");

    let mut missing = micropay("V2BIZ003", "5");
    missing.remove("body");
    let answer = call(&sandbox, "/pay/micropay", &signed(missing, SignType::Md5)).await;
    assert_eq!(text(&answer, "err_code"), "PARAM_ERROR");
    assert!(text(&answer, "err_code_des").contains("body"), "{answer:?}");
}

#[tokio::test]
async fn orderquery_finds_paid_orders_and_names_unknown_ones() {
    let sandbox = sandbox().await;
    let paid = call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2Q001", "300"), SignType::Md5),
    )
    .await;
    let query = |by: &str, value: &str| {
        signed(
            fields(&[("appid", APPID), ("mch_id", MCHID), (by, value)]),
            SignType::HmacSha256,
        )
    };
    for request in [
        query("out_trade_no", "V2Q001"),
        query("transaction_id", text(&paid, "transaction_id")),
    ] {
        let answer = call(&sandbox, "/pay/orderquery", &request).await;
        assert_eq!(text(&answer, "result_code"), "SUCCESS", "{answer:?}");
        assert_eq!(text(&answer, "trade_state"), "SUCCESS");
        assert_eq!(text(&answer, "total_fee"), "300");
        assert_eq!(text(&answer, "out_trade_no"), "V2Q001");
        verify(&answer, &key(), Some(SignType::HmacSha256)).unwrap();
    }
    let unknown = call(
        &sandbox,
        "/pay/orderquery",
        &query("out_trade_no", "V2NOPE"),
    )
    .await;
    assert_eq!(text(&unknown, "return_code"), "SUCCESS");
    assert_eq!(text(&unknown, "result_code"), "FAIL");
    assert_eq!(text(&unknown, "err_code"), "ORDERNOTEXIST");
    verify(&unknown, &key(), None).unwrap();
}

#[tokio::test]
async fn requests_failing_the_platform_checks_are_refused() {
    let sandbox = sandbox().await;
    let mut tampered = signed(micropay("V2T001", "1"), SignType::Md5);
    tampered.insert("total_fee".into(), "100000".into());
    assert_refused(
        &call(&sandbox, "/pay/micropay", &tampered).await,
        "签名错误",
    );
    assert!(!sandbox.requests().last().unwrap().authenticated);
    assert!(sandbox.requests().last().unwrap().body.is_empty());

    let mut other_merchant = micropay("V2T002", "1");
    other_merchant.insert("mch_id".into(), "1230000109".into());
    let answer = call(
        &sandbox,
        "/pay/micropay",
        &signed(other_merchant, SignType::Md5),
    )
    .await;
    assert_refused(&answer, "mch_id mismatch");

    let mut unsigned = micropay("V2T003", "1");
    unsigned.insert("nonce_str".into(), nonce().into());
    assert_refused(
        &call(&sandbox, "/pay/micropay", &unsigned).await,
        "sign is missing",
    );

    let mut no_nonce = micropay("V2T004", "1");
    let s = sign(SignType::Md5, &no_nonce, &key()).unwrap();
    no_nonce.insert("sign".into(), s.into());
    assert_refused(
        &call(&sandbox, "/pay/micropay", &no_nonce).await,
        "nonce_str",
    );

    let mut unknown_type = micropay("V2T005", "1");
    unknown_type.insert("sign_type".into(), "SHA1".into());
    let unknown_type = signed(unknown_type, SignType::Md5);
    assert_refused(
        &call(&sandbox, "/pay/micropay", &unknown_type).await,
        "sign_type",
    );

    let once = signed(micropay("V2T006", "1"), SignType::Md5);
    let first = call(&sandbox, "/pay/micropay", &once).await;
    assert_eq!(text(&first, "result_code"), "SUCCESS");
    assert_refused(
        &call(&sandbox, "/pay/micropay", &once).await,
        "nonce_str was already used",
    );

    let (status, body) = post(sandbox.addr(), "/pay/micropay", "not xml <").await;
    assert_eq!(status, 200);
    assert_refused(&from_xml(&body).unwrap(), "XML");
}

#[tokio::test]
async fn refund_over_plain_http_is_refused_for_want_of_the_client_certificate() {
    let sandbox = sandbox().await;
    call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2R001", "100"), SignType::Md5),
    )
    .await;
    let refund = signed(
        fields(&[
            ("appid", APPID),
            ("mch_id", MCHID),
            ("out_trade_no", "V2R001"),
            ("out_refund_no", "V2RF001"),
            ("total_fee", "100"),
            ("refund_fee", "40"),
        ]),
        SignType::Md5,
    );
    let answer = call(&sandbox, "/secapi/pay/refund", &refund).await;
    assert_refused(&answer, "merchant API certificate");
}

/// A signed `pay/downloadbill` request for `date` (yyyyMMdd), `ALL`, plain or `tar_type`.
fn bill_request(date: &str, tar_type: Option<&str>) -> Map<String, Value> {
    let mut data = fields(&[
        ("appid", APPID),
        ("mch_id", MCHID),
        ("bill_date", date),
        ("bill_type", "ALL"),
    ]);
    if let Some(tar_type) = tar_type {
        data.insert("tar_type".into(), tar_type.into());
    }
    signed(data, SignType::Md5)
}

#[tokio::test]
async fn the_v2_bill_lists_the_days_orders_plain_and_gzip() {
    let sandbox = sandbox().await;
    let none = call(
        &sandbox,
        "/pay/downloadbill",
        &bill_request("20000101", None),
    )
    .await;
    assert_refused(&none, "No Bill Exist");
    let mut days = Vec::new();
    for (no, fee) in [("V2B001", "123"), ("V2B002", "4567")] {
        let paid = call(
            &sandbox,
            "/pay/micropay",
            &signed(micropay(no, fee), SignType::Md5),
        )
        .await;
        // `time_end` is yyyyMMddHHmmss in China Standard Time: the bill's day.
        days.push(text(&paid, "time_end")[..8].to_string());
    }
    assert_eq!(
        days[0], days[1],
        "the day turned between two payments: run again"
    );
    let date = days[0].clone();
    let (status, plain) = post(
        sandbox.addr(),
        "/pay/downloadbill",
        &to_xml(&bill_request(&date, None)),
    )
    .await;
    assert_eq!(status, 200);
    let plain = String::from_utf8(plain).unwrap();
    assert!(plain.starts_with("交易时间,公众账号ID,商户号"), "{plain}");
    assert!(plain.contains(",`V2B001,"), "{plain}");
    assert!(plain.contains(",`V2B002,"), "{plain}");
    assert!(plain.contains("`1.23,"), "{plain}");
    assert!(
        plain.ends_with("`2,`46.90,`0.00,`0.00,`0.00000,`46.90,`0.00\r\n"),
        "{plain}"
    );

    let (status, gz) = post(
        sandbox.addr(),
        "/pay/downloadbill",
        &to_xml(&bill_request(&date, Some("GZIP"))),
    )
    .await;
    assert_eq!(status, 200);
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);

    let bad_date = call(
        &sandbox,
        "/pay/downloadbill",
        &bill_request("2026-1-1", None),
    )
    .await;
    assert_refused(&bad_date, "bill_date");
}
