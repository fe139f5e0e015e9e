//! The recorder: every request as received, for tests to assert on what went over the wire.

use std::collections::VecDeque;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Version};
use serde_json::{json, Map, Value};

/// The most requests kept by the recorder (the oldest are forgotten first).
const MAX_RECORDED: usize = 10_000;

/// A request as the sandbox received it (`/_sandbox/…` control requests are not recorded).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The request target exactly as received: path and query.
    pub target: String,
    /// The HTTP version.
    pub version: Version,
    /// The headers (HTTP header names are case-insensitive; they read back in lower case).
    pub headers: HeaderMap,
    /// The body bytes exactly as received.
    pub body: Bytes,
}

/// The recorded requests, oldest first, bounded.
#[derive(Debug, Default)]
pub(crate) struct Recorder(VecDeque<RecordedRequest>);

impl Recorder {
    pub(crate) fn push(&mut self, mut request: RecordedRequest) {
        // A request signature is a credential while its timestamp is fresh: `Debug` of a
        // record shows `Sensitive` instead (the value itself stays readable).
        if let http::header::Entry::Occupied(mut entry) =
            request.headers.entry(http::header::AUTHORIZATION)
        {
            entry.iter_mut().for_each(|value| value.set_sensitive(true));
        }
        if self.0.len() == MAX_RECORDED {
            self.0.pop_front();
        }
        self.0.push_back(request);
    }

    /// Forgets everything; returns how many were recorded.
    pub(crate) fn clear(&mut self) -> usize {
        std::mem::take(&mut self.0).len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.0.iter()
    }
}

/// A recorded request as JSON: header values as strings (arrays when repeated), the body as
/// text (lossy UTF-8) and as base64.
pub(crate) fn to_json(request: &RecordedRequest) -> Value {
    let mut headers = Map::new();
    for name in request.headers.keys() {
        let values: Vec<Value> = request
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
            .collect();
        let value = match <[Value; 1]>::try_from(values) {
            Ok([one]) => one,
            Err(many) => Value::Array(many),
        };
        headers.insert(name.as_str().to_string(), value);
    }
    json!({
        "method": request.method.as_str(),
        "target": request.target,
        "version": format!("{:?}", request.version),
        "headers": headers,
        "body": String::from_utf8_lossy(&request.body),
        "body_base64": BASE64.encode(&request.body),
    })
}
