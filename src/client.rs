//! The client: configuration, keys and the transport behind a cheap `Clone`.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use http::{HeaderValue, Method};
use tracing::Instrument;

use crate::catalog;
use crate::chain::redact_userinfo;
use crate::chain::{Chain, Node};
use crate::download::StreamingResponse;
use crate::error::{ApiError, ConfigError, Error, ErrorKind, Result, TransportKind, VerifyError};
use crate::keys::{Certificate, KeyStore, PrivateKey, PublicKey};
use crate::options::Options;
use crate::request::{BaseUri, PreparedRequest, DEFAULT_BASE_URI};
use crate::response::Response;
use crate::signer::{
    Clock, NonceSource, RandomNonce, SharedClock, SharedNonceSource, Sign, SigningParams,
    SystemClock,
};
use crate::transport::tls::{self, MerchantIdentity};
use crate::transport::{redact_proxy, HyperTransport, Route, Transport, TransportConfig};
use crate::v2::sign::ApiV2Key;
use crate::verifier::verify_response;

/// The 32-byte APIv3 key (notifications, certificate download). Never printed.
#[derive(Clone)]
pub struct ApiV3Key([u8; 32]);

impl ApiV3Key {
    /// Checks the length: the APIv3 key is exactly 32 bytes.
    pub fn new(key: impl AsRef<[u8]>) -> Result<Self> {
        let bytes: [u8; 32] = key
            .as_ref()
            .try_into()
            .map_err(|_| ConfigError::ApiV3KeyLength(key.as_ref().len()))?;
        Ok(Self(bytes))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(..)")
    }
}

/// `User-Agent` of every request, built once.
pub(crate) static USER_AGENT: LazyLock<HeaderValue> = LazyLock::new(|| {
    let agent = format!(
        "wechatpay-chain/{} ({}; {}) Rust",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    // Always ASCII; the fallback only keeps this free of panics.
    HeaderValue::from_str(&agent).unwrap_or_else(|_| HeaderValue::from_static("wechatpay-chain"))
});

pub(crate) struct ClientInner {
    pub(crate) mchid: String,
    pub(crate) serial: String,
    pub(crate) signer: Arc<dyn Sign>,
    pub(crate) keys: Arc<KeyStore>,
    pub(crate) clock: SharedClock,
    pub(crate) nonce: SharedNonceSource,
    pub(crate) base: BaseUri,
    pub(crate) backup: Option<BaseUri>,
    pub(crate) allow_insecure_http: bool,
    pub(crate) apiv3_key: Option<ApiV3Key>,
    /// The APIv2 key: signs `v2/…` chains and checks their answers.
    pub(crate) apiv2_key: Option<ApiV2Key>,
    pub(crate) transport: Arc<dyn Transport>,
    /// The total time per request unless the request sets its own.
    pub(crate) timeout: Duration,
    pub(crate) get_retries: u32,
    /// Platform certificate refresh on an unknown serial (single flight).
    pub(crate) refresher: crate::certificates::Refresher,
    /// The most bytes of a signed answer read whole to verify it (streaming downloads).
    pub(crate) body_limit: usize,
    /// The background certificate refresh, aborted when the client is dropped.
    pub(crate) background: std::sync::OnceLock<crate::certificates::BackgroundRefresh>,
    /// Signatures made on the blocking pool at once: one per CPU (see [`sign_off_reactor`]).
    pub(crate) signing_slots: Arc<tokio::sync::Semaphore>,
    /// A merchant API certificate is configured ([`Builder::merchant_api_certificate`]):
    /// requests may go over mutual TLS ([`Route::mutual_tls`]).
    pub(crate) mutual_tls: bool,
}

impl ClientInner {
    /// Whether APIv3 credentials (serial and private key) are configured: an APIv2-only
    /// client has an empty serial.
    pub(crate) fn has_v3_credentials(&self) -> bool {
        !self.serial.is_empty()
    }

    /// The signing inputs: this client's identity and signer, at `timestamp` with `nonce`.
    pub(crate) fn signing_params<'a>(
        &'a self,
        timestamp: i64,
        nonce: &'a str,
    ) -> SigningParams<'a> {
        SigningParams::new(&self.mchid, &self.serial, &*self.signer, timestamp, nonce)
    }

    /// The total timeout of `request`: its `timeout` option, else the client's.
    pub(crate) fn total_timeout(&self, request: &PreparedRequest) -> Duration {
        request.timeout.unwrap_or(self.timeout)
    }

    /// Where `request` goes and how long it may take. A request that needs mutual TLS while
    /// no merchant API certificate is configured is refused here, before it is sent.
    pub(crate) fn route(&self, request: &PreparedRequest) -> Result<Route> {
        let mut route = Route::new(request.origin.clone(), self.total_timeout(request));
        if let Some(backup) = &request.backup_origin {
            route = route.with_backup(backup.clone());
        }
        if request.mutual_tls {
            if !self.mutual_tls {
                return Err(ConfigError::MissingMerchantCertificate(format!(
                    "{} {}",
                    request.method,
                    request.path()
                ))
                .into());
            }
            route = route.with_mutual_tls();
        }
        Ok(route)
    }
}

