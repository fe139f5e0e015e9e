//! The default transport: hyper (HTTP/1.1 keep-alive, HTTP/2 by ALPN) over rustls with
//! embedded roots, optional CONNECT proxy, a connect timeout, a body limit, and one failover to
//! the backup origin when the primary could not be connected.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::tls::{self, MerchantIdentity};
use super::{BoxFuture, Route, Transport};
use crate::crypto::backend::{Active, Backend as _};
use crate::download::StreamingResponse;
use crate::error::{ConfigError, Error, Result, TransportKind};
use crate::response::Response;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Transport settings, filled by the client builder.
#[derive(Clone)]
pub(crate) struct TransportConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) pool_idle_timeout: Duration,
    pub(crate) body_limit: usize,
    pub(crate) proxy: Option<String>,
    pub(crate) use_env_proxy: bool,
    /// Extra trusted roots: test-only ([`crate::Builder::tls_test_root_ca`]).
    pub(crate) test_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl std::fmt::Debug for TransportConfig {
    /// The proxy URI may carry `user:password@` (proxy authentication): shown redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("body_limit", &self.body_limit)
            .field("proxy", &self.proxy.as_deref().map(redact_proxy))
            .field("use_env_proxy", &self.use_env_proxy)
            .field("test_roots", &self.test_roots.len())
            .finish()
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            // Below the 8 s after which WeChat Pay closes idle connections.
            pool_idle_timeout: Duration::from_secs(7),
            body_limit: 16 * 1024 * 1024,
            proxy: None,
            use_env_proxy: true,
            test_roots: Vec::new(),
        }
    }
}

/// Connects directly, or through a CONNECT tunnel when the proxy matcher says so.
#[derive(Clone)]
struct ProxyConnector {
    http: HttpConnector,
    matcher: Option<Arc<Matcher>>,
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let intercept = self.matcher.as_ref().and_then(|m| m.intercept(&dst));
        let mut http = self.http.clone();
        match intercept {
            Some(proxy) if dst.scheme_str() == Some("https") => {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), http);
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move { tunnel.call(dst).await.map_err(Into::into) })
            }
            _ => Box::pin(async move { http.call(dst).await.map_err(Into::into) }),
        }
    }
}

type Pool = Client<HttpsConnector<ProxyConnector>, Full<Bytes>>;

/// Pooled hyper clients: one for calls polled on the caller's runtime and, with the
/// `blocking` feature, one for calls polled on the blocking module's background runtime.
///
/// A pooled connection is driven by a task on the runtime that opened it. A blocking call
/// blocks its caller's thread; if that thread runs a current-thread runtime, a connection
/// opened there by an earlier async call stalls, so blocking calls must never check it out.
#[derive(Clone)]
struct Pools {
    caller: Pool,
    #[cfg(feature = "blocking")]
    background: Pool,
}

impl Pools {
    /// The pool whose connections are driven by the runtime polling this call.
    fn pick(&self) -> &Pool {
        #[cfg(feature = "blocking")]
        if crate::blocking::on_background_runtime() {
            return &self.background;
        }
        &self.caller
    }
}

/// The pools for ordinary requests and, when a merchant API certificate is configured,
/// separate pools whose connections present it ([`Route::mutual_tls`]): a connection's TLS
/// identity is fixed at its handshake, so the two kinds never share connections.
#[derive(Clone)]
pub(crate) struct HyperTransport {
    plain: Pools,
    mutual_tls: Option<Pools>,
    body_limit: usize,
}

impl std::fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("body_limit", &self.body_limit)
            .field("mutual_tls", &self.mutual_tls.is_some())
            .finish_non_exhaustive()
    }
}

