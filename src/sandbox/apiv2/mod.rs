//! APIv2 in the sandbox: XML requests to the catalog's `v2` endpoints, checked like the
//! platform (XML, `mch_id`, `sign` under `sign_type`, `nonce_str` not replayed, the merchant
//! API certificate on `secapi/` paths), answered in the platform's XML and signed with the
//! APIv2 key under the request's sign type.
//!
//! - `pay/micropay`, `pay/orderquery`, `secapi/pay/refund` ([`trade`]) and
//!   `pay/downloadbill` ([`bill`]) are simulated (also under the `sandboxnew/` and
//!   `xdc/apiv2sandbox/` prefixes); every other v2 endpoint answers a signed
//!   `SUCCESS`/`SUCCESS` once the checks pass.
//! - A refund with a loopback `notify_url` gets its refund notification ([`notify`]).
//! - Refusals answer HTTP 200 with `<xml><return_code>FAIL</return_code><return_msg>…`
//!   (unsigned, like the platform's).
//! - Each request takes the next queued fault: `Drop`, `Delay` and `Status` act as for APIv3,
//!   `WrongSignature` spoils the sign of a signed answer; the others have no effect here.

mod bill;
mod notify;
mod store;
mod trade;
mod wire;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::Value;

pub(crate) use notify::deliver;
pub(crate) use store::Store;

use super::faults::Fault;
use super::reply::{unsigned, Reply, ReplyBody};
use super::tls::ClientCertificate;
use super::{lock, RecordedRequest, State};
use crate::catalog::{self, Endpoint};
use crate::v2::sign::SignType;
use wire::Fields;

/// What a flow answers.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `return_code` and `result_code` `SUCCESS`, with these fields; signed.
    Success(Fields),
    /// `return_code` `SUCCESS`, `result_code` `FAIL` with `err_code` and `err_code_des`; signed.
    Business(&'static str, String),
    /// `return_code` `FAIL` with this `return_msg`; unsigned.
    Return(String),
    /// A file (a bill), unsigned.
    File {
        body: Bytes,
        content_type: &'static str,
    },
}

impl Outcome {
    fn business(code: &'static str, description: impl Into<String>) -> Self {
        Self::Business(code, description.into())
    }
}

/// The catalog's APIv2 endpoint at `path` for `method`, if any.
pub(crate) fn endpoint(method: &Method, path: &str) -> Option<&'static Endpoint> {
    catalog::find(path).find(|e| e.method == method.as_str() && e.template().starts_with("v2/"))
}

/// An APIv2 request as the pipeline split it.
pub(crate) struct Request<'a> {
    pub(crate) parts: &'a http::request::Parts,
    /// Path and query as received.
    pub(crate) target: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) body: &'a Bytes,
    /// The client certificate the connection presented (TLS mode), verified by the test CA.
    pub(crate) client_certificate: Option<&'a ClientCertificate>,
}

/// What the request carries: the XML body, or the query of a GET.
fn fields(method: &Method, query: &str, body: &[u8]) -> Result<Fields, String> {
    if method != Method::GET {
        return wire::parse(body).map_err(|e| format!("XML格式错误: the body is not XML ({e})"));
    }
    let mut out = Fields::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        out.insert(decode(key), Value::String(decode(value)));
    }
    Ok(out)
}

/// The checked request: its fields and sign type, or the `return_msg` of its refusal.
struct Checked {
    fields: Fields,
    sign_type: SignType,
}

/// The platform's checks but the nonce's (which only a verified request may spend).
fn check(state: &State, endpoint: &Endpoint, request: &Request<'_>) -> Result<Checked, String> {
    if endpoint.api_cert_required {
        match request.client_certificate {
            None => {
                return Err(format!(
                    "{} requires the merchant API certificate: call it over mutual TLS \
                     (the client's merchant_api_certificate); this connection presented none",
                    request.path
                ))
            }
            Some(cert) if cert.common_name.as_deref() != Some(state.keys.mchid.as_str()) => {
                return Err(format!(
                    "the client certificate (serial {}) is not the API certificate of merchant {}",
                    cert.serial, state.keys.mchid
                ))
            }
            Some(_) => {}
        }
    }
    let fields = fields(&request.parts.method, request.query, request.body)?;
    let mch_id = ["mch_id", "mchid", "combine_mch_id"]
        .into_iter()
        .find_map(|key| trade::text(&fields, key))
        .ok_or("mch_id is required and missing")?;
    if mch_id != state.keys.mchid {
        return Err(format!(
            "mch_id mismatch: {mch_id} is not the sandbox merchant {}",
            state.keys.mchid
        ));
    }
    let sign_type = match trade::text(&fields, "sign_type") {
        None => SignType::Md5,
        Some(name) => name
            .parse()
            .map_err(|_| format!("sign_type {name} is invalid: use MD5 or HMAC-SHA256"))?,
    };
    if trade::text(&fields, "sign").is_none() {
        return Err("签名错误: sign is missing".into());
    }
    if !wire::verifies(&fields, &state.keys.apiv2_key, sign_type) {
        return Err(format!(
            "签名错误: the sign does not verify under {} with the merchant's APIv2 key",
            sign_type.as_str()
        ));
    }
    if trade::text(&fields, "nonce_str").is_none() {
        return Err("nonce_str is required and missing".into());
    }
    Ok(Checked { fields, sign_type })
}

