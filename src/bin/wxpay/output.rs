//! What `wxpay` prints: the dry-run description (its signature redacted) and the response,
//! on stdout or into `-o FILE`. A response that cannot be written after the request went
//! through is its own failure (exit 6): the order may already exist.

use std::io::Write as _;
use std::path::Path;

use serde_json::{json, Map, Value};
use wechatpay_chain::{PreparedRequest, Response};

use crate::{Fail, Format, EXIT_NOT_WRITTEN};

/// Writes `value` as one line (or indented) on stdout; an error instead of println!'s panic.
pub(crate) fn print(value: &Value, format: Format) -> std::io::Result<()> {
    let text = match format {
        Format::Json => value.to_string(),
        Format::Pretty => serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()),
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()
}

/// The Authorization header with the value of its `signature="…"` field replaced: a signed
/// request that was never sent can be replayed by whoever reads it.
fn redact_signature(authorization: &str) -> String {
    const FIELD: &str = "signature=\"";
    let Some(start) = authorization.find(FIELD).map(|i| i + FIELD.len()) else {
        return authorization.to_string();
    };
    let end = authorization[start..]
        .find('"')
        .map_or(authorization.len(), |i| start + i);
    format!(
        "{}(redacted){}",
        &authorization[..start],
        &authorization[end..]
    )
}

/// The dry-run object: `{"method","url","target","headers","body","message"}`; the
/// signature is redacted unless `show_signature` (the throw-away test key signed it).
pub(crate) fn describe(request: &PreparedRequest, show_signature: bool) -> Value {
    let headers: Map<String, Value> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let text = if *name == http::header::AUTHORIZATION && !show_signature {
                redact_signature(&text)
            } else {
                text
            };
            (name.as_str().to_string(), Value::String(text))
        })
        .collect();
    json!({
        "method": request.method().as_str(),
        "url": request.url(),
        "target": request.target(),
        "headers": headers,
        "body": String::from_utf8_lossy(request.body()),
        "message": String::from_utf8_lossy(request.message()),
    })
}

/// The response as JSON: status, Request-ID and body (JSON when it parses, else text).
fn summary(response: &Response) -> Value {
    let body: Value = if response.bytes().is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(response.bytes()).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(response.bytes()).into_owned())
        })
    };
    json!({
        "status": response.status().as_u16(),
        "request_id": response.request_id(),
        "body": body,
    })
}

/// The exit-6 failure: the request went through, `what` could not be written.
fn not_written(response: &Response, what: &str, e: &std::io::Error) -> Fail {
    Fail::new(
        EXIT_NOT_WRITTEN,
        format!(
            "the request went through (HTTP {}, Request-ID {}) but its response could not be written to {what}: {e}; the order (or other change) may already exist: query it before sending again",
            response.status().as_u16(),
            response.request_id().unwrap_or("none"),
        ),
    )
}

/// Writes the response into `output` (the body as received) or on stdout (the summary).
/// When `output` fails the summary still goes to stdout, so the answer is not lost.
pub(crate) fn response(
    response: &Response,
    output: Option<&Path>,
    format: Format,
) -> Result<(), Fail> {
    if let Some(path) = output {
        return std::fs::write(path, response.bytes()).map_err(|e| {
            let fail = not_written(response, &path.display().to_string(), &e);
            let _ = print(&summary(response), format);
            fail
        });
    }
    print(&summary(response), format).map_err(|e| not_written(response, "stdout", &e))
}
