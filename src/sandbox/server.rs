//! hyper plumbing: the accept loop, one HTTP/1.1-or-HTTP/2 connection per task, and the
//! request pipeline (read, record, fault, check, answer, sign).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::ALLOW;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::auth::{check_headers, verify_request};
use super::faults::Fault;
use super::flows::{self, Call};
use super::reply::{finish, unsigned, Reply, ReplyBody};
use super::{control, lock, RecordedRequest, State};
use crate::catalog;

/// The largest request body accepted.
const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;
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

/// Accepts connections until shutdown.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: watch::Receiver<bool>,
) {
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve(stream, peer, state.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::debug!(error = %e, "sandbox: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            () = stopped(&mut stop) => break,
        }
    }
}

/// Serves one connection (HTTP/1.1 or HTTP/2, detected from the preface).
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| handle(request, peer, state.clone()));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut deadline = None;
    loop {
        tokio::select! {
            _ = connection.as_mut() => break,
            () = stopped(&mut shutdown), if deadline.is_none() => {
                connection.as_mut().graceful_shutdown();
                deadline = Some(tokio::time::Instant::now() + GRACE);
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => break,
        }
    }
}

/// The request pipeline.
async fn handle(
    request: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<State>,
) -> Result<Response<ReplyBody>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Ok(unsigned(Reply::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PARAM_ERROR",
                format!("the request body exceeds {MAX_REQUEST_BODY} bytes"),
                None,
            )));
        }
        Err(_) => return Err(Dropped),
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.to_string(), |pq| pq.as_str().to_string());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));

    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        return Ok(unsigned(
            control::handle(&state, peer, &parts.method, path, &body).await,
        ));
    }

    lock(&state.requests).push(RecordedRequest {
        method: parts.method.clone(),
        target: target.clone(),
        version: parts.version,
        headers: parts.headers.clone(),
        body: body.clone(),
    });
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
        _ => answer(&state, &parts, &target, path, query, &body, now),
    };
    let request_serial = parts
        .headers
        .get("wechatpay-serial")
        .and_then(|v| v.to_str().ok());
    let request_id = format!("08{now:010X}{:012X}", state.next_id());
    Ok(finish(
        &state.keys,
        request_serial,
        &request_id,
        now,
        reply,
        fault.as_ref(),
    ))
}

/// What the platform answers: header checks, catalog, signature, then the endpoint.
fn answer(
    state: &Arc<State>,
    parts: &http::request::Parts,
    target: &str,
    path: &str,
    query: &str,
    body: &Bytes,
    now: i64,
) -> Reply {
    if let Err(reply) = check_headers(&parts.headers) {
        return reply;
    }
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
            return Reply::error(
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
            );
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
        return reply;
    };
    if let Err(reply) = verify_request(
        &state.keys,
        &state.nonces,
        now,
        &parts.method,
        target,
        &parts.headers,
        body,
    ) {
        return reply;
    }
    let call = Call {
        method: &parts.method,
        path,
        query,
        body,
        now,
    };
    flows::handle(state, endpoint, &call)
}