impl HyperTransport {
    /// The transport; `identity` is the merchant API certificate for mutual-TLS routes.
    pub(crate) fn new(
        config: &TransportConfig,
        identity: Option<&MerchantIdentity>,
    ) -> Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        let matcher = match (&config.proxy, config.use_env_proxy) {
            (Some(proxy), _) => {
                check_proxy(proxy)?;
                Some(Matcher::builder().all(proxy.clone()).build())
            }
            (None, true) => Some(Matcher::from_env()),
            (None, false) => None,
        };
        let connector = ProxyConnector {
            http,
            matcher: matcher.map(Arc::new),
        };
        let provider = Arc::new(Active::rustls_provider());
        let pools = |identity: Option<&MerchantIdentity>| -> Result<Pools> {
            let tls = tls::client_config(provider.clone(), &config.test_roots, identity)?;
            let https = HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .wrap_connector(connector.clone());
            // The pools share the connector (and its TLS configuration), not connections.
            let pool = || {
                Client::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .timer(TokioTimer::new())
                    .pool_idle_timeout(config.pool_idle_timeout)
                    .build(https.clone())
            };
            Ok(Pools {
                caller: pool(),
                #[cfg(feature = "blocking")]
                background: pool(),
            })
        };
        Ok(Self {
            plain: pools(None)?,
            mutual_tls: identity.map(|id| pools(Some(id))).transpose()?,
            body_limit: config.body_limit,
        })
    }

    /// The pool for `route` on the runtime polling this call; a mutual-TLS route without a
    /// merchant certificate is refused here, before anything is sent.
    fn pool(&self, route: &Route) -> Result<&Pool> {
        if !route.mutual_tls {
            return Ok(self.plain.pick());
        }
        match &self.mutual_tls {
            Some(pools) => Ok(pools.pick()),
            None => Err(ConfigError::MissingMerchantCertificate(format!(
                "a mutual-TLS request to {}",
                route.origin
            ))
            .into()),
        }
    }

    /// One request to one origin, up to the response headers.
    async fn open(
        pool: &Pool,
        request: http::Request<Bytes>,
        origin: &str,
    ) -> Result<http::Response<hyper::body::Incoming>> {
        pool.request(request.map(Full::new)).await.map_err(|e| {
            let (kind, what) = if e.is_connect() {
                (TransportKind::Connect, "cannot connect to")
            } else {
                (TransportKind::Io, "the exchange failed with")
            };
            Error::transport_with_source(kind, format!("{what} {origin}"), e)
        })
    }

    /// [`open`](Self::open) on the route's origin; on a connect failure (the request never
    /// left) once more on the backup origin. Returns the response and the origin that gave it.
    async fn open_with_failover<'a>(
        &self,
        request: http::Request<Bytes>,
        route: &'a Route,
    ) -> Result<(http::Response<hyper::body::Incoming>, &'a str)> {
        let pool = self.pool(route)?;
        // Only cheap clones (shared body bytes); kept only when there is a backup.
        let spare = route.backup_origin.as_ref().map(|_| copy_of(&request));
        let e = match Self::open(pool, request, &route.origin).await {
            Ok(response) => return Ok((response, &route.origin)),
            Err(e) if e.is_connect() => e,
            Err(e) => return Err(e),
        };
        let (Some(backup), Some(mut spare)) = (&route.backup_origin, spare) else {
            return Err(e);
        };
        let Some(uri) = on_origin(spare.uri(), backup) else {
            return Err(e);
        };
        *spare.uri_mut() = uri;
        tracing::warn!(error = %e, backup = %backup, "primary host unreachable; retrying once on the backup host");
        Ok((Self::open(pool, spare, backup).await?, backup))
    }

    /// The body read to the end within the limit.
    async fn read_whole(
        &self,
        response: http::Response<hyper::body::Incoming>,
        origin: &str,
    ) -> Result<Response> {
        let (parts, body) = response.into_parts();
        let limit = self.body_limit;
        let bytes = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    Error::transport_with_source(
                        TransportKind::BodyTooLarge,
                        format!("more than {limit} bytes; raise body_limit, or stream the download with Chain::download (a StreamingResponse)"),
                        e,
                    )
                } else {
                    Error::transport_with_source(
                        TransportKind::Io,
                        format!("reading the body from {origin}"),
                        e,
                    )
                }
            })?
            .to_bytes();
        Ok(Response::new(parts.status, parts.headers, bytes))
    }
}

