//! Response and notification verification as pure functions over
//! (status, path, headers, body bytes, now, keys). Fails closed: anything unexpected is an error.
//! The client runs them on every answer; call them yourself to check a saved answer, or in a
//! service that verifies for others.
//!//!
//! ```
//! use wechatpay_chain::signer::{canonical_response, sign_base64};
//! use wechatpay_chain::verifier::{is_exempt, verify_response};
//! use wechatpay_chain::{HeaderMap, HeaderValue, KeyStore, PrivateKey, PublicKey, VerifyError};
//! # fn main() -> wechatpay_chain::Result<()> {
//! # let path = |name: &str| format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
//! # let platform_private_key = PrivateKey::from_pem_file(path("pub_key_private.pem"))?;
//! let keys = KeyStore::new();
//! keys.insert_public_key("PUB_KEY_ID_0119000001092025112200000000000001", PublicKey::from_pem_file(path("pub_key.pem"))?);
//!
//! // An answer as WeChat Pay signs it (here with the test key's private half).
//! let (now, nonce, body) = (1763780000, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", br#"{"data":[]}"#);
//! let signature = sign_base64(&platform_private_key, &canonical_response(&now.to_string(), nonce, body))?;
//! let mut headers = HeaderMap::new();
//! for (name, value) in [
//!     ("Wechatpay-Timestamp", now.to_string()),
//!     ("Wechatpay-Nonce", nonce.to_string()),
//!     ("Wechatpay-Serial", "PUB_KEY_ID_0119000001092025112200000000000001".to_string()),
//!     ("Wechatpay-Signature", signature),
//! ] {
//!     headers.insert(name, HeaderValue::from_str(&value).unwrap());
//! }
//!
//! // PHP/JS: abs(time() - $ts) <= 300 && Rsa::verify(Formatter::response($ts, $nonce, $body), $signature, $certs[$serial])
//! assert_eq!(verify_response(200, "/v3/certificates", &headers, body, now, &keys), Ok(()));
//! assert_eq!(verify_response(200, "/v3/certificates", &headers, br#"{"data":[1]}"#, now, &keys), Err(VerifyError::BadSignature));
//! assert!(matches!(verify_response(200, "/v3/certificates", &headers, body, now + 301, &keys), Err(VerifyError::Clock { .. })));
//! headers.insert("Wechatpay-Signature", HeaderValue::from_static("WECHATPAY/SIGNTEST/abc"));
//! assert_eq!(verify_response(200, "/v3/certificates", &headers, body, now, &keys), Err(VerifyError::SignatureProbe));
//!
//! // Bill files are not signed (the apply's digest covers them); nothing else is exempt.
//! assert!(is_exempt("/v3/billdownload/file") && !is_exempt("/v3/bill/tradebill"));
//! # Ok(()) }
//! ```

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::HeaderMap;

use crate::crypto::backend::{Active, Backend as _};
use crate::error::VerifyError;
use crate::keys::KeyStore;
use crate::signer::{canonical_response, SCHEME};

/// The largest allowed distance between `Wechatpay-Timestamp` and the local clock.
pub const MAX_CLOCK_SKEW: i64 = 300;

/// Paths whose responses are not signed (downloads; the apply step gives a digest instead).
const EXEMPT: &[&str] = &[
    "/v3/billdownload/file",
    "/v3/transferdownload/signfile",
    "/v3/transferdownload/elecvoucherfile",
    "/v3/new-tax-control-fapiao/download",
];

const STATEMENTS: &[&str] = &["/hk/v3/statements", "/v3/global/statements"];

/// True if responses on `path` (no query) are unsigned downloads, exempt from verification.
pub fn is_exempt(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let path = ["/hk", "/global"]
        .iter()
        .find_map(|p| path.strip_prefix(p).filter(|rest| rest.starts_with("/v3/")))
        .unwrap_or(path);
    if EXEMPT.contains(&path) {
        return true;
    }
    // `/v3/merchant-service/images/{media_id}` downloads an image; `…/images/upload` is signed.
    path.strip_prefix("/v3/merchant-service/images/")
        .is_some_and(|id| !id.contains('/') && id != "upload")
}

/// Every `Wechatpay-*` header the verifier reads: each may appear at most once.
pub const SIGNED_HEADERS: &[&str] = &[
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Signature",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
    "Wechatpay-Statement-Sha1",
];

/// Fails closed on a repeated signature header: which copy a proxy, a server or this crate
/// would read is not defined, so an answer carrying two is not trusted whatever they say.
fn no_duplicates(headers: &HeaderMap) -> Result<(), VerifyError> {
    match SIGNED_HEADERS
        .iter()
        .find(|name| headers.get_all(**name).iter().nth(1).is_some())
    {
        Some(name) => Err(VerifyError::DuplicateHeader(name)),
        None => Ok(()),
    }
}

