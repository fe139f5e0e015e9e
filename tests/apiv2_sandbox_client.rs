//! This crate's client speaking APIv2 to the sandbox end to end: `v2/…` chains signed with the
//! APIv2 key that `SandboxHandle::client_builder` configures, answers verified, business
//! failures typed, the refund over mutual TLS in TLS mode, the bill streamed; payments,
//! queries and bills run over the TLS sandbox (HTTP/2 by ALPN).
#![cfg(feature = "sandbox")]

use std::io::Read as _;

use serde_json::{json, Map, Value};
use wechatpay_chain::sandbox::{Fault, Sandbox, SandboxHandle};
use wechatpay_chain::v2::sign::{verify, SignType};
use wechatpay_chain::v2::xml::from_xml;
use wechatpay_chain::{ApiV2Error, ErrorKind, VerifyError, Wechatpay};

#[path = "support/apiv2.rs"]
mod v2s;
use v2s::*;

/// A `pay/micropay` through the client; the parsed answer.
async fn pay(
    wxpay: &Wechatpay,
    out_trade_no: &str,
    total_fee: u64,
    sign_type: &str,
) -> Map<String, Value> {
    let data = json!({"xml": {
        "appid": APPID, "mch_id": MCHID, "body": "sandbox tea", "out_trade_no": out_trade_no,
        "total_fee": total_fee, "spbill_create_ip": "127.0.0.1", "auth_code": AUTH_CODE,
        "sign_type": sign_type,
    }});
    let response = wxpay.chain("v2/pay/micropay").post(data).await.unwrap();
    response.xml_map().unwrap()
}

async fn started(tls: bool) -> (SandboxHandle, Wechatpay) {
    let sandbox = Sandbox::builder().tls(tls).start().await.unwrap();
    let wxpay = sandbox.client().unwrap();
    (sandbox, wxpay)
}

#[tokio::test]
async fn micropay_through_the_client_is_signed_md5_or_hmac_sha256_and_verified() {
    let (sandbox, wxpay) = started(true).await;
    assert_eq!(wxpay.apiv2_key().unwrap().as_bytes(), APIV2_KEY.as_bytes());
    for (no, sign_type, len) in [("C2MD5", "MD5", 32), ("C2HMAC", "HMAC-SHA256", 64)] {
        let answer = pay(&wxpay, no, 88, sign_type).await;
        assert_eq!(text(&answer, "result_code"), "SUCCESS", "{answer:?}");
        assert_eq!(text(&answer, "out_trade_no"), no);
        assert_eq!(text(&answer, "sign").len(), len);
        // What went over the wire: the v2 segment stripped, no Authorization, signed XML.
        let recorded = sandbox.requests().pop().unwrap();
        assert_eq!(recorded.target, "/pay/micropay");
        assert!(recorded.authenticated);
        // Over the TLS sandbox: HTTP/2 by ALPN, and no client certificate on a call that
        // does not need one.
        assert_eq!(recorded.version, http::Version::HTTP_2);
        assert!(!recorded.client_certificate);
        assert!(recorded.headers.get("authorization").is_none());
        let body = from_xml(&recorded.body).unwrap();
        assert_eq!(text(&body, "sign").len(), len, "{body:?}");
        let parsed: SignType = sign_type.parse().unwrap();
        verify(&body, &key(), Some(parsed)).unwrap();
    }
    sandbox.shutdown();
}

#[tokio::test]
async fn orderquery_through_the_client_finds_the_order_or_is_a_typed_business_error() {
    let (sandbox, wxpay) = started(true).await;
    let paid = pay(&wxpay, "C2Q1", 9, "MD5").await;
    let found = wxpay
        .chain("v2/pay/orderquery")
        .post(json!({"xml": {"appid": APPID, "mch_id": MCHID, "transaction_id": text(&paid, "transaction_id")}}))
        .await
        .unwrap()
        .xml_map()
        .unwrap();
    assert_eq!(text(&found, "trade_state"), "SUCCESS");
    assert_eq!(text(&found, "out_trade_no"), "C2Q1");

    let e = wxpay
        .chain("v2/pay/orderquery")
        .post(json!({"xml": {"appid": APPID, "mch_id": MCHID, "out_trade_no": "C2NOPE"}}))
        .await
        .unwrap_err();
    assert!(
        matches!(e.api_v2(), Some(ApiV2Error::Business { err_code: Some(code), .. }) if code == "ORDERNOTEXIST"),
        "{e:?}"
    );
    sandbox.shutdown();
}

