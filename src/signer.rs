//! Request signing (`WECHATPAY2-SHA256-RSA2048`) as pure functions, plus the pluggable
//! [`Sign`], [`Clock`] and [`NonceSource`] traits.
//!
//! [`sign_request`] computes the canonical message and the `Authorization` value from explicit
//! inputs only ([`SigningParams`]: merchant id, serial, signer, timestamp, nonce), so the
//! conformance vectors check them byte for byte. The client feeds it from its [`Clock`] and
//! [`NonceSource`]; inject fixed ones to reproduce a signature exactly.
//!//!
//! ```
//! use wechatpay_chain::signer::{canonical_request, sign_request, SigningParams};
//! use wechatpay_chain::PrivateKey;
//! # fn main() -> wechatpay_chain::Result<()> {
//! # let merchant_key = PrivateKey::from_pem_file(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apiclient_key.pem"))?;
//!
//! // PHP: Rsa::sign(Formatter::request('POST', '/v3/pay/transactions/jsapi', $ts, $nonce, $body), $merchantKey)
//! // JS:  Rsa.sign(Formatter.request('POST', '/v3/pay/transactions/jsapi', ts, nonce, body), merchantKey)
//! let body = br#"{"appid":"wxd678efh567hg6787"}"#;
//! let params = SigningParams::new(
//!     "1900000109",
//!     "3775B6A45ACD588826D15E583A95F5DD2A4B1A16",
//!     &merchant_key, // or any `Sign`: a remote signer, an HSM
//!     1763780000,
//!     "G1TbFv8kX0eNqQ2aHzY5rWc3uJm7sLpD",
//! );
//! let signed = sign_request("POST", "/v3/pay/transactions/jsapi", body, &params)?;
//! // Five lines, each ending in `\n`: method, target, timestamp, nonce, body.
//! assert_eq!(signed.message, canonical_request("POST", "/v3/pay/transactions/jsapi", "1763780000", "G1TbFv8kX0eNqQ2aHzY5rWc3uJm7sLpD", body));
//! assert!(signed.message.ends_with(b"}\n"));
//! assert!(signed.authorization.starts_with(
//!     "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\",serial_no=\"3775B6A45ACD588826D15E583A95F5DD2A4B1A16\",timestamp=\"1763780000\","
//! ));
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{CryptoError, Error, Result};
use crate::keys::PrivateKey;

/// The signature scheme name used in `Authorization` and `Wechatpay-Signature-Type`.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// `{METHOD}\n{TARGET}\n{TIMESTAMP}\n{NONCE}\n{BODY}\n`: the message a request signature covers.
pub fn canonical_request(
    method: &str,
    target: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(
        method.len() + target.len() + timestamp.len() + nonce.len() + body.len() + 5,
    );
    for part in [
        method.as_bytes(),
        target.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
        body,
    ] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message
}

/// `{TIMESTAMP}\n{NONCE}\n{BODY}\n`: the message a response or notification signature covers.
pub fn canonical_response(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    for part in [timestamp.as_bytes(), nonce.as_bytes(), body] {
        message.extend_from_slice(part);
        message.push(b'\n');
    }
    message
}

/// The `Authorization` header value: fixed field order, no spaces, double-quoted values.
pub fn authorization(
    mchid: &str,
    serial: &str,
    timestamp: &str,
    nonce: &str,
    signature_base64: &str,
) -> String {
    // One allocation of the exact size (the hot path builds this once per request).
    const FIELDS: [&str; 5] = [
        " mchid=\"",
        "\",serial_no=\"",
        "\",timestamp=\"",
        "\",nonce_str=\"",
        "\",signature=\"",
    ];
    let values = [mchid, serial, timestamp, nonce, signature_base64];
    let len = SCHEME.len()
        + FIELDS.iter().map(|f| f.len()).sum::<usize>()
        + values.iter().map(|v| v.len()).sum::<usize>()
        + 1;
    let mut out = String::with_capacity(len);
    out.push_str(SCHEME);
    for (field, value) in FIELDS.iter().zip(values) {
        out.push_str(field);
        out.push_str(value);
    }
    out.push('"');
    debug_assert_eq!(out.len(), len);
    out
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// 32 characters of `[0-9A-Za-z]` from the system CSPRNG, without modulo bias.
pub fn nonce() -> Result<String> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(32);
    let mut buf = [0u8; 48];
    while out.len() < 32 {
        rng.fill(&mut buf)
            .map_err(|_| Error::from(CryptoError::Random))?;
        // 248 = 4 × 62: bytes at or above it are rejected so every character is equally likely.
        for &b in buf.iter().filter(|&&b| b < 248) {
            if out.len() == 32 {
                break;
            }
            out.push(BASE62[usize::from(b % 62)] as char);
        }
    }
    Ok(out)
}

