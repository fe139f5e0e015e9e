//! The recorder: every request as received, for tests to assert on what went over the wire.
//! Bounded by count and by bytes; the body of a request whose signature did not verify is
//! not kept (anyone can send those, in any size).

use std::collections::VecDeque;

use bytes::Bytes;
use http::{HeaderMap, Method, Version};

/// The most requests kept by the recorder (the oldest are forgotten first).
pub(crate) const MAX_RECORDED: usize = 10_000;
/// The default bound on the recorder's bytes ([`SandboxBuilder::max_recorded_bytes`]).
///
/// [`SandboxBuilder::max_recorded_bytes`]: super::SandboxBuilder::max_recorded_bytes
pub(crate) const DEFAULT_RECORDED_BYTES: usize = 64 * 1024 * 1024;
/// What one header line costs besides its name and value (a rough `HeaderMap` overhead).
const HEADER_OVERHEAD: usize = 32;
/// What one record costs besides its target, headers and body.
const RECORD_OVERHEAD: usize = 128;

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
    /// The body bytes exactly as received when [`RecordedRequest::body_kept`]; else empty.
    pub body: Bytes,
    /// Whether the body was kept: only for a request whose `Authorization` verified
    /// (mchid, serial, timestamp window and signature; the nonce may be a replay) and that
    /// fits in the recorder's byte bound ([`SandboxBuilder::max_recorded_bytes`]).
    ///
    /// [`SandboxBuilder::max_recorded_bytes`]: super::SandboxBuilder::max_recorded_bytes
    pub body_kept: bool,
    /// The length of the body received, kept or not.
    pub body_len: usize,
    /// Whether the request's `Authorization` verified (as for [`RecordedRequest::body_kept`]).
    pub authenticated: bool,
    /// Whether the request came over a TLS connection that presented a client certificate
    /// signed by the sandbox's test CA (mutual TLS; [`SandboxBuilder::tls`]). Always `false`
    /// in plain HTTP mode.
    ///
    /// [`SandboxBuilder::tls`]: super::SandboxBuilder::tls
    pub client_certificate: bool,
}

impl RecordedRequest {
    /// The record of a request as received; its body is kept only when `authenticated` (the
    /// recorder's byte bound is applied when it is stored).
    pub(crate) fn received(
        parts: &http::request::Parts,
        target: &str,
        body: &Bytes,
        authenticated: bool,
        client_certificate: bool,
    ) -> Self {
        Self {
            method: parts.method.clone(),
            target: target.to_string(),
            version: parts.version,
            headers: parts.headers.clone(),
            body: if authenticated {
                body.clone()
            } else {
                Bytes::new()
            },
            body_kept: authenticated,
            body_len: body.len(),
            authenticated,
            client_certificate,
        }
    }

    /// What this record counts against the recorder's byte bound: target, header names and
    /// values (plus a fixed overhead each), body, plus a fixed overhead.
    pub(crate) fn cost(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + HEADER_OVERHEAD)
            .sum();
        RECORD_OVERHEAD + self.target.len() + headers + self.body.len()
    }
}

/// The recorded requests, oldest first, bounded by count ([`MAX_RECORDED`]) and by bytes.
#[derive(Debug)]
pub(crate) struct Recorder {
    entries: VecDeque<RecordedRequest>,
    bytes: usize,
    max_bytes: usize,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new(DEFAULT_RECORDED_BYTES)
    }
}

impl Recorder {
    /// An empty recorder holding at most `max_bytes` (see [`RecordedRequest::cost`]).
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Records `request`, forgetting the oldest records until it fits. A body that alone
    /// does not fit is not kept; a record that does not fit even without its body (headers
    /// larger than the whole bound) is not recorded at all.
    pub(crate) fn push(&mut self, mut request: RecordedRequest) {
        // A request signature is a credential while its timestamp is fresh: `Debug` of a
        // record shows `Sensitive` instead (the value itself stays readable).
        if let http::header::Entry::Occupied(mut entry) =
            request.headers.entry(http::header::AUTHORIZATION)
        {
            entry.iter_mut().for_each(|value| value.set_sensitive(true));
        }
        if request.cost() > self.max_bytes {
            request.body = Bytes::new();
            request.body_kept = false;
        }
        let cost = request.cost();
        if cost > self.max_bytes {
            return;
        }
        while self.entries.len() >= MAX_RECORDED || self.bytes + cost > self.max_bytes {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= old.cost(),
                None => break,
            }
        }
        self.bytes += cost;
        self.entries.push_back(request);
    }

    /// Forgets everything; returns how many were recorded.
    pub(crate) fn clear(&mut self) -> usize {
        self.bytes = 0;
        std::mem::take(&mut self.entries).len()
    }

    /// The bytes held, as counted against the bound.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many records are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: usize) -> RecordedRequest {
        RecordedRequest {
            method: Method::POST,
            target: "/v3/x".into(),
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'a'; body]),
            body_kept: true,
            body_len: body,
            authenticated: true,
            client_certificate: false,
        }
    }

    #[test]
    fn the_byte_bound_evicts_the_oldest_and_never_is_exceeded() {
        let mut recorder = Recorder::new(10_000);
        for i in 0..100 {
            recorder.push(request(i * 97 % 4000));
            assert!(recorder.bytes() <= 10_000, "{}", recorder.bytes());
            let sum: usize = recorder.iter().map(RecordedRequest::cost).sum();
            assert_eq!(sum, recorder.bytes());
        }
        // A body larger than the bound: recorded without it.
        recorder.push(request(20_000));
        let last = recorder.iter().last().unwrap();
        assert!(!last.body_kept && last.body.is_empty() && last.body_len == 20_000);
        assert!(recorder.bytes() <= 10_000);
        let held = recorder.len();
        assert_eq!(recorder.clear(), held);
        assert_eq!(recorder.bytes(), 0);
    }
}