#[tokio::test]
async fn a_wrong_mch_id_is_refused_by_the_client_before_sending() {
    let (sandbox, wxpay) = started(false).await;
    let e = wxpay
        .chain("v2/pay/orderquery")
        .post(json!({"xml": {"appid": APPID, "mch_id": "1230000109", "out_trade_no": "C2X"}}))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Chain(_)) && e.chain().is_some(),
        "{e:?}"
    );
    assert!(e.to_string().contains("1230000109"), "{e}");
    assert!(sandbox.requests().is_empty(), "nothing was sent");
    // The sandbox's own check, for a client that would send it anyway, is in apiv2_sandbox.rs.
    sandbox.shutdown();
}

#[tokio::test]
async fn refund_through_the_client_goes_over_mutual_tls() {
    let (sandbox, wxpay) = started(true).await;
    let paid = pay(&wxpay, "C2R1", 200, "HMAC-SHA256").await;
    assert_eq!(text(&paid, "result_code"), "SUCCESS", "{paid:?}");
    assert!(
        !sandbox.requests().pop().unwrap().client_certificate,
        "micropay: plain TLS"
    );
    let refund = wxpay
        .chain("v2/secapi/pay/refund")
        .post(json!({"xml": {
            "appid": APPID, "mch_id": MCHID, "out_trade_no": "C2R1", "out_refund_no": "C2RF1",
            "total_fee": 200, "refund_fee": 50, "sign_type": "HMAC-SHA256",
        }}))
        .await
        .unwrap()
        .xml_map()
        .unwrap();
    assert_eq!(text(&refund, "result_code"), "SUCCESS", "{refund:?}");
    assert_eq!(text(&refund, "refund_fee"), "50");
    let recorded = sandbox.requests().pop().unwrap();
    assert_eq!(recorded.target, "/secapi/pay/refund");
    assert!(recorded.client_certificate && recorded.authenticated);
    sandbox.shutdown();
}

#[tokio::test]
async fn the_v2_bill_streams_through_chain_download_plain_and_gzip() {
    let (sandbox, wxpay) = started(true).await;
    let first = pay(&wxpay, "C2B1", 150, "MD5").await;
    let second = pay(&wxpay, "C2B2", 250, "MD5").await;
    let date = &text(&first, "time_end")[..8];
    assert_eq!(
        date,
        &text(&second, "time_end")[..8],
        "the day turned: run again"
    );
    let mut bills = Vec::new();
    for tar_type in [None, Some("GZIP")] {
        let mut data =
            json!({"appid": APPID, "mch_id": MCHID, "bill_date": date, "bill_type": "ALL"});
        if let Some(tar_type) = tar_type {
            data["tar_type"] = tar_type.into();
        }
        let mut download = wxpay
            .chain("v2/pay/downloadbill")
            .download(json!({ "xml": data }))
            .await
            .unwrap();
        let mut bytes = Vec::new();
        download.write_to(&mut bytes).await.unwrap();
        if tar_type.is_some() {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut plain)
                .unwrap();
            bytes = plain;
        }
        bills.push(String::from_utf8(bytes).unwrap());
    }
    assert_eq!(bills[0], bills[1]);
    let bill = &bills[0];
    assert!(
        bill.contains(",`C2B1,") && bill.contains(",`C2B2,"),
        "{bill}"
    );
    assert!(
        bill.contains(&format!(",`{},", text(&first, "transaction_id"))),
        "{bill}"
    );
    assert!(
        bill.ends_with("`2,`4.00,`0.00,`0.00,`0.00000,`4.00,`0.00\r\n"),
        "{bill}"
    );

    let e = wxpay
        .chain("v2/pay/downloadbill")
        .download(json!({"xml": {"appid": APPID, "mch_id": MCHID, "bill_date": "20000101"}}))
        .await
        .unwrap_err();
    assert!(
        matches!(e.api_v2(), Some(ApiV2Error::Return { return_msg: Some(m), .. }) if m == "No Bill Exist"),
        "{e:?}"
    );
    sandbox.shutdown();
}

#[tokio::test]
async fn a_spoiled_sign_in_the_answer_fails_closed_in_the_client() {
    let (sandbox, wxpay) = started(false).await;
    pay(&wxpay, "C2W1", 7, "MD5").await;
    sandbox.inject(Fault::WrongSignature);
    let e = wxpay
        .chain("v2/pay/orderquery")
        .post(json!({"xml": {"appid": APPID, "mch_id": MCHID, "out_trade_no": "C2W1"}}))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Verify(VerifyError::BadSignature),
        "{e:?}"
    );
    // The next answer is signed properly again.
    let found = wxpay
        .chain("v2/pay/orderquery")
        .post(json!({"xml": {"appid": APPID, "mch_id": MCHID, "out_trade_no": "C2W1"}}))
        .await
        .unwrap();
    assert_eq!(text(&found.xml_map().unwrap(), "trade_state"), "SUCCESS");
    sandbox.shutdown();
}
