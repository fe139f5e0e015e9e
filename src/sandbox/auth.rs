//! Request checks, like the platform: required headers, the `Authorization` syntax, mchid,
//! merchant serial, timestamp window, nonce reuse, and the RSA signature over the canonical
//! message rebuilt from what was received.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, USER_AGENT};
use http::{HeaderMap, Method, StatusCode};
use serde_json::json;

use super::keys::SandboxKeys;
use super::reply::Reply;
use crate::signer::{canonical_request, SCHEME};
use crate::verifier::MAX_CLOCK_SKEW;

/// The longest canonical message quoted back in `truncated_sign_message`.
const QUOTED_MESSAGE: usize = 256;
/// Nonces are remembered this long (a replay older than this fails the clock check).
const NONCE_MEMORY: i64 = 2 * MAX_CLOCK_SKEW + 60;

/// `nonce_str` values already accepted, with their timestamps.
#[derive(Debug, Default)]
pub(crate) struct NonceCache {
    seen: HashMap<String, i64>,
}

impl NonceCache {
    /// Remembers `nonce`; false if it was used within the window (a replay).
    pub(crate) fn insert(&mut self, nonce: &str, timestamp: i64, now: i64) -> bool {
        if self.seen.len() >= 4096 {
            self.seen.retain(|_, ts| now - *ts <= NONCE_MEMORY);
        }
        match self.seen.get(nonce) {
            Some(ts) if now - *ts <= NONCE_MEMORY => false,
            _ => {
                self.seen.insert(nonce.to_string(), timestamp);
                true
            }
        }
    }
}

/// `400` when `Accept` or `User-Agent` is missing, as WeChat Pay answers.
pub(crate) fn check_headers(headers: &HeaderMap) -> Result<(), Reply> {
    for (name, label) in [(ACCEPT, "Accept"), (USER_AGENT, "User-Agent")] {
        let present = headers
            .get(&name)
            .is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace));
        if !present {
            return Err(Reply::error(
                StatusCode::BAD_REQUEST,
                "PARAM_ERROR",
                format!("the HTTP header {label} is missing; WeChat Pay requires Accept and User-Agent on every request"),
                Some(json!({"field": label, "location": "header", "issue": "missing"})),
            ));
        }
    }
    Ok(())
}

/// The five fields of `Authorization`, in their fixed order.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    mchid: &'a str,
    serial_no: &'a str,
    timestamp: &'a str,
    nonce_str: &'a str,
    signature: &'a str,
}

const FIELDS: [&str; 5] = ["mchid", "serial_no", "timestamp", "nonce_str", "signature"];

/// Parses `WECHATPAY2-SHA256-RSA2048 mchid="…",serial_no="…",timestamp="…",nonce_str="…",signature="…"`.
fn parse_authorization(value: &str) -> Result<Authorization<'_>, String> {
    let mut rest = value
        .strip_prefix(SCHEME)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| format!("Authorization must start with \"{SCHEME} \""))?;
    let mut values = [""; 5];
    for (i, name) in FIELDS.iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(',').ok_or_else(|| {
                format!(
                    "Authorization fields are separated by a comma without spaces (before {name})"
                )
            })?;
        }
        rest = rest
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix("=\""))
            .ok_or_else(|| {
                format!(
                    "Authorization field {} must be {name}=\"…\" (order: {})",
                    i + 1,
                    FIELDS.join(", ")
                )
            })?;
        let end = rest
            .find('"')
            .ok_or_else(|| format!("Authorization field {name} has no closing quote"))?;
        values[i] = &rest[..end];
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        return Err("Authorization has text after the signature field".into());
    }
    let [mchid, serial_no, timestamp, nonce_str, signature] = values;
    Ok(Authorization {
        mchid,
        serial_no,
        timestamp,
        nonce_str,
        signature,
    })
}

