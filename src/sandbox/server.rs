//! hyper plumbing: the accept loop, one HTTP/1.1-or-HTTP/2 connection per task, and the
//! request pipeline (read, record, fault, check, answer, sign).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::ALLOW;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::auth::{authenticate, check_headers, check_replay, Signed};
use super::conn::{Busy, Entry, Tracked};
use super::faults::Fault;
use super::flows::{self, Call};
use super::media;
use super::reply::{finish, unsigned, Reply, ReplyBody};
use super::tls::ClientCertificate;
use super::{apiv2, control, lock, RecordedRequest, State};
use crate::catalog;

/// The largest request body accepted.
pub(crate) const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;
/// The largest body of a control request (`/_sandbox/…`: small JSON).
const MAX_CONTROL_BODY: usize = 1024 * 1024;
/// How long open connections get to finish after shutdown.
const GRACE: Duration = Duration::from_secs(2);

/// The connection is closed without an answer ([`Fault::Drop`], or the client went away).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sandbox: connection dropped")
    }
}

impl std::error::Error for Dropped {}

/// Resolves once shutdown is signalled (or the handle's state is gone).
async fn stopped(signal: &mut watch::Receiver<bool>) {
    let _ = signal.wait_for(|stop| *stop).await;
}

/// Accepts connections until shutdown, within the connection cap.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: watch::Receiver<bool>,
) {
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match state.conns.admit() {
                    Some(entry) => {
                        tokio::spawn(serve(stream, peer, entry, state.clone(), shutdown.clone()));
                    }
                    // Every connection is busy with a request: refuse this one (closed).
                    None => drop(stream),
                },
                Err(e) => {
                    // Out of file descriptors and the like: make room, and back off instead
                    // of spinning.
                    tracing::debug!(error = %e, "sandbox: accept failed");
                    state.conns.evict_one();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            () = stopped(&mut stop) => break,
        }
    }
}

/// Serves one connection (in TLS mode after the handshake, which the header-read timeout
/// bounds) until it ends, times out or is evicted ([`super::conn`]).
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    entry: Entry,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let Some(tls) = &state.tls else {
        let stream = entry.track(stream);
        return serve_http(stream, (peer, None), entry, state, shutdown).await;
    };
    let accepted = tokio::select! {
        accepted = tls.accept(stream) => accepted.ok(),
        () = entry.expired() => None,
        () = stopped(&mut shutdown) => None,
    };
    // A failed handshake (no common protocol, a client certificate the CA did not sign):
    // rustls has sent its alert; nothing to serve.
    let Some((stream, client)) = accepted else {
        return;
    };
    let stream = entry.track(stream);
    serve_http(stream, (peer, client), entry, state, shutdown).await;
}

/// Serves HTTP/1.1 or HTTP/2 (detected from the preface) on `stream` until it ends, times
/// out or is evicted. `client` is the certificate the TLS client presented.
async fn serve_http<S>(
    stream: Tracked<S>,
    (peer, client): (SocketAddr, Option<Arc<ClientCertificate>>),
    entry: Entry,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let marker = entry.marker();
    let service = service_fn(move |request| {
        let busy = marker.busy();
        handle(request, (peer, client.clone()), state.clone(), busy)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The header-read timeout is ours (`conn`): hyper's would also cut keep-alive waits.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None);
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut deadline = None;
    loop {
        tokio::select! {
            _ = connection.as_mut() => break,
            () = entry.expired(), if deadline.is_none() => break,
            () = stopped(&mut shutdown), if deadline.is_none() => {
                connection.as_mut().graceful_shutdown();
                deadline = Some(tokio::time::Instant::now() + GRACE);
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => break,
        }
    }
}

/// Why a request body was not read.
#[derive(Debug)]
enum BodyError {
    /// Larger than the limit.
    TooLarge(usize),
    /// The bytes being read by all requests would exceed the budget.
    Busy(usize),
    /// Not complete within the idle timeout.
    Slow,
    /// The connection failed.
    Broken,
}

/// A request body, and its share of the in-flight byte budget (held while it is handled).
type ReadBody = (Bytes, Option<OwnedSemaphorePermit>);

/// Reads a body of at most `limit` bytes within `deadline`, taking its bytes from the
/// in-flight `budget` as they come (all at once for a declared `Content-Length`).
async fn read_body(
    mut body: Incoming,
    limit: usize,
    budget: &Arc<Semaphore>,
    deadline: Duration,
) -> Result<ReadBody, BodyError> {
    let declared = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    if declared > limit {
        return Err(BodyError::TooLarge(limit));
    }
    let mut permit: Option<OwnedSemaphorePermit> = None;
    let reserve = |permit: &mut Option<OwnedSemaphorePermit>, total: usize| {
        let held = permit.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
        if total <= held {
            return Ok(());
        }
        let more = u32::try_from(total - held).map_err(|_| BodyError::TooLarge(limit))?;
        let extra = budget
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| BodyError::Busy(budget.available_permits()))?;
        match permit {
            Some(p) => p.merge(extra),
            None => *permit = Some(extra),
        }
        Ok(())
    };
    reserve(&mut permit, declared)?;
    let mut bytes = Vec::with_capacity(declared);
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyError::Broken)?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let total = bytes.len() + data.len();
            if total > limit {
                return Err(BodyError::TooLarge(limit));
            }
            reserve(&mut permit, total)?;
            bytes.extend_from_slice(&data);
        }
        Ok(())
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(Ok(())) => Ok((Bytes::from(bytes), permit)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(BodyError::Slow),
    }
}

