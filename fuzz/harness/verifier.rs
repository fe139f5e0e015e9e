//! Target `verifier`: `verify_signed` / `verify_response` over arbitrary headers and bodies
//! (even first byte), and over mutations of the valid signed response vectors (odd first
//! byte), which must never verify.

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use wechatpay_chain::signer::{canonical_response, SCHEME};
use wechatpay_chain::verifier::{is_exempt, verify_response, verify_signed, MAX_CLOCK_SKEW};
use wechatpay_chain::KeyStore;

use super::fixtures::{key_store, valid_vectors};
use super::input::Input;

/// The headers a signature depends on, then the optional signature type.
pub(crate) const SIGNED: &[&str] = &[
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Signature",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
];

/// Header names the raw mode picks from by index (any other index reads a name).
const NAMES: &[&str] = &[
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Signature",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
    "Wechatpay-Statement-Sha1",
    "Request-ID",
];

const STATUSES: &[u16] = &[200, 204, 202, 301, 400, 500];

const PATHS: &[&str] = &[
    "/v3/pay/transactions/native",
    "/v3/billdownload/file",
    "/v3/global/statements",
    "/hk/v3/statements",
    "/v3/merchant-service/images/x",
];

/// The second the response vectors were checked at.
const RESPONSE_NOW: i64 = 1_763_780_100;

pub(crate) fn verifier_target(data: &[u8]) {
    let mut input = Input::new(data);
    if input.byte().is_multiple_of(2) {
        raw(&mut input);
    } else {
        mutated(&mut input);
    }
}

/// Arbitrary headers, body, clock, status and path: no panic, and whatever verifies passes an
/// independent check.
fn raw(input: &mut Input<'_>) {
    let headers = read_headers(input);
    let now = RESPONSE_NOW + i64::from(input.u16()) - 32768;
    let status = STATUSES[usize::from(input.byte()) % STATUSES.len()];
    let pick = usize::from(input.byte());
    let text;
    let path = match PATHS.get(pick) {
        Some(p) => *p,
        None => {
            text = input.text();
            text.as_str()
        }
    };
    let body = input.rest();
    let keys = key_store();
    let signed = verify_signed(&headers, body, now, keys);
    let response = verify_response(status, path, &headers, body, now, keys);
    for e in [&signed, &response]
        .into_iter()
        .flat_map(|r| r.as_ref().err())
    {
        let _ = (e.to_string(), format!("{e:?}"));
    }
    if signed.is_ok() {
        check_really_signed(&headers, body, now, keys);
    }
    if response.is_ok() && status < 400 && !is_exempt(path) {
        assert!(
            signed.is_ok(),
            "verify_response passed what verify_signed refuses"
        );
    }
}