/// A WeChat Pay APIv3 client. `Clone + Send + Sync`, cheap to clone; clones share connections.
///
/// ```
/// # fn main() -> wechatpay_chain::Result<()> {
/// use wechatpay_chain::{PrivateKey, PublicKey, Wechatpay};
/// # let path = |name: &str| format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
///
/// let wxpay = Wechatpay::builder()
///     .mchid("1900000109")
///     .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
///     .private_key(PrivateKey::from_pem_file(path("apiclient_key.pem"))?)
///     .public_key("PUB_KEY_ID_0119000001092025112200000000000001", PublicKey::from_pem_file(path("pub_key.pem"))?)
///     .build()?;
/// let clone = wxpay.clone(); // cheap: clones share the keys and the connection pool
/// assert_eq!(clone.mchid(), "1900000109");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Wechatpay {
    inner: Arc<ClientInner>,
    root: Arc<Node>,
}

impl Wechatpay {
    /// Starts a configuration.
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn from_inner(inner: Arc<ClientInner>) -> Self {
        Self {
            inner,
            root: Node::root(),
        }
    }

    pub(crate) fn inner(&self) -> &Arc<ClientInner> {
        &self.inner
    }

    /// The platform certificate downloader: download, verify and load the platform
    /// certificates (see [`crate::certificates`]).
    pub fn platform_certificates(&self) -> crate::certificates::PlatformCertificates {
        crate::certificates::PlatformCertificates::new(self.clone())
    }

    pub(crate) fn root(&self) -> Chain {
        Chain::new(self.inner.clone(), self.root.clone())
    }

    pub(crate) fn root_node(&self) -> &Node {
        &self.root
    }

    /// Starts a chain with one segment given by name (normalized). See [`Chain::seg`].
    pub fn seg(&self, name: &str) -> Chain {
        self.root().seg(name)
    }

    /// Starts a chain with a literal segment, kept verbatim. See [`Chain::raw`].
    pub fn raw(&self, value: &str) -> Chain {
        self.root().raw(value)
    }

    /// Starts a chain from a path (`"v3/pay/transactions/{transaction_id}"`) or an absolute
    /// URL. See [`Chain::chain`].
    pub fn chain(&self, path: &str) -> Chain {
        self.root().chain(path)
    }

    /// The merchant id.
    pub fn mchid(&self) -> &str {
        &self.inner.mchid
    }

    /// The shared platform key store; insert keys into it while the client runs.
    pub fn key_store(&self) -> &Arc<KeyStore> {
        &self.inner.keys
    }

    /// The APIv3 key, if configured.
    pub fn apiv3_key(&self) -> Option<&ApiV3Key> {
        self.inner.apiv3_key.as_ref()
    }

    /// The APIv2 key, if configured (it signs `v2/…` chains).
    pub fn apiv2_key(&self) -> Option<&ApiV2Key> {
        self.inner.apiv2_key.as_ref()
    }

    /// The client's clock (Unix seconds).
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// Verifies and decrypts a notification (callback) from its headers and raw body bytes,
    /// with this client's platform keys, APIv3 key and clock: see
    /// [`notification`](crate::notification). Fails with [`ConfigError::MissingApiV3Key`] when
    /// no APIv3 key is configured.
    pub async fn notification(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<crate::notification::Notification> {
        let key = self
            .apiv3_key()
            .ok_or(ConfigError::MissingApiV3Key("open notifications"))?;
        let opened = crate::notification::open(headers, body, &self.inner.keys, key, self.now());
        // A notification signed by a platform certificate the client has not seen yet (a
        // rotation): download the certificates once (shared with concurrent misses), open again.
        let serial = match opened.as_ref().map_err(Error::kind) {
            Err(ErrorKind::Verify(VerifyError::UnknownSerial { serial, .. })) => serial.clone(),
            _ => return opened,
        };
        if crate::certificates::refresh_for_serial(&self.inner, &serial).await {
            return crate::notification::open(headers, body, &self.inner.keys, key, self.now());
        }
        opened
    }

    /// Sends a prepared request, then verifies the response (fail closed).
    pub fn execute(
        &self,
        request: PreparedRequest,
    ) -> impl Future<Output = Result<Response>> + Send + 'static {
        let client = self.inner.clone();
        // The total timeout runs from the first poll, as for the verbs.
        async move { execute(client, request, tokio::time::Instant::now()).await }
    }

    /// Sends a prepared request and returns its answer as a [`StreamingResponse`], released
    /// by the rules of [`Chain::download`]: an error status is an API error, an unsigned
    /// download endpoint (a bill's `download_url`) streams, anything else is verified whole
    /// first. What was prepared (and possibly shown, as by a dry run) is exactly what is sent.
    ///
    /// ```
    /// # #[cfg(feature = "sandbox")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let sandbox = wechatpay_chain::sandbox::Sandbox::builder().start().await?;
    /// # let wxpay = sandbox.client()?;
    /// use wechatpay_chain::{Method, Options};
    ///
    /// let apply = wxpay
    ///     .chain("v3/bill/tradebill")
    ///     .get(Options::new().query("bill_date", "2026-11-30"))
    ///     .await?
    ///     .json::<wechatpay_chain::Value>()?;
    /// let url = apply["download_url"].as_str().expect("a download_url");
    /// let prepared = wxpay.chain(url).prepare(Method::GET, ())?;
    /// let mut download = wxpay.execute_streaming(prepared).await?;
    /// let mut bill = Vec::new();
    /// download.write_to(&mut bill).await?;
    /// assert!(!bill.is_empty());
    /// # Ok(()) }
    /// # #[cfg(not(feature = "sandbox"))]
    /// # fn main() {}
    /// ```
    pub fn execute_streaming(
        &self,
        request: PreparedRequest,
    ) -> impl Future<Output = Result<StreamingResponse>> + Send + 'static {
        crate::download::execute(self.inner.clone(), request)
    }
}

