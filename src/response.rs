//! A verified response: status, headers and the body bytes exactly as received.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{DecodeError, Error, Result};

/// The answer of WeChat Pay. Returned by the verbs only after verification passed (or was
/// explicitly skipped for that one request).
///
/// ```
/// # #[cfg(feature = "sandbox")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> wechatpay_chain::Result<()> {
/// # let sandbox = wechatpay_chain::sandbox::Sandbox::builder().start().await?;
/// # let wxpay = sandbox.client()?;
/// use wechatpay_chain::{StatusCode, Value};
///
/// // PHP: $res = $instance->v3->certificates->get(); $res->getStatusCode(); json_decode((string) $res->getBody(), true)
/// // JS:  const { status, headers, data } = await wxpay.v3.certificates.get();
/// let response = wxpay.v3().certificates().get(()).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// assert!(response.request_id().is_some()); // quote it to WeChat Pay support
/// let listing: Value = response.json()?; // or a serde type of yours
/// assert!(listing["data"].is_array());
/// assert!(response.text()?.starts_with('{'));
/// let (status, headers, body) = response.into_parts();
/// assert!(headers.contains_key("Wechatpay-Signature") && status.is_success() && !body.is_empty());
/// # sandbox.shutdown();
/// # Ok(()) }
/// # #[cfg(not(feature = "sandbox"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    /// Builds a response from its parts (used by the transport, tests and custom transports).
    pub fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `Request-ID` header, to quote to WeChat Pay support.
    pub fn request_id(&self) -> Option<&str> {
        self.headers.get("request-id")?.to_str().ok()
    }

    /// The body bytes as received (what was verified).
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::from(DecodeError::NotUtf8).with_source(e))
    }

    /// The body parsed as JSON into `T` (use `serde_json::Value` for untyped access).
    /// An empty body (204) parses as JSON `null`. On failure the error is
    /// [`DecodeError::Json`](crate::DecodeError::Json) with the `serde_json::Error` (line,
    /// column, field) as its [`source()`](std::error::Error::source).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        let body: &[u8] = if self.body.is_empty() {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| Error::from(DecodeError::Json).with_source(e))
    }

    /// The body parsed as an APIv2 XML document: the root's children as a map (repeated
    /// elements become arrays, empty ones `""`). Not XML:
    /// [`DecodeError::Xml`](crate::DecodeError::Xml).
    pub fn xml_map(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        crate::v2::xml::from_xml(&self.body)
    }

    /// Consumes the response, returning its parts.
    pub fn into_parts(self) -> (StatusCode, HeaderMap, Bytes) {
        (self.status, self.headers, self.body)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 512;
        let shown = &self.body[..self.body.len().min(SHOWN)];
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(shown))
            .field("body_len", &self.body.len())
            .finish()
    }
}
