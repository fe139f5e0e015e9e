//! Carrying a signed request to WeChat Pay and its answer back: the [`Transport`] trait and
//! the default hyper transport.
//!
//! The layers are: the chain prepares and signs a request ([`Chain::prepare`]), a transport
//! moves its bytes, and the client verifies the answer. A transport never signs, never
//! verifies and never retries a request that may have left: it only moves bytes. The one
//! failover (to [`Route::backup_origin`] when the primary host could not be connected, so the
//! request certainly never left) belongs to the transport, because only it knows whether a
//! connection was made; the default transport does it, a custom one may.
//!
//! The client bounds every call by [`Route::timeout`] whatever the transport does, so a
//! transport that hangs still fails closed.
//!
//! [`Chain::prepare`]: crate::Chain::prepare

mod hyper_client;
pub(crate) mod tls;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

use crate::download::StreamingResponse;
use crate::error::Result;
use crate::response::Response;

pub(crate) use hyper_client::{redact_proxy, HyperTransport, TransportConfig};

/// A boxed, sendable future, the return type of [`Transport::send`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a request goes and how long it may take.
///
/// The request handed to [`Transport::send`] has an absolute URI on [`Route::origin`]; its
/// path and query are exactly what was signed, so they must be sent unchanged.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The primary origin, `scheme://host[:port]` without a trailing `/`.
    pub origin: String,
    /// The origin to try once if the primary could not be connected (the request never
    /// left), `scheme://host[:port]`; `None` when there is no backup.
    pub backup_origin: Option<String>,
    /// The total time allowed for the exchange, failover and body included.
    pub timeout: Duration,
    /// The request must go over mutual TLS: the connection presents the merchant API
    /// certificate (APIv2 `secapi/…`, red packets, transfers). The client sets it only when
    /// such a certificate is configured ([`Builder::merchant_api_certificate`]); without one
    /// it refuses the request before any transport sees it.
    ///
    /// [`Builder::merchant_api_certificate`]: crate::Builder::merchant_api_certificate
    pub mutual_tls: bool,
}

impl Route {
    /// A route to `origin` (`scheme://host[:port]`) with no backup.
    pub fn new(origin: impl Into<String>, timeout: Duration) -> Self {
        Self {
            origin: origin.into(),
            backup_origin: None,
            timeout,
            mutual_tls: false,
        }
    }

    /// The same route with a backup origin for connect failures.
    pub fn with_backup(mut self, backup_origin: impl Into<String>) -> Self {
        self.backup_origin = Some(backup_origin.into());
        self
    }

    /// The same route over mutual TLS ([`Route::mutual_tls`]).
    pub fn with_mutual_tls(mut self) -> Self {
        self.mutual_tls = true;
        self
    }
}

/// Moves a signed request to the server and the whole response back.
///
/// The default is a pooled hyper client (HTTP/1.1 keep-alive, HTTP/2 by ALPN, rustls with
/// embedded roots, proxy support). Install another with [`Builder::transport`] to route
/// requests through your own HTTP stack, a gateway, or an in-memory fake in tests.
///
/// Contract:
/// - send the request as given: the method, the URI's path and query and the body are signed
///   and must not change; keep the given headers (adding `Host` or `Content-Length` is fine);
/// - return the status, headers and the *complete* body bytes as received, in a
///   [`Response::new`], for any status (error statuses are not transport errors);
/// - report failures with [`Error::transport_with_source`], using
///   [`TransportKind::Connect`] only when the request certainly never left;
/// - the client verifies the response and enforces [`Route::timeout`] itself;
/// - when [`Route::mutual_tls`] is set, present the merchant API certificate (the one given
///   to [`Builder::merchant_api_certificate`], or your own copy of it) in the TLS handshake,
///   or refuse the request with an error: the platform refuses such requests without it.
///
/// Blocking calls ([`crate::blocking`], feature `blocking`) poll the transport on a shared
/// background runtime while the caller's thread waits; a transport whose connections are
/// driven by the caller's runtime would stall there, so tie connections to the runtime that
/// polls `send` (the default transport keeps one pool per side).
///
/// ```
/// use bytes::Bytes;
/// use http::{HeaderMap, StatusCode};
/// use wechatpay_chain::transport::{BoxFuture, Route, Transport};
/// use wechatpay_chain::{Error, Response, Result, TransportKind};
///
/// /// Refuses every request: a fake for testing offline behaviour.
/// #[derive(Debug)]
/// struct Offline;
///
/// impl Transport for Offline {
///     fn send<'a>(
///         &'a self,
///         request: http::Request<Bytes>,
///         route: &'a Route,
///     ) -> BoxFuture<'a, Result<Response>> {
///         let message = format!("offline: {} {}", request.method(), route.origin);
///         Box::pin(async move {
///             Err(Error::transport_with_source(
///                 TransportKind::Connect,
///                 message,
///                 std::io::Error::from(std::io::ErrorKind::NotConnected),
///             ))
///         })
///     }
/// }
/// ```
///
/// [`Builder::transport`]: crate::Builder::transport
/// [`Builder::merchant_api_certificate`]: crate::Builder::merchant_api_certificate
/// [`Error::transport_with_source`]: crate::Error::transport_with_source
/// [`TransportKind::Connect`]: crate::TransportKind::Connect
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends `request` (absolute URI on `route.origin`) and reads the whole response.
    fn send<'a>(
        &'a self,
        request: http::Request<Bytes>,
        route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>>;

    /// Sends `request` like [`send`](Self::send) but returns as soon as the response headers
    /// are in, with the body still to be read ([`Chain::download`](crate::Chain::download)).
    ///
    /// The default reads the whole response with [`send`](Self::send) and hands it over as
    /// one chunk, so every transport supports downloads (within its own body limit); the
    /// default hyper transport streams natively. The client bounds reaching the headers by
    /// [`Route::timeout`] and each chunk by the same duration (an idle timeout).
    fn send_streaming<'a>(
        &'a self,
        request: http::Request<Bytes>,
        route: &'a Route,
    ) -> BoxFuture<'a, Result<StreamingResponse>> {
        Box::pin(async move { self.send(request, route).await.map(StreamingResponse::from) })
    }
}
