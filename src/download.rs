//! Streaming downloads: [`Chain::download`] and the [`StreamingResponse`] it returns.
//!
//! A download is signed like any other request. What comes back is released as it arrives
//! only where nothing is to be verified: the unsigned download endpoints
//! ([`verifier::is_exempt`](crate::verifier::is_exempt), e.g. `/v3/billdownload/file`, whose
//! integrity the apply step's digest covers — see [`crate::bill`]). Any other answer is signed
//! over its whole body, so it is read (within the client's body limit), verified, and only
//! then released: nothing unverified ever reaches the caller (fail closed).
//!
//! Timeouts: the request's total timeout ([`Options::timeout`](crate::Options::timeout), else
//! the client's [`timeout`](crate::Builder::timeout)) bounds reaching the response headers,
//! and also reading a body that is read whole (an error answer, or a signed answer verified
//! before release). While a released body streams, each chunk must arrive within that same
//! duration (an idle timeout, restarted per chunk), so a download of any size can take as
//! long as it needs while a stalled one still fails with [`TransportKind::Timeout`].
//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> wechatpay_chain::Result<()> {
//! # let sandbox = wechatpay_chain::sandbox::Sandbox::builder().start().await?;
//! # let wxpay = sandbox.client()?;
//! # let apply: wechatpay_chain::Value = wxpay.v3().bill().tradebill()
//! #     .get(wechatpay_chain::json!({"query": {"bill_date": "2026-11-30"}})).await?.json()?;
//! # let download_url = apply["download_url"].as_str().unwrap();
//! # let path = std::env::temp_dir().join(format!("wechatpay-download-doc-{}.csv", std::process::id()));
//! // PHP: $instance->chain('{+download_url}')->get(['download_url' => $url, 'sink' => '/tmp/bill.csv']);
//! // JS:  const res = await wxpay.v3.billdownload.file.get({ params, responseType: 'stream' });
//! //      res.data.pipe(fs.createWriteStream('/tmp/bill.csv'));
//! let mut file = tokio::fs::File::create(&path).await.expect("create");
//! let mut download = wxpay.chain(download_url).download(()).await?;
//! let bytes = download.write_to(&mut file).await?;
//! assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
//! // For bills prefer wechatpay_chain::bill, which also checks the SHA-1 and gunzips.
//! # std::fs::remove_file(&path).unwrap();
//! # sandbox.shutdown();
//! # Ok(()) }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```
//!
//! [`Chain::download`]: crate::Chain::download

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use crate::client::{api_error, ClientInner};
use crate::error::{BoxError, Error, Result, TransportKind};
use crate::request::PreparedRequest;
use crate::response::Response;
use crate::verifier::{is_exempt, verify_response};

/// The most bytes of an error answer (status ≥ 400) read to build the [`ApiError`]; the rest
/// is not read.
///
/// [`ApiError`]: crate::ApiError
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A response whose body is read chunk by chunk: status and headers first, then the body via
/// [`chunk`](Self::chunk) or [`write_to`](Self::write_to), in constant memory.
///
/// Returned by [`Chain::download`](crate::Chain::download) only when the status is below 400
/// and the answer may be released: an unsigned download endpoint streams as it arrives, any
/// other answer was verified whole first (see the [module](crate::download) docs). `Debug`
/// shows status and headers, never body bytes.
pub struct StreamingResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: UnsyncBoxBody<Bytes, BoxError>,
    idle_timeout: Option<Duration>,
    received: u64,
    /// A chunk read ahead (to look at the start of an APIv2 bill) and given back first.
    peeked: Option<Bytes>,
}