/// Prepares `method` on `chain` with `options`, then [`execute`]s it: what every verb does.
pub(crate) fn request(
    chain: &Chain,
    method: Method,
    options: impl Into<Options>,
) -> impl Future<Output = Result<Response>> + Send + 'static {
    let unsigned = crate::request::prepare_unsigned(chain, method, options.into());
    let client = chain.client.clone();
    async move {
        let (request, now) = unsigned?;
        // The total timeout runs from here: a signer that may block spends part of it.
        let started = tokio::time::Instant::now();
        let request = sign_off_reactor(&client, request, now).await?;
        execute(client, request, started).await
    }
}

/// Signs `request`: inline for a signer that says it does not block (the in-memory
/// [`PrivateKey`](crate::PrivateKey)), on tokio's blocking pool for one that may
/// ([`Sign::may_block`]: a remote signer, an HSM), one call per CPU at a time.
///
/// Measured in release with `benches/load` (20,000 signed, verified POSTs at concurrency 64,
/// ring, 2 cores): signing on the blocking pool cost ≈ 230 µs more client CPU per request
/// than inline (965 µs against ≈ 740 µs of sign + verify: the thread hop and its wake-ups),
/// and gave fewer requests/s (1,454 against 1,589). A 0.4–0.9 ms signature inline delays the
/// runtime's other tasks by at most that much, which the throughput pays for. The debug-build
/// experiment `tests/hot_path.rs` (`signing_placement_experiment`, ≈ 3 ms signatures) showed
/// the other side: there the hop gave better throughput and timer lateness, which is the
/// case of a signer that really blocks. Unbounded, the hop put up to one thread per request
/// in flight on the pool (client memory grew ~10 MB over `tests/load.rs`): hence the bound.
/// Verification (≈ 25 µs) stays inline, and so does the re-signing of a retried GET.
///
/// Off the reactor, the wait for a slot and the signature count against the request's total
/// timeout (a `Timeout` transport error when they outlast it, nothing sent), and the
/// signature's timestamp is taken when its slot is free, not when the request was prepared.
async fn sign_off_reactor(
    client: &Arc<ClientInner>,
    mut request: PreparedRequest,
    now: i64,
) -> Result<PreparedRequest> {
    let runtime = match tokio::runtime::Handle::try_current() {
        // An APIv2 request was signed (with the APIv2 key) when it was prepared.
        Ok(runtime) if client.signer.may_block() && !request.is_apiv2() => runtime,
        _ => {
            request.sign(client, now)?;
            return Ok(request);
        }
    };
    let total = client.total_timeout(&request);
    let client = client.clone();
    let signing = async move {
        // One signature per CPU at a time: without the bound, 256 requests in flight put up
        // to 256 threads on the blocking pool (each with its stack and malloc arena: the
        // client's memory grew ~10 MB over 20,000 requests in tests/load.rs) for no extra
        // throughput.
        let slot = client
            .signing_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::signing)?;
        let signing = runtime.spawn_blocking(move || {
            let signed = request.sign(&client, client.clock.now()).map(|()| request);
            drop(slot);
            signed
        });
        match signing.await {
            Ok(signed) => signed,
            // A panicking signer panics the caller, as it would have inline.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::signing(e)),
        }
    };
    // On timeout the signature may still finish on its thread; its request is dropped unsent.
    tokio::time::timeout(total, signing)
        .await
        .unwrap_or_else(|_| {
            Err(Error::transport(
                TransportKind::Timeout,
                format!("the signer did not sign within the total timeout of {total:?}"),
            ))
        })
}

// The generated roots of the typed tree (`v3()`, `v2()`), after the methods above so that the
// client's doc page leads with them.
include!(concat!(env!("OUT_DIR"), "/roots.rs"));