/// The value of `name` (one copy: [`no_duplicates`] ran first), if present; present but not
/// visible ASCII is its own error.
fn optional_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, VerifyError> {
    headers
        .get(name)
        .map(|value| value.to_str().map_err(|_| VerifyError::InvalidHeader(name)))
        .transpose()
}

/// The one value of the required header `name`.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    optional_header(headers, name)?.ok_or(VerifyError::MissingHeader(name))
}

/// Checks the `Wechatpay-*` headers (present, not a `WECHATPAY/SIGNTEST/` probe, signature
/// type, clock within 300 s, known serial) and the RSA signature over `body`.
/// Shared by responses and notifications. Each header of [`SIGNED_HEADERS`] may appear at most
/// once ([`VerifyError::DuplicateHeader`]) and must be visible ASCII
/// ([`VerifyError::InvalidHeader`]).
pub fn verify_signed(
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    keys: &KeyStore,
) -> Result<(), VerifyError> {
    no_duplicates(headers)?;
    let timestamp = header(headers, "Wechatpay-Timestamp")?;
    let nonce = header(headers, "Wechatpay-Nonce")?;
    let signature = header(headers, "Wechatpay-Signature")?;
    let serial = header(headers, "Wechatpay-Serial")?;
    let kind = optional_header(headers, "Wechatpay-Signature-Type")?;
    let statement_sha1 = optional_header(headers, "Wechatpay-Statement-Sha1")?;

    if signature.starts_with("WECHATPAY/SIGNTEST/") {
        return Err(VerifyError::SignatureProbe);
    }
    if let Some(kind) = kind {
        if kind != SCHEME {
            return Err(VerifyError::SignatureType(kind.to_string()));
        }
    }
    let clock_ok = timestamp.len() <= 12
        && !timestamp.is_empty()
        && timestamp.bytes().all(|b| b.is_ascii_digit())
        && timestamp
            .parse::<i64>()
            .is_ok_and(|ts| (now - ts).abs() <= MAX_CLOCK_SKEW);
    if !clock_ok {
        return Err(VerifyError::Clock {
            timestamp: timestamp.to_string(),
            now,
        });
    }
    let Some(key) = keys.get(serial, now) else {
        return Err(VerifyError::UnknownSerial {
            serial: serial.to_string(),
            known: keys.usable_ids(now),
        });
    };

    let statement_body;
    let signed_body = match statement_sha1 {
        Some(sha1) => {
            let actual = Active::sha1(body);
            if !hex_eq(&actual, sha1) {
                return Err(VerifyError::StatementDigest);
            }
            statement_body = format!("{{\"sha1\":\"{sha1}\"}}");
            statement_body.as_bytes()
        }
        None => body,
    };

    let signature = BASE64
        .decode(signature)
        .map_err(|_| VerifyError::BadSignature)?;
    let message = canonical_response(timestamp, nonce, signed_body);
    if key.verify_sha256(&message, &signature) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

fn hex_eq(bytes: &[u8], hex: &str) -> bool {
    hex.len() == bytes.len() * 2
        && bytes.iter().zip(hex.as_bytes().chunks(2)).all(|(b, pair)| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                == Some(*b)
        })
}

/// Verifies a response to a request on `path`. Statuses ≥ 400 are not verified (they become
/// API errors); exempt downloads pass; everything else must be signed by a known key.
pub fn verify_response(
    status: u16,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    keys: &KeyStore,
) -> Result<(), VerifyError> {
    if status >= 400 || is_exempt(path) {
        return Ok(());
    }
    let path = path.split('?').next().unwrap_or(path);
    no_duplicates(headers)?;
    if headers.contains_key("Wechatpay-Statement-Sha1") && !STATEMENTS.contains(&path) {
        // Only statements may sign a digest instead of the body.
        return Err(VerifyError::StatementDigest);
    }
    verify_signed(headers, body, now, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exempt_paths() {
        assert!(is_exempt("/v3/billdownload/file?token=x"));
        assert!(is_exempt("/hk/v3/billdownload/file"));
        assert!(is_exempt("/global/v3/transferdownload/signfile"));
        assert!(is_exempt("/v3/merchant-service/images/abc%2F"));
        assert!(!is_exempt("/v3/merchant-service/images/upload"));
        assert!(!is_exempt("/v3/pay/transactions/native"));
        assert!(!is_exempt("/x/v3/billdownload/file"));
    }

    #[test]
    fn hex_compare() {
        assert!(hex_eq(&[0xab, 0x01], "ab01"));
        assert!(hex_eq(&[0xab, 0x01], "AB01"));
        assert!(!hex_eq(&[0xab, 0x01], "ab0"));
    }
}