impl Transport for HyperTransport {
    /// On a connect failure (the request never left) retries once on the backup origin.
    fn send<'a>(
        &'a self,
        request: http::Request<Bytes>,
        route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>> {
        Box::pin(async move {
            let (response, origin) = self.open_with_failover(request, route).await?;
            self.read_whole(response, origin).await
        })
    }

    /// Streams the body as hyper receives it (no body limit: the caller reads it chunk by
    /// chunk); the same failover as [`send`](Self::send).
    fn send_streaming<'a>(
        &'a self,
        request: http::Request<Bytes>,
        route: &'a Route,
    ) -> BoxFuture<'a, Result<StreamingResponse>> {
        Box::pin(async move {
            let (response, _) = self.open_with_failover(request, route).await?;
            let (parts, body) = response.into_parts();
            Ok(StreamingResponse::new(parts.status, parts.headers, body))
        })
    }
}

/// A copy of `request`: same method, URI, version, headers and body (extensions are not kept).
fn copy_of(request: &http::Request<Bytes>) -> http::Request<Bytes> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// `uri`'s path and query (the signed target, unchanged) on another origin.
fn on_origin(uri: &Uri, origin: &str) -> Option<Uri> {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{origin}{target}").parse().ok()
}

/// `proxy` with everything before its last `@` (the userinfo, whatever characters the password
/// has) replaced by `***`: proxy authentication is legitimate, showing it is not. A value that
/// is not a URI with a host even then is not shown at all (it may be a pasted secret).
pub(crate) fn redact_proxy(proxy: &str) -> String {
    let shown = match proxy.rfind('@') {
        Some(at) => {
            let scheme = proxy.find("://").map_or("", |i| &proxy[..i + 3]);
            let scheme = if scheme.len() <= at { scheme } else { "" };
            format!("{scheme}***@{}", &proxy[at + 1..])
        }
        None => proxy.to_string(),
    };
    let is_uri = shown.trim().parse::<Uri>().is_ok_and(|uri| {
        uri.scheme().is_some()
            && uri.host().is_some_and(|h| !h.is_empty())
            && uri
                .authority()
                .is_some_and(|a| a.port().is_none() || a.port_u16().is_some())
    });
    if is_uri {
        shown
    } else {
        "(not a URI)".into()
    }
}

/// An explicit proxy must be an `http://` or `https://` URI with a host; anything else would
/// be dropped silently by the proxy matcher and the requests sent direct.
fn check_proxy(proxy: &str) -> Result<()> {
    let refuse = || Error::from(ConfigError::InvalidProxy(redact_proxy(proxy)));
    let uri: Uri = proxy.trim().parse().map_err(|_| refuse())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(()),
        _ => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_userinfo_is_redacted_whatever_it_holds() {
        for (proxy, shown) in [
            (
                "http://u:s3cr3t-P4ss@127.0.0.1:3128",
                "http://***@127.0.0.1:3128",
            ),
            ("http://u:pa/ss@h:1", "http://***@h:1"),
            ("u:s3cr3t@h:1", "(not a URI)"),
            ("http://h:1", "http://h:1"),
            ("u:s3cr3t-P4ss", "(not a URI)"),
            ("not a uri s3cr3t", "(not a URI)"),
        ] {
            assert_eq!(redact_proxy(proxy), shown);
        }
    }

    #[test]
    fn a_proxy_that_cannot_be_used_is_refused_without_its_password() {
        for proxy in [
            "socks5://u:s3cr3t-P4ss@127.0.0.1:1080",
            "http://u:s3cr3t-P4ss@",
            "not a uri s3cr3t-P4ss",
        ] {
            let e = check_proxy(proxy).unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    crate::ErrorKind::Config(ConfigError::InvalidProxy(_))
                ),
                "{e:?}"
            );
            assert!(!format!("{e} {e:?}").contains("s3cr3t"), "{e:?}");
        }
        check_proxy("http://u:s3cr3t-P4ss@127.0.0.1:3128").unwrap();
        check_proxy("https://proxy.example:443").unwrap();
    }
}