/// Serves one APIv2 request: checks, records, applies a queued fault, answers. `None`: drop
/// the connection ([`Fault::Drop`]).
pub(crate) async fn serve(
    state: &Arc<State>,
    endpoint: &Endpoint,
    request: Request<'_>,
) -> Option<http::Response<ReplyBody>> {
    let now = super::now();
    let checked = check(state, endpoint, &request);
    let authenticated = checked.is_ok();
    let Request {
        parts,
        target,
        path,
        body,
        client_certificate,
        ..
    } = request;
    lock(&state.requests).push(RecordedRequest::received(
        parts,
        target,
        body,
        authenticated,
        client_certificate.is_some(),
    ));
    let fault = state.next_fault();
    match &fault {
        Some(Fault::Drop) => return None,
        Some(Fault::Delay(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::Status(status)) => return Some(unsigned(Reply::for_status(*status))),
        _ => {}
    }
    let checked = match checked {
        Ok(checked) => checked,
        Err(message) => return Some(xml(&fail(&message))),
    };
    let nonce = trade::text(&checked.fields, "nonce_str").unwrap_or_default();
    if !lock(&state.nonces).insert(&format!("v2:{nonce}"), now, now) {
        return Some(xml(&fail("nonce_str was already used: send a fresh one")));
    }
    let outcome = dispatch(state, path, &checked.fields, now);
    Some(match outcome {
        Outcome::Return(message) => xml(&fail(&message)),
        Outcome::File { body, content_type } => {
            let mut response = http::Response::new(ReplyBody::full(body));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
        outcome => match signed(state, &checked, outcome) {
            Ok(mut fields) => {
                if fault == Some(Fault::WrongSignature) {
                    tamper(&mut fields);
                }
                xml(&fields)
            }
            Err(e) => xml(&fail(&format!("sandbox: cannot sign the answer: {e}"))),
        },
    })
}

/// [`Fault::WrongSignature`] on an APIv2 answer: the sign's first hex digit changed, so it no
/// longer matches the fields.
fn tamper(fields: &mut Fields) {
    if let Some(Value::String(sign)) = fields.get_mut("sign") {
        let first = if sign.starts_with('0') { "1" } else { "0" };
        sign.replace_range(..1, first);
    }
}

/// The flow for `path` (the sandbox prefixes stripped).
fn dispatch(state: &Arc<State>, path: &str, req: &Fields, now: i64) -> Outcome {
    let path = crate::response_v2::without_sandbox_prefix(path);
    let id = state.next_id();
    let mut store = lock(&state.v2);
    match path {
        "/pay/micropay" => trade::micropay(&mut store, req, now, id),
        "/pay/orderquery" => trade::orderquery(&mut store, req),
        "/pay/downloadbill" => bill::download(&store, req, &state.keys.mchid),
        "/secapi/pay/refund" => {
            let (outcome, new) = trade::refund(&mut store, req, now, id);
            let notify_url = trade::text(req, "notify_url").map(str::to_string);
            if let (Some(out_refund_no), Some(url)) = (new, notify_url) {
                let state = state.clone();
                // Delivered after the answer, like the platform; a listener that fails is
                // only logged (tests deliver explicitly to see the outcome).
                tokio::spawn(async move {
                    if let Err(e) = deliver(&state, &url, &out_refund_no).await {
                        tracing::debug!(error = %e, "sandbox: v2 refund notification failed");
                    }
                });
            }
            outcome
        }
        _ => Outcome::Success(Fields::new()),
    }
}

/// The answer's fields: the codes, the request's `appid`, `mch_id` and a fresh `nonce_str`,
/// the flow's fields, then `sign` under the request's sign type.
fn signed(state: &State, req: &Checked, outcome: Outcome) -> crate::Result<Fields> {
    let mut out = Fields::new();
    out.insert("return_code".into(), "SUCCESS".into());
    out.insert("return_msg".into(), "OK".into());
    if let Some(appid) = trade::text(&req.fields, "appid") {
        out.insert("appid".into(), appid.into());
    }
    out.insert("mch_id".into(), state.keys.mchid.clone().into());
    out.insert("nonce_str".into(), crate::signer::nonce()?.into());
    match outcome {
        Outcome::Success(fields) => {
            out.insert("result_code".into(), "SUCCESS".into());
            out.extend(fields);
        }
        Outcome::Business(code, description) => {
            out.insert("result_code".into(), "FAIL".into());
            out.insert("err_code".into(), code.into());
            out.insert("err_code_des".into(), description.into());
        }
        Outcome::Return(_) | Outcome::File { .. } => {}
    }
    wire::sign(&mut out, &state.keys.apiv2_key, req.sign_type)?;
    Ok(out)
}

/// `return_code FAIL` with `message`.
fn fail(message: &str) -> Fields {
    let mut out = Fields::new();
    out.insert("return_code".into(), "FAIL".into());
    out.insert("return_msg".into(), message.into());
    out
}

/// An HTTP 200 carrying `fields` as XML.
fn xml(fields: &Fields) -> http::Response<ReplyBody> {
    let mut reply = Reply::empty(StatusCode::OK);
    reply.body = Bytes::from(wire::render(fields));
    reply.headers.push((
        CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    ));
    unsigned(reply)
}
