//! Turning a chain and its options into a signed request: the request target is computed once
//! and used both in the signed message and on the wire; the body is serialized once.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Method;

use serde_json::{Map, Value};

use crate::chain::{redact_userinfo, Chain};
use crate::client::{ClientInner, USER_AGENT};
use crate::error::{ChainError, ConfigError, Error, Result};
use crate::options::{Body, Options, Query};
use crate::request_v2::{Protocol, V2Target};
use crate::signer::sign_request;
use crate::template::{expand_path, query_from_map, query_from_str, variables};

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

/// Checks the authority of a base URI or absolute URL by hand, before any parser sees it: no
/// userinfo (its password would end up in messages) and, if a port is written, 1–65535.
fn check_authority(uri: &str) -> Result<(), ChainError> {
    let after_scheme = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let authority = &after_scheme[..after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len())];
    if authority.contains('@') {
        return Err(ChainError::UserInfo(redact_userinfo(uri)));
    }
    // `[::1]:8080`: the port follows the bracket; `host:443`: the last colon.
    let port = match authority.rfind(']') {
        Some(close) => authority[close + 1..].strip_prefix(':'),
        None => authority.rsplit_once(':').map(|(_, port)| port),
    };
    match port {
        None => Ok(()),
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            match p.parse::<u16>() {
                Ok(n) if n > 0 => Ok(()),
                _ => Err(ChainError::InvalidPort(uri.to_string())),
            }
        }
        Some(_) => Err(ChainError::InvalidPort(uri.to_string())),
    }
}

