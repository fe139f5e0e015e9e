//! One error type for everything the SDK can report, with kinds a caller can match on.
//!
//! [`Error`] is opaque (one pointer wide) and carries an [`ErrorKind`]; key, crypto, config and
//! decode failures have typed sub-kinds ([`KeyError`], [`CryptoError`], [`ConfigError`],
//! [`DecodeError`]) so callers and tests never match message text. `Display` is our one-line
//! summary; the underlying cause (an I/O error, a parser's error, hyper's error, a custom
//! signer's error) is kept in [`std::error::Error::source`] and not repeated in the message.
//! Errors that come from a response (API errors and verification failures) also carry that
//! [`Response`], so nothing the server said is lost. No error ever contains a private key or
//! the APIv3 key.

use std::fmt;
use std::path::PathBuf;

use http::StatusCode;

use crate::response::Response;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed cause, as kept in [`std::error::Error::source`].
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error of every fallible operation of this crate.
///
/// Match on [`Error::kind`]; `Display` is one line that says what happened and what to do, and
/// [`source()`](std::error::Error::source) gives the underlying cause when there is one.
///
/// ```
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> wechatpay_chain::Result<()> {
/// # let sandbox = wechatpay_chain::sandbox::Sandbox::builder().start().await?;
/// # let wxpay = sandbox.client()?;
/// use wechatpay_chain::sandbox::Fault;
/// use wechatpay_chain::{json, ChainError, ErrorKind, PrivateKey, VerifyError};
///
/// // PHP: catch (RequestException $e) { json_decode((string) $e->getResponse()->getBody(), true)['code'] }
/// // JS:  catch (err) { err.response?.data?.code; err.code /* EV3_RES_HEADER_… */ }
/// # let wrong_key = PrivateKey::from_pem_file(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pub_key_private.pem"))?;
/// // A client signing with the wrong key: WeChat Pay answers `401 SIGN_ERROR`.
/// let misconfigured = sandbox.client_builder().private_key(wrong_key).build()?;
/// let err = misconfigured.v3().certificates().get(()).await.unwrap_err();
/// if let Some(api) = err.api() {
///     assert_eq!(api.code.as_deref(), Some("SIGN_ERROR"));
///     assert!(api.local_message.is_some()); // the canonical message this client signed
/// }
///
/// // Each kind of failure is its own case.
/// sandbox.inject(Fault::WrongSignature);
/// for outcome in [
///     wxpay.v3().certificates().get(()).await,
///     wxpay.chain("v3/pay/transactions/id/{transaction_id}").get(()).await,
///     wxpay.chain("v3/certificates").get(json!({"timeout": 0.5, "mchid": "1900000109"})).await,
/// ] {
///     match outcome.unwrap_err().kind() {
///         ErrorKind::Api(api) => panic!("WeChat Pay refused it: {:?}", api.code),
///         ErrorKind::Verify(VerifyError::BadSignature) => {} // the answer was not WeChat Pay's
///         ErrorKind::Chain(ChainError::MissingVariable(name)) => assert_eq!(name, "transaction_id"),
///         ErrorKind::Chain(ChainError::UnusedOptions { .. }) => {} // `mchid` fills no variable
///         ErrorKind::Transport(_) => {} // connect, TLS, timeout: see Error::is_timeout
///         other => panic!("{other:?}"),
///     }
/// }
/// # sandbox.shutdown();
/// # Ok(()) }
/// # #[cfg(not(feature = "sandbox"))]
/// # fn main() {}
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    response: Option<Response>,
    source: Option<BoxError>,
    /// What failed verification, as the message names it: `response` or `notification`.
    subject: &'static str,
}