/// `401 SIGN_ERROR` with `detail.sign_information` like the platform's: the first
/// [`QUOTED_MESSAGE`] bytes of the message rebuilt from (`ts`, `nonce`, `body`) and its length.
/// Only that head is built: the body may be megabytes, and lossy text of non-UTF-8 bytes
/// would triple it.
fn sign_error(
    method: &Method,
    target: &str,
    ts: &str,
    nonce: &str,
    body: &[u8],
    issue: String,
) -> Reply {
    // Three bytes beyond the quote keep a character cut at its end whole.
    let taken = body.len().min(QUOTED_MESSAGE + 3);
    let head = canonical_request(method.as_str(), target, ts, nonce, &body[..taken]);
    let message_length = head.len() - taken + body.len();
    let text = String::from_utf8_lossy(&head[..head.len().min(QUOTED_MESSAGE + 3)]);
    let mut cut = text.len().min(QUOTED_MESSAGE);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Reply::error(
        StatusCode::UNAUTHORIZED,
        "SIGN_ERROR",
        format!("signature verification failed: {issue}"),
        Some(json!({
            "field": "Authorization",
            "location": "header",
            "issue": issue,
            "sign_information": {
                "method": method.as_str(),
                "url": target,
                "truncated_sign_message": &text[..cut],
                "sign_message_length": message_length,
            },
        })),
    )
}

/// A request whose `Authorization` verified (all but the nonce's freshness).
#[derive(Debug)]
pub(crate) struct Signed {
    timestamp: String,
    nonce: String,
    unix: i64,
}