impl BaseUri {
    /// Parses a base URI or absolute URL origin, enforcing https except towards loopback, and
    /// refusing userinfo, invalid ports and a `v2` segment in the path (it belongs to chains).
    pub(crate) fn parse(uri: &str, allow_insecure_http: bool) -> Result<Self> {
        check_authority(uri)?;
        let parsed: http::Uri = uri
            .parse()
            .map_err(|e| ChainError::InvalidUri(format!("{uri}: {e}")))?;
        let (Some(scheme), Some(authority)) = (parsed.scheme_str(), parsed.authority()) else {
            return Err(ChainError::InvalidUri(format!(
                "{uri}: a base URI needs a scheme and a host, like https://api.mch.weixin.qq.com/"
            ))
            .into());
        };
        let host = authority.host().to_ascii_lowercase();
        match scheme {
            "https" => {}
            "http" if allow_insecure_http || is_loopback(&host) => {}
            "http" => return Err(ChainError::InsecureScheme(uri.to_string()).into()),
            other => {
                return Err(
                    ChainError::InvalidUri(format!("{uri}: unsupported scheme {other}")).into(),
                )
            }
        }
        if parsed.query().is_some() || uri.contains('#') {
            return Err(ChainError::InvalidUri(format!(
                "{uri}: a base URI cannot have a query or fragment"
            ))
            .into());
        }
        let mut path = parsed.path().to_string();
        if !path.ends_with('/') {
            path.push('/');
        }
        crate::request_v2::check_base_path(uri, &path)?;
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
    /// The bytes sent when they differ from the signed [`body`](Self::body): the multipart of a
    /// media upload ([`Options::upload`]), whose signed body is the meta part.
    pub(crate) upload: Option<Bytes>,
    pub(crate) message: Vec<u8>,
    pub(crate) template: String,
    pub(crate) timeout: Option<Duration>,
    pub(crate) skip_verification: bool,
    /// APIv3, or APIv2 with what its answer needs.
    pub(crate) protocol: Protocol,
    /// Sent over mutual TLS, presenting the merchant API certificate ([`Route::mutual_tls`]):
    /// APIv2 `security`, or an endpoint the catalog marks `api_cert_required`.
    ///
    /// [`Route::mutual_tls`]: crate::transport::Route::mutual_tls
    pub(crate) mutual_tls: bool,
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

    /// The body bytes, exactly as signed (and sent, except for a media upload: see
    /// [`sent_body`](Self::sent_body)).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The bytes sent: the [`body`](Self::body), or for a media upload
    /// ([`Options::upload`]) the `multipart/form-data` whose `meta` part is the signed body.
    pub fn sent_body(&self) -> &Bytes {
        self.upload.as_ref().unwrap_or(&self.body)
    }

    /// The canonical message that was signed. For an APIv2 call: the sorted `k=v&…` string
    /// of the data, without the `&key=…` that the sign also covers (the key is never shown).
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// True for an APIv2 call (a chain starting with `v2/`): XML data signed with the APIv2
    /// key, no `Authorization` header.
    pub fn is_apiv2(&self) -> bool {
        matches!(self.protocol, Protocol::V2 { .. })
    }

    /// True if the request is sent with mutual TLS, presenting the merchant API certificate.
    pub fn is_mutual_tls(&self) -> bool {
        self.mutual_tls
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
            .field("sent_len", &self.sent_body().len())
            .field("apiv2", &self.is_apiv2())
            .field("mutual_tls", &self.mutual_tls)
            .finish_non_exhaustive()
    }
}

/// `Wechatpay-Serial`, named once (not parsed from a string per request).
const WECHATPAY_SERIAL: HeaderName = HeaderName::from_static("wechatpay-serial");

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

/// The longest request target (path and query) the crate sends, in bytes. Common front ends
/// refuse longer request lines (nginx's default `large_client_header_buffers` is 8 KiB, and
/// the line also holds the method and `HTTP/1.1`), which would surface only after signing as
/// a 414 or a reset; 8000 bytes keeps the whole line under 8 KiB.
pub const MAX_TARGET_LEN: usize = 8000;

/// The chain's path after resolving an absolute URL given through `{+name}` (like Guzzle
/// resolves PHP's `chain('{+download_url}')`: as an absolute reference, host checked).
struct ResolvedPath {
    /// `scheme://authority` when the chain is absolute.
    origin: Option<String>,
    /// The path template to expand (no leading `/`) when it is not the chain's own (an
    /// absolute URL's); `None`: the chain's template, not copied.
    template: Option<String>,
    /// The query that came with the declarative string or URL.
    query: Option<String>,
}

/// Step 1: the chain's template, or — for PHP's recipe `chain("{+download_url}")` whose value
/// is an absolute URL — the URL itself, resolved like `chain(url)` (Guzzle's absolute-reference
/// rule) so the host allow-list applies instead of gluing the URL under the base path.
fn resolve_path(chain: &Chain, params: &Map<String, Value>) -> Result<ResolvedPath> {
    let node = &chain.node;
    let as_is = || ResolvedPath {
        origin: node.origin.as_deref().map(Into::into),
        template: None,
        query: node.query.as_deref().map(Into::into),
    };
    if node.origin.is_some() {
        return Ok(as_is());
    }
    let Some(name) = node
        .segments()
        .next()
        .and_then(|s| s.strip_prefix("{+"))
        .and_then(|s| s.strip_suffix('}'))
    else {
        return Ok(as_is());
    };
    let Some(Value::String(url)) = params.get(name) else {
        return Ok(as_is());
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Ok(as_is());
    }
    if node.segment_count() > 1 || node.query.is_some() {
        return Err(ChainError::InvalidUri(format!(
            "{{+{name}}} holds an absolute URL, so it must be the whole chain"
        ))
        .into());
    }
    let absolute = chain.client().chain(url);
    let template = absolute.template()?;
    Ok(ResolvedPath {
        origin: absolute.node.origin.as_deref().map(Into::into),
        template: Some(template),
        query: absolute.node.query.as_deref().map(Into::into),
    })
}

/// Where the request goes: origin, base path, and the backup origin for failover.
struct Destination {
    origin: String,
    base_path: String,
    backup_origin: Option<String>,
}

/// Step 2: the base URI (per request or per client), or an absolute URL's origin, which must
/// be the base host or its backup: a chain never sends the signature to a foreign host.
fn resolve_destination(
    client: &ClientInner,
    base_uri: Option<&str>,
    absolute_origin: Option<&str>,
) -> Result<Destination> {
    // The client's base is borrowed: only a per-request `base_uri` is parsed.
    let base = match base_uri {
        Some(uri) => Cow::Owned(BaseUri::parse(uri, client.allow_insecure_http)?),
        None => Cow::Borrowed(&client.base),
    };
    let backup = match base_uri {
        Some(_) => base.default_backup().map(Cow::Owned),
        None => client.backup.as_ref().map(Cow::Borrowed),
    };
    match absolute_origin {
        Some(origin) => {
            let absolute = BaseUri::parse(origin, client.allow_insecure_http)?;
            let allowed = absolute.origin == base.origin
                || backup.as_ref().is_some_and(|b| b.origin == absolute.origin);
            if !allowed {
                return Err(ChainError::HostNotAllowed(absolute.host).into());
            }
            Ok(Destination {
                origin: absolute.origin,
                base_path: "/".into(),
                backup_origin: None,
            })
        }
        None => {
            let (origin, base_path) = match base {
                Cow::Owned(b) => (b.origin, b.path),
                Cow::Borrowed(b) => (b.origin.clone(), b.path.clone()),
            };
            let backup_origin = backup.map(|b| match b {
                Cow::Owned(b) => b.origin,
                Cow::Borrowed(b) => b.origin.clone(),
            });
            Ok(Destination {
                origin,
                base_path,
                backup_origin,
            })
        }
    }
}

/// Step 3: every option key that is not reserved must be a variable of the template; the
/// others are named in the error, with the `json` hint when they look like a body.
fn check_unused_options(
    template: &str,
    params: &Map<String, Value>,
    method: &Method,
    has_body: bool,
) -> Result<(), ChainError> {
    let names = variables(template)?;
    let keys: Vec<String> = params
        .keys()
        .filter(|k| !names.contains(&k.as_str()))
        .cloned()
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let takes_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    Err(ChainError::UnusedOptions {
        keys,
        body_hint: takes_body && !has_body,
    })
}

/// Step 4: the query string (`query`/`params` replaces the template's own query).
fn build_query(option: Option<&Query>, from_chain: Option<&str>) -> Result<String, ChainError> {
    match (option, from_chain) {
        (Some(Query::Map(map)), _) => query_from_map(map),
        (Some(Query::String(s)), _) => query_from_str(s),
        (None, Some(q)) => query_from_str(q),
        (None, None) => Ok(String::new()),
    }
}

/// Step 5: the body bytes, serialized once. A `GET` (or `HEAD`) carries none; `DELETE` may
/// (five catalog endpoints need one).
fn encode_body(method: &Method, body: Option<Body>) -> Result<Option<Bytes>, ChainError> {
    let Some(body) = body else { return Ok(None) };
    if matches!(*method, Method::GET | Method::HEAD) {
        return Err(ChainError::BodyNotAllowed {
            method: method.to_string(),
        });
    }
    match body {
        Body::Json(value) => serde_json::to_vec(&value)
            .map(|v| Some(Bytes::from(v)))
            .map_err(|e| {
                ChainError::InvalidOptions(format!("the json body cannot be serialized: {e}"))
            }),
        Body::Serialized(bytes) | Body::Raw(bytes) => Ok(Some(bytes)),
    }
}

/// Step 5 for a media upload: the signed body is the meta JSON, the sent body the multipart,
/// with its `Content-Type` (boundary included).
fn encode_upload(
    method: &Method,
    media: &crate::media::Media,
) -> Result<(Option<Bytes>, Option<Bytes>, Option<HeaderValue>)> {
    if matches!(*method, Method::GET | Method::HEAD) {
        return Err(ChainError::BodyNotAllowed {
            method: method.to_string(),
        }
        .into());
    }
    let (boundary, multipart) = media.multipart()?;
    let content_type = header_value(
        "Content-Type",
        &format!("multipart/form-data; boundary={boundary}"),
    )?;
    Ok((
        Some(media.meta().clone()),
        Some(multipart),
        Some(content_type),
    ))
}

/// Step 6: default headers, then the user's (which override them, except the reserved ones).
fn build_headers(
    client: &ClientInner,
    now: i64,
    has_body: bool,
    pinned_serial: Option<&str>,
    user: &[(String, String)],
) -> Result<HeaderMap> {
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
    // A pinned serial (sensitive fields encrypted to that key) wins over the preferred one.
    let serial = pinned_serial
        .map(str::to_string)
        .or_else(|| client.keys.preferred(now).map(|(id, _)| id));
    if let Some(id) = serial {
        headers.insert(WECHATPAY_SERIAL, header_value("Wechatpay-Serial", &id)?);
    }
    add_user_headers(&mut headers, user, pinned_serial)?;
    Ok(headers)
}

/// The user's headers over the defaults, except the reserved ones; a `Wechatpay-Serial`
/// header must agree with a `pinned_serial`.
pub(crate) fn add_user_headers(
    headers: &mut HeaderMap,
    user: &[(String, String)],
    pinned_serial: Option<&str>,
) -> Result<()> {
    for (name, value) in user {
        let header_name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ChainError::InvalidHeader(format!("{name:?} is not a header name")))?;
        if let Some(pinned) = pinned_serial
            .filter(|p| header_name.as_str() == "wechatpay-serial" && value.trim() != *p)
        {
            return Err(ChainError::InvalidHeader(format!(
                "Wechatpay-Serial is pinned to {pinned} (the key sensitive fields were encrypted to); the {name} header names another key"
            ))
            .into());
        }
        if RESERVED_HEADERS.contains(&header_name) {
            return Err(ChainError::InvalidHeader(format!(
                "{name} is set by the signer and transport; plug a custom signer instead"
            ))
            .into());
        }
        headers.insert(header_name, header_value(name, value)?);
    }
    Ok(())
}

