//! APIv2 mutual TLS end to end against the TLS sandbox: a call that needs the merchant API
//! certificate (`secapi/pay/refund`, marked in the catalog; any call with `security`) is sent
//! presenting it, the `v2` segment stripped; other APIv2 calls use the ordinary connections.
//! The sandbox's answers to these calls are not what is checked here (that is the sandbox's
//! APIv2 tests' job), only what it received.
#![cfg(feature = "sandbox")]

use std::time::Duration;

use serde_json::json;
use wechatpay_chain::sandbox::Sandbox;
use wechatpay_chain::ApiV2Error;

#[tokio::test]
async fn calls_that_need_the_api_certificate_present_it() {
    let sandbox = Sandbox::builder().tls(true).start().await.unwrap();
    // The sandbox's own client: its APIv2 key, test CA and merchant API certificate.
    let wxpay = sandbox
        .client_builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let xml = json!({"mch_id": "1900000109", "out_trade_no": "T1", "out_refund_no": "R1", "total_fee": 1, "refund_fee": 1});
    let calls = [
        ("v2/secapi/pay/refund", json!({"xml": xml}), true),
        ("v2/pay/orderquery", json!({"xml": xml}), false),
        (
            "v2/pay/orderquery",
            json!({"xml": xml, "security": true}),
            true,
        ),
    ];
    for (i, (chain, options, mutual)) in calls.into_iter().enumerate() {
        // Signed, received and checked: the sandbox knows no order T1.
        let e = wxpay.chain(chain).post(options).await.unwrap_err();
        assert!(
            matches!(e.api_v2(), Some(ApiV2Error::Business { err_code: Some(c), .. }) if c == "ORDERNOTEXIST"),
            "{chain}: {e}"
        );
        let recorded = sandbox.requests();
        let request = recorded
            .get(i)
            .unwrap_or_else(|| panic!("{chain}: not received"));
        let wire = format!("/{}", &chain["v2/".len()..]);
        assert_eq!(
            request.target, wire,
            "{chain}: the v2 segment is never sent"
        );
        assert_eq!(request.client_certificate, mutual, "{chain} ({i})");
        assert!(!request.headers.contains_key("authorization"), "{chain}");
        assert_eq!(
            request
                .headers
                .get("content-type")
                .map(wechatpay_chain::HeaderValue::as_bytes),
            Some(&b"text/xml; charset=utf-8"[..]),
            "{chain}"
        );
        assert!(request.body_len > 0, "{chain}: the XML body");
    }
    sandbox.shutdown();
}