/// Checks the request's signature like the platform, all but nonce reuse
/// ([`check_replay`]): `Authorization` syntax, mchid, serial, timestamp window, nonce syntax
/// and the RSA signature. `target` is the raw request target and `signed` the bytes the
/// signature covers: the body received, or the `meta` part of a multipart upload
/// ([`super::media::signed_bytes`]: a client that signed the whole multipart fails here).
/// Pure: nothing is remembered.
pub(crate) fn authenticate(
    keys: &SandboxKeys,
    now: i64,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    signed: &[u8],
) -> Result<Signed, Reply> {
    let message_with =
        |ts: &str, nonce: &str| canonical_request(method.as_str(), target, ts, nonce, signed);
    let fail =
        |ts: &str, nonce: &str, issue: String| sign_error(method, target, ts, nonce, signed, issue);

    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(fail(
            "",
            "",
            "the Authorization header is missing; sign the request".into(),
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| fail("", "", "the Authorization header is not ASCII".into()))?;
    let auth = parse_authorization(value).map_err(|issue| fail("", "", issue))?;
    let fail = |issue: String| fail(auth.timestamp, auth.nonce_str, issue);

    if auth.mchid != keys.mchid {
        return Err(fail(format!(
            "mchid {:?} is not the merchant of this sandbox ({})",
            auth.mchid, keys.mchid
        )));
    }
    if !auth.serial_no.eq_ignore_ascii_case(&keys.merchant_serial) {
        return Err(fail(format!(
            "serial_no {:?} is not the merchant API certificate serial ({})",
            auth.serial_no, keys.merchant_serial
        )));
    }
    let timestamp = auth
        .timestamp
        .parse::<i64>()
        .ok()
        .filter(|_| {
            auth.timestamp.bytes().all(|b| b.is_ascii_digit()) && auth.timestamp.len() <= 12
        })
        .ok_or_else(|| {
            fail(format!(
                "timestamp {:?} is not Unix seconds",
                auth.timestamp
            ))
        })?;
    if (now - timestamp).abs() > MAX_CLOCK_SKEW {
        return Err(fail(format!(
            "timestamp {timestamp} is more than {MAX_CLOCK_SKEW} s from the server clock ({now}); check the clock"
        )));
    }
    let nonce_ok = (1..=32).contains(&auth.nonce_str.len())
        && auth.nonce_str.bytes().all(|b| b.is_ascii_alphanumeric());
    if !nonce_ok {
        return Err(fail(
            "nonce_str must be 1 to 32 characters of [0-9A-Za-z]".into(),
        ));
    }
    let signature = BASE64
        .decode(auth.signature)
        .map_err(|_| fail("signature is not standard base64".into()))?;
    let message = message_with(auth.timestamp, auth.nonce_str);
    if !keys.merchant_public.verify_sha256(&message, &signature) {
        return Err(fail(
            "the signature does not match the message rebuilt from the request (method, target, timestamp, nonce, body) and the merchant's public key".into(),
        ));
    }
    Ok(Signed {
        timestamp: auth.timestamp.to_string(),
        nonce: auth.nonce_str.to_string(),
        unix: timestamp,
    })
}

/// Remembers the nonce of an authenticated request; `401 SIGN_ERROR` when it was already
/// used within the window (a replay).
pub(crate) fn check_replay(
    nonces: &std::sync::Mutex<NonceCache>,
    signed: &Signed,
    now: i64,
    method: &Method,
    target: &str,
    signed_body: &[u8],
) -> Result<(), Reply> {
    let fresh = nonces
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(&signed.nonce, signed.unix, now);
    if fresh {
        return Ok(());
    }
    Err(sign_error(
        method,
        target,
        &signed.timestamp,
        &signed.nonce,
        signed_body,
        format!(
            "nonce_str {} was already used (replayed request); sign every request with a new nonce",
            signed.nonce
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quote and length as computed from the whole message.
    fn from_whole_message(target: &str, body: &[u8]) -> (String, usize) {
        let message = canonical_request("POST", target, "1", "n", body);
        let text = String::from_utf8_lossy(&message);
        let mut cut = text.len().min(QUOTED_MESSAGE);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        (text[..cut].to_string(), message.len())
    }

    #[test]
    fn sign_error_quotes_the_message_head_without_building_the_whole() {
        let mut multibyte = vec![b'a'; 220];
        multibyte.extend("支付".repeat(40).as_bytes());
        for body in [
            b"{}".to_vec(),
            vec![b'u'; 10_000],
            vec![0xFF; 10_000],
            multibyte,
        ] {
            let reply = sign_error(&Method::POST, "/v3/x", "1", "n", &body, "issue".into());
            let detail: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
            let info = &detail["detail"]["sign_information"];
            let (quote, length) = from_whole_message("/v3/x", &body);
            assert_eq!(info["truncated_sign_message"], quote.as_str());
            assert_eq!(info["sign_message_length"], length);
        }
    }

    #[test]
    fn authorization_syntax_is_strict() {
        let good = "WECHATPAY2-SHA256-RSA2048 mchid=\"1\",serial_no=\"S\",timestamp=\"2\",nonce_str=\"n\",signature=\"x==\"";
        assert_eq!(
            parse_authorization(good).unwrap(),
            Authorization {
                mchid: "1",
                serial_no: "S",
                timestamp: "2",
                nonce_str: "n",
                signature: "x=="
            }
        );
        for bad in [
            good.replace("WECHATPAY2-SHA256-RSA2048 ", "WECHATPAY2-SHA256-RSA2048  "),
            good.replace("RSA2048", "RSA4096"),
            good.replace(",serial_no", ", serial_no"),
            good.replace("mchid=\"1\",serial_no=\"S\"", "serial_no=\"S\",mchid=\"1\""),
            good.replace("\"2\"", "2"),
            format!("{good},extra=\"1\""),
            good.trim_end_matches('"').to_string(),
        ] {
            assert!(parse_authorization(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nonces_are_single_use() {
        let mut cache = NonceCache::default();
        assert!(cache.insert("a", 100, 100));
        assert!(!cache.insert("a", 100, 150));
        assert!(cache.insert("a", 100, 100 + NONCE_MEMORY + 1));
    }
}