/// The source of request nonces. Injectable ([`crate::Builder::nonce_source`]) so that tests
/// reproduce a signature byte for byte.
pub trait NonceSource: Send + Sync + fmt::Debug {
    /// A fresh nonce: up to 32 characters of `[0-9A-Za-z]`, never repeated in production
    /// (the platform refuses a replayed nonce).
    fn nonce(&self) -> Result<String>;
}

/// The default nonce source: 32 characters from the system CSPRNG ([`nonce`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomNonce;

impl NonceSource for RandomNonce {
    fn nonce(&self) -> Result<String> {
        nonce()
    }
}

/// A nonce source that always gives the same nonce: for tests and vectors only (the platform
/// refuses a repeated nonce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedNonce(pub String);

impl NonceSource for FixedNonce {
    fn nonce(&self) -> Result<String> {
        Ok(self.0.clone())
    }
}

/// Everything a request signature depends on besides the request itself.
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// The merchant id (`mchid`).
    pub mchid: &'a str,
    /// The merchant API certificate serial (`serial_no`).
    pub serial: &'a str,
    /// What signs with the merchant API key.
    pub signer: &'a dyn Sign,
    /// Unix seconds.
    pub timestamp: i64,
    /// The request nonce.
    pub nonce: &'a str,
}

impl<'a> SigningParams<'a> {
    /// Collects the signing inputs.
    pub fn new(
        mchid: &'a str,
        serial: &'a str,
        signer: &'a dyn Sign,
        timestamp: i64,
        nonce: &'a str,
    ) -> Self {
        Self {
            mchid,
            serial,
            signer,
            timestamp,
            nonce,
        }
    }
}

/// A request signature: what was signed and the header that carries it.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub struct RequestSignature {
    /// The canonical message ([`canonical_request`]) the signature covers.
    pub message: Vec<u8>,
    /// The `Authorization` header value ([`authorization`]).
    pub authorization: String,
}

impl fmt::Debug for RequestSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The header is a credential for as long as the platform accepts its timestamp.
        f.debug_struct("RequestSignature")
            .field("message", &String::from_utf8_lossy(&self.message))
            .field("authorization", &"..")
            .finish()
    }
}

/// Signs a request: `method`, `target` (path and query exactly as sent) and `body` (the exact
/// bytes sent) with the explicit `params`. Pure apart from the signer itself.
///
/// ```
/// use wechatpay_chain::signer::{sign_request, SigningParams};
/// # fn demo(key: &wechatpay_chain::PrivateKey) -> wechatpay_chain::Result<()> {
/// let params = SigningParams::new(
///     "1900000109",
///     "3775B6A45ACD588826D15E583A95F5DD2A4B1A16",
///     key,
///     1763780000,
///     "G1TbFv8kX0eNqQ2aHzY5rWc3uJm7sLpD",
/// );
/// let signed = sign_request("GET", "/v3/certificates", b"", &params)?;
/// assert_eq!(
///     signed.message,
///     b"GET\n/v3/certificates\n1763780000\nG1TbFv8kX0eNqQ2aHzY5rWc3uJm7sLpD\n\n"
/// );
/// assert!(signed.authorization.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\""));
/// # Ok(()) }
/// ```
pub fn sign_request(
    method: &str,
    target: &str,
    body: &[u8],
    params: &SigningParams<'_>,
) -> Result<RequestSignature> {
    let nonce_ok = (1..=32).contains(&params.nonce.len())
        && params.nonce.bytes().all(|b| b.is_ascii_alphanumeric());
    if !nonce_ok {
        // A quote or space would break the `Authorization` header; refuse before signing.
        return Err(CryptoError::RequestNonce(params.nonce.len()).into());
    }
    let timestamp = params.timestamp.to_string();
    let message = canonical_request(method, target, &timestamp, params.nonce, body);
    let signature = sign_base64(params.signer, &message)?;
    let authorization = authorization(
        params.mchid,
        params.serial,
        &timestamp,
        params.nonce,
        &signature,
    );
    Ok(RequestSignature {
        message,
        authorization,
    })
}