/// Sends a prepared request, then verifies the response (fail closed); the total timeout runs
/// from `timeout_from`.
async fn execute(
    client: Arc<ClientInner>,
    request: PreparedRequest,
    timeout_from: tokio::time::Instant,
) -> Result<Response> {
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
        let result = exchange_and_verify(&client, request, timeout_from).await;
        let span = tracing::Span::current();
        span.record(
            "elapsed_ms",
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
        let response = match &result {
            Ok(response) => Some(response),
            Err(e) => e.response(),
        };
        if let Some(response) = response {
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

/// Sends (retrying a GET when the client allows it), then checks the status and verifies.
///
/// The whole call — every attempt and every wait between them — fits inside the request's
/// total timeout (its `timeout` option, else the client's): each attempt gets only what is left
/// of it, and a retry whose wait would not leave time for another attempt is not made; the last
/// answer is returned as it is (an API error for 429/5xx).
async fn exchange_and_verify(
    client: &Arc<ClientInner>,
    mut request: PreparedRequest,
    timeout_from: tokio::time::Instant,
) -> Result<Response> {
    let total = client.total_timeout(&request);
    let deadline = timeout_from + total;
    let mut route = client.route(&request)?;
    // Parsed once: a retry re-signs the same target, only the headers change.
    let uri = request.uri()?;
    let mut retried = 0;
    let response = loop {
        if retried > 0 {
            // What is left of the total; the first attempt has all of it (the deadline below
            // still ends it in time when a signer that may block spent part of the total).
            route.timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
        }
        let http_request = request.to_http(uri.clone());
        let response = send(&*client.transport, http_request, &route, deadline, total).await?;
        let Some(delay) = retry_delay(client, &request, &response, retried) else {
            break response;
        };
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !fits(delay, remaining) {
            tracing::info!(template = %request.template, status = response.status().as_u16(), ?delay, ?remaining, "not retrying GET: the wait does not fit in the total timeout");
            break response;
        }
        tracing::info!(template = %request.template, status = response.status().as_u16(), ?delay, "retrying GET");
        tokio::time::sleep(delay).await;
        retried += 1;
        // A fresh timestamp and nonce: the platform refuses a replayed nonce.
        request.sign(client, client.clock.now())?;
    };
    let status = response.status().as_u16();
    if status >= 400 {
        return Err(api_error(&request, response));
    }
    if let Some(expect) = crate::response_v2::Expect::of(&request) {
        return crate::response_v2::check(response, client.apiv2_key.as_ref(), expect)
            .map_err(|e| {
                tracing::warn!(template = %request.template, status, error = %e, "APIv2 answer refused");
                e
            });
    }
    if !request.skip_verification {
        let verified = match verify_response(
            status,
            request.path(),
            response.headers(),
            response.bytes(),
            client.clock.now(),
            &client.keys,
        ) {
            Err(e @ VerifyError::UnknownSerial { .. }) => {
                // The refresh (or the wait for one in flight) gets what is left of the total.
                let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
                let recover = crate::certificates::recover_unknown_serial(
                    client,
                    request.path(),
                    &response,
                    e.clone(),
                );
                tokio::time::timeout(remaining, recover)
                    .await
                    .unwrap_or(Err(e))
            }
            other => other,
        };
        if let Err(e) = verified {
            tracing::warn!(template = %request.template, status, error = %e, "response verification failed");
            return Err(Error::from(e).with_response(response));
        }
    }
    Ok(response)
}

/// The least time a retry must still have after its wait; a retry that would get less is not
/// worth a fresh signature and would only turn the server's answer into a timeout.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

/// True if waiting `delay` still leaves [`MIN_ATTEMPT`] of the `remaining` budget.
fn fits(delay: Duration, remaining: Duration) -> bool {
    delay
        .checked_add(MIN_ATTEMPT)
        .is_some_and(|needed| needed <= remaining)
}

/// One exchange through the transport, bounded by `deadline` (the end of the request's
/// `total` timeout) whatever the transport does.
async fn send(
    transport: &dyn Transport,
    http_request: http::Request<bytes::Bytes>,
    route: &Route,
    deadline: tokio::time::Instant,
    total: Duration,
) -> Result<Response> {
    match tokio::time::timeout_at(deadline, transport.send(http_request, route)).await {
        Ok(result) => result,
        Err(_) => Err(Error::transport(
            TransportKind::Timeout,
            format!("no complete response within {total:?}"),
        )),
    }
}

/// How long to wait before retrying a GET that was rate limited or hit a server error, if the
/// client allows another retry: `Retry-After` (seconds) as the server asks, else an exponential
/// backoff from 200 ms. Whether the wait fits in the total timeout is the caller's check.
fn retry_delay(
    client: &ClientInner,
    request: &PreparedRequest,
    response: &Response,
    retried: u32,
) -> Option<Duration> {
    let retryable = matches!(response.status().as_u16(), 429 | 500 | 502 | 503);
    // An APIv2 request's nonce and sign are inside the signed data, fixed when it was
    // prepared: a resend would replay the nonce, which the platform refuses.
    if request.method != Method::GET
        || request.is_apiv2()
        || !retryable
        || retried >= client.get_retries
    {
        return None;
    }
    let backoff = Duration::from_millis(200u64 << retried.min(5));
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Some(retry_after.unwrap_or(backoff))
}

/// Turns an error status into an [`ApiError`] that keeps the response.
pub(crate) fn api_error(request: &PreparedRequest, response: Response) -> Error {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(response.bytes()).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let code = field("code");
    let local_message = (code.as_deref() == Some("SIGN_ERROR"))
        .then(|| String::from_utf8_lossy(&request.message).into_owned());
    let api = ApiError {
        status: response.status(),
        code,
        message: field("message"),
        detail: parsed.as_ref().and_then(|v| v.get("detail")).cloned(),
        request_id: response.request_id().map(str::to_string),
        local_message,
        nearest: nearest_endpoints(request, response.status().as_u16()),
    };
    Error::new(ErrorKind::Api(api)).with_response(response)
}

/// Did-you-mean for a 404 to an endpoint the catalog does not know (it may be newer than the
/// catalog, so nothing was blocked before sending): the nearest catalog endpoints.
fn nearest_endpoints(request: &PreparedRequest, status: u16) -> Vec<String> {
    let method = request.method.as_str();
    if status != 404 || catalog::lookup(method, &request.template).is_some() {
        return Vec::new();
    }
    catalog::nearest(method, &request.template, NEAREST_SUGGESTIONS)
        .into_iter()
        .map(|e| format!("{} {}", e.method, e.template()))
        .collect()
}

/// How many endpoints a 404 suggests.
const NEAREST_SUGGESTIONS: usize = 3;

impl fmt::Debug for Wechatpay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wechatpay")
            .field("mchid", &self.inner.mchid)
            .field("serial", &self.inner.serial)
            .field(
                "base_uri",
                &format!("{}{}", self.inner.base.origin, self.inner.base.path),
            )
            .field("platform_keys", &self.inner.keys.ids())
            .field("apiv3_key", &self.inner.apiv3_key.as_ref().map(|_| ".."))
            .field("apiv2_key", &self.inner.apiv2_key.as_ref().map(|_| ".."))
            .finish_non_exhaustive()
    }
}

/// Configures a [`Wechatpay`] client. Setters never fail and change nothing outside the
/// builder; [`Builder::build`] checks the whole configuration, says what to fix, and only then
/// adds the keys to the key store.
///
/// ```
/// use std::time::Duration;
/// use wechatpay_chain::{ConfigError, ErrorKind, PrivateKey, PublicKey, Wechatpay};
/// # fn main() -> wechatpay_chain::Result<()> {
/// # let path = |name: &str| format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
///
/// // PHP: Builder::factory(['mchid' => …, 'serial' => …, 'privateKey' => …, 'certs' => [...]])
/// // JS:  new Wechatpay({ mchid, serial, privateKey, certs, timeout: 5000 })
/// let builder = Wechatpay::builder()
///     .mchid("1900000109")
///     .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
///     .private_key(PrivateKey::from_pem_file(path("apiclient_key.pem"))?)
///     .public_key(
///         "PUB_KEY_ID_0119000001092025112200000000000001",
///         PublicKey::from_pem_file(path("pub_key.pem"))?,
///     )
///     .apiv3_key("TestOnlyApiV3Key0123456789abcdef")
///     .timeout(Duration::from_secs(5));
/// let wxpay = builder.build()?;
/// assert_eq!(wxpay.mchid(), "1900000109");
///
/// // `build()` says what is missing or wrong.
/// let err = Wechatpay::builder().serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16").build().unwrap_err();
/// assert_eq!(err.kind(), &ErrorKind::Config(ConfigError::MissingMchid));
/// # Ok(()) }
/// ```
#[must_use]
pub struct Builder {
    mchid: Option<String>,
    serial: Option<String>,
    signer: Option<Arc<dyn Sign>>,
    key_store: Option<Arc<KeyStore>>,
    pending_keys: Vec<PendingKey>,
    clock: SharedClock,
    nonce: SharedNonceSource,
    base_uri: String,
    backup: Backup,
    allow_insecure_http: bool,
    apiv3_key: Option<Vec<u8>>,
    apiv2_key: Option<Vec<u8>>,
    transport: TransportConfig,
    custom_transport: Option<Arc<dyn Transport>>,
    /// The merchant API certificate and key PEM, parsed by `build()`.
    merchant_certificate: Option<(Vec<u8>, Vec<u8>)>,
    /// Test-only extra root CAs (PEM), parsed by `build()`.
    tls_test_roots: Vec<Vec<u8>>,
    get_retries: u32,
    certificate_refresh: Option<Duration>,
    refresh_on_unknown_serial: bool,
}

/// A platform key given to the builder, inserted into the store by `build()`.
enum PendingKey {
    PublicKey(String, PublicKey),
    Certificate(Certificate),
}

impl PendingKey {
    /// The id the store will file it under.
    fn id(&self) -> &str {
        match self {
            Self::PublicKey(id, _) => id.trim(),
            Self::Certificate(cert) => cert.serial(),
        }
    }
}

/// The backup host choice.
enum Backup {
    /// `api2.mch.weixin.qq.com` for the default host, none otherwise.
    Default,
    None,
    Uri(String),
}

impl fmt::Debug for Backup {
    /// Any userinfo of a backup URI is redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("Default"),
            Self::None => f.write_str("None"),
            Self::Uri(uri) => f.debug_tuple("Uri").field(&redact_userinfo(uri)).finish(),
        }
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            mchid: None,
            serial: None,
            signer: None,
            key_store: None,
            pending_keys: Vec::new(),
            clock: Arc::new(SystemClock),
            nonce: Arc::new(RandomNonce),
            base_uri: DEFAULT_BASE_URI.into(),
            backup: Backup::Default,
            allow_insecure_http: false,
            apiv3_key: None,
            apiv2_key: None,
            transport: TransportConfig::default(),
            custom_transport: None,
            merchant_certificate: None,
            tls_test_roots: Vec::new(),
            get_retries: 0,
            certificate_refresh: None,
            refresh_on_unknown_serial: true,
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("mchid", &self.mchid)
            .field("serial", &self.serial)
            .field("base_uri", &redact_userinfo(&self.base_uri))
            .field("backup", &self.backup)
            .field("proxy", &self.transport.proxy.as_deref().map(redact_proxy))
            .field(
                "merchant_api_certificate",
                &self.merchant_certificate.is_some(),
            )
            .field("tls_test_root_ca", &self.tls_test_roots.len())
            .field(
                "platform_keys",
                &self
                    .pending_keys
                    .iter()
                    .map(PendingKey::id)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The merchant id (`mchid`).
    pub fn mchid(mut self, mchid: impl Into<String>) -> Self {
        self.mchid = Some(mchid.into());
        self
    }

    /// The merchant API certificate serial (`serial_no` of `Authorization`).
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = Some(serial.into());
        self
    }

    /// The merchant API private key that signs requests.
    pub fn private_key(mut self, key: PrivateKey) -> Self {
        self.signer = Some(Arc::new(key));
        self
    }

    /// A custom signer (remote signing, HSM, KMS) instead of a private key. It reports its own
    /// failures with [`Error::signing`].
    pub fn signer(mut self, signer: Arc<dyn Sign>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Adds a WeChat Pay public key under its id (`PUB_KEY_ID_…`), inserted into the key store
    /// by [`Builder::build`].
    pub fn public_key(mut self, id: impl Into<String>, key: PublicKey) -> Self {
        self.pending_keys
            .push(PendingKey::PublicKey(id.into(), key));
        self
    }

    /// Adds a platform certificate (its serial is read from it), inserted into the key store by
    /// [`Builder::build`].
    pub fn certificate(mut self, cert: Certificate) -> Self {
        self.pending_keys.push(PendingKey::Certificate(cert));
        self
    }

    /// Uses a shared key store (e.g. one refreshed by a certificate downloader) instead of a
    /// new one. Keys given with [`Builder::public_key`] and [`Builder::certificate`], before or
    /// after this call, are added to it by a successful [`Builder::build`]; a failing build
    /// leaves it untouched.
    pub fn key_store(mut self, keys: Arc<KeyStore>) -> Self {
        self.key_store = Some(keys);
        self
    }

    /// The 32-byte APIv3 key (for notifications and certificate download).
    pub fn apiv3_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.apiv3_key = Some(key.as_ref().to_vec());
        self
    }

    /// The 32-byte APIv2 key (merchant platform: API安全 → API密钥): it signs `v2/…` chains and
    /// checks their answers. Never printed. With [`mchid`](Self::mchid) alone it makes an
    /// APIv2-only client (no [`serial`](Self::serial) or [`private_key`](Self::private_key)
    /// needed), which refuses APIv3 calls with
    /// [`ConfigError::MissingV3Credentials`].
    ///
    /// ```
    /// use wechatpay_chain::{ConfigError, ErrorKind, Method, Wechatpay};
    /// # fn main() -> wechatpay_chain::Result<()> {
    /// let wxpay = Wechatpay::builder()
    ///     .mchid("1900000109")
    ///     .apiv2_key("exposed_your_key_here_have_risks")
    ///     .build()?;
    /// let micropay = wxpay.chain("v2/pay/micropay").prepare(
    ///     Method::POST,
    ///     wechatpay_chain::json!({"xml": {"mch_id": "1900000109", "body": "test"}}),
    /// )?;
    /// assert_eq!(micropay.url(), "https://api.mch.weixin.qq.com/pay/micropay");
    /// let v3 = wxpay.chain("v3/certificates").prepare(Method::GET, ()).unwrap_err();
    /// assert!(matches!(v3.kind(), ErrorKind::Config(ConfigError::MissingV3Credentials(_))));
    /// # Ok(()) }
    /// ```
    pub fn apiv2_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.apiv2_key = Some(key.as_ref().to_vec());
        self
    }

    /// The base URI (default `https://api.mch.weixin.qq.com/`); a path prefix such as
    /// `https://api.mch.weixin.qq.com/hk/` prefixes every chain.
    pub fn base_uri(mut self, uri: impl Into<String>) -> Self {
        self.base_uri = uri.into();
        self
    }

    /// The base used once when the primary host cannot be reached (connect failure only).
    /// Default: `api2.mch.weixin.qq.com` for the default host, none otherwise; see
    /// [`Builder::no_backup`].
    pub fn backup_base_uri(mut self, uri: impl Into<String>) -> Self {
        self.backup = Backup::Uri(uri.into());
        self
    }

    /// No backup host, not even the default one: a connect failure is reported as is.
    pub fn no_backup(mut self) -> Self {
        self.backup = Backup::None;
        self
    }

    /// Allows plain `http://` to non-loopback hosts (never needed against WeChat Pay).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The clock for timestamps and the response clock check.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The nonce source for request signatures (default: 32 characters from the system
    /// CSPRNG). Inject a fixed one only to reproduce a signature in tests: the platform
    /// refuses a repeated nonce.
    pub fn nonce_source(mut self, nonce: impl NonceSource + 'static) -> Self {
        self.nonce = Arc::new(nonce);
        self
    }

    /// Sends requests through `transport` instead of the built-in hyper client (see
    /// [`Transport`] for the contract). The total [`timeout`](Self::timeout) still bounds every
    /// request; the connect timeout, proxy and body limit settings are the built-in
    /// transport's and do not apply.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.custom_transport = Some(transport);
        self
    }

    /// Connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.transport.connect_timeout = timeout;
        self
    }

    /// Total timeout per request, body included (default 30 s); per request: [`Options::timeout`].
    /// A streaming [`Chain::download`] gets it to reach the headers, then again per chunk.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.transport.timeout = timeout;
        self
    }

    /// Largest response body accepted, in bytes (default 16 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.transport.body_limit = bytes;
        self
    }

    /// An explicit proxy (`http://host:port`) for https requests; by default `HTTPS_PROXY` and
    /// `NO_PROXY` from the environment are honoured.
    pub fn proxy(mut self, proxy: impl Into<String>) -> Self {
        self.transport.proxy = Some(proxy.into());
        self
    }

    /// Retries a `GET` answered 429, 500, 502 or 503 up to `retries` times (default 0), re-signed
    /// each time, after `Retry-After` or an exponential backoff from 200 ms. Attempts and waits
    /// all fit inside the request's total [`timeout`](Self::timeout): a wait that would not
    /// leave time for another attempt is not made, and the last answer is returned (an API
    /// error) at once. Other methods are never retried: they may not be idempotent. Nor is an
    /// APIv2 `GET`: its nonce is part of the signed data, and a resend would replay it.
    pub fn get_retries(mut self, retries: u32) -> Self {
        self.get_retries = retries;
        self
    }

    /// Refreshes the platform certificates in the background: a download at
    /// [`build`](Self::build) and then every `every` (the platform rotates them ahead of expiry;
    /// [`DEFAULT_REFRESH_INTERVAL`](crate::certificates::DEFAULT_REFRESH_INTERVAL) = 12 h is a
    /// good value). Needs the APIv3 key and a tokio runtime at `build()`. The task ends when the
    /// last clone of the client is dropped; its failures are logged (`tracing`), never returned.
    /// Off by default. See [`crate::certificates`].
    pub fn certificate_refresh(mut self, every: Duration) -> Self {
        self.certificate_refresh = Some(every);
        self
    }

    /// Whether a response whose `Wechatpay-Serial` the key store does not know makes the client
    /// download the platform certificates once and verify that response again (default: on;
    /// it only ever happens with an APIv3 key). Concurrent misses share one download, and a
    /// serial the download did not bring causes no other download for
    /// [`UNKNOWN_SERIAL_BACKOFF`](crate::certificates::UNKNOWN_SERIAL_BACKOFF). Still unknown
    /// afterwards: the [`VerifyError::UnknownSerial`](crate::VerifyError::UnknownSerial) as
    /// before (fail closed).
    pub fn refresh_on_unknown_serial(mut self, on: bool) -> Self {
        self.refresh_on_unknown_serial = on;
        self
    }

    /// The merchant API certificate (`apiclient_cert.pem`, optionally followed by its chain)
    /// and its private key (`apiclient_key.pem`; PKCS#8, PKCS#1 or SEC1 PEM), presented as the
    /// client certificate of mutual TLS on the requests that need it (APIv2 `secapi/…`
    /// endpoints such as refunds, red packets, transfers; see [`Route::mutual_tls`]). Other
    /// requests never present it: they use separate connections.
    ///
    /// Parsed by [`build`](Self::build), which fails with a [`KeyError::Pem`](crate::KeyError::Pem)
    /// naming the certificate or the key when a PEM holds none, or with
    /// [`ConfigError::MerchantCertificateMismatch`] when the key is not the certificate's.
    /// Without it, a request that needs mutual TLS fails with
    /// [`ConfigError::MissingMerchantCertificate`] before anything is sent. With a custom
    /// [`transport`](Self::transport) the certificate is checked the same way, and presenting
    /// it is the transport's job. Neither the builder's nor the client's `Debug` shows it.
    pub fn merchant_api_certificate(
        mut self,
        cert_pem: impl AsRef<[u8]>,
        key_pem: impl AsRef<[u8]>,
    ) -> Self {
        self.merchant_certificate = Some((cert_pem.as_ref().to_vec(), key_pem.as_ref().to_vec()));
        self
    }

    /// **Test only**: also trusts this root CA certificate (PEM) for the server's TLS
    /// certificate, besides the embedded webpki roots (with the `native-roots` feature the
    /// operating system's roots are then not consulted). Meant for the sandbox's generated CA
    /// ([`SandboxBuilder::tls`](crate::sandbox::SandboxBuilder::tls), whose
    /// `client_builder()` calls it); never needed against WeChat Pay, whose certificates
    /// chain to the usual roots. Off unless called; each call adds a CA. Parsed by
    /// [`build`](Self::build) (a PEM without a certificate is a [`KeyError::Pem`](crate::KeyError::Pem)).
    pub fn tls_test_root_ca(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.tls_test_roots.push(pem.as_ref().to_vec());
        self
    }

    /// Ignores proxy settings of the environment.
    pub fn no_proxy(mut self) -> Self {
        self.transport.use_env_proxy = false;
        self
    }

    /// Checks the configuration and builds the client.
    ///
    /// Everything is checked before anything is applied: on error nothing outside the builder
    /// has changed (a shared [`KeyStore`] included). The error is
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) with a [`ConfigError`] saying what to
    /// fix, or [`ErrorKind::Chain`](crate::ErrorKind::Chain) for a base URI that cannot be used.
    pub fn build(self) -> Result<Wechatpay> {
        let mchid = self
            .mchid
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .ok_or(ConfigError::MissingMchid)?;
        if !mchid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::InvalidMchid(mchid).into());
        }
        let apiv2_key = self.apiv2_key.map(ApiV2Key::new).transpose()?;
        let serial = self
            .serial
            .map(|s| s.trim().trim_start_matches("serial=").to_ascii_uppercase())
            .filter(|s| !s.is_empty());
        // An APIv2-only merchant configures neither half of the APIv3 credentials (no dummy
        // values): its APIv3 calls fail before signing, naming what is missing.
        let v3_credentials = !(apiv2_key.is_some() && serial.is_none() && self.signer.is_none());
        let (serial, signer): (String, Arc<dyn Sign>) = if v3_credentials {
            let serial = serial.ok_or(ConfigError::MissingSerial)?;
            if !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::InvalidSerial(serial).into());
            }
            (serial, self.signer.ok_or(ConfigError::MissingPrivateKey)?)
        } else {
            (String::new(), Arc::new(NoV3Credentials))
        };
        let own_serial_pending = v3_credentials
            && self
                .pending_keys
                .iter()
                .any(|k| k.id().eq_ignore_ascii_case(&serial));
        let own_serial_shared = v3_credentials
            && self
                .key_store
                .as_ref()
                .is_some_and(|store| store.contains_ignore_case(&serial));
        if own_serial_pending || own_serial_shared {
            return Err(ConfigError::OwnSerialInKeyStore(serial).into());
        }
        let apiv3_key = self.apiv3_key.map(ApiV3Key::new).transpose()?;
        let base = BaseUri::parse(&self.base_uri, self.allow_insecure_http)?;
        let backup = match self.backup {
            Backup::Default => base.default_backup(),
            Backup::None => None,
            Backup::Uri(uri) => Some(BaseUri::parse(&uri, self.allow_insecure_http)?),
        };
        let identity = self
            .merchant_certificate
            .as_ref()
            .map(|(cert, key)| MerchantIdentity::from_pem(cert, key))
            .transpose()?;
        let mut transport_config = self.transport.clone();
        for pem in &self.tls_test_roots {
            transport_config.test_roots.extend(tls::test_roots(pem)?);
        }
        let transport: Arc<dyn Transport> = match self.custom_transport {
            Some(custom) => custom,
            None => Arc::new(HyperTransport::new(&transport_config, identity.as_ref())?),
        };
        let background = match self.certificate_refresh {
            Some(every) => {
                if apiv3_key.is_none() {
                    return Err(
                        ConfigError::MissingApiV3Key("refresh platform certificates").into(),
                    );
                }
                let runtime = tokio::runtime::Handle::try_current()
                    .map_err(|_| ConfigError::NoRuntime("certificate_refresh"))?;
                Some((runtime, every))
            }
            None => None,
        };

        // Nothing below can fail: only now is a shared store touched.
        let keys = self.key_store.unwrap_or_default();
        for key in self.pending_keys {
            match key {
                PendingKey::PublicKey(id, key) => keys.insert_public_key(id, key),
                PendingKey::Certificate(cert) => keys.insert_certificate(cert),
            }
        }
        let inner = Arc::new(ClientInner {
            mchid,
            serial,
            signer,
            keys,
            clock: self.clock,
            nonce: self.nonce,
            base,
            backup,
            allow_insecure_http: self.allow_insecure_http,
            apiv3_key,
            apiv2_key,
            transport,
            timeout: self.transport.timeout,
            get_retries: self.get_retries,
            body_limit: self.transport.body_limit,
            refresher: crate::certificates::Refresher::new(self.refresh_on_unknown_serial),
            background: std::sync::OnceLock::new(),
            signing_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            )),
            mutual_tls: identity.is_some(),
        });
        if let Some((runtime, every)) = background {
            let task =
                crate::certificates::spawn_background(&runtime, Arc::downgrade(&inner), every);
            // A new client's cell is empty: this cannot fail.
            let _ = inner.background.set(task);
        }
        Ok(Wechatpay {
            inner,
            root: Node::root(),
        })
    }
}

