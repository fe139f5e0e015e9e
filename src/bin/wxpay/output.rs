//! What `wxpay` prints: the dry-run description (its signature redacted), the response (on
//! stdout, or its body streamed into `-o FILE` and a summary on stdout) and an API error's
//! body. A response that cannot be written after the request went through is its own failure
//! (exit 6): the order may already exist.
//!
//! For subcommands: [`print()`] (one JSON value in the chosen format, coloured on a terminal),
//! [`failed`] (a library error as a `Fail`, an API error's body printed first),
//! [`streamed`] (a streaming body into a file, with a progress bar on a terminal).

use std::io::Write as _;
use std::path::Path;

use serde_json::{json, Map, Value};
use wechatpay_chain::{ApiError, Error, ErrorKind, PreparedRequest, Response, StreamingResponse};

use crate::save::{self, NotSaved};
use crate::{colour, Fail, Format, EXIT_NOT_WRITTEN};

/// Writes `value` as one line (or indented, coloured on a terminal) on stdout; an error
/// instead of println!'s panic.
pub(crate) fn print(value: &Value, format: Format) -> std::io::Result<()> {
    let text = match format {
        Format::Json => value.to_string(),
        Format::Pretty if colour::stdout_wants_colour() => colour::render(value),
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

/// Prints the response's summary (status, Request-ID, body) on stdout.
pub(crate) fn response(response: &Response, format: Format) -> Result<(), Fail> {
    print_response(response, &summary(response), format)
}

/// Prints `summary`, made from `response`, on stdout (exit 6 when it cannot be written).
pub(crate) fn print_response(
    response: &Response,
    summary: &Value,
    format: Format,
) -> Result<(), Fail> {
    print(summary, format).map_err(|e| not_written(response, "stdout", &e))
}

/// The summary of a body saved by `-o`: status, Request-ID, bytes and path.
fn saved_summary(response: &StreamingResponse, bytes: u64, path: &Path) -> Value {
    json!({
        "status": response.status().as_u16(),
        "request_id": response.request_id(),
        "bytes": bytes,
        "path": path.display().to_string(),
    })
}

/// Streams the body of `response` into `path` (a temporary file renamed at the end; a progress
/// bar on a terminal's stderr) and prints the summary on stdout. Whatever stops the body
/// (the file, the disk, a broken download) is exit 6: the request went through.
pub(crate) async fn streamed(
    mut response: StreamingResponse,
    path: &Path,
    format: Format,
) -> Result<(), Fail> {
    match save::to_file(&mut response, path).await {
        Ok(saved) => print(&saved_summary(&response, saved.bytes, path), format).map_err(|e| {
            not_written_streamed(&response, "stdout (the file was saved)", &e.to_string())
        }),
        Err(NotSaved {
            bytes,
            reason,
            in_place,
        }) => {
            let _ = print(&saved_summary(&response, bytes, path), format);
            let kept = if in_place {
                "written in place: what arrived may be partial"
            } else {
                "nothing kept"
            };
            Err(not_written_streamed(
                &response,
                &format!("{} ({kept})", path.display()),
                &reason,
            ))
        }
    }
}

fn not_written_streamed(response: &StreamingResponse, what: &str, reason: &str) -> Fail {
    Fail::new(
        EXIT_NOT_WRITTEN,
        format!(
            "the request went through (HTTP {}, Request-ID {}) but its response could not be written to {what}: {reason}; the order (or other change) may already exist: query it before sending again",
            response.status().as_u16(),
            response.request_id().unwrap_or("none"),
        ),
    )
}

/// An API error as JSON: status, Request-ID, and the server's code, message and detail.
fn api_error_json(api: &ApiError) -> Value {
    json!({
        "status": api.status.as_u16(),
        "request_id": api.request_id,
        "code": api.code,
        "message": api.message,
        "detail": api.detail,
    })
}

/// A library error as a `Fail`; an API error's body is printed on stdout first (in `format`),
/// so a script can read its code while stderr carries the one-line message.
pub(crate) fn failed(e: Error, format: Format) -> Fail {
    match e.kind() {
        ErrorKind::Api(api) => {
            let _ = print(&api_error_json(api), format);
        }
        ErrorKind::ApiV2(v2) => {
            let _ = print(&crate::apiv2::error_json(&e, v2), format);
        }
        _ => {}
    }
    Fail::from(e)
}