impl StreamingResponse {
    /// A streaming response over any [`http_body::Body`](hyper::body::Body) of [`Bytes`] (for
    /// a custom [`Transport::send_streaming`](crate::transport::Transport::send_streaming)).
    pub fn new<B>(status: StatusCode, headers: HeaderMap, body: B) -> Self
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Self {
            status,
            headers,
            body: body.map_err(Into::into).boxed_unsync(),
            idle_timeout: None,
            received: 0,
            peeked: None,
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

    /// The body bytes read so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next chunk of the body, `None` at its end. A chunk that does not arrive within the
    /// idle timeout is [`TransportKind::Timeout`]; a broken connection is
    /// [`TransportKind::Io`] (the body is then incomplete: discard what was read).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        if let Some(peeked) = self.peeked.take() {
            return Ok(Some(peeked));
        }
        loop {
            let frame = match self.idle_timeout {
                Some(idle) => tokio::time::timeout(idle, self.body.frame())
                    .await
                    .map_err(|_| {
                        Error::transport(
                            TransportKind::Timeout,
                            format!(
                                "no bytes of the download for {idle:?} after {} bytes (idle timeout)",
                                self.received
                            ),
                        )
                    })?,
                None => self.body.frame().await,
            };
            let Some(frame) = frame else {
                return Ok(None);
            };
            let frame = frame.map_err(|e| {
                Error::transport_with_source(
                    TransportKind::Io,
                    format!(
                        "the download broke off after {} bytes; discard what was read",
                        self.received
                    ),
                    e,
                )
            })?;
            if let Ok(data) = frame.into_data() {
                if !data.is_empty() {
                    self.received += data.len() as u64;
                    return Ok(Some(data));
                }
            }
        }
    }

    /// Writes the rest of the body to `writer` (flushed at the end); returns the bytes written.
    /// On error the output is incomplete: discard it. A failure of `writer` itself is
    /// [`TransportKind::Output`]; one of the connection, [`TransportKind::Io`].
    pub async fn write_to<W>(&mut self, writer: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut written = 0u64;
        while let Some(chunk) = self.chunk().await? {
            writer.write_all(&chunk).await.map_err(output_error)?;
            written += chunk.len() as u64;
        }
        writer.flush().await.map_err(output_error)?;
        Ok(written)
    }

    /// Reads the rest of the body into a [`Response`], failing with
    /// [`TransportKind::BodyTooLarge`] beyond `limit` bytes.
    pub async fn into_response(mut self, limit: usize) -> Result<Response> {
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(Error::transport(
                    TransportKind::BodyTooLarge,
                    format!("more than {limit} bytes of a response that must be read whole to be verified; raise body_limit"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response::new(self.status, self.headers, Bytes::from(body)))
    }

    /// The first `limit` bytes of the body (the rest is not read): for error answers.
    async fn into_head(mut self, limit: usize) -> Result<Response> {
        let mut body = Vec::new();
        while body.len() < limit {
            let Some(chunk) = self.chunk().await? else {
                break;
            };
            let take = chunk.len().min(limit - body.len());
            body.extend_from_slice(&chunk[..take]);
        }
        Ok(Response::new(self.status, self.headers, Bytes::from(body)))
    }

    pub(crate) fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }
}

impl From<Response> for StreamingResponse {
    /// The whole body as one chunk (what the default [`Transport::send_streaming`] gives).
    ///
    /// [`Transport::send_streaming`]: crate::transport::Transport::send_streaming
    fn from(response: Response) -> Self {
        let (status, headers, body) = response.into_parts();
        Self::new(status, headers, http_body_util::Full::new(body))
    }
}

impl fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

/// A failure writing to the caller's output.
pub(crate) fn output_error(e: std::io::Error) -> Error {
    Error::transport_with_source(
        TransportKind::Output,
        "writing the download to the output failed; discard the output",
        e,
    )
}