/// Serves one request; the connection stays busy until its answer is written.
async fn handle(
    request: Request<Incoming>,
    peer: (SocketAddr, Option<Arc<ClientCertificate>>),
    state: Arc<State>,
    busy: Busy,
) -> Result<Response<ReplyBody>, Dropped> {
    let mut response = pipeline(request, peer, state).await?;
    response.body_mut().hold(busy);
    Ok(response)
}

/// The request pipeline: read the body (bounded), authenticate, record, fault, answer, sign.
async fn pipeline(
    request: Request<Incoming>,
    (peer, client): (SocketAddr, Option<Arc<ClientCertificate>>),
    state: Arc<State>,
) -> Result<Response<ReplyBody>, Dropped> {
    let (parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.to_string(), |pq| pq.as_str().to_string());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let control = path == "/_sandbox" || path.starts_with("/_sandbox/");
    let limit = if control {
        MAX_CONTROL_BODY
    } else {
        MAX_REQUEST_BODY
    };
    let idle = state.limits.idle_timeout;
    let (body, permit) = match read_body(body, limit, &state.body_budget, idle).await {
        Ok(read) => read,
        Err(BodyError::TooLarge(limit)) => {
            return Ok(unsigned(Reply::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PARAM_ERROR",
                format!("the request body exceeds {limit} bytes"),
                None,
            )));
        }
        Err(BodyError::Busy(available)) => {
            return Ok(unsigned(Reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SYSTEM_ERROR",
                format!(
                    "the sandbox is reading too many request bodies at once ({available} of {} bytes free); retry later",
                    state.limits.body_bytes_in_flight
                ),
                None,
            )));
        }
        Err(BodyError::Slow) => {
            return Ok(unsigned(Reply::error(
                StatusCode::REQUEST_TIMEOUT,
                "PARAM_ERROR",
                format!(
                    "the request body did not arrive within {} s",
                    idle.as_secs_f64()
                ),
                None,
            )));
        }
        Err(BodyError::Broken) => return Err(Dropped),
    };

    if control {
        return Ok(control::handle(&state, peer, &parts.method, path, query, &body).await);
    }
    // No APIv2 path starts with /v3/: those skip the catalog scan (bench mode included).
    let v2 = (!path.starts_with("/v3/"))
        .then(|| apiv2::endpoint(&parts.method, path))
        .flatten();
    if let Some(endpoint) = v2 {
        let request = apiv2::Request {
            parts: &parts,
            target: &target,
            path,
            query,
            body: &body,
            client_certificate: client.as_deref(),
        };
        let response = apiv2::serve(&state, endpoint, request).await.ok_or(Dropped);
        drop(permit);
        return response;
    }

    // A media upload is signed over its `meta` part, not the whole multipart.
    let upload = media::parse(&parts.headers, &body).await;
    let signed = authenticate(
        &state.keys,
        super::now(),
        &parts.method,
        &target,
        &parts.headers,
        media::signed_bytes(upload.as_ref(), &body),
    );
    if let Some(bench) = &state.bench {
        return Ok(bench_answer(bench, &state, &parts, path, signed));
    }
    let authenticated = signed.is_ok();
    lock(&state.requests).push(RecordedRequest::received(
        &parts,
        &target,
        &body,
        authenticated,
        client.is_some(),
    ));
    let fault = state.next_fault();
    match &fault {
        Some(Fault::Drop) => return Err(Dropped),
        Some(Fault::Delay(delay)) => tokio::time::sleep(*delay).await,
        _ => {}
    }

    let now = super::now();
    let reply = match &fault {
        Some(Fault::Status(status)) => Reply::for_status(*status),
        Some(Fault::Accepted) => Reply::empty(StatusCode::ACCEPTED),
        _ => answer(
            &state,
            &parts,
            &target,
            path,
            query,
            &body,
            upload.as_ref(),
            signed,
            now,
        ),
    };
    drop(permit);
    let request_serial = parts
        .headers
        .get("wechatpay-serial")
        .and_then(|v| v.to_str().ok());
    let request_id = format!("08{now:010X}{:012X}", state.next_id());
    let (key_id, key) = state.certs.response_key(&state.keys, request_serial, path);
    Ok(finish(
        (&key_id, &key),
        &request_id,
        now,
        reply,
        fault.as_ref(),
    ))
}