/// Step 7: the target must be sendable as is — within [`MAX_TARGET_LEN`] and a valid
/// request-line target — or the request fails here, before signing, not in the transport.
pub(crate) fn check_target(target: &str) -> Result<(), ChainError> {
    if target.len() > MAX_TARGET_LEN {
        return Err(ChainError::TargetTooLong {
            length: target.len(),
            limit: MAX_TARGET_LEN,
        });
    }
    target
        .parse::<http::uri::PathAndQuery>()
        .map(drop)
        .map_err(|e| ChainError::InvalidTarget(e.to_string()))
}

/// Builds and signs the request for [`Chain::prepare`]: the named steps above, in order, then
/// the signature.
pub(crate) fn prepare(chain: &Chain, method: Method, options: Options) -> Result<PreparedRequest> {
    let (mut request, now) = prepare_unsigned(chain, method, options)?;
    request.sign(&chain.client, now)?;
    Ok(request)
}

/// The named steps of [`prepare`] without the signature: the request and the timestamp to sign
/// it with ([`PreparedRequest::sign`]). The verbs sign off the reactor (see `client.rs`).
pub(crate) fn prepare_unsigned(
    chain: &Chain,
    method: Method,
    options: Options,
) -> Result<(PreparedRequest, i64)> {
    if let Some(e) = options.error {
        return Err(e.into());
    }
    let client = &chain.client;
    let template = chain.template()?;
    let path = resolve_path(chain, &options.params)?;
    let destination =
        resolve_destination(client, options.base_uri.as_deref(), path.origin.as_deref())?;

    // Unused keys first: a misspelt variable is named as such, not as a missing one.
    let has_body = options.body.is_some() || options.upload.is_some() || options.xml.is_some();
    let (options_timeout, options_skip) = (options.timeout, options.skip_verification);
    check_unused_options(&template, &options.params, &method, has_body)?;
    // The base path is the start of the target: moved, not copied.
    let base_len = destination.base_path.len();
    let mut target = destination.base_path;
    let path_template = path.template.as_deref().unwrap_or(&template);
    target.reserve(path_template.len() + 16);
    expand_path(path_template, &options.params, &mut target)?;
    if target[base_len.min(target.len())..]
        .trim_matches('/')
        .is_empty()
    {
        // `chain("")` or a bare base URI would sign `GET /`: no endpoint lives there.
        return Err(ChainError::InvalidTarget(
            "the path is empty; name an endpoint, e.g. v3/certificates".into(),
        )
        .into());
    }
    if crate::request_v2::strip_prefix(&mut target, base_len)? {
        let v2 = crate::request_v2::prepare(
            client,
            &method,
            options,
            V2Target {
                path: target,
                base_len,
                origin: &destination.origin,
                chain_query: path.query.as_deref(),
                template: &template,
            },
        )?;
        let request = PreparedRequest {
            method,
            origin: destination.origin,
            backup_origin: destination.backup_origin,
            target: v2.target,
            headers: v2.headers,
            body: v2.body,
            upload: None,
            message: v2.message,
            template,
            timeout: options_timeout,
            skip_verification: options_skip,
            protocol: v2.protocol,
            mutual_tls: v2.mutual_tls,
        };
        return Ok((request, client.clock.now()));
    }
    crate::request_v2::refuse_v2_options(&options)?;
    if !client.has_v3_credentials() {
        return Err(ConfigError::MissingV3Credentials(
            "an APIv3 call (every chain not starting with v2/)",
        )
        .into());
    }

    let query = build_query(options.query.as_ref(), path.query.as_deref())?;
    if !query.is_empty() {
        target.push('?');
        target.push_str(&query);
    }
    let (body, upload, upload_type) = match options.upload {
        Some(media) => encode_upload(&method, &media)?,
        None => (encode_body(&method, options.body)?, None, None),
    };
    let now = client.clock.now();
    let mut headers = build_headers(
        client,
        now,
        body.is_some(),
        options.wechatpay_serial.as_deref(),
        &options.headers,
    )?;
    if let Some(content_type) = upload_type {
        // The boundary is the multipart's own: a user `Content-Type` cannot replace it.
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    check_target(&target)?;

    let request = PreparedRequest {
        method,
        origin: destination.origin,
        backup_origin: destination.backup_origin,
        target,
        headers,
        body: body.unwrap_or_default(),
        upload,
        message: Vec::new(),
        template,
        timeout: options.timeout,
        skip_verification: options.skip_verification,
        protocol: Protocol::V3,
        mutual_tls: false,
    };
    Ok((request, now))
}

impl PreparedRequest {
    /// Signs (or re-signs, with a fresh timestamp and nonce) the target and body as they stand.
    pub(crate) fn sign(&mut self, client: &ClientInner, now: i64) -> Result<()> {
        if self.is_apiv2() {
            // Signed with the APIv2 key when prepared: the sign is part of the data.
            return Ok(());
        }
        let nonce = client.nonce.nonce()?;
        let signed = sign_request(
            self.method.as_str(),
            &self.target,
            &self.body,
            &client.signing_params(now, &nonce),
        )?;
        // From the `String` itself: its buffer becomes the header's, no copy.
        let mut auth = HeaderValue::try_from(signed.authorization)
            .map_err(|_| ConfigError::InvalidHeaderValue("mchid or serial"))?;
        auth.set_sensitive(true);
        self.headers.insert(header::AUTHORIZATION, auth);
        self.message = signed.message;
        Ok(())
    }

    /// The absolute URI on the primary origin. Parsed once per request: a retry re-signs the
    /// same target, so every attempt reuses it ([`to_http`](Self::to_http)).
    pub(crate) fn uri(&self) -> Result<http::Uri> {
        let mut url = String::with_capacity(self.origin.len() + self.target.len());
        url.push_str(&self.origin);
        url.push_str(&self.target);
        http::Uri::try_from(url).map_err(|e| {
            Error::from(ChainError::InvalidUri(format!(
                "{} {}: the request target does not form a URI",
                self.method, self.template
            )))
            .with_source(e)
        })
    }

    /// The request as the transport sends it: `uri` (from [`uri`](Self::uri)), the signed
    /// headers and the [`sent_body`](Self::sent_body) (the body, or an upload's multipart;
    /// `Bytes` shared with the signed body, not copied).
    pub(crate) fn to_http(&self, uri: http::Uri) -> http::Request<Bytes> {
        let mut request = http::Request::new(self.sent_body().clone());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers.clone();
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_limit_is_inclusive() {
        let at_limit = format!("/{}", "a".repeat(MAX_TARGET_LEN - 1));
        assert_eq!(check_target(&at_limit), Ok(()));
        let over = format!("{at_limit}b");
        assert_eq!(
            check_target(&over),
            Err(ChainError::TargetTooLong {
                length: MAX_TARGET_LEN + 1,
                limit: MAX_TARGET_LEN
            })
        );
        assert!(matches!(
            check_target("/a b"),
            Err(ChainError::InvalidTarget(_))
        ));
    }

    #[test]
    fn authorities() {
        for ok in [
            "https://api.mch.weixin.qq.com/",
            "https://api.mch.weixin.qq.com:443/hk/",
            "http://[::1]:8080/",
            "http://127.0.0.1:1",
        ] {
            assert_eq!(check_authority(ok), Ok(()), "{ok}");
        }
        for port in [
            "https://h:0/",
            "https://h:65536/",
            "https://h:/",
            "https://h:x1/",
            "http://[::1]:/",
        ] {
            assert!(
                matches!(check_authority(port), Err(ChainError::InvalidPort(_))),
                "{port}"
            );
        }
        assert_eq!(
            check_authority("https://u:pw@h/a"),
            Err(ChainError::UserInfo("https://***@h/a".into()))
        );
    }
}
