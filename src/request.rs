//! Turning a chain and its options into a signed request: the request target is computed once
//! and used both in the signed message and on the wire; the body is serialized once.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Method;

use crate::chain::Chain;
use crate::client::{ClientInner, USER_AGENT};
use crate::error::{ChainError, Error, ErrorKind, Result};
use crate::options::{Body, Options, Query};
use crate::signer::sign_request;
use crate::template::{expand_path, query_from_map, query_from_str};

/// The default base URI of WeChat Pay APIv3.
pub const DEFAULT_BASE_URI: &str = "https://api.mch.weixin.qq.com/";
/// The backup domain used when the default one cannot be reached.
pub const BACKUP_BASE_URI: &str = "https://api2.mch.weixin.qq.com/";

/// A parsed base URI: `scheme://authority` plus a path that starts and ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUri {
    pub(crate) origin: String,
    pub(crate) host: String,
    pub(crate) path: String,
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl BaseUri {
    /// Parses a base URI or absolute URL origin, enforcing https except towards loopback.
    pub(crate) fn parse(uri: &str, allow_insecure_http: bool) -> Result<Self, ChainError> {
        let parsed: http::Uri = uri
            .parse()
            .map_err(|e| ChainError::InvalidUri(format!("{uri}: {e}")))?;
        let (Some(scheme), Some(authority)) = (parsed.scheme_str(), parsed.authority()) else {
            return Err(ChainError::InvalidUri(format!(
                "{uri}: a base URI needs a scheme and a host, like https://api.mch.weixin.qq.com/"
            )));
        };
        let host = authority.host().to_ascii_lowercase();
        match scheme {
            "https" => {}
            "http" if allow_insecure_http || is_loopback(&host) => {}
            "http" => return Err(ChainError::InsecureScheme(uri.to_string())),
            other => {
                return Err(ChainError::InvalidUri(format!(
                    "{uri}: unsupported scheme {other}"
                )))
            }
        }
        if parsed.query().is_some() || uri.contains('#') {
            return Err(ChainError::InvalidUri(format!(
                "{uri}: a base URI cannot have a query or fragment"
            )));
        }
        let mut path = parsed.path().to_string();
        if !path.ends_with('/') {
            path.push('/');
        }
        Ok(Self {
            origin: format!("{scheme}://{authority}"),
            host,
            path,
        })
    }

    /// The backup base for the default WeChat Pay host, if this is it.
    pub(crate) fn default_backup(&self) -> Option<Self> {
        (self.host == "api.mch.weixin.qq.com").then(|| Self {
            origin: self
                .origin
                .replace("api.mch.weixin.qq.com", "api2.mch.weixin.qq.com"),
            host: "api2.mch.weixin.qq.com".into(),
            path: self.path.clone(),
        })
    }
}

/// A request ready to go: signed, with the exact bytes that will be sent.
#[derive(Clone)]
pub struct PreparedRequest {
    pub(crate) method: Method,
    pub(crate) origin: String,
    pub(crate) backup_origin: Option<String>,
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) message: Vec<u8>,
    pub(crate) template: String,
    pub(crate) timeout: Option<Duration>,
    pub(crate) skip_verification: bool,
}

impl PreparedRequest {
    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The full URL (origin + request target).
    pub fn url(&self) -> String {
        format!("{}{}", self.origin, self.target)
    }

    /// The request target: path and query exactly as signed and sent.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path part of the target (no query).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }

