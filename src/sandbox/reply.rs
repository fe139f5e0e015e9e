//! Answers: the platform's JSON shapes, response signing (`Wechatpay-*` headers) and the
//! response-side faults.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::StatusCode;
use hyper::body::{Body, Frame, SizeHint};
use serde_json::{json, Value};

use super::bills::{BillSpec, BillStream};
use super::conn::Busy;
use super::faults::{status_error, Fault};
use super::listing::Listing;
use crate::keys::PrivateKey;
use crate::signer::{canonical_response, nonce, sign_base64, SCHEME};

/// How far back [`Fault::StaleTimestamp`] dates a response.
const STALE_BY: i64 = 600;
/// The `Wechatpay-Serial` of [`Fault::UnknownSerial`].
pub(crate) const UNKNOWN_SERIAL: &str = "PUB_KEY_ID_0000000000SANDBOXUNKNOWNKEY000000000000";
/// The body of [`Fault::MalformedBody`]: JSON cut short.
const MALFORMED: &[u8] = b"{\"code\":\"SYSTEM_ERROR\",\"message\":\"sandbox malformed bo";

/// An answer before signing.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    /// Headers besides the signature ones (few: a list keeps `Reply` small).
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
    /// A bill to stream instead of `body`, unsigned like the platform's downloads.
    pub(crate) download: Option<BillSpec>,
}

impl Reply {
    /// A JSON answer.
    pub(crate) fn json(status: StatusCode, value: &Value) -> Self {
        Self::json_bytes(status, Bytes::from(value.to_string()))
    }

    /// An answer whose body is (meant to be) JSON, given as bytes.
    fn json_bytes(status: StatusCode, body: Bytes) -> Self {
        Self {
            status,
            headers: vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
            download: None,
        }
    }

    /// An answer without a body (`204`, `202`).
    pub(crate) fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            download: None,
        }
    }

    /// A `200` streaming the bill of `spec` ([`super::bills`]).
    pub(crate) fn download(spec: BillSpec) -> Self {
        Self {
            status: StatusCode::OK,
            headers: vec![(
                CONTENT_TYPE,
                HeaderValue::from_static(BillStream::content_type(&spec)),
            )],
            body: Bytes::new(),
            download: Some(spec),
        }
    }

    /// The platform's error shape `{"code","message"}`, plus `detail` when given.
    pub(crate) fn error(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        detail: Option<Value>,
    ) -> Self {
        let mut value = json!({"code": code, "message": message.into()});
        if let Some(detail) = detail {
            value["detail"] = detail;
        }
        Self::json(status, &value)
    }

    /// `400 PARAM_ERROR` naming the field.
    pub(crate) fn param_error(field: &str, issue: &str) -> Self {
        Self::error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            format!("{field}: {issue}"),
            Some(json!({"field": field, "location": "body", "issue": issue})),
        )
    }

    /// `400 INVALID_REQUEST`: the request is well formed but not allowed in this state.
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message, None)
    }

    /// The answer of [`Fault::Status`].
    /// Statuses outside 200–599 become 500 (1xx cannot end an exchange).
    pub(crate) fn for_status(status: u16) -> Self {
        let code = StatusCode::from_u16(status)
            .ok()
            .filter(|c| (200..=599).contains(&c.as_u16()))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match code.as_u16() {
            // No body allowed: the signature must cover the empty body actually sent.
            204 | 304 => Self::empty(code),
            ..=399 => Self::json(code, &json!({})),
            _ => {
                let (name, message) = status_error(code.as_u16());
                Self::error(code, name, message, None)
            }
        }
    }
}

/// A response body: one chunk, optionally followed by an error that aborts the connection
/// ([`Fault::Truncate`]), or the pieces of a listing. The error waits a moment so that the
/// head and the first half are flushed to the client first. It holds the connection's
/// request guard, so the connection counts as busy until the body is written (or dropped).
#[derive(Debug)]
pub(crate) struct ReplyBody {
    chunk: Option<Bytes>,
    then_fail: Option<Pin<Box<tokio::time::Sleep>>>,
    listing: Option<Listing>,
    bill: Option<BillStream>,
    guard: Option<Busy>,
}

impl ReplyBody {
    pub(crate) fn full(bytes: Bytes) -> Self {
        Self {
            chunk: (!bytes.is_empty()).then_some(bytes),
            then_fail: None,
            listing: None,
            bill: None,
            guard: None,
        }
    }

    fn truncated(half: Bytes) -> Self {
        Self {
            chunk: (!half.is_empty()).then_some(half),
            then_fail: Some(Box::pin(tokio::time::sleep(Duration::from_millis(50)))),
            listing: None,
            bill: None,
            guard: None,
        }
    }

    /// The pieces of `listing`, produced as hyper asks for them.
    pub(crate) fn listing(listing: Listing) -> Self {
        Self {
            chunk: None,
            then_fail: None,
            listing: Some(listing),
            bill: None,
            guard: None,
        }
    }

    /// The pieces of a bill, generated as hyper asks for them.
    fn bill(stream: BillStream) -> Self {
        Self {
            chunk: None,
            then_fail: None,
            listing: None,
            bill: Some(stream),
            guard: None,
        }
    }