/// The signer of an APIv2-only client: any APIv3 signature (a pay sign, say) fails, naming
/// what to configure. `prepare` refuses APIv3 chains before reaching it.
#[derive(Debug)]
struct NoV3Credentials;

impl Sign for NoV3Credentials {
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>> {
        Err(ConfigError::MissingV3Credentials("an APIv3 signature (serial and private_key)").into())
    }

    fn may_block(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _assert_impls() {
        fn is<T: Clone + Send + Sync + 'static>() {}
        is::<Wechatpay>();
        is::<Chain>();
    }

    fn fixture_client() -> Wechatpay {
        let pem = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/apiclient_key.pem"
        );
        Wechatpay::builder()
            .mchid("1900000109")
            .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
            .private_key(PrivateKey::from_pem_file(pem).unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn index_cache_does_not_keep_the_client_alive() {
        let wxpay = fixture_client();
        let state = Arc::downgrade(&wxpay.inner);
        let chain = &wxpay["v3/pay/transactions/native"];
        let nested = &chain["x/y"];
        assert_eq!(nested.template().unwrap(), "v3/pay/transactions/native/x/y");
        assert!(
            std::ptr::eq(chain, &wxpay["v3/pay/transactions/native"]),
            "interned"
        );
        drop(wxpay);
        assert!(
            state.upgrade().is_none(),
            "a cycle through the index cache leaks the client"
        );
    }

    #[test]
    fn own_serial_among_platform_keys_is_refused() {
        let fix = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        let e = Wechatpay::builder()
            .mchid("1900000109")
            .serial("3775b6a45acd588826d15e583a95f5dd2a4b1a16")
            .private_key(PrivateKey::from_pem_file(format!("{fix}apiclient_key.pem")).unwrap())
            .certificate(Certificate::from_pem_file(format!("{fix}apiclient_cert.pem")).unwrap())
            .build()
            .unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::Config(ConfigError::OwnSerialInKeyStore(
                "3775B6A45ACD588826D15E583A95F5DD2A4B1A16".into()
            ))
        );
    }

    #[test]
    fn apiv3_key_length_is_checked_and_redacted() {
        let e = ApiV3Key::new("short").unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Config(ConfigError::ApiV3KeyLength(5)));
        let k = ApiV3Key::new("TestOnlyApiV3Key0123456789abcdef").unwrap();
        assert_eq!(format!("{k:?}"), "ApiV3Key(..)");
    }
}
