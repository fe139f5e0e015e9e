//! One error type for everything the SDK can report, with kinds a caller can match on.
//!
//! [`Error`] is opaque (one pointer wide) and carries an [`ErrorKind`]. Errors that come from a
//! response (API errors and verification failures) also carry that [`Response`], so nothing the
//! server said is lost. No error ever contains a private key or the APIv3 key.

use std::fmt;

use crate::response::Response;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error of every fallible operation of this crate.
///
/// Match on [`Error::kind`]; `Display` is one line that says what happened and what to do.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    response: Option<Response>,
    source: Option<BoxError>,
}

/// What went wrong.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The chain, its URI template or the options could not make a request (nothing was sent).
    Chain(ChainError),
    /// The client configuration is incomplete or inconsistent.
    Config(String),
    /// A key or certificate could not be loaded or used.
    Key(String),
    /// The request could not be carried to the server or the response not read back.
    Transport(TransportError),
    /// WeChat Pay answered with an error status (≥ 400).
    Api(ApiError),
    /// A response (or notification) failed verification; it must not be trusted.
    Verify(VerifyError),
    /// A body could not be decoded into the requested type.
    Decode(String),
    /// A cryptographic operation (decryption, encryption, digest) failed.
    Crypto(String),
    /// The operation is not supported (for example APIv2 chains).
    Unsupported(String),
}

/// Why a chain and its options could not become a request target. Raised before signing.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// An empty segment in the middle of the path (`v3//pay`).
    EmptySegment {
        /// The chain's template.
        template: String,
    },
    /// A segment name that cannot be part of a path.
    InvalidSegment {
        /// The offending segment as given.
        segment: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A URI template expression this crate does not expand.
    UnsupportedExpression(String),
    /// A template variable with no value (missing or `null`).
    MissingVariable(String),
    /// A template variable whose value is an array or an object.
    NotScalar(String),
    /// A template variable whose empty value would leave an empty middle segment.
    EmptyVariable(String),
    /// A query entry whose value is an array or an object.
    NestedQuery(String),
    /// A query string that cannot be sent as given.
    InvalidQuery(String),
    /// An absolute URL whose host is neither the base host nor its backup.
    HostNotAllowed(String),
    /// Plain `http://` to a host that is not loopback.
    InsecureScheme(String),
    /// A base URI or absolute URL that does not parse.
    InvalidUri(String),
    /// A header name or value that cannot be sent.
    InvalidHeader(String),
    /// An options object that does not have the expected shape.
    InvalidOptions(String),
}

/// Why a request could not be carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// The failure class.
    pub kind: TransportKind,
    /// What the transport reported.
    pub message: String,
}

/// Failure classes of the transport.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// DNS, TCP connect or TLS handshake failed: the request never left.
    Connect,
    /// The connect or total timeout elapsed.
    Timeout,
    /// The connection failed after the request may have been sent.
    Io,
    /// The response body exceeded the configured limit.
    BodyTooLarge,
}

/// An error answer of WeChat Pay (`{"code","message","detail"}` with status ≥ 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// `code`, e.g. `PARAM_ERROR`, if the body was the JSON error shape.
    pub code: Option<String>,
    /// `message`, if present.
    pub message: Option<String>,
    /// `detail`, if present.
    pub detail: Option<serde_json::Value>,
    /// The `Request-ID` response header, to quote to WeChat Pay support.
    pub request_id: Option<String>,
    /// For `401 SIGN_ERROR`: the canonical message this client signed, to compare with
    /// `detail.sign_information.truncated_sign_message`.
    pub local_message: Option<String>,
    /// For a `404` to a (method, template) the catalog does not know: the nearest catalog
    /// endpoints, like `"POST v3/pay/transactions/native"` (see [`crate::catalog::nearest`]).
    pub nearest: Vec<String>,
}

impl ApiError {
    /// The server's `detail.sign_information.truncated_sign_message`, if any.
    pub fn server_sign_message(&self) -> Option<&str> {
        self.detail
            .as_ref()?
            .pointer("/sign_information/truncated_sign_message")?
            .as_str()
    }
}