/// What went wrong.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The chain, its URI template or the options could not make a request (nothing was sent).
    Chain(ChainError),
    /// The client configuration is incomplete or inconsistent.
    Config(ConfigError),
    /// A key or certificate could not be loaded.
    Key(KeyError),
    /// The request could not be carried to the server or the response not read back.
    Transport(TransportError),
    /// WeChat Pay answered with an error status (≥ 400).
    Api(ApiError),
    /// An APIv2 answer said the call failed (`return_code` or `result_code` not `SUCCESS`).
    ApiV2(ApiV2Error),
    /// A response (or notification) failed verification; it must not be trusted.
    Verify(VerifyError),
    /// A body could not be decoded into the requested type.
    Decode(DecodeError),
    /// A cryptographic operation (signing, decryption, encryption, randomness) failed.
    Crypto(CryptoError),
    /// The operation is not supported.
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
    /// Option keys that are neither reserved (`json`, `query`, `params`, `headers`, `body`,
    /// `base_uri`, `timeout`) nor a variable of the chain's template: never silently dropped.
    UnusedOptions {
        /// The unused keys, in the order given.
        keys: Vec<String>,
        /// True when the request is a POST/PUT/PATCH without `json`/`body`: the keys look like
        /// a body given the JS way (`post(data)`) and belong under `json`.
        body_hint: bool,
    },
    /// Two options that set the same part of the request were both given (`query` and
    /// `params`, `json` and `body`, `upload` and `json`/`body`).
    ConflictingOptions {
        /// The first key.
        first: &'static str,
        /// The second key.
        second: &'static str,
    },
    /// A `timeout` option that is not a positive, finite number of seconds.
    InvalidTimeout(String),
    /// A body on a method that does not carry one (`GET`).
    BodyNotAllowed {
        /// The request method.
        method: String,
    },
    /// The request target (path and query) is longer than the crate sends.
    TargetTooLong {
        /// The target's length in bytes.
        length: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The request target cannot be carried in a request line.
    InvalidTarget(String),
    /// A base URI or absolute URL with userinfo (`user:pw@host`); shown redacted.
    UserInfo(String),
    /// A base URI or absolute URL whose port is empty, not a number, 0 or above 65535.
    InvalidPort(String),
    /// A file to upload ([`Media`](crate::Media)) that cannot be sent: unreadable, empty, too
    /// large, or a filename that would break the multipart framing.
    InvalidMedia(String),
    /// An APIv2 `sign_type` other than `MD5` or `HMAC-SHA256` (case-sensitive); the value
    /// given. Nothing is signed or sent.
    UnknownSignType(String),
}

