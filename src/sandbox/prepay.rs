//! JSAPI / mini-program and APP orders (`POST /v3/pay/transactions/{jsapi,app}` and the partner
//! forms) answer `{"prepay_id": "wx…"}` like the platform, so a front end's pay sign
//! ([`crate::pay_sign`]) can be made from a sandbox order end to end.
//!
//! The id has the platform's shape (36 characters: `wx`, 14 digits of the request time, 20 hex
//! of the body's SHA-256), so the same order body at the same second gets the same id.

use http::StatusCode;
use ring::digest;
use serde_json::{json, Value};

use super::flows::Call;
use super::reply::Reply;

/// The order endpoints that answer a prepay id.
pub(crate) const ORDERS: &[&str] = &[
    "/v3/pay/transactions/jsapi",
    "/v3/pay/transactions/app",
    "/v3/pay/partner/transactions/jsapi",
    "/v3/pay/partner/transactions/app",
];

/// The answer to an order: `{"prepay_id"}`, or `400 PARAM_ERROR` without `out_trade_no`.
pub(crate) fn order(call: &Call<'_>) -> Reply {
    let body: Value = serde_json::from_slice(call.body).unwrap_or(Value::Null);
    match body.get("out_trade_no").and_then(Value::as_str) {
        Some(no) if !no.trim().is_empty() => {}
        _ => return Reply::param_error("out_trade_no", "required field is missing"),
    }
    let digest = digest::digest(&digest::SHA256, call.body);
    let hex: String = digest.as_ref()[..10]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let seconds = call.now.clamp(0, 99_999_999_999_999);
    let prepay_id = format!("wx{seconds:014}{hex}");
    Reply::json(StatusCode::OK, &json!({ "prepay_id": prepay_id }))
}