/// Why a response or notification failed verification (protocol §2). Each case is distinct.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// A required `Wechatpay-*` header is absent.
    MissingHeader(&'static str),
    /// `Wechatpay-Signature` starts with `WECHATPAY/SIGNTEST/`: a deliberate probe by WeChat Pay.
    SignatureProbe,
    /// `Wechatpay-Signature-Type` names another algorithm.
    SignatureType(String),
    /// `Wechatpay-Timestamp` is not a number or is more than 300 s from now.
    Clock {
        /// The header value.
        timestamp: String,
        /// The local clock, Unix seconds.
        now: i64,
    },
    /// `Wechatpay-Serial` names no usable key.
    UnknownSerial {
        /// The header value.
        serial: String,
        /// The ids of the keys that are known and valid.
        known: Vec<String>,
    },
    /// The signature does not verify (or is not base64).
    BadSignature,
    /// `Wechatpay-Statement-Sha1` does not match the body.
    StatementDigest,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                response: None,
                source: None,
            }),
        }
    }

    pub(crate) fn with_response(mut self, response: Response) -> Self {
        self.inner.response = Some(response);
        self
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config(msg.into()))
    }

    pub(crate) fn key(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Key(msg.into()))
    }

    pub(crate) fn crypto(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Crypto(msg.into()))
    }

    pub(crate) fn decode(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode(msg.into()))
    }

    pub(crate) fn transport(kind: TransportKind, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transport(TransportError {
            kind,
            message: message.into(),
        }))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The response this error came with (API errors and verification failures).
    pub fn response(&self) -> Option<&Response> {
        self.inner.response.as_ref()
    }

    /// The API error, if WeChat Pay answered with an error status.
    pub fn api(&self) -> Option<&ApiError> {
        match &self.inner.kind {
            ErrorKind::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The verification failure, if the response was rejected.
    pub fn verify(&self) -> Option<&VerifyError> {
        match &self.inner.kind {
            ErrorKind::Verify(v) => Some(v),
            _ => None,
        }
    }

    /// The chain or template failure, if nothing could be sent.
    pub fn chain(&self) -> Option<&ChainError> {
        match &self.inner.kind {
            ErrorKind::Chain(c) => Some(c),
            _ => None,
        }
    }

    /// The HTTP status of the response, if there was one.
    pub fn status(&self) -> Option<u16> {
        self.inner.response.as_ref().map(|r| r.status().as_u16())
    }

    /// The transport failure class, if the request could not be carried.
    pub fn transport_kind(&self) -> Option<TransportKind> {
        match &self.inner.kind {
            ErrorKind::Transport(t) => Some(t.kind),
            _ => None,
        }
    }

    /// True if a connect or total timeout elapsed.
    pub fn is_timeout(&self) -> bool {
        self.transport_kind() == Some(TransportKind::Timeout)
    }

    /// True if the connection could not be made (the request never left).
    pub fn is_connect(&self) -> bool {
        self.transport_kind() == Some(TransportKind::Connect)
    }
}

impl From<ChainError> for Error {
    fn from(e: ChainError) -> Self {
        Self::new(ErrorKind::Chain(e))
    }
}

impl From<VerifyError> for Error {
    fn from(e: VerifyError) -> Self {
        Self::new(ErrorKind::Verify(e))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(r) = &self.inner.response {
            d.field("response", r);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.kind {
            ErrorKind::Chain(e) => write!(f, "invalid request: {e}"),
            ErrorKind::Config(m) => write!(f, "configuration error: {m}"),
            ErrorKind::Key(m) => write!(f, "key error: {m}"),
            ErrorKind::Transport(t) => write!(f, "{t}"),
            ErrorKind::Api(a) => write!(f, "{a}"),
            ErrorKind::Verify(v) => {
                write!(f, "response verification failed: {v}")?;
                if let Some(r) = &self.inner.response {
                    write!(f, " (HTTP {}", r.status().as_u16())?;
                    if let Some(id) = r.request_id() {
                        write!(f, ", Request-ID {id}")?;
                    }
                    write!(f, ")")?;
                }
                write!(f, "; do not trust this response")
            }
            ErrorKind::Decode(m) => write!(f, "decode error: {m}"),
            ErrorKind::Crypto(m) => write!(f, "crypto error: {m}"),
            ErrorKind::Unsupported(m) => write!(f, "unsupported: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_ref().map(|s| &**s as _)
    }
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptySegment { template } => write!(
                f,
                "empty path segment in `{template}`; remove the doubled `/`"
            ),
            Self::InvalidSegment { segment, reason } => {
                write!(f, "invalid path segment {segment:?}: {reason}")
            }
            Self::UnsupportedExpression(e) => write!(
                f,
                "unsupported URI template expression `{e}`; use `{{name}}` or `{{+name}}`"
            ),
            Self::MissingVariable(n) => write!(
                f,
                "missing template variable {n}; pass it in the options, e.g. {{\"{n}\": \"…\"}}"
            ),
            Self::NotScalar(n) => write!(
                f,
                "template variable {n} is not a scalar; give a string, number or bool"
            ),
            Self::EmptyVariable(n) => write!(
                f,
                "template variable {n} is empty and would leave an empty path segment"
            ),
            Self::NestedQuery(k) => write!(
                f,
                "nested query value {k}; query values must be strings, numbers or bools"
            ),
            Self::InvalidQuery(m) => write!(f, "invalid query: {m}"),
            Self::HostNotAllowed(h) => write!(
                f,
                "host not allowed: {h}; only the base URI's host and its backup receive signed requests"
            ),
            Self::InsecureScheme(u) => write!(
                f,
                "plain http is only allowed for loopback hosts: {u}; use https"
            ),
            Self::InvalidUri(m) => write!(f, "invalid URI: {m}"),
            Self::InvalidHeader(m) => write!(f, "invalid header: {m}"),
            Self::InvalidOptions(m) => write!(f, "invalid options: {m}"),
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportKind::Connect => "could not connect (the request was not sent)",
            TransportKind::Timeout => "timed out",
            TransportKind::Io => "connection failed",
            TransportKind::BodyTooLarge => "response body too large",
        };
        write!(f, "transport error: {what}: {}", self.message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WeChat Pay answered {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(msg) = &self.message {
            write!(f, ": {}", one_line(msg))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (Request-ID {id})")?;
        }
        if let (Some(local), Some(server)) = (&self.local_message, self.server_sign_message()) {
            write!(
                f,
                "; signed locally {:?}, server saw {:?}",
                local,
                one_line(server)
            )?;
        }
        if !self.nearest.is_empty() {
            write!(
                f,
                "; nearest catalog endpoints: {}",
                self.nearest.join(", ")
            )?;
        }
        Ok(())
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(h) => write!(f, "missing header {h}"),
            Self::SignatureProbe => write!(
                f,
                "signature probe (Wechatpay-Signature starts with WECHATPAY/SIGNTEST/); WeChat Pay is testing that unsigned answers are rejected"
            ),
            Self::SignatureType(t) => write!(f, "unsupported Wechatpay-Signature-Type {t:?}"),
            Self::Clock { timestamp, now } => write!(
                f,
                "Wechatpay-Timestamp {timestamp:?} is not within 300 s of the local clock ({now}); check the clock"
            ),
            Self::UnknownSerial { serial, known } => write!(
                f,
                "no valid key for Wechatpay-Serial {serial:?} (known: {}); load that platform certificate or public key",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
            Self::BadSignature => write!(f, "bad signature"),
            Self::StatementDigest => write!(
                f,
                "Wechatpay-Statement-Sha1 does not match the SHA-1 of the body"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn display_is_one_line() {
        let e = Error::from(ChainError::MissingVariable("transaction_id".into()));
        let s = e.to_string();
        assert!(
            s.contains("missing template variable transaction_id"),
            "{s}"
        );
        assert!(!s.contains('\n'));
    }
}