/// Why the client configuration was refused by [`Builder::build`](crate::Builder::build) (or a
/// value it needs could not be used).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// No merchant id was given.
    MissingMchid,
    /// The merchant id is not all digits.
    InvalidMchid(String),
    /// No merchant certificate serial was given.
    MissingSerial,
    /// The merchant certificate serial is not hexadecimal.
    InvalidSerial(String),
    /// Neither a private key nor a custom signer was given.
    MissingPrivateKey,
    /// The platform keys contain the merchant's own certificate serial.
    OwnSerialInKeyStore(String),
    /// The APIv3 key is not 32 bytes; the length given.
    ApiV3KeyLength(usize),
    /// A value that goes into a request header has characters a header cannot carry.
    InvalidHeaderValue(&'static str),
    /// The explicit proxy is not an `http://` or `https://` URI with a host; shown with any
    /// userinfo redacted.
    InvalidProxy(String),
    /// The TLS set-up failed (the cause is the source).
    Tls,
    /// The background runtime of the blocking calls could not start (the cause is the source).
    Runtime,
    /// The APIv3 key is needed for this operation (named) but was not configured.
    MissingApiV3Key(&'static str),
    /// `GET /v3/certificates` answered `404 RESOURCE_NOT_EXISTS`: the merchant has no platform
    /// certificates and verifies with its WeChat Pay public key instead. The
    /// [`ApiError`] is the source, its response the error's response.
    NoPlatformCertificates,
    /// The named option starts a background task and needs a tokio runtime at `build()`.
    NoRuntime(&'static str),
    /// The request (named) goes over mutual TLS (`Route::mutual_tls`: APIv2 `secapi/…`, red
    /// packets, transfers) but no merchant API certificate was configured
    /// (`Builder::merchant_api_certificate`). Nothing was sent.
    MissingMerchantCertificate(String),
    /// The merchant API certificate given to `Builder::merchant_api_certificate` is not the
    /// certificate of the private key given with it.
    MerchantCertificateMismatch,
    /// The client was built for APIv2 only (merchant id and APIv2 key): the call (named) needs
    /// the APIv3 credentials, the merchant `serial` and `private_key`.
    MissingV3Credentials(&'static str),
    /// The sandbox could not set itself up (its keys folder, files or key generation).
    #[cfg(feature = "sandbox")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
    Sandbox(String),
    /// The APIv2 key is not 32 bytes; the length given.
    ApiV2KeyLength(usize),
    /// The APIv2 key is needed for this operation (named) but was not configured.
    MissingApiV2Key(&'static str),
}

/// Which kind of key material a [`KeyError`] is about.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMaterial {
    /// The merchant API private key (`apiclient_key.pem`).
    PrivateKey,
    /// A WeChat Pay public key (`pub_key.pem`).
    PublicKey,
    /// A platform (or merchant) X.509 certificate.
    Certificate,
}

/// Why a key or certificate could not be loaded.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The file could not be read (the I/O error is the source).
    Read {
        /// What the file should hold.
        material: KeyMaterial,
        /// The path as given.
        path: PathBuf,
    },
    /// No PEM block, or a PEM block of another type.
    Pem {
        /// What was expected.
        material: KeyMaterial,
        /// The label of the block found (`BEGIN {label}`), if there was a PEM block.
        found: Option<String>,
    },
    /// The DER inside the PEM block does not parse (the parser's error is the source).
    Malformed(KeyMaterial),
    /// The key is not an RSA key.
    NotRsa(KeyMaterial),
    /// The RSA key has fewer than 2048 bits.
    TooSmall(KeyMaterial),
}

/// Why a cryptographic operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// Signing failed: the private key's or a custom [`Sign`](crate::Sign)'s failure (the
    /// cause, if any, is the source). See [`Error::signing`].
    Sign,
    /// The system random generator failed.
    Random,
    /// An AES-GCM nonce is not 12 bytes; the length given.
    NonceLength(usize),
    /// An AES-GCM ciphertext is not base64 (the decoder's error is the source).
    Base64,
    /// An AES-GCM ciphertext is shorter than its 16-byte tag; the length decoded.
    Truncated(usize),
    /// AES-GCM authentication failed: wrong APIv3 key, nonce or associated data, or the
    /// ciphertext was altered.
    Decrypt,
    /// The AES-256-GCM cipher refused the key or could not encrypt.
    Cipher,
    /// A [`NonceSource`](crate::NonceSource) gave a request nonce that is not 1 to 32
    /// characters of `[0-9A-Za-z]` (it would break the `Authorization` header); its length.
    RequestNonce(usize),
    /// An RSA-OAEP ciphertext (a sensitive field) is not base64 (the decoder's error is the
    /// source).
    OaepBase64,
    /// An RSA-OAEP ciphertext does not have the key's length (`got` bytes, the key needs
    /// `expected`): it was cut, or encrypted to another key size.
    OaepLength {
        /// Bytes decoded.
        got: usize,
        /// The key's modulus length in bytes.
        expected: usize,
    },
    /// RSA-OAEP decryption failed: the field was not encrypted to this merchant key, or it was
    /// altered. Deliberately no further detail (that would be a padding oracle).
    OaepDecrypt,
    /// A sensitive field is too long for one RSA-OAEP block of the platform key: its byte
    /// length and the most the key takes (214 bytes for a 2048-bit key).
    PlaintextTooLong {
        /// UTF-8 bytes given.
        length: usize,
        /// The most one block takes.
        max: usize,
    },
    /// No platform key usable now to encrypt a sensitive field to: load the WeChat Pay public
    /// key (`Builder::public_key`) or a valid platform certificate.
    NoPlatformKey,
    /// The RSA key cannot be used for RSA-OAEP (AWS-LC takes 2048 to 8192 bits).
    OaepKey,
    /// A pay-sign field is empty, longer than the platform takes (32 characters, 64 for a
    /// prepay id), or holds a character other than printable ASCII without spaces (the signed
    /// message is line-based, so the front end's check would fail or mean something else),
    /// or a timestamp that is not Unix seconds (negative, or milliseconds); the field's name.
    PaySignField(&'static str),
    /// An APIv2 AES-256-ECB ciphertext (a refund notification's `req_info`) cannot be
    /// decrypted: not base64, not whole 16-byte blocks, or a wrong PKCS#7 padding (wrong
    /// APIv2 key, or the ciphertext was altered); what was wrong.
    AesEcb(&'static str),
}

/// Why a body could not be decoded.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The body is not UTF-8 (the decoder's error is the source).
    NotUtf8,
    /// The body is not JSON of the requested shape (the `serde_json::Error` is the source).
    Json,
    /// A gzip download (a bill) is truncated or corrupt (the gunzip's error is the source);
    /// what was written of it must be discarded.
    Gzip,
    /// A field of a JSON document (a notification's, say `resource.ciphertext`) is missing or
    /// has the wrong type; its name.
    Field(&'static str),
    /// An APIv2 XML document that is not well-formed, or that this crate refuses to read (a
    /// DTD, an entity other than the five predefined ones, nesting deeper than
    /// [`v2::xml::MAX_DEPTH`](crate::v2::xml::MAX_DEPTH)); what was wrong.
    Xml(&'static str),
}

/// Why a request could not be carried.
///
/// A custom transport builds one with [`TransportError::new`] and turns it into an [`Error`]
/// with `Error::from`, or with [`Error::transport_with_source`] to keep its cause.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// The failure class.
    pub kind: TransportKind,
    /// A one-line summary of what failed; the cause itself is the error's source.
    pub message: String,
}

impl TransportError {
    /// A transport failure of class `kind`, summarized by `message` (one line).
    pub fn new(kind: TransportKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
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
    /// The response arrived but could not be written to the caller's output (a file, a
    /// writer): the request went through, so the change it made (an order) may already exist.
    Output,
}

/// An error answer of WeChat Pay (`{"code","message","detail"}` with status ≥ 400).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `code`, e.g. `PARAM_ERROR`, if the body was the JSON error shape.
    pub code: Option<String>,
    /// `message`, if present.
    pub message: Option<String>,
    /// `detail`, if present.
    pub detail: Option<serde_json::Value>,
    /// The `Request-ID` response header, to quote to WeChat Pay support.
    pub request_id: Option<String>,
    /// For `401 SIGN_ERROR`: the whole canonical message this client signed, to compare with
    /// [`ApiError::server_sign_message`].
    pub local_message: Option<String>,
    /// For a `404` to a (method, template) the catalog does not know: the nearest catalog
    /// endpoints, like `"POST v3/pay/transactions/native"` (see [`crate::catalog::nearest`]).
    pub nearest: Vec<String>,
}

/// An APIv2 answer that reports a failure. It keeps the parsed XML fields; the
/// [`Error::response`] keeps the bytes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiV2Error {
    /// `return_code` is not `SUCCESS` (or is missing): the call itself failed (a bad sign, a
    /// wrong parameter, no bill for the day, …).
    Return {
        /// `return_code` as answered (`FAIL`; empty when missing).
        return_code: String,
        /// `return_msg`, if present.
        return_msg: Option<String>,
        /// Every field of the answer.
        fields: serde_json::Map<String, serde_json::Value>,
    },
    /// `return_code` is `SUCCESS` but `result_code` is not: the business operation failed.
    Business {
        /// `result_code` as answered (`FAIL`).
        result_code: String,
        /// `err_code`, e.g. `ORDERNOTEXIST`, if present.
        err_code: Option<String>,
        /// `err_code_des`, if present.
        err_code_des: Option<String>,
        /// Every field of the answer.
        fields: serde_json::Map<String, serde_json::Value>,
    },
}

impl ApiV2Error {
    /// Every field of the parsed answer.
    pub fn fields(&self) -> &serde_json::Map<String, serde_json::Value> {
        match self {
            Self::Return { fields, .. } | Self::Business { fields, .. } => fields,
        }
    }
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

/// Why a response or notification failed verification (checked in order: headers present and
/// single, not a signature probe, signature type, clock within 300 s, known key, RSA
/// signature). Each case is distinct.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// A required `Wechatpay-*` header is absent.
    MissingHeader(&'static str),
    /// A `Wechatpay-*` header appears more than once: which copy counts is not defined, so the
    /// answer is not trusted (fail closed).
    DuplicateHeader(&'static str),
    /// A `Wechatpay-*` header is present but its value is not visible ASCII.
    InvalidHeader(&'static str),
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
    /// An APIv2 answer or notification carries no `sign`: unsigned data is not trusted.
    MissingSign,
    /// An APIv2 notification whose `return_code` is not `SUCCESS`: it reports a failure and
    /// carries no signed data.
    ReturnCode {
        /// The `return_code` given (empty when missing).
        return_code: String,
        /// The `return_msg`, if any.
        return_msg: Option<String>,
    },
    /// `Wechatpay-Statement-Sha1` does not match the body.
    StatementDigest,
    /// A platform certificate download is not what it claims (a certificate's serial is not its
    /// `serial_no`, an unknown encryption, no valid certificate); what is wrong.
    Certificate(String),
    /// A downloaded bill's SHA-1 does not match the `hash_value` of its apply answer: the
    /// bill is corrupt and what was written of it must be discarded.
    BillDigest {
        /// The apply answer's `hash_value`.
        expected: String,
        /// The SHA-1 of the bytes received (decompressed), lower-case hex.
        actual: String,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                response: None,
                source: None,
                subject: "response",
            }),
        }
    }

    /// The error is about a notification (callback), not a response: its message says so.
    pub(crate) fn for_notification(mut self) -> Self {
        self.inner.subject = "notification";
        self
    }

    pub(crate) fn with_response(mut self, response: Response) -> Self {
        self.inner.response = Some(response);
        self
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    #[cfg(feature = "sandbox")]
    pub(crate) fn sandbox(message: impl Into<String>) -> Self {
        Self::from(ConfigError::Sandbox(message.into()))
    }

    pub(crate) fn transport(kind: TransportKind, message: impl Into<String>) -> Self {
        Self::from(TransportError::new(kind, message))
    }

    /// The error a custom [`Sign`](crate::Sign) (HSM, KMS, remote signer) returns when it
    /// cannot sign: kind [`CryptoError::Sign`], with `cause` as its
    /// [`source()`](std::error::Error::source). The request fails before anything is sent.
    ///
    /// ```
    /// use wechatpay_chain::{CryptoError, Error, ErrorKind};
    ///
    /// let e = Error::signing(std::io::Error::other("the HSM is offline"));
    /// assert_eq!(e.kind(), &ErrorKind::Crypto(CryptoError::Sign));
    /// let cause = std::error::Error::source(&e).unwrap();
    /// assert!(cause.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn signing(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::from(CryptoError::Sign).with_source(cause)
    }

    /// A transport failure with its cause, for custom [`Transport`]s: `message` says what
    /// failed in a few words (which origin, which step); the cause stays in
    /// [`source()`](std::error::Error::source). Use [`TransportKind::Connect`] only when the
    /// request certainly never left: the default transport then fails over to the backup host.
    ///
    /// [`Transport`]: crate::transport::Transport
    pub fn transport_with_source(
        kind: TransportKind,
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::new(ErrorKind::Transport(TransportError::new(kind, message))).with_source(source)
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

    /// The APIv2 failure, if an APIv2 answer said the call failed.
    pub fn api_v2(&self) -> Option<&ApiV2Error> {
        match &self.inner.kind {
            ErrorKind::ApiV2(e) => Some(e),
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
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.response.as_ref().map(Response::status)
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

macro_rules! from_kind {
    ($($error:ty => $variant:ident),* $(,)?) => {
        $(
            impl From<$error> for Error {
                fn from(e: $error) -> Self {
                    Self::new(ErrorKind::$variant(e))
                }
            }
        )*
    };
}

from_kind! {
    ChainError => Chain,
    ConfigError => Config,
    KeyError => Key,
    TransportError => Transport,
    VerifyError => Verify,
    DecodeError => Decode,
    CryptoError => Crypto,
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
            ErrorKind::Config(e) => write!(f, "configuration error: {e}"),
            ErrorKind::Key(e) => write!(f, "key error: {e}"),
            ErrorKind::Transport(t) => write!(f, "{t}"),
            ErrorKind::Api(a) => write!(f, "{a}"),
            ErrorKind::ApiV2(a) => write!(f, "{a}"),
            ErrorKind::Verify(v) => {
                write!(f, "{} verification failed: {v}", self.inner.subject)?;
                if let Some(r) = &self.inner.response {
                    write!(f, " (HTTP {}", r.status().as_u16())?;
                    if let Some(id) = r.request_id() {
                        write!(f, ", Request-ID {id}")?;
                    }
                    write!(f, ")")?;
                }
                write!(f, "; do not trust this {}", self.inner.subject)
            }
            ErrorKind::Decode(e) => write!(f, "decode error: {e}"),
            ErrorKind::Crypto(e) => write!(f, "crypto error: {e}"),
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
            Self::UnusedOptions { keys, body_hint } => {
                write!(
                    f,
                    "unused option key(s) {}: neither a reserved key (json, query, params, headers, body, base_uri, timeout; APIv2: xml, nonceless, security) nor a variable of the chain's template",
                    keys.join(", ")
                )?;
                if *body_hint {
                    write!(
                        f,
                        "; to send them as the request body, put them under `json`: {{\"json\": {{…}}}} (APIv2 chains, v2/…: under `xml`)"
                    )?;
                }
                Ok(())
            }
            Self::ConflictingOptions { first, second } => write!(
                f,
                "conflicting options `{first}` and `{second}`: they set the same part of the request; give one"
            ),
            Self::InvalidTimeout(v) => write!(
                f,
                "invalid timeout {v}: give a positive number of seconds (fractions allowed)"
            ),
            Self::BodyNotAllowed { method } => write!(
                f,
                "a {method} request cannot carry a body; pass the values as query parameters or use POST"
            ),
            Self::TargetTooLong { length, limit } => write!(
                f,
                "request target of {length} bytes exceeds the limit of {limit} bytes; servers refuse such request lines"
            ),
            Self::InvalidTarget(m) => write!(f, "request target cannot be sent: {m}"),
            Self::UserInfo(u) => write!(
                f,
                "a base URI or URL cannot carry userinfo (user:password@): {u}; remove it"
            ),
            Self::InvalidPort(u) => write!(
                f,
                "invalid port in {u}: give a number from 1 to 65535, or none"
            ),
            Self::InvalidMedia(m) => write!(f, "the media to upload cannot be sent: {m}"),
            Self::UnknownSignType(t) => write!(
                f,
                "unknown APIv2 sign_type {t:?}; use \"MD5\" or \"HMAC-SHA256\" (case-sensitive)"
            ),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingMchid => write!(f, "mchid is missing; set it with .mchid(\"1900000109\")"),
            Self::InvalidMchid(m) => write!(f, "mchid {m:?} must be digits"),
            Self::MissingSerial => write!(
                f,
                "the merchant certificate serial is missing; set it with .serial(…) (openssl x509 -noout -serial -in apiclient_cert.pem)"
            ),
            Self::InvalidSerial(s) => write!(f, "the merchant serial {s:?} must be hexadecimal"),
            Self::MissingPrivateKey => write!(
                f,
                "no private key; set it with .private_key(PrivateKey::from_pem_file(\"apiclient_key.pem\")?) or .signer(…)"
            ),
            Self::OwnSerialInKeyStore(s) => write!(
                f,
                "the platform keys contain the merchant's own serial {s}; that is the merchant certificate, not a WeChat Pay platform certificate or public key"
            ),
            Self::ApiV3KeyLength(n) => write!(
                f,
                "the APIv3 key must be 32 bytes, got {n}; copy it from the merchant platform (API安全 → APIv3密钥)"
            ),
            Self::InvalidHeaderValue(what) => write!(
                f,
                "the {what} has characters a request header cannot carry"
            ),
            Self::InvalidProxy(p) => write!(
                f,
                "the proxy {p} cannot be used; give http://[user:password@]host:port"
            ),
            Self::Tls => write!(f, "the TLS set-up failed"),
            Self::Runtime => write!(f, "the background runtime of the blocking calls could not start"),
            Self::MissingApiV3Key(what) => write!(
                f,
                "the APIv3 key (apiv3_key) is needed to {what}; set it with Builder::apiv3_key (merchant platform: API安全 → APIv3密钥)"
            ),
            Self::NoPlatformCertificates => write!(
                f,
                "this merchant has no platform certificates (GET /v3/certificates: 404 RESOURCE_NOT_EXISTS); configure the WeChat Pay public key instead: .public_key(\"PUB_KEY_ID_…\", PublicKey::from_pem_file(\"pub_key.pem\")?) (merchant platform: API安全 → 微信支付公钥)"
            ),
            Self::NoRuntime(what) => write!(
                f,
                "{what} starts a background task: build the client inside a tokio runtime"
            ),
            Self::MissingMerchantCertificate(what) => write!(
                f,
                "{what} needs the merchant API certificate for mutual TLS; set it with Builder::merchant_api_certificate(cert_pem, key_pem) (apiclient_cert.pem and apiclient_key.pem; merchant platform: API安全 → API证书)"
            ),
            Self::MerchantCertificateMismatch => write!(
                f,
                "the merchant API certificate is not the certificate of the private key given with it (Builder::merchant_api_certificate); give apiclient_cert.pem with its own apiclient_key.pem"
            ),
            Self::MissingV3Credentials(what) => write!(
                f,
                "{what} needs the APIv3 credentials; this client has only the APIv2 key: set .serial(…) and .private_key(…) (the merchant API certificate's serial and key)"
            ),
            #[cfg(feature = "sandbox")]
            Self::Sandbox(m) => write!(f, "sandbox: {m}"),
            Self::ApiV2KeyLength(n) => write!(
                f,
                "the APIv2 key must be 32 bytes, got {n}; copy it from the merchant platform (API安全 → API密钥)"
            ),
            Self::MissingApiV2Key(what) => write!(
                f,
                // The first words are the shared chain vectors' text for a v2 call on a client
                // without the key (tests/data/chain-vectors.json, `errors`).
                "APIv2 unsupported (until APIv2 lands) on this client: it has no APIv2 key (apiv2_key), which is needed to {what}; set it with Builder::apiv2_key (merchant platform: API安全 → API密钥)"
            ),
        }
    }
}

impl fmt::Display for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PrivateKey => "private key",
            Self::PublicKey => "public key",
            Self::Certificate => "certificate",
        })
    }
}