/// Bench mode: the same checks as [`answer`] but the nonce (nothing is remembered), then the
/// fixed body with the signature of this second; a refused request gets its signed error.
fn bench_answer(
    bench: &super::bench::Cache,
    state: &State,
    parts: &http::request::Parts,
    path: &str,
    signed: Result<Signed, Reply>,
) -> Response<ReplyBody> {
    let now = super::now();
    let request_serial = parts
        .headers
        .get("wechatpay-serial")
        .and_then(|v| v.to_str().ok());
    let (key_id, key) = state.certs.response_key(&state.keys, request_serial, path);
    let refused = match (route(parts, path), signed) {
        (Err(reply), _) | (Ok(_), Err(reply)) => reply,
        (Ok(_), Ok(_)) => match bench.answer((&key_id, &key), now) {
            Some(response) => return response,
            None => Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SYSTEM_ERROR",
                "sandbox: signing failed",
                None,
            ),
        },
    };
    let request_id = format!("08{now:010X}{:012X}", state.next_id());
    finish((&key_id, &key), &request_id, now, refused, None)
}

/// The platform's first checks: `Accept` and `User-Agent`, then the catalog (`404` for an
/// unknown path, `405` with `Allow` for a known path with another verb).
fn route(parts: &http::request::Parts, path: &str) -> Result<&'static catalog::Endpoint, Reply> {
    check_headers(&parts.headers)?;
    let mut allowed: Vec<&str> = Vec::new();
    let mut endpoint = None;
    for candidate in catalog::find(path) {
        if candidate.method == parts.method.as_str() {
            endpoint = Some(candidate);
            break;
        }
        if !allowed.contains(&candidate.method) {
            allowed.push(candidate.method);
        }
    }
    let Some(endpoint) = endpoint else {
        if allowed.is_empty() {
            return Err(Reply::error(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_EXISTS",
                format!(
                    "no WeChat Pay APIv3 endpoint at {path}; nearest catalog endpoints: {}",
                    catalog::nearest_wire(parts.method.as_str(), path, 3)
                        .iter()
                        .map(|e| format!("{} {}", e.method, e.path))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
            ));
        }
        let mut reply = Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "INVALID_REQUEST",
            format!(
                "{} is not allowed on {path}; use {}",
                parts.method,
                allowed.join(" or ")
            ),
            None,
        );
        if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
            reply.headers.push((ALLOW, value));
        }
        return Err(reply);
    };
    Ok(endpoint)
}

/// What the platform answers: header checks, catalog, signature, then the endpoint.
/// `upload` is the multipart body parsed, when the request is `multipart/form-data`.
#[allow(clippy::too_many_arguments)] // the request's parts, as the pipeline split them
fn answer(
    state: &Arc<State>,
    parts: &http::request::Parts,
    target: &str,
    path: &str,
    query: &str,
    body: &Bytes,
    upload: Option<&media::Parsed>,
    signed: Result<Signed, Reply>,
    now: i64,
) -> Reply {
    let endpoint = match route(parts, path) {
        Ok(endpoint) => endpoint,
        Err(reply) => return reply,
    };
    let signed = match signed {
        Ok(signed) => signed,
        Err(reply) => return reply,
    };
    if let Err(reply) = check_replay(
        &state.nonces,
        &signed,
        now,
        &parts.method,
        target,
        media::signed_bytes(upload, body),
    ) {
        return reply;
    }
    let call = Call {
        method: &parts.method,
        path,
        query,
        body,
        now,
        upload,
        headers: &parts.headers,
    };
    flows::handle(state, endpoint, &call)
}