    /// Keeps `guard` until the body is written or dropped.
    pub(crate) fn hold(&mut self, guard: Busy) {
        self.guard = Some(guard);
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(chunk) = self.chunk.take() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(piece) = self.listing.as_mut().and_then(Iterator::next) {
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        if let Some(piece) = self.bill.as_mut().and_then(Iterator::next) {
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        self.bill = None;
        if let Some(wait) = self.then_fail.as_mut() {
            if wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.then_fail = None;
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "sandbox fault: truncated body",
            ))));
        }
        // Everything is written: the connection is no longer busy with this request.
        self.guard = None;
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.chunk.is_none()
            && self.then_fail.is_none()
            && self.listing.is_none()
            && self.bill.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.bill.is_some() {
            return SizeHint::default();
        }
        match (&self.chunk, &self.then_fail, &self.listing) {
            (_, Some(_), _) => SizeHint::default(),
            // Asked before the first piece: hyper then sends a `Content-Length`.
            (_, _, Some(listing)) => SizeHint::with_exact(listing.remaining()),
            (Some(c), None, None) => SizeHint::with_exact(c.len() as u64),
            (None, None, None) => SizeHint::with_exact(0),
        }
    }
}

/// A JSON body of exactly `len` bytes (or the smallest one, if `len` is smaller).
fn oversized_body(len: usize) -> Bytes {
    const FRAME: &[u8] = b"{\"data\":\"\"}";
    let mut body = Vec::with_capacity(len.max(FRAME.len()));
    body.extend_from_slice(b"{\"data\":\"");
    body.resize(len.saturating_sub(2).max(9), b'x');
    body.extend_from_slice(b"\"}");
    Bytes::from(body)
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// Signs `reply` like WeChat Pay (with the key chosen by the request's `Wechatpay-Serial`),
/// applies a response-side fault, and makes the hyper response.
pub(crate) fn finish(
    (key_id, key): (&str, &PrivateKey),
    request_id: &str,
    now: i64,
    mut reply: Reply,
    fault: Option<&Fault>,
) -> http::Response<ReplyBody> {
    if let Some(spec) = reply.download.take() {
        // Downloads are not signed (their digest is in the signed apply answer).
        let mut response = http::Response::new(ReplyBody::bill(BillStream::new(&spec)));
        let mut headers: HeaderMap = std::mem::take(&mut reply.headers).into_iter().collect();
        insert(&mut headers, "request-id", request_id);
        *response.headers_mut() = headers;
        return response;
    }
    let mut truncate = false;
    match fault {
        Some(Fault::MalformedBody) => {
            reply = Reply::json_bytes(StatusCode::OK, Bytes::from_static(MALFORMED));
        }
        Some(Fault::Oversized(len)) => {
            reply = Reply::json_bytes(StatusCode::OK, oversized_body(*len));
        }
        Some(Fault::Truncate) => {
            if reply.body.is_empty() {
                let status = reply.status;
                reply = Reply::json(
                    StatusCode::OK,
                    &json!({"sandbox": "truncated", "status": status.as_u16()}),
                );
            }
            truncate = true;
        }
        _ => {}
    }

    let mut headers: HeaderMap = std::mem::take(&mut reply.headers).into_iter().collect();
    insert(&mut headers, "request-id", request_id);
    if fault != Some(&Fault::MissingSignatureHeaders) {
        let timestamp = match fault {
            Some(Fault::StaleTimestamp) => now - STALE_BY,
            _ => now,
        }
        .to_string();
        let Ok(nonce) = nonce() else {
            return unsigned_failure("the random generator failed");
        };
        let mut message = canonical_response(&timestamp, &nonce, &reply.body);
        if fault == Some(&Fault::WrongSignature) {
            message.extend_from_slice(b"sandbox: not what was sent");
        }
        let Ok(mut signature) = sign_base64(key, &message) else {
            return unsigned_failure("signing failed");
        };
        if fault == Some(&Fault::SignatureProbe) {
            signature.insert_str(0, "WECHATPAY/SIGNTEST/");
        }
        let serial = match fault {
            Some(Fault::UnknownSerial) => UNKNOWN_SERIAL,
            _ => key_id,
        };
        insert(&mut headers, "wechatpay-timestamp", &timestamp);
        insert(&mut headers, "wechatpay-nonce", &nonce);
        insert(&mut headers, "wechatpay-signature", &signature);
        insert(&mut headers, "wechatpay-serial", serial);
        insert(&mut headers, "wechatpay-signature-type", SCHEME);
    }

    let body = if truncate {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(reply.body.len()));
        ReplyBody::truncated(reply.body.slice(..reply.body.len() / 2))
    } else {
        ReplyBody::full(reply.body)
    };
    let mut response = http::Response::new(body);
    *response.status_mut() = reply.status;
    *response.headers_mut() = headers;
    response
}

/// An unsigned `500`, for the (unexpected) case where the sandbox cannot sign.
fn unsigned_failure(why: &str) -> http::Response<ReplyBody> {
    unsigned(Reply::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "SYSTEM_ERROR",
        format!("sandbox: {why}"),
        None,
    ))
}

/// An unsigned response (the control endpoints).
pub(crate) fn unsigned(reply: Reply) -> http::Response<ReplyBody> {
    let mut response = http::Response::new(ReplyBody::full(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers.into_iter().collect();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_bodies_have_the_asked_length_and_parse() {
        for len in [0, 5, 11, 12, 100, 4096] {
            let body = oversized_body(len);
            assert_eq!(body.len(), len.max(11), "{len}");
            let _: Value = serde_json::from_slice(&body).unwrap();
        }
    }

    #[test]
    fn fault_statuses_are_final_and_bodies_fit_them() {
        assert_eq!(Reply::for_status(101).status, 500);
        assert_eq!(Reply::for_status(1000).status, 500);
        assert!(Reply::for_status(204).body.is_empty());
        assert_eq!(&Reply::for_status(201).body[..], b"{}");
        let e: Value = serde_json::from_slice(&Reply::for_status(429).body).unwrap();
        assert_eq!(e["code"], "RATELIMIT_EXCEEDED");
    }

    #[test]
    fn malformed_body_is_not_json() {
        assert!(serde_json::from_slice::<Value>(MALFORMED).is_err());
    }
}