    /// The headers, `Authorization` included (marked sensitive).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body bytes, exactly as signed and sent.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The canonical message that was signed.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// The chain's template (no values): safe for logs.
    pub fn template(&self) -> &str {
        &self.template
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("url", &self.url())
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Headers the signer and the transport own; a user value would corrupt the request.
const RESERVED_HEADERS: &[HeaderName] = &[
    header::AUTHORIZATION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::HOST,
];

fn header_value(name: &str, value: &str) -> Result<HeaderValue, ChainError> {
    HeaderValue::from_str(value.trim()).map_err(|_| {
        ChainError::InvalidHeader(format!(
            "{name}: the value has characters a header cannot carry"
        ))
    })
}

impl Chain {
    /// Builds and signs the request without sending it (`wxpay --dry-run` shows the result).
    ///
    /// Every chain, template, query and header problem is reported here, before signing.
    pub fn prepare(&self, method: Method, options: impl Into<Options>) -> Result<PreparedRequest> {
        let options = options.into();
        if let Some(e) = options.error {
            return Err(e.into());
        }
        let client = &self.client;
        let template = self.template()?;
        if self.node.origin.is_none()
            && self
                .node
                .segments
                .first()
                .is_some_and(|s| s.eq_ignore_ascii_case("v2"))
        {
            return Err(Error::new(ErrorKind::Unsupported(
                "APIv2 unsupported (until APIv2 lands): v2/… endpoints use XML and another signature; this client speaks APIv3 only".into(),
            )));
        }

        let base = match &options.base_uri {
            Some(uri) => BaseUri::parse(uri, client.allow_insecure_http)?,
            None => client.base.clone(),
        };
        let backup = match &options.base_uri {
            Some(_) => base.default_backup(),
            None => client.backup.clone(),
        };
        let (origin, mut target) = match &self.node.origin {
            Some(origin) => {
                let absolute = BaseUri::parse(origin, client.allow_insecure_http)?;
                let allowed = absolute.origin == base.origin
                    || backup.as_ref().is_some_and(|b| b.origin == absolute.origin);
                if !allowed {
                    return Err(ChainError::HostNotAllowed(absolute.host).into());
                }
                (absolute.origin, String::from("/"))
            }
            None => (base.origin.clone(), base.path.clone()),
        };
        expand_path(&template, &options.params, &mut target)?;

        let query = match &options.query {
            Some(Query::Map(map)) => query_from_map(map)?,
            Some(Query::String(s)) => query_from_str(s)?,
            None => match &self.node.query {
                Some(q) => query_from_str(q)?,
                None => String::new(),
            },
        };
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query);
        }

        let (body, has_body) = match options.body {
            Some(Body::Json(value)) => (
                Bytes::from(serde_json::to_vec(&value).map_err(|e| {
                    ChainError::InvalidOptions(format!("the json body cannot be serialized: {e}"))
                })?),
                true,
            ),
            Some(Body::Raw(bytes)) => (bytes, true),
            None => (Bytes::new(), false),
        };

        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(header::USER_AGENT, USER_AGENT.clone());
        // A raw body is JSON too unless a user header says otherwise (it overrides this one).
        if has_body {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        let now = client.clock.now();
        if let Some((id, _)) = client.keys.preferred(now) {
            headers.insert("wechatpay-serial", header_value("Wechatpay-Serial", &id)?);
        }
        for (name, value) in &options.headers {
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| ChainError::InvalidHeader(format!("{name:?} is not a header name")))?;
            if RESERVED_HEADERS.contains(&header_name) {
                return Err(ChainError::InvalidHeader(format!(
                    "{name} is set by the signer and transport; plug a custom signer instead"
                ))
                .into());
            }
            headers.insert(header_name, header_value(name, value)?);
        }

        let backup_origin = match &self.node.origin {
            None => backup.map(|b| b.origin),
            Some(_) => None,
        };
        let mut request = PreparedRequest {
            method,
            origin,
            backup_origin,
            target,
            headers,
            body,
            message: Vec::new(),
            template,
            timeout: options.timeout,
            skip_verification: options.skip_verification,
        };
        request.sign(client, now)?;
        Ok(request)
    }
}

impl PreparedRequest {
    /// Signs (or re-signs, with a fresh timestamp and nonce) the target and body as they stand.
    pub(crate) fn sign(&mut self, client: &ClientInner, now: i64) -> Result<()> {
        let nonce = client.nonce.nonce()?;
        let signed = sign_request(
            self.method.as_str(),
            &self.target,
            &self.body,
            &client.signing_params(now, &nonce),
        )?;
        let mut auth = HeaderValue::from_str(&signed.authorization).map_err(|_| {
            Error::config("the mchid or serial has characters a header cannot carry")
        })?;
        auth.set_sensitive(true);
        self.headers.insert(header::AUTHORIZATION, auth);
        self.message = signed.message;
        Ok(())
    }

    /// The request as the transport sends it: absolute URI on the primary origin, the signed
    /// headers and body.
    pub(crate) fn to_http(&self) -> Result<http::Request<Bytes>> {
        let mut request = http::Request::new(self.body.clone());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.url().parse().map_err(|e: http::uri::InvalidUri| {
            Error::from(ChainError::InvalidUri(format!(
                "{} {}: the request target does not form a URI",
                self.method, self.template
            )))
            .with_source(e)
        })?;
        *request.headers_mut() = self.headers.clone();
        Ok(request)
    }
}