impl KeyMaterial {
    /// The PEM labels accepted for this material, for messages.
    fn labels(self) -> &'static str {
        match self {
            Self::PrivateKey => "BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY",
            Self::PublicKey => "BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY",
            Self::Certificate => "BEGIN CERTIFICATE",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { material, path } => write!(
                f,
                "cannot read the {material} file {}; check the path and its permissions",
                path.display()
            ),
            Self::Pem {
                material,
                found: None,
            } => write!(
                f,
                "no PEM block in the {material}; expected text starting with -----BEGIN"
            ),
            Self::Pem {
                material,
                found: Some(label),
            } => {
                write!(
                    f,
                    "expected {} for the {material}, found BEGIN {label}",
                    material.labels()
                )?;
                match (material, label.as_str()) {
                    (KeyMaterial::PublicKey, "CERTIFICATE") => {
                        write!(f, "; this is a certificate, load it with Certificate::from_pem")
                    }
                    (KeyMaterial::PrivateKey, _) => write!(
                        f,
                        "; use the apiclient_key.pem from the merchant platform"
                    ),
                    _ => Ok(()),
                }
            }
            Self::Malformed(material) => write!(
                f,
                "the {material} is malformed; check that the file is complete and unaltered"
            ),
            Self::NotRsa(material) => write!(
                f,
                "the {material} is not an RSA key; WeChat Pay uses RSA keys of at least 2048 bits"
            ),
            Self::TooSmall(material) => write!(
                f,
                "the {material} has fewer than 2048 bits; WeChat Pay needs an RSA key of at least 2048 bits"
            ),
        }
    }
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sign => write!(
                f,
                "the signer could not sign; its own error is the source (a request is not sent)"
            ),
            Self::Random => write!(f, "the system random generator failed"),
            Self::NonceLength(n) => write!(f, "the AES-GCM nonce must be 12 bytes, got {n}"),
            Self::Base64 => write!(f, "the AES-GCM ciphertext is not base64"),
            Self::Truncated(n) => write!(
                f,
                "the AES-GCM ciphertext has {n} bytes, fewer than its 16-byte tag"
            ),
            Self::Decrypt => write!(
                f,
                "AES-GCM authentication failed: wrong APIv3 key, nonce or associated data, or the ciphertext was altered"
            ),
            Self::Cipher => write!(f, "the AES-256-GCM cipher refused the key or failed to encrypt"),
            Self::AesEcb(why) => write!(
                f,
                "AES-256-ECB decryption failed: {why}; check the APIv2 key (req_info is encrypted under the MD5 of it)"
            ),
            Self::RequestNonce(n) => write!(
                f,
                "the nonce source gave {n} characters that are not all [0-9A-Za-z]; a request nonce is 1 to 32 of them"
            ),
            Self::OaepBase64 => write!(f, "the RSA-OAEP ciphertext is not base64"),
            Self::OaepLength { got, expected } => write!(
                f,
                "the RSA-OAEP ciphertext has {got} bytes; this key's ciphertexts have {expected}"
            ),
            Self::OaepDecrypt => write!(
                f,
                "RSA-OAEP decryption failed: the field was not encrypted to this merchant key, or it was altered"
            ),
            Self::PlaintextTooLong { length, max } => write!(
                f,
                "the sensitive field has {length} bytes; one RSA-OAEP block of this key takes at most {max}"
            ),
            Self::NoPlatformKey => write!(
                f,
                "no platform key is usable now to encrypt a sensitive field: load the WeChat Pay public key (Builder::public_key) or a valid platform certificate"
            ),
            Self::OaepKey => write!(
                f,
                "the RSA key cannot be used for RSA-OAEP (2048 to 8192 bits are supported)"
            ),
            Self::PaySignField(name) => write!(
                f,
                "the pay-sign field `{name}` is empty, too long, or not printable ASCII without spaces (a timestamp: not Unix seconds); pass the value WeChat Pay gave (app id and prepay id in their own places)"
            ),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => write!(f, "the response body is not UTF-8; read it with .bytes()"),
            Self::Json => write!(
                f,
                "the response body is not the expected JSON; read it with .text() or .bytes()"
            ),
            Self::Gzip => write!(
                f,
                "the gzip download is truncated or corrupt; discard what was written and download it again"
            ),
            Self::Field(name) => write!(
                f,
                "`{name}` is missing or is not the expected JSON; the document is not what WeChat Pay sends"
            ),
            Self::Xml(why) => write!(
                f,
                "the APIv2 XML cannot be read: {why}; the document is not what WeChat Pay sends"
            ),
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
            TransportKind::Output => "the response could not be written",
        };
        write!(f, "transport error: {what}: {}", self.message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neutral wording: the answer may come from WeChat Pay, a proxy or the sandbox.
        write!(f, "API error: HTTP {}", self.status.as_u16())?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(msg) = &self.message {
            write!(f, ": {}", one_line(msg))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (Request-ID {id})")?;
        }
        // The signed message can be megabytes (it holds the body): name the fields to compare
        // instead of printing it.
        if let Some(local) = &self.local_message {
            write!(
                f,
                "; compare ApiError::local_message ({} bytes signed here)",
                local.len()
            )?;
            match self.server_sign_message() {
                Some(server) => write!(
                    f,
                    " with ApiError::server_sign_message() ({} bytes the server saw, possibly truncated)",
                    server.len()
                )?,
                None => write!(f, " with what the server received")?,
            }
        }
        let server_suggested = self
            .message
            .as_deref()
            .is_some_and(|m| m.contains("nearest catalog endpoints"));
        if !self.nearest.is_empty() && !server_suggested {
            write!(
                f,
                "; nearest catalog endpoints: {}",
                self.nearest.join(", ")
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for ApiV2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Return {
                return_code,
                return_msg,
                ..
            } => {
                write!(f, "APIv2 error: return_code {return_code}")?;
                if let Some(msg) = return_msg {
                    write!(f, ": {}", one_line(msg))?;
                }
                Ok(())
            }
            Self::Business {
                result_code,
                err_code,
                err_code_des,
                ..
            } => {
                write!(f, "APIv2 business error: result_code {result_code}")?;
                if let Some(code) = err_code {
                    write!(f, " {code}")?;
                }
                if let Some(des) = err_code_des {
                    write!(f, ": {}", one_line(des))?;
                }
                Ok(())
            }
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(h) => write!(f, "missing header {h}"),
            Self::DuplicateHeader(h) => write!(
                f,
                "header {h} appears more than once; an answer with two values is not trusted"
            ),
            Self::InvalidHeader(h) => write!(f, "header {h} is present but not visible ASCII"),
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
            Self::MissingSign => write!(
                f,
                "the APIv2 document has no `sign`; unsigned data is not from WeChat Pay"
            ),
            Self::ReturnCode {
                return_code,
                return_msg,
            } => {
                write!(f, "APIv2 return_code is {return_code:?}, not \"SUCCESS\"")?;
                if let Some(msg) = return_msg {
                    write!(f, " (return_msg {msg:?})")?;
                }
                write!(f, ": it carries no signed data")
            }
            Self::StatementDigest => write!(
                f,
                "Wechatpay-Statement-Sha1 does not match the SHA-1 of the body"
            ),
            Self::Certificate(what) => write!(f, "platform certificate download refused: {what}"),
            Self::BillDigest { expected, actual } => write!(
                f,
                "the bill's SHA-1 {actual} does not match hash_value {expected} of the apply answer; the download is corrupt: discard it and download again"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(size_of::<Error>(), size_of::<usize>());
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

    #[test]
    fn the_cause_is_the_source_and_not_in_the_message() {
        let cause = std::io::Error::other("connection reset by peer");
        let e = Error::transport_with_source(TransportKind::Io, "api.example: sending", cause);
        assert_eq!(e.transport_kind(), Some(TransportKind::Io));
        assert!(!e.to_string().contains("reset by peer"), "{e}");
        let source = e.source().expect("the cause is kept");
        assert_eq!(source.to_string(), "connection reset by peer");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
    }

    #[test]
    fn signing_failure_keeps_its_cause() {
        let e = Error::signing("the HSM is offline");
        assert_eq!(e.kind(), &ErrorKind::Crypto(CryptoError::Sign));
        assert_eq!(e.source().unwrap().to_string(), "the HSM is offline");
        assert!(!e.to_string().contains("HSM"), "{e}");
    }

    #[test]
    fn nearest_endpoints_are_named_once() {
        let api = |message: &str| ApiError {
            status: StatusCode::NOT_FOUND,
            code: Some("RESOURCE_NOT_EXISTS".into()),
            message: Some(message.into()),
            detail: None,
            request_id: None,
            local_message: None,
            nearest: vec!["POST v3/pay/transactions/native".into()],
        };
        let plain = api("resource does not exist").to_string();
        assert!(
            plain.starts_with("API error: HTTP 404 RESOURCE_NOT_EXISTS"),
            "{plain}"
        );
        assert!(plain.ends_with("; nearest catalog endpoints: POST v3/pay/transactions/native"));
        // A server (the sandbox) that already suggests endpoints is not echoed twice.
        let echoed =
            api("no endpoint; nearest catalog endpoints: POST /v3/pay/transactions/native")
                .to_string();
        assert_eq!(
            echoed.matches("nearest catalog endpoints").count(),
            1,
            "{echoed}"
        );
    }

    #[test]
    fn sign_error_display_names_the_fields_instead_of_the_message() {
        let body = "x".repeat(10_000);
        let local = format!("POST\n/v3/pay/transactions/native\n1\nn\n{body}\n");
        let api = ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: Some("SIGN_ERROR".into()),
            message: Some("签名错误".into()),
            detail: Some(serde_json::json!({
                "sign_information": {"truncated_sign_message": "POST\n/v3/pay/transactions/native\n1\nn\nxx"}
            })),
            request_id: Some("08F1".into()),
            local_message: Some(local.clone()),
            nearest: Vec::new(),
        };
        let shown = api.to_string();
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(!shown.contains("xxxx"), "{shown}");
        assert!(shown.contains("ApiError::local_message"), "{shown}");
        assert!(shown.contains(&format!("{} bytes", local.len())), "{shown}");
        assert_eq!(
            api.local_message.as_deref(),
            Some(local.as_str()),
            "the field keeps it"
        );
    }
}
