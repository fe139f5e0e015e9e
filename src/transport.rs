//! The transport only moves bytes: hyper (HTTP/1.1 keep-alive, HTTP/2 by ALPN) over rustls
//! with embedded roots, optional CONNECT proxy, timeouts, a body limit and one failover to the
//! backup host when the request never left.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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
use tracing::Instrument;

use crate::error::{ConfigError, Error, Result, TransportKind};
use crate::request::PreparedRequest;
use crate::response::Response;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Transport settings, filled by the client builder.
#[derive(Debug, Clone)]
pub(crate) struct TransportConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) pool_idle_timeout: Duration,
    pub(crate) body_limit: usize,
    pub(crate) proxy: Option<String>,
    pub(crate) use_env_proxy: bool,
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

/// One pooled hyper client.
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<HttpsConnector<ProxyConnector>, Full<Bytes>>,
    config: TransportConfig,
}

impl Transport {
    pub(crate) fn new(config: TransportConfig) -> Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        let matcher = match (&config.proxy, config.use_env_proxy) {
            (Some(proxy), _) => Some(Matcher::builder().all(proxy.clone()).build()),
            (None, true) => Some(Matcher::from_env()),
            (None, false) => None,
        };
        let connector = ProxyConnector {
            http,
            matcher: matcher.map(Arc::new),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = HttpsConnectorBuilder::new();
        #[cfg(feature = "native-roots")]
        let builder = builder.with_provider_and_native_roots(provider);
        #[cfg(not(feature = "native-roots"))]
        let builder = builder.with_provider_and_webpki_roots(provider);
        let https = builder
            .map_err(|e| Error::from(ConfigError::Tls).with_source(e))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(config.pool_idle_timeout)
            .build(https);
        Ok(Self { client, config })
    }

    /// Sends the prepared bytes; on a connect failure (the request never left) retries once
    /// on the backup origin.
    pub(crate) async fn send(&self, request: &PreparedRequest) -> Result<Response> {
        let span = tracing::info_span!(
            "wechatpay.request",
            method = %request.method,
            template = %request.template,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let total = request.timeout.unwrap_or(self.config.timeout);
            let result = match self.send_to(&request.origin, request, total).await {
                Err(e) if e.is_connect() && request.backup_origin.is_some() => {
                    let backup = request.backup_origin.as_deref().unwrap_or_default();
                    tracing::warn!(error = %e, backup, "primary host unreachable; retrying once on the backup host");
                    let left = total.saturating_sub(started.elapsed());
                    self.send_to(backup, request, left).await
                }
                other => other,
            };
            let span = tracing::Span::current();
            span.record("elapsed_ms", started.elapsed().as_millis() as u64);
            if let Ok(response) = &result {
                span.record("status", response.status().as_u16());
                if let Some(id) = response.request_id() {
                    span.record("request_id", id);
                }
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn send_to(
        &self,
        origin: &str,
        request: &PreparedRequest,
        total: Duration,
    ) -> Result<Response> {
        let url = format!("{origin}{}", request.target);
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(&url);
        if let Some(headers) = builder.headers_mut() {
            headers.extend(request.headers.clone());
        }
        let http_request = builder.body(Full::new(request.body.clone())).map_err(|e| {
            Error::transport_with_source(TransportKind::Io, "cannot build the request", e)
        })?;
        let limit = self.config.body_limit;
        let exchange = async {
            let response = self.client.request(http_request).await.map_err(|e| {
                let kind = if e.is_connect() {
                    TransportKind::Connect
                } else {
                    TransportKind::Io
                };
                Error::transport_with_source(kind, origin, e)
            })?;
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        Error::transport(
                            TransportKind::BodyTooLarge,
                            format!(
                                "more than {limit} bytes; raise body_limit or stream the download"
                            ),
                        )
                    } else {
                        Error::transport_with_source(
                            TransportKind::Io,
                            format!("{origin}: reading the response body"),
                            e,
                        )
                    }
                })?
                .to_bytes();
            Ok(Response::new(parts.status, parts.headers, bytes))
        };
        match tokio::time::timeout(total, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Error::transport(
                TransportKind::Timeout,
                format!("no complete response within {total:?}"),
            )),
        }
    }
}