/// Headers from the input: a count, then for each a name (an index into [`NAMES`] or text)
/// and a value. Names and values a `HeaderMap` cannot hold are skipped.
pub(crate) fn read_headers(input: &mut Input<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for _ in 0..input.byte() % 12 {
        let pick = usize::from(input.byte());
        let name = match NAMES.get(pick) {
            Some(n) => HeaderName::from_bytes(n.as_bytes()).ok(),
            None => HeaderName::from_bytes(input.bytes()).ok(),
        };
        let value = HeaderValue::from_bytes(input.bytes()).ok();
        if let (Some(name), Some(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    headers
}

/// The independent oracle for an accepted response: one value of each signed header, in time,
/// from a known key, and an RSA signature over exactly the canonical message.
pub(crate) fn check_really_signed(headers: &HeaderMap, body: &[u8], now: i64, keys: &KeyStore) {
    let one = |name: &str| {
        let mut values = headers.get_all(name).iter();
        let first = values.next().map(|v| v.to_str());
        // Any duplicate fails closed, wherever the valid copy is.
        assert!(values.next().is_none(), "a duplicated {name} verified");
        match first {
            Some(Ok(v)) => v.to_string(),
            other => panic!("verified without a valid {name}: {other:?}"),
        }
    };
    let (timestamp, nonce, signature, serial) = (
        one("Wechatpay-Timestamp"),
        one("Wechatpay-Nonce"),
        one("Wechatpay-Signature"),
        one("Wechatpay-Serial"),
    );
    if let Some(kind) = headers.get("Wechatpay-Signature-Type") {
        assert_eq!(
            kind.as_bytes(),
            SCHEME.as_bytes(),
            "verified another signature type"
        );
    }
    let ts: i64 = timestamp.parse().expect("a verified timestamp is a number");
    assert!(
        (now - ts).abs() <= MAX_CLOCK_SKEW,
        "verified outside the clock window"
    );
    let key = keys
        .get(&serial, now)
        .expect("verified with an unknown serial");
    let statement;
    let signed_body = match headers.get("Wechatpay-Statement-Sha1") {
        Some(sha1) => {
            let sha1 = sha1.to_str().expect("a verified digest is text");
            statement = format!("{{\"sha1\":\"{sha1}\"}}");
            statement.as_bytes()
        }
        None => body,
    };
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&signature)
        .expect("a verified signature is base64");
    assert!(
        key.verify_sha256(&canonical_response(&timestamp, &nonce, signed_body), &raw),
        "verified a signature that does not verify"
    );
}

/// What mutations did to a valid vector, judged by comparing with the original.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Nothing the signature covers changed: must still verify.
    Unchanged,
    /// Something covered changed: must fail.
    Changed,
}

/// Compares the mutated response with the original vector.
fn classify(
    original: &HeaderMap,
    original_body: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> State {
    let mut changed = body != original_body || headers.contains_key("Wechatpay-Statement-Sha1");
    for name in SIGNED {
        let was: Vec<&HeaderValue> = original.get_all(*name).iter().collect();
        let is: Vec<&HeaderValue> = headers.get_all(*name).iter().collect();
        if is.len() > 1 {
            changed = true;
        }
        let optional_default =
            *name == "Wechatpay-Signature-Type" && is.is_empty() && was.len() == 1;
        if is != was && !optional_default {
            changed = true;
        }
    }
    let in_time = headers
        .get("Wechatpay-Timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|ts| (now - ts).abs() <= MAX_CLOCK_SKEW);
    if changed || !in_time {
        State::Changed
    } else {
        State::Unchanged
    }
}

/// The headers of a vector, in its order.
pub(crate) fn vector_headers(vector: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(map) = vector["headers"].as_object() {
        for (name, value) in map {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("vector header name");
            let value = HeaderValue::from_str(value.as_str().unwrap_or_default())
                .expect("vector header value");
            headers.append(name, value);
        }
    }
    headers
}

/// Applies up to three mutations from `input` to `headers`, `body` and `now`.
pub(crate) fn mutate(
    input: &mut Input<'_>,
    headers: &mut HeaderMap,
    body: &mut Vec<u8>,
    now: &mut i64,
) {
    for _ in 0..input.byte() % 4 {
        let kind = input.byte();
        match kind % 8 {
            0 => {
                let flip = input.byte() | 1;
                if body.is_empty() {
                    body.push(flip);
                } else {
                    let at = usize::from(input.u16()) % body.len();
                    body[at] ^= flip;
                }
            }
            1 => {
                let at = usize::from(input.u16()) % (body.len() + 1);
                let extra = input.bytes();
                body.splice(at..at, extra.iter().copied());
            }
            2 => body.truncate(usize::from(input.u16())),
            3 => {
                let name = SIGNED[usize::from(input.byte()) % SIGNED.len()];
                if let Ok(value) = HeaderValue::from_bytes(input.bytes()) {
                    headers.insert(name, value);
                }
            }
            4 => {
                headers.remove(SIGNED[usize::from(input.byte()) % SIGNED.len()]);
            }
            5 => {
                // A second value, before or after the first.
                let name = SIGNED[usize::from(input.byte()) % SIGNED.len()];
                let first = input.byte().is_multiple_of(2);
                if let Ok(extra) = HeaderValue::from_bytes(input.bytes()) {
                    let existing: Vec<HeaderValue> =
                        headers.get_all(name).iter().cloned().collect();
                    if first {
                        headers.remove(name);
                        headers.append(name, extra);
                        for v in existing {
                            headers.append(name, v);
                        }
                    } else {
                        headers.append(name, extra);
                    }
                }
            }
            6 => {
                let delta = i64::from(input.u16());
                *now += if kind & 0x80 == 0 { delta } else { -delta };
            }
            _ => {
                // An unsigned header, or a digest that replaces the body in the message.
                let name = NAMES[5 + usize::from(input.byte()) % 2];
                if let Ok(value) = HeaderValue::from_bytes(input.bytes()) {
                    headers.append(name, value);
                }
            }
        }
    }
}

/// A valid response vector, mutated: an unchanged one verifies, a changed one never does.
fn mutated(input: &mut Input<'_>) {
    let vectors = valid_vectors("responses");
    let vector = vectors[usize::from(input.byte()) % vectors.len()];
    let mut headers = vector_headers(vector);
    let original_body = vector["body"].as_str().unwrap_or_default().as_bytes();
    let mut body = original_body.to_vec();
    let mut now = vector["now"].as_i64().unwrap_or(RESPONSE_NOW);
    let status = u16::try_from(vector["status"].as_u64().unwrap_or(200)).unwrap_or(200);
    let path = vector["path"].as_str().unwrap_or_default();
    let original = headers.clone();
    mutate(input, &mut headers, &mut body, &mut now);
    let state = classify(&original, original_body, &headers, &body, now);
    let keys = key_store();
    let signed = verify_signed(&headers, &body, now, keys);
    let response = verify_response(status, path, &headers, &body, now, keys);
    match state {
        State::Unchanged => {
            assert!(signed.is_ok(), "an unchanged vector fails: {signed:?}");
            assert!(response.is_ok(), "an unchanged vector fails: {response:?}");
        }
        State::Changed => {
            assert!(signed.is_err(), "a mutated vector verified");
            assert!(response.is_err(), "a mutated response verified");
        }
    }
    if signed.is_ok() {
        check_really_signed(&headers, &body, now, keys);
    }
}
