//! `GET /_sandbox/requests`: the recorded requests as a JSON array, serialized piece by piece
//! while hyper writes it, so that listing costs memory in proportion to one piece, not to
//! the records (whose bodies are shared, not copied).

use std::collections::VecDeque;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::RecordedRequest;

/// The most body bytes serialized into one piece (a multiple of 3: base64 pieces join up).
const PIECE: usize = 48 * 1024;

/// How the body of the record being written is encoded.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    /// JSON string of the UTF-8 text.
    Text,
    /// Base64 of bytes that are not UTF-8.
    Base64,
}

/// The body of the record being written, and how far it got.
#[derive(Debug, Clone)]
struct Cursor {
    body: Bytes,
    at: usize,
    encoding: Encoding,
}

/// The pieces of the listing, produced on demand.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    records: VecDeque<RecordedRequest>,
    /// The length of the whole listing (sent as `Content-Length`, for simple clients).
    len: u64,
    /// The bytes produced so far.
    produced: u64,
    cursor: Option<Cursor>,
    started: bool,
    first: bool,
    done: bool,
}

impl Listing {
    /// A listing of `records` (a snapshot: clones share the body bytes).
    pub(crate) fn new(records: VecDeque<RecordedRequest>) -> Self {
        let mut listing = Self {
            records,
            len: 0,
            produced: 0,
            cursor: None,
            started: false,
            first: true,
            done: false,
        };
        // A dry run, one piece at a time: time, not memory.
        let len = listing.clone().map(|piece| piece.len() as u64).sum();
        listing.len = len;
        listing
    }

    /// The bytes still to produce.
    pub(crate) fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.produced)
    }
}

impl Iterator for Listing {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let piece = self.produce();
        if let Some(piece) = &piece {
            self.produced += piece.len() as u64;
        }
        piece
    }
}

impl Listing {
    fn produce(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some(Bytes::from_static(b"["));
        }
        if let Some(cursor) = &mut self.cursor {
            return Some(match cursor.next_piece() {
                Some(piece) => piece,
                None => {
                    self.cursor = None;
                    Bytes::from_static(b"\"}")
                }
            });
        }
        let Some(record) = self.records.pop_front() else {
            self.done = true;
            return Some(Bytes::from_static(b"]"));
        };
        let mut head = if self.first {
            String::new()
        } else {
            ",".into()
        };
        self.first = false;
        let meta = metadata(&record).to_string();
        // `{…}` without its closing brace, then the body field(s).
        head.push_str(meta.strip_suffix('}').unwrap_or(&meta));
        head.push(',');
        let encoding = if !record.body_kept {
            None
        } else if std::str::from_utf8(&record.body).is_ok() {
            Some(Encoding::Text)
        } else {
            Some(Encoding::Base64)
        };
        match encoding {
            None => head.push_str("\"body\":null}"),
            Some(Encoding::Text) => head.push_str("\"body\":\""),
            Some(Encoding::Base64) => head.push_str("\"body\":null,\"body_base64\":\""),
        }
        if let Some(encoding) = encoding {
            self.cursor = Some(Cursor {
                body: record.body,
                at: 0,
                encoding,
            });
        }
        Some(Bytes::from(head))
    }
}

impl Cursor {
    /// The next encoded piece of the body (without quotes), or `None` at its end.
    fn next_piece(&mut self) -> Option<Bytes> {
        if self.at >= self.body.len() {
            return None;
        }
        let mut end = (self.at + PIECE).min(self.body.len());
        let piece = match self.encoding {
            Encoding::Base64 => BASE64.encode(&self.body[self.at..end]),
            Encoding::Text => {
                // The whole body is UTF-8: back off to a character boundary.
                let text = loop {
                    match std::str::from_utf8(&self.body[self.at..end]) {
                        Ok(text) => break text,
                        Err(e) => end = self.at + e.valid_up_to(),
                    }
                };
                let quoted = serde_json::to_string(text).unwrap_or_default();
                quoted
                    .get(1..quoted.len().saturating_sub(1))
                    .unwrap_or_default()
                    .to_string()
            }
        };
        self.at = end;
        Some(Bytes::from(piece))
    }
}

/// A record's fields besides the body: method, target, version, headers (strings, arrays
/// when repeated), `authenticated`, `client_certificate`, `body_kept`, `body_len`.
fn metadata(request: &RecordedRequest) -> Value {
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
        "authenticated": request.authenticated,
        "client_certificate": request.client_certificate,
        "body_kept": request.body_kept,
        "body_len": request.body_len,
    })
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, Method, Version};

    use super::*;

    fn record(body: &[u8], kept: bool) -> RecordedRequest {
        RecordedRequest {
            method: Method::POST,
            target: "/v3/x?a=1".into(),
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            body: if kept {
                Bytes::copy_from_slice(body)
            } else {
                Bytes::new()
            },
            body_kept: kept,
            body_len: body.len(),
            authenticated: kept,
            client_certificate: false,
        }
    }

    fn listed(records: Vec<RecordedRequest>) -> (Value, usize) {
        let listing = Listing::new(records.into());
        let len = listing.remaining();
        let pieces: Vec<Bytes> = listing.collect();
        assert_eq!(pieces.iter().map(|p| p.len() as u64).sum::<u64>(), len);
        let largest = pieces.iter().map(Bytes::len).max().unwrap_or(0);
        let all: Vec<u8> = pieces.concat();
        (serde_json::from_slice(&all).unwrap(), largest)
    }

    #[test]
    fn the_listing_is_json_in_bounded_pieces() {
        assert_eq!(listed(vec![]).0, json!([]));
        let text = "é\"\\\n".repeat(100_000); // multi-byte characters across piece borders
        let binary: Vec<u8> = (0..=255u8).cycle().take(300_001).collect();
        let (value, largest) = listed(vec![
            record(text.as_bytes(), true),
            record(&binary, true),
            record(b"secret-looking unsigned body", false),
            record(b"", true),
        ]);
        assert!(largest <= 2 * 6 * PIECE, "{largest}");
        assert_eq!(value[0]["body"], text.as_str());
        assert!(value[0].get("body_base64").is_none());
        assert_eq!(value[1]["body"], Value::Null);
        assert_eq!(
            BASE64
                .decode(value[1]["body_base64"].as_str().unwrap())
                .unwrap(),
            binary
        );
        assert_eq!(value[2]["body"], Value::Null);
        assert_eq!(value[2]["body_kept"], false);
        assert_eq!(value[2]["body_len"], 28);
        assert_eq!(value[3]["body"], "");
        assert_eq!(value[3]["target"], "/v3/x?a=1");
    }
}
