//! The control endpoints under `/_sandbox/` (documented in the module above): unsigned,
//! loopback peers only.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::faults::Fault;
use super::listing::Listing;
use super::reply::{unsigned, Reply, ReplyBody};
use super::{lock, State};

/// The most faults one control request may queue.
const MAX_COUNT: u64 = 100;

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Reply {
    Reply::error(status, code, message, None)
}

fn ok(value: Value) -> Reply {
    Reply::json(StatusCode::OK, &value)
}

fn parse_body(body: &[u8]) -> Result<Value, Reply> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            format!("the body is not JSON: {e}"),
        )
    })
}

/// Answers a control request.
pub(crate) async fn handle(
    state: &Arc<State>,
    peer: SocketAddr,
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> http::Response<ReplyBody> {
    if !peer.ip().is_loopback() {
        return unsigned(error(
            StatusCode::FORBIDDEN,
            "NO_AUTH",
            "the sandbox control endpoints answer loopback clients only",
        ));
    }
    if (method.as_str(), path) == ("GET", "/_sandbox/requests") {
        return match list_requests(state, query) {
            Ok(response) => response,
            Err(reply) => unsigned(reply),
        };
    }
    let result = match (method.as_str(), path) {
        ("POST", "/_sandbox/faults") => queue_fault(state, body),
        ("GET", "/_sandbox/faults") => {
            let names: Vec<&str> = lock(&state.faults).iter().map(Fault::name).collect();
            Ok(ok(json!({"pending": names})))
        }
        ("DELETE", "/_sandbox/faults") => {
            let cleared = std::mem::take(&mut *lock(&state.faults)).len();
            Ok(ok(json!({"cleared": cleared})))
        }
        ("DELETE", "/_sandbox/requests") => {
            let cleared = lock(&state.requests).clear();
            Ok(ok(json!({"cleared": cleared})))
        }
        ("GET", "/_sandbox/config") => config(state),
        ("POST", "/_sandbox/notifications") => notify(state, body).await,
        ("POST", "/_sandbox/v2/refund-notifications") => notify_v2_refund(state, body).await,
        _ => Err(error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "sandbox control endpoints: POST|GET|DELETE /_sandbox/faults, GET|DELETE /_sandbox/requests, GET /_sandbox/config, POST /_sandbox/notifications, POST /_sandbox/v2/refund-notifications",
        )),
    };
    unsigned(result.unwrap_or_else(|reply| reply))
}

/// `GET /_sandbox/requests[?offset=N][&limit=N]`: the recorded requests (oldest first, from
/// `offset`, at most `limit`) as a JSON array written piece by piece (see [`Listing`]).
fn list_requests(state: &State, query: &str) -> Result<http::Response<ReplyBody>, Reply> {
    let (mut offset, mut limit) = (0usize, usize::MAX);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "offset" => &mut offset,
            "limit" => &mut limit,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "PARAM_ERROR",
                    "GET /_sandbox/requests takes only offset and limit",
                ))
            }
        };
        *slot = value.parse().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "PARAM_ERROR",
                format!("{name} must be a non-negative integer"),
            )
        })?;
    }
    // A snapshot: the clones share the body bytes with the recorder.
    let records = lock(&state.requests)
        .iter()
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    let mut response = http::Response::new(ReplyBody::listing(Listing::new(records)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn queue_fault(state: &State, body: &[u8]) -> Result<Reply, Reply> {
    let value = parse_body(body)?;
    let fault =
        Fault::from_json(&value).map_err(|e| error(StatusCode::BAD_REQUEST, "PARAM_ERROR", e))?;
    let count = match value.get("count") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_COUNT).contains(n))
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "PARAM_ERROR",
                    format!("count must be 1 to {MAX_COUNT}"),
                )
            })?,
    };
    let mut faults = lock(&state.faults);
    for _ in 0..count {
        faults.push_back(fault.clone());
    }
    Ok(ok(json!({"queued": count, "pending": faults.len()})))
}

fn config(state: &State) -> Result<Reply, Reply> {
    let text = std::fs::read_to_string(&state.config.json).map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            format!("cannot read wxpay.json: {e}"),
        )
    })?;
    let config: Value = serde_json::from_str(&text).map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            format!("wxpay.json: {e}"),
        )
    })?;
    Ok(ok(json!({
        "base_uri": state.base_uri,
        "config_toml": state.config.toml,
        "config_json": state.config.json,
        "config": config,
    })))
}

/// The string field `name` of a control request, or `400 PARAM_ERROR` naming it.
fn string_field<'a>(value: &'a Value, name: &str) -> Result<&'a str, Reply> {
    value.get(name).and_then(Value::as_str).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            format!("{name} (a string) is required"),
        )
    })
}

/// `POST /_sandbox/v2/refund-notifications` `{"notify_url","out_refund_no"}`: the APIv2
/// refund notification of an earlier refund ([`super::apiv2::deliver`]).
async fn notify_v2_refund(state: &State, body: &[u8]) -> Result<Reply, Reply> {
    let value = parse_body(body)?;
    let url = string_field(&value, "notify_url")?;
    let out_refund_no = string_field(&value, "out_refund_no")?;
    match super::apiv2::deliver(state, url, out_refund_no).await {
        Ok(status) => Ok(ok(json!({"status": status}))),
        Err(e) => Err(error(
            StatusCode::BAD_GATEWAY,
            "SYSTEM_ERROR",
            e.to_string(),
        )),
    }
}

async fn notify(state: &State, body: &[u8]) -> Result<Reply, Reply> {
    let value = parse_body(body)?;
    let field = |name: &str| string_field(&value, name);
    let (url, event_type) = (field("notify_url")?, field("event_type")?);
    let resource = value.get("resource").cloned().unwrap_or_else(|| json!({}));
    match state.deliver(url, event_type, &resource).await {
        Ok(status) => Ok(ok(json!({"status": status}))),
        Err(e) => Err(error(
            StatusCode::BAD_GATEWAY,
            "SYSTEM_ERROR",
            e.to_string(),
        )),
    }
}