/// Something that produces `SHA256-RSA` signatures with the merchant API key: the key itself,
/// or a remote signer / HSM / KMS.
///
/// A signer that cannot sign returns [`Error::signing`] with its own error as the cause: the
/// request fails before anything is sent, with kind
/// [`CryptoError::Sign`] and the cause reachable through
/// [`source()`](std::error::Error::source).
pub trait Sign: Send + Sync + fmt::Debug {
    /// RSASSA-PKCS1-v1_5 SHA-256 signature bytes over `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;

    /// Whether [`sign`](Self::sign) may block the thread for long (a remote signer, an HSM,
    /// a KMS call): then the async verbs call it on tokio's blocking pool, one call per CPU at
    /// a time, so it does not hold up the runtime's other tasks. The wait for a turn and the
    /// signature count against the request's total timeout: a signer that outlasts it gives a
    /// [`Timeout`](crate::TransportKind::Timeout) error and nothing is sent. The default is
    /// `true`, the safe answer for a signer the SDK does not know.
    fn may_block(&self) -> bool {
        true
    }
}

impl Sign for PrivateKey {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.sign_sha256(message)
    }

    /// `false`: an in-memory RSA signature is a bounded 0.4–0.9 ms of CPU, cheaper inline
    /// than the hop to another thread (see `benches/load`).
    fn may_block(&self) -> bool {
        false
    }
}

/// Signs `message` and returns the standard base64 (padded) signature.
pub fn sign_base64(signer: &dyn Sign, message: &[u8]) -> Result<String> {
    Ok(BASE64.encode(signer.sign(message)?))
}

/// The time source for timestamps and the response clock check. Injectable for tests.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Unix seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place that reads the system time (clippy.toml disallows it elsewhere).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// A clock stopped at a given Unix second (tests, vectors, replaying saved callbacks).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// A shared nonce source.
pub(crate) type SharedNonceSource = Arc<dyn NonceSource>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_request_has_five_terminated_lines() {
        let m = canonical_request("GET", "/v3/certificates", "1", "n", b"");
        assert_eq!(m, b"GET\n/v3/certificates\n1\nn\n\n");
    }

    #[derive(Debug)]
    struct Unreachable;

    impl Sign for Unreachable {
        fn sign(&self, _message: &[u8]) -> Result<Vec<u8>> {
            Err(Error::signing("the signer must not be reached"))
        }
    }

    #[test]
    fn sign_request_refuses_a_nonce_that_would_break_the_header() {
        for bad in ["", "a\"b", "with space", &"x".repeat(33)] {
            let params = SigningParams::new("1900000109", "ABC", &Unreachable, 1, bad);
            let e = sign_request("GET", "/v3/certificates", b"", &params).unwrap_err();
            assert!(
                matches!(e.kind(), crate::ErrorKind::Crypto(CryptoError::RequestNonce(n)) if *n == bad.len()),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn nonce_is_32_base62() {
        let a = nonce().unwrap();
        let b = nonce().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn nonce_characters_are_spread_evenly() {
        let mut counts = [0u32; 62];
        for _ in 0..400 {
            for c in nonce().unwrap().bytes() {
                counts[BASE62.iter().position(|&x| x == c).unwrap()] += 1;
            }
        }
        // 12 800 draws, 206 expected per character; a biased mapping skews the tail.
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 120 && *max < 300, "{counts:?}");
    }
}