/// Sends a prepared request and returns its answer as a stream, released per the module's
/// rules: error statuses become API errors, unsigned download endpoints stream, everything
/// else is verified whole first.
pub(crate) async fn execute(
    client: Arc<ClientInner>,
    request: PreparedRequest,
) -> Result<StreamingResponse> {
    let span = tracing::info_span!(
        "wechatpay.download",
        method = %request.method,
        template = %request.template,
    );
    async move {
        let total = client.total_timeout(&request);
        let deadline = tokio::time::Instant::now() + total;
        let route = client.route(&request)?;
        let http_request = request.to_http(request.uri()?);
        let response = tokio::time::timeout_at(
            deadline,
            client.transport.send_streaming(http_request, &route),
        )
        .await
        .map_err(|_| {
            Error::transport(
                TransportKind::Timeout,
                format!("no response headers within {total:?}"),
            )
        })??
        .with_idle_timeout(total);
        let status = response.status().as_u16();
        // A body read whole (an error answer, or one to verify) is bounded by the total
        // timeout like any request's, not only per chunk: a server dribbling a byte at a time
        // cannot hold the call open past it.
        let whole_in_time = |what: &'static str| {
            move |_| {
                Error::transport(
                    TransportKind::Timeout,
                    format!("the {what} was not read whole within {total:?}"),
                )
            }
        };
        if status >= 400 {
            let head = tokio::time::timeout_at(deadline, response.into_head(ERROR_BODY_LIMIT))
                .await
                .map_err(whole_in_time("error answer"))??;
            return Err(api_error(&request, head));
        }
        if let Some(expect) = crate::response_v2::Expect::of(&request) {
            return v2_release(&client, response, expect, deadline, total).await;
        }
        if request.skip_verification || is_exempt(request.path()) {
            return Ok(response);
        }
        let whole =
            tokio::time::timeout_at(deadline, response.into_response(client.body_limit))
                .await
                .map_err(whole_in_time("answer to verify"))??;
        let verified = match verify_response(
            status,
            request.path(),
            whole.headers(),
            whole.bytes(),
            client.clock.now(),
            &client.keys,
        ) {
            // A rotated platform certificate: download the certificates once, verify again.
            // The refresh (or the wait for one in flight) gets what is left of the timeout.
            Err(e @ crate::error::VerifyError::UnknownSerial { .. }) => {
                let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
                let recover = crate::certificates::recover_unknown_serial(
                    &client,
                    request.path(),
                    &whole,
                    e.clone(),
                );
                tokio::time::timeout(remaining, recover)
                    .await
                    .unwrap_or(Err(e))
            }
            other => other,
        };
        if let Err(e) = verified {
            tracing::warn!(template = %request.template, status, error = %e, "download verification failed");
            return Err(Error::from(e).with_response(whole));
        }
        Ok(StreamingResponse::from(whole).with_idle_timeout(total))
    }
    .instrument(span)
    .await
}

/// Releases an APIv2 answer: an unsigned endpoint's (a bill: CSV or gzip) streams, unless it
/// starts like XML, which is its failure answer: that one is read whole and checked. Any other
/// APIv2 answer is read whole and checked (codes and sign) before release.
async fn v2_release(
    client: &ClientInner,
    mut response: StreamingResponse,
    expect: crate::response_v2::Expect,
    deadline: tokio::time::Instant,
    total: Duration,
) -> Result<StreamingResponse> {
    if expect.unsigned {
        let first = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .map_err(|_| {
                Error::transport(
                    TransportKind::Timeout,
                    format!("no bytes of the download within {total:?}"),
                )
            })??;
        let Some(first) = first else {
            return Ok(response);
        };
        let xml = crate::response_v2::looks_like_xml(&first);
        response.peeked = Some(first);
        if !xml {
            return Ok(response);
        }
    }
    let whole = tokio::time::timeout_at(deadline, response.into_response(client.body_limit))
        .await
        .map_err(|_| {
            Error::transport(
                TransportKind::Timeout,
                format!("the APIv2 answer was not read whole within {total:?}"),
            )
        })??;
    let checked = crate::response_v2::check(whole, client.apiv2_key.as_ref(), expect)?;
    Ok(StreamingResponse::from(checked).with_idle_timeout(total))
}
