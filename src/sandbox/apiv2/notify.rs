//! The v2 refund notification: `<xml>` with `return_code, appid, mch_id, nonce_str, req_info`,
//! where `req_info` is the refund's XML encrypted with AES-256-ECB under the MD5 of the APIv2
//! key (no `sign`, like the platform's refund notifications). POSTed to loopback only.

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use http_body_util::Full;

use super::store::{plain_time, Refund};
use super::wire::{encrypt_req_info, render, Fields};
use crate::error::{Error, Result, TransportKind};
use crate::sandbox::notify::{loopback_uri, post};
use crate::sandbox::State;

/// The notification body for `refund`.
pub(crate) fn body(state: &State, refund: &Refund) -> Result<String> {
    let mut inner = Fields::new();
    for (key, value) in [
        ("transaction_id", refund.transaction_id.clone()),
        ("out_trade_no", refund.out_trade_no.clone()),
        ("refund_id", refund.refund_id.clone()),
        ("out_refund_no", refund.out_refund_no.clone()),
        ("total_fee", refund.total_fee.to_string()),
        ("settlement_total_fee", refund.total_fee.to_string()),
        ("refund_fee", refund.refund_fee.to_string()),
        ("settlement_refund_fee", refund.refund_fee.to_string()),
        ("refund_status", "SUCCESS".to_string()),
        ("success_time", plain_time(refund.at)),
        ("refund_recv_accout", "支付用户零钱".to_string()),
        ("refund_account", "REFUND_SOURCE_RECHARGE_FUNDS".to_string()),
        ("refund_request_source", "API".to_string()),
    ] {
        inner.insert(key.into(), value.into());
    }
    let req_info = encrypt_req_info(render(&inner).as_bytes(), &state.keys.apiv2_key);
    let mut outer = Fields::new();
    for (key, value) in [
        ("return_code", "SUCCESS".to_string()),
        ("appid", refund.appid.clone()),
        ("mch_id", state.keys.mchid.clone()),
        ("nonce_str", crate::signer::nonce()?),
        ("req_info", req_info),
    ] {
        outer.insert(key.into(), value.into());
    }
    Ok(render(&outer))
}

/// POSTs the refund notification of `out_refund_no` to a loopback `notify_url`; returns the
/// listener's status.
pub(crate) async fn deliver(state: &State, notify_url: &str, out_refund_no: &str) -> Result<u16> {
    let uri = loopback_uri(notify_url)?;
    let refund = super::super::lock(&state.v2)
        .refund(out_refund_no)
        .cloned()
        .ok_or_else(|| {
            Error::sandbox(format!(
                "no APIv2 refund with out_refund_no {out_refund_no}; refund first (secapi/pay/refund)"
            ))
        })?;
    let body = body(state, &refund)?;
    let request = http::Request::post(uri)
        .header(
            CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        )
        .header(ACCEPT, HeaderValue::from_static("*/*"))
        .header(
            USER_AGENT,
            concat!("wechatpay-chain-sandbox/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| {
            Error::transport(
                TransportKind::Io,
                format!("cannot build the notification: {e}"),
            )
        })?;
    post(&state.notifier, request, notify_url).await
}
