//! Helpers for the APIv2 sandbox tests: the fixtures' test-only APIv2 key, field maps,
//! merchant-side signing, the answers' fields.
#![allow(dead_code)] // each test binary uses some of them

use serde_json::{Map, Value};
use wechatpay_chain::v2::sign::{sign, ApiV2Key, SignType};

/// `tests/fixtures/fixtures.json`'s `apiv2_key`.
pub(crate) const APIV2_KEY: &str = "TestOnlyApiV2Key0123456789abcdef";
/// The fixtures' merchant.
pub(crate) const MCHID: &str = "1900000109";
/// Any appid: the sandbox echoes it.
pub(crate) const APPID: &str = "wxd678efh567hg6787";
/// 18 digits: a payer's payment code.
pub(crate) const AUTH_CODE: &str = "134567890123456789";

/// [`APIV2_KEY`] as a key.
pub(crate) fn key() -> ApiV2Key {
    ApiV2Key::new(APIV2_KEY).unwrap()
}

/// A field map from pairs.
pub(crate) fn fields(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect()
}

/// A fresh `nonce_str`.
pub(crate) fn nonce() -> String {
    wechatpay_chain::signer::nonce().unwrap()
}

/// Signs `data` (adding `nonce_str` unless present) under `sign_type`, as a merchant would.
pub(crate) fn signed(mut data: Map<String, Value>, sign_type: SignType) -> Map<String, Value> {
    if !data.contains_key("nonce_str") {
        data.insert("nonce_str".into(), nonce().into());
    }
    if sign_type == SignType::HmacSha256 {
        data.insert("sign_type".into(), "HMAC-SHA256".into());
    }
    let s = sign(sign_type, &data, &key()).unwrap();
    data.insert("sign".into(), s.into());
    data
}

/// A text field of an answer; a missing one fails the test (two absent fields never compare
/// equal by accident).
pub(crate) fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no text field {key} in {map:?}"))
}

/// The data of a `pay/micropay` (unsigned).
pub(crate) fn micropay(out_trade_no: &str, total_fee: &str) -> Map<String, Value> {
    fields(&[
        ("appid", APPID),
        ("mch_id", MCHID),
        ("body", "sandbox coffee"),
        ("out_trade_no", out_trade_no),
        ("total_fee", total_fee),
        ("spbill_create_ip", "127.0.0.1"),
        ("auth_code", AUTH_CODE),
    ])
}

/// A refusal: HTTP 200, `return_code` FAIL, the message, no sign.
pub(crate) fn assert_refused(answer: &Map<String, Value>, message: &str) {
    assert_eq!(text(answer, "return_code"), "FAIL", "{answer:?}");
    assert!(text(answer, "return_msg").contains(message), "{answer:?}");
    assert!(answer.get("sign").is_none(), "{answer:?}");
}

/// A signed (HMAC-SHA256) `secapi/pay/refund` of `out_trade_no`.
pub(crate) fn refund(
    out_trade_no: &str,
    out_refund_no: &str,
    total: &str,
    fee: &str,
) -> Map<String, Value> {
    signed(
        fields(&[
            ("appid", APPID),
            ("mch_id", MCHID),
            ("out_trade_no", out_trade_no),
            ("out_refund_no", out_refund_no),
            ("total_fee", total),
            ("refund_fee", fee),
        ]),
        SignType::HmacSha256,
    )
}
