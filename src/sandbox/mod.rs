//! A local WeChat Pay APIv3 simulator (feature `sandbox`): a real hyper server on loopback that
//! behaves like the platform towards any client, this crate's or another language's.
//!
//! - **Keys**: the crate's embedded **test-only** fixtures (mchid `1900000109`; never valid
//!   against WeChat Pay), a folder laid out like `tests/fixtures/` ([`SandboxBuilder::keys_dir`]),
//!   or fresh ones generated at start ([`SandboxBuilder::generate_keys`]). At start it writes a
//!   ready client configuration (`wxpay.toml`, `wxpay.json` and the PEM files) into
//!   [`SandboxBuilder::config_dir`].
//! - **Checks every request** like the platform: `Accept` and `User-Agent` present (else
//!   `400`), the endpoint in the catalog (else `404 RESOURCE_NOT_EXISTS`, `405` for a known path
//!   with another verb), then the `Authorization` syntax, mchid, merchant serial, timestamp
//!   within 300 s, nonce not reused and the RSA signature over the canonical message rebuilt
//!   from the bytes received, the `meta` part standing for the body of multipart uploads
//!   (else `401 SIGN_ERROR` with `detail.sign_information`).
//! - **Stateful payscore partner flow**: `POST v3/payscore/partner/servicepayondeliveryorder`
//!   creates an order (`CREATED`); `…/serviceorder/{out_order_no}/send-pendingmessage` and
//!   `…/send-prepaidmessage` answer `204` once per order (again: `400 INVALID_REQUEST`) and make
//!   the order await payment; `…/pay` collects it only then (`204`, state `DONE`, and a
//!   `PAYSCORE.USER_PAID` notification to a loopback `notify_url`); `GET
//!   v3/payscore/partner/serviceorder` returns the order. Unknown orders: `404 ORDER_NOT_EXIST`;
//!   missing required fields: `400 PARAM_ERROR`.
//! - `GET /v3/certificates` returns the platform certificates encrypted with the APIv3 key
//!   (counted: [`SandboxHandle::certificate_downloads`]; rotated with
//!   [`SandboxHandle::rotate_platform_certificate`]; `404 RESOURCE_NOT_EXISTS` with
//!   [`SandboxBuilder::public_key_only`]); every other catalog endpoint gets a signed `200 {}`
//!   (or `204` when it answers empty).
//! - **Signs every response**, with the newest platform certificate key when the request's
//!   `Wechatpay-Serial` names a platform certificate (and for a `/v3/certificates` request
//!   without one), else with the WeChat Pay public key.
//! - **APIv2** (XML, no `Authorization`): `pay/micropay`, `pay/orderquery`,
//!   `secapi/pay/refund` (mutual TLS: refused without the merchant API certificate, so only in
//!   TLS mode) and `pay/downloadbill` (the day's orders as the v2 bill, plain or gzip,
//!   unsigned), checked like the platform (XML, `mch_id`, `sign` under `sign_type` with the
//!   APIv2 key [`SandboxHandle::apiv2_key`], `nonce_str` not replayed; refusals are HTTP 200
//!   `<xml><return_code>FAIL</return_code><return_msg>…`) and answered in XML signed with the
//!   request's sign type; refunds get the v2 refund notification
//!   ([`SandboxHandle::deliver_v2_refund_notification`]). Other v2 catalog endpoints answer a
//!   signed `SUCCESS` once the checks pass.
//! - **Faults** ([`Fault`]), **recorded requests** and **notifications** for tests.
//! - **TLS mode** ([`SandboxBuilder::tls`]): HTTPS (HTTP/2 or HTTP/1.1 by ALPN) with a test CA
//!   generated at start, and the merchant API certificate it issues for mutual TLS; each
//!   recorded request says whether it came with that certificate.
//! - **Bench mode** for load benchmarks only ([`SandboxBuilder::bench_mode`]): requests still
//!   verified, one fixed body signed once per second, nothing recorded.
//! - **Bounded**, for a dev tool that anything on the machine can reach: request bodies of
//!   at most 32 MiB and 64 MiB being read at once ([`SandboxBuilder::max_body_bytes_in_flight`]),
//!   a recorder of 64 MiB that keeps only the bodies of signed requests
//!   ([`SandboxBuilder::max_recorded_bytes`]), a listing written piece by piece, and
//!   connections closed after 10 s without a request head, 60 s idle, and beyond 512 open
//!   ([`SandboxBuilder::header_read_timeout`], [`SandboxBuilder::idle_timeout`],
//!   [`SandboxBuilder::max_connections`]).
//!
//! ```no_run
//! # async fn demo() -> wechatpay_chain::Result<()> {
//! use wechatpay_chain::sandbox::{Fault, Sandbox};
//! use wechatpay_chain::VerifyError;
//!
//! let sandbox = Sandbox::builder().start().await?;
//! let wxpay = sandbox.client()?;
//! let certificates = wxpay.v3().certificates().get(()).await?;
//! assert_eq!(certificates.status(), 200);
//!
//! sandbox.inject(Fault::WrongSignature);
//! let err = wxpay.v3().certificates().get(()).await.unwrap_err();
//! assert_eq!(err.verify(), Some(&VerifyError::BadSignature));
//! sandbox.shutdown();
//! # Ok(()) }
//! ```
//!
//! ## Control endpoints (clients in other languages)
//!
//! Clients in other languages read `wxpay.json` (absolute paths) or `wxpay.toml` (paths
//! relative to it) and drive the sandbox through these unsigned endpoints, which answer
//! loopback peers only (`403 NO_AUTH` otherwise):
//!
//! | request | effect |
//! |---|---|
//! | `POST /_sandbox/faults` `{"fault":"delay","ms":1500,"count":1}` | queue `count` (1–100) faults; body format: [`Fault::from_json`] |
//! | `GET /_sandbox/faults`, `DELETE /_sandbox/faults` | list / clear the queued faults |
//! | `GET /_sandbox/requests[?offset=N&limit=N]`, `DELETE /_sandbox/requests` | list (`method`, `target`, `version`, `headers`, `authenticated`, `client_certificate`, `body_kept`, `body_len`, `body`: the text, or `null` with `body_base64` when it is not UTF-8, or `null` when not kept) / clear the recorded requests |
//! | `GET /_sandbox/config` | `base_uri`, the config file paths and the `wxpay.json` content |
//! | `POST /_sandbox/notifications` `{"notify_url","event_type","resource"}` | [`SandboxHandle::deliver_notification`]; answers `{"status": <listener status>}` |
//! | `POST /_sandbox/v2/refund-notifications` `{"notify_url","out_refund_no"}` | [`SandboxHandle::deliver_v2_refund_notification`]; answers `{"status": <listener status>}` |

mod apiv2;
mod auth;
mod bench;
mod bills;
mod certs;
mod conn;
mod control;
mod faults;
mod flows;
mod keygen;
mod keys;
mod limits;
mod listing;
mod media;
mod notify;
mod prepay;
mod record;
mod reply;
mod sensitive;
mod server;
mod tls;

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

pub use faults::Fault;
pub use record::RecordedRequest;

use crate::client::{Builder, Wechatpay};
use crate::error::{Error, Result, TransportKind};
use crate::signer::{Clock, SystemClock};
use conn::Registry;
use keys::SandboxKeys;
use limits::Limits;
use record::Recorder;

/// Locks a mutex; a panic elsewhere cannot leave these plain collections half-updated.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The sandbox's clock (Unix seconds).
pub(crate) fn now() -> i64 {
    SystemClock.now()
}

/// `2025-11-22T00:00:00+08:00`: a Unix time in China Standard Time, the platform's format.
pub(crate) fn rfc3339_cst(unix: i64) -> String {
    let local = unix + 8 * 3600;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+08:00",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Where the client configuration was written.
#[derive(Debug, Clone)]
pub(crate) struct ConfigPaths {
    dir: PathBuf,
    pub(crate) toml: PathBuf,
    pub(crate) json: PathBuf,
    /// The folder was created by the sandbox (removed at shutdown).
    owned: bool,
}

/// Everything the server tasks share.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) keys: SandboxKeys,
    pub(crate) base_uri: String,
    pub(crate) config: ConfigPaths,
    pub(crate) faults: Mutex<VecDeque<Fault>>,
    pub(crate) requests: Mutex<Recorder>,
    pub(crate) nonces: Mutex<auth::NonceCache>,
    pub(crate) orders: Mutex<flows::Orders>,
    /// APIv2 micropay orders and refunds.
    pub(crate) v2: Mutex<apiv2::Store>,
    /// Platform certificates: listing, rotation, download count.
    pub(crate) certs: certs::PlatformCerts,
    pub(crate) limits: Limits,
    /// Open connections (cap, timeouts).
    pub(crate) conns: Arc<Registry>,
    /// Bytes of request bodies being read, all requests together.
    pub(crate) body_budget: Arc<Semaphore>,
    /// Bench mode's signature cache ([`SandboxBuilder::bench_mode`]).
    pub(crate) bench: Option<bench::Cache>,
    /// TLS mode's server configuration and certificates ([`SandboxBuilder::tls`]).
    pub(crate) tls: Option<tls::SandboxTls>,
    ids: AtomicU64,
    notifier: notify::Notifier,
    shutdown: watch::Sender<bool>,
}

impl State {
    /// A process-unique number (order ids, Request-IDs, notification ids).
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Stops the server (see [`SandboxHandle::shutdown`]); the first call removes an owned
    /// config folder.
    fn shutdown(&self) {
        let first = !self.shutdown.send_replace(true);
        if first && self.config.owned {
            let _ = std::fs::remove_dir_all(&self.config.dir);
        }
    }

    /// The next queued fault, if any.
    pub(crate) fn next_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    /// Signs and POSTs a notification to a loopback `notify_url`.
    pub(crate) async fn deliver(
        &self,
        notify_url: &str,
        event_type: &str,
        resource: &serde_json::Value,
    ) -> Result<u16> {
        let id = self.next_id();
        let signer = self.certs.notification_key(&self.keys);
        notify::deliver(
            &self.keys,
            (&signer.0, &signer.1),
            &self.notifier,
            (now(), id),
            notify_url,
            (event_type, resource),
        )
        .await
    }
}

/// The WeChat Pay simulator. Start one with [`Sandbox::builder`].
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// Starts a configuration: `127.0.0.1:0`, the embedded test keys, a fresh config folder.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }
}

/// Where the sandbox's key material comes from.
#[derive(Debug, Clone)]
enum KeySource {
    /// The crate's embedded test-only fixtures.
    Embedded,
    /// A folder laid out like `tests/fixtures/`.
    Dir(PathBuf),
    /// Fresh keys generated at start.
    Generate,
}

/// Configures a [`Sandbox`]; [`SandboxBuilder::start`] binds and serves.
#[derive(Debug, Clone)]
#[must_use]
pub struct SandboxBuilder {
    listen: SocketAddr,
    keys: KeySource,
    config_dir: Option<PathBuf>,
    limits: Limits,
    public_key_only: bool,
    bench: bool,
    tls: bool,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            keys: KeySource::Embedded,
            config_dir: None,
            limits: Limits::default(),
            public_key_only: false,
            bench: false,
            tls: false,
        }
    }
}

impl SandboxBuilder {
    /// The address to listen on (default `127.0.0.1:0`: a free loopback port). The control
    /// endpoints answer loopback peers only, whatever the address.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Loads the key material from a folder laid out like `tests/fixtures/`, with its
    /// `fixtures.json` (default: the embedded test-only fixtures). The config folder of a
    /// sandbox started with [`SandboxBuilder::generate_keys`] is such a folder. Replaces an
    /// earlier [`SandboxBuilder::generate_keys`].
    pub fn keys_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.keys = KeySource::Dir(dir.into());
        self
    }

    /// Generates fresh key material at [`SandboxBuilder::start`] instead of using the embedded
    /// fixtures, so no two sandboxes share keys:
    ///
    /// - a merchant RSA-2048 private key, with a self-signed merchant certificate whose serial
    ///   (40 upper-case hex digits) is the merchant serial;
    /// - a platform RSA-2048 key with a self-signed X.509 platform certificate (CN `WeChat Pay
    ///   sandbox platform`, a random 20-byte serial, valid from a day ago for five years);
    /// - a WeChat Pay public key pair with id `PUB_KEY_ID_` + 32 random digits;
    /// - a random 32-character APIv3 key and a random 10-digit mchid.
    ///
    /// The key pairs come from the `rsa` crate, the certificates from `rcgen`, every random
    /// value from the operating system; generation runs on tokio's blocking pool and takes
    /// about a second. Besides the client configuration, the config folder then receives
    /// `fixtures.json`, `platform_key.pem`, `pub_key_private.pem` and `apiclient_cert.pem`:
    /// it is a keys folder that [`SandboxBuilder::keys_dir`] loads again later (give an
    /// explicit [`SandboxBuilder::config_dir`] to keep it past
    /// [`SandboxHandle::shutdown`]; files of the same names there are overwritten). The keys
    /// are **for tests only**; private keys are never printed or logged, and on Unix their
    /// files are readable by the owner only. Replaces an earlier [`SandboxBuilder::keys_dir`].
    ///
    /// ```no_run
    /// # async fn demo() -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::sandbox::Sandbox;
    ///
    /// let sandbox = Sandbox::builder().generate_keys().start().await?;
    /// let wxpay = sandbox.client()?;
    /// assert_eq!(wxpay.v3().certificates().get(()).await?.status(), 200);
    /// sandbox.shutdown();
    /// # Ok(()) }
    /// ```
    pub fn generate_keys(mut self) -> Self {
        self.keys = KeySource::Generate;
        self
    }

    /// Where to write `wxpay.toml`, `wxpay.json` and the client's PEM files (created if
    /// needed; default: a fresh folder under [`std::env::temp_dir`], removed at
    /// [`SandboxHandle::shutdown`]).
    pub fn config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config_dir = Some(dir.into());
        self
    }

    /// The most bytes the request recorder holds (default 64 MiB), counting each record's
    /// target, headers and body plus a small fixed overhead; the oldest records are forgotten
    /// first (and at most the latest 10 000 are kept). Only the body of a request whose
    /// `Authorization` verified is kept ([`RecordedRequest::body_kept`]), and one that alone
    /// exceeds the bound is not. See [`SandboxHandle::recorded_bytes`].
    pub fn max_recorded_bytes(mut self, bytes: usize) -> Self {
        self.limits.recorded_bytes = bytes;
        self
    }

    /// The most bytes of request bodies read at the same time, all connections together
    /// (default 64 MiB; each body is at most 32 MiB). A request whose body would go beyond
    /// it is answered at once with an unsigned `503 SYSTEM_ERROR` (retry later) instead of
    /// waiting, so memory stays bounded however many large uploads arrive together. A value
    /// below 32 MiB also refuses bodies larger than it, always.
    pub fn max_body_bytes_in_flight(mut self, bytes: usize) -> Self {
        self.limits.body_bytes_in_flight = bytes.min(Semaphore::MAX_PERMITS);
        self
    }

    /// How long a connection may take to deliver a complete request head (default 10 s):
    /// from the accept for its first request (also a connection that sends nothing, or only
    /// part of the HTTP/2 preface), from the first byte of each later HTTP/1 request. The
    /// connection is then closed. At least 1 ms.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a connection may wait with no request in progress (default 60 s): an
    /// HTTP/1 keep-alive connection between requests, an HTTP/2 connection with no stream
    /// open (control frames such as PING do not count). The connection is then closed. A
    /// request body must also arrive within it (else `408`). At least 1 ms.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The most connections open at once (default 512, which fits the common limit of 1024
    /// file descriptors). A new connection beyond it makes room by closing the connection
    /// that has waited longest with no request in progress; when every connection is
    /// handling a request, the new one is closed instead. At least 1.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max.max(1);
        self
    }

    /// Acts for a merchant that only has a WeChat Pay public key (every merchant registered
    /// since 2024-Q3): `GET /v3/certificates` answers `404 RESOURCE_NOT_EXISTS` like the
    /// platform, and every answer is signed with the public key.
    pub fn public_key_only(mut self) -> Self {
        self.public_key_only = true;
        self
    }

    /// **For benchmarks only**: makes the sandbox cheap enough not to be the bottleneck of a
    /// load test (default off). It still checks `Accept` and `User-Agent`, the catalog and
    /// each request's `Authorization` and RSA signature (about 25 µs; refusals are answered as
    /// usual), but then:
    ///
    /// - every accepted request gets `200` with the same small body `{"sandbox":"bench"}`,
    ///   whatever the endpoint (no flows, no certificate listing, no `Request-ID`);
    /// - that body is signed once per second and signing key: answers within the same second
    ///   carry the same `Wechatpay-Timestamp`, `Wechatpay-Nonce` and `Wechatpay-Signature`;
    /// - nonces are not remembered (no replay check), nothing is recorded
    ///   ([`SandboxHandle::requests`] stays empty) and queued faults do not apply, so memory
    ///   does not grow with the number of requests.
    ///
    /// A client that remembers response nonces would see them repeat; this crate's does not.
    /// The crate's `benches/load` runs it in a separate process (`wxpay sandbox --bench` does the same).
    pub fn bench_mode(mut self, on: bool) -> Self {
        self.bench = on;
        self
    }

    /// Serves HTTPS instead of plain HTTP (default off), like the platform, with certificates
    /// generated at [`start`](Self::start) for this run only (**test only**):
    ///
    /// - a test CA (ECDSA P-256, CN `wechatpay-chain sandbox test CA`), which clients must
    ///   trust explicitly: [`Builder::tls_test_root_ca`] with
    ///   [`SandboxHandle::ca_certificate_pem`];
    /// - a server certificate for `127.0.0.1`, `localhost` and `::1` signed by it; ALPN offers
    ///   `h2` and `http/1.1`;
    /// - a merchant API certificate signed by it (CN = the mchid, serial = the merchant serial
    ///   when it is a valid X.509 serial) for the merchant's own API key when that is a PKCS#8
    ///   RSA key (the embedded and generated keys are), else for a fresh ECDSA P-256 key:
    ///   [`SandboxHandle::merchant_certificate_pem`] and
    ///   [`SandboxHandle::merchant_certificate_key_pem`].
    ///
    /// Client certificates are optional at the handshake (one that does not chain to the CA
    /// fails it); whether a request came with one is in [`RecordedRequest::client_certificate`],
    /// and endpoints that need mutual TLS refuse requests without. [`SandboxHandle::base_uri`]
    /// is then `https://…`, [`SandboxHandle::client_builder`] trusts the CA and presents the
    /// merchant certificate on mutual-TLS requests, and the config folder also holds
    /// `sandbox_ca.pem` and `apiclient_tls_cert.pem` (plus `apiclient_tls_key.pem` for a
    /// fresh key), named in `wxpay.toml`/`wxpay.json` by `tls_test_root_ca`, `merchant_cert`
    /// and `merchant_key`. The header-read timeout also bounds the TLS handshake.
    ///
    /// ```no_run
    /// # async fn demo() -> wechatpay_chain::Result<()> {
    /// use wechatpay_chain::sandbox::Sandbox;
    /// use wechatpay_chain::Version;
    ///
    /// let sandbox = Sandbox::builder().tls(true).start().await?;
    /// assert!(sandbox.base_uri().starts_with("https://"));
    /// let wxpay = sandbox.client()?; // trusts the test CA, holds the merchant certificate
    /// assert_eq!(wxpay.v3().certificates().get(()).await?.status(), 200);
    /// assert_eq!(sandbox.requests()[0].version, Version::HTTP_2);
    /// sandbox.shutdown();
    /// # Ok(()) }
    /// ```
    ///
    /// [`Builder::tls_test_root_ca`]: crate::Builder::tls_test_root_ca
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Loads the keys, binds, writes the client configuration and serves in the background
    /// on the current tokio runtime until [`SandboxHandle::shutdown`] (or the runtime ends).
    pub async fn start(self) -> Result<SandboxHandle> {
        let keys = match &self.keys {
            KeySource::Embedded => SandboxKeys::embedded()?,
            KeySource::Dir(dir) => SandboxKeys::from_dir(dir)?,
            KeySource::Generate => tokio::task::spawn_blocking(SandboxKeys::generate)
                .await
                .map_err(|e| Error::sandbox("key generation did not finish").with_source(e))??,
        };
        let listener = TcpListener::bind(self.listen).await.map_err(|e| {
            Error::transport(
                TransportKind::Connect,
                format!("sandbox: cannot listen on {}: {e}", self.listen),
            )
        })?;
        let addr = listener.local_addr().map_err(|e| {
            Error::transport(
                TransportKind::Connect,
                format!("sandbox: no local address: {e}"),
            )
        })?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let host = if addr.is_ipv6() && !addr.ip().is_unspecified() {
            format!("[{host}]")
        } else {
            host
        };
        let tls = if self.tls {
            Some(tls::SandboxTls::generate(&keys)?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_uri = format!("{scheme}://{host}:{}/", addr.port());

        let (dir, owned) = match self.config_dir {
            Some(dir) => (dir, false),
            None => {
                let tag: String = crate::signer::nonce()?.chars().take(8).collect();
                let name = format!(
                    "wechatpay-sandbox-{}-{}-{tag}",
                    std::process::id(),
                    addr.port()
                );
                (std::env::temp_dir().join(name), true)
            }
        };
        let (toml, json) = keys.write_config(&dir, &base_uri, tls.as_ref())?;
        let (shutdown, signal) = watch::channel(false);
        let state = Arc::new(State {
            certs: certs::PlatformCerts::new(&keys, self.public_key_only),
            keys,
            base_uri,
            config: ConfigPaths {
                dir,
                toml,
                json,
                owned,
            },
            faults: Mutex::default(),
            requests: Mutex::new(Recorder::new(self.limits.recorded_bytes)),
            nonces: Mutex::default(),
            orders: Mutex::default(),
            v2: Mutex::default(),
            limits: self.limits,
            conns: Arc::new(Registry::new(
                self.limits.max_connections,
                self.limits.header_read_timeout,
                self.limits.idle_timeout,
            )),
            body_budget: Arc::new(Semaphore::new(self.limits.body_bytes_in_flight)),
            bench: self.bench.then(bench::Cache::default),
            tls,
            ids: AtomicU64::new(1),
            notifier: notify::notifier(),
            shutdown,
        });
        tokio::spawn(server::accept_loop(listener, state.clone(), signal));
        tracing::info!(base_uri = %state.base_uri, "sandbox listening");
        Ok(SandboxHandle {
            addr,
            state: state.clone(),
            _owner: Arc::new(Owner(state)),
        })
    }
}

/// Shuts the sandbox down when the last handle goes away. The server tasks hold the
/// [`State`], not this, so they cannot keep a forgotten sandbox (and its key folder) alive.
#[derive(Debug)]
struct Owner(Arc<State>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// A running sandbox. Cheap to clone; every clone controls the same server. When the last
/// clone is dropped the sandbox shuts down as with [`SandboxHandle::shutdown`].
#[derive(Clone)]
pub struct SandboxHandle {
    addr: SocketAddr,
    state: Arc<State>,
    _owner: Arc<Owner>,
}

impl fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("base_uri", &self.state.base_uri)
            .field("config_dir", &self.state.config.dir)
            .field("tls", &self.state.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    /// The base URI clients use: `http://127.0.0.1:PORT/`, or `https://…` in TLS mode
    /// ([`SandboxBuilder::tls`]).
    pub fn base_uri(&self) -> String {
        self.state.base_uri.clone()
    }

    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A client builder preconfigured for this sandbox: mchid, merchant serial and private
    /// key, the platform certificate and the WeChat Pay public key, the APIv3 key, the APIv2 key ([`SandboxHandle::apiv2_key`]), the base
    /// URI and no backup host; in TLS mode ([`SandboxBuilder::tls`]) also the test CA
    /// ([`Builder::tls_test_root_ca`](crate::Builder::tls_test_root_ca)) and the merchant API
    /// certificate ([`Builder::merchant_api_certificate`](crate::Builder::merchant_api_certificate)).
    /// Adjust it (timeouts, body limit, …) and `build()`.
    pub fn client_builder(&self) -> Builder {
        let keys = &self.state.keys;
        let builder = match &self.state.tls {
            Some(tls) => Wechatpay::builder()
                .tls_test_root_ca(&tls.ca_pem)
                .merchant_api_certificate(&tls.merchant_cert_pem, &tls.merchant_key_pem),
            None => Wechatpay::builder(),
        };
        builder
            .mchid(keys.mchid.clone())
            .serial(keys.merchant_serial.clone())
            .private_key(keys.merchant_key.clone())
            .certificate(keys.platform_cert.clone())
            .public_key(keys.public_key_id.clone(), keys.public_key.clone())
            .apiv3_key(keys.apiv3_key)
            .apiv2_key(keys.apiv2_key.as_bytes())
            .base_uri(self.base_uri())
            .no_backup()
    }

    /// TLS mode ([`SandboxBuilder::tls`]): the test CA certificate (PEM) that clients must
    /// trust; `None` in plain HTTP mode.
    pub fn ca_certificate_pem(&self) -> Option<String> {
        self.state.tls.as_ref().map(|tls| tls.ca_pem.clone())
    }

    /// TLS mode ([`SandboxBuilder::tls`]): the merchant API certificate (PEM) signed by the
    /// test CA, for mutual TLS; `None` in plain HTTP mode.
    pub fn merchant_certificate_pem(&self) -> Option<String> {
        self.state
            .tls
            .as_ref()
            .map(|tls| tls.merchant_cert_pem.clone())
    }

    /// TLS mode ([`SandboxBuilder::tls`]): the private key (PEM) of
    /// [`merchant_certificate_pem`](Self::merchant_certificate_pem): the merchant API key
    /// itself, or a fresh test-only key when that one is not a PKCS#8 RSA key; `None` in plain
    /// HTTP mode.
    pub fn merchant_certificate_key_pem(&self) -> Option<String> {
        self.state
            .tls
            .as_ref()
            .map(|tls| tls.merchant_key_pem.clone())
    }

    /// The sandbox merchant's APIv2 key (32 ASCII characters; **test-only**: the fixtures'
    /// `TestOnlyApiV2Key0123456789abcdef`, or a random one with
    /// [`SandboxBuilder::generate_keys`]). APIv2 requests are signed with it.
    pub fn apiv2_key(&self) -> String {
        self.state.keys.apiv2_key_text().to_string()
    }

    /// Delivers the APIv2 refund notification of the refund `out_refund_no` (made earlier with
    /// `secapi/pay/refund`) to a `notify_url` on a loopback host over plain `http://`: XML
    /// with `return_code`, `appid`, `mch_id`, `nonce_str` and `req_info`, the refund's XML
    /// (`out_refund_no`, `refund_id`, `transaction_id`, `out_trade_no`, `total_fee`,
    /// `refund_fee`, `refund_status` `SUCCESS`, `success_time`, …) encrypted with
    /// AES-256-ECB under the lower-case hex MD5 of the APIv2 key. Returns the listener's
    /// status. A refund whose request named a loopback `notify_url` is also notified there
    /// once, right after it is answered.
    ///
    /// Other hosts are refused ([`ChainError::HostNotAllowed`](crate::ChainError::HostNotAllowed));
    /// an unknown `out_refund_no` is a sandbox error.
    pub async fn deliver_v2_refund_notification(
        &self,
        notify_url: &str,
        out_refund_no: &str,
    ) -> Result<u16> {
        apiv2::deliver(&self.state, notify_url, out_refund_no).await
    }

    /// A client for this sandbox ([`SandboxHandle::client_builder`] as is).
    pub fn client(&self) -> Result<Wechatpay> {
        self.client_builder().build()
    }

    /// `wxpay.toml`, written at start (the `wxpay --config` format; paths relative to it).
    pub fn config_toml_path(&self) -> PathBuf {
        self.state.config.toml.clone()
    }

    /// `wxpay.json`, written at start: the same facts as JSON, with absolute paths.
    pub fn config_json_path(&self) -> PathBuf {
        self.state.config.json.clone()
    }

    /// The requests received so far, oldest first (method, target, headers and body exactly
    /// as received; `/_sandbox/…` control requests excluded). The recorder is bounded: the
    /// latest 10 000 within [`SandboxBuilder::max_recorded_bytes`] are kept, and only the
    /// bodies of requests whose signature verified ([`RecordedRequest::body_kept`]). The
    /// bodies are shared with the recorder, not copied.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).iter().cloned().collect()
    }

    /// The bytes the recorder holds, as counted against
    /// [`SandboxBuilder::max_recorded_bytes`] (never more than it).
    pub fn recorded_bytes(&self) -> usize {
        lock(&self.state.requests).bytes()
    }

    /// Queues a fault for the next request; faults apply first in, first out, one per request.
    pub fn inject(&self, fault: Fault) {
        lock(&self.state.faults).push_back(fault);
    }

    /// Delivers a signed notification (`{id, create_time, event_type, resource_type, summary,
    /// resource}`; `resource` AES-GCM encrypted with
    /// the APIv3 key; `Wechatpay-*` headers signed with the WeChat Pay public key, or after
    /// [`rotate_platform_certificate`](Self::rotate_platform_certificate) with the newest
    /// platform certificate, as the platform does after a rotation) to a
    /// `notify_url` on a loopback host over plain `http://`. Returns the listener's status.
    ///
    /// Other hosts are refused ([`ChainError::HostNotAllowed`](crate::ChainError::HostNotAllowed)).
    pub async fn deliver_notification(
        &self,
        notify_url: &str,
        event_type: &str,
        resource: serde_json::Value,
    ) -> Result<u16> {
        self.state.deliver(notify_url, event_type, &resource).await
    }

    /// How many `GET /v3/certificates` requests the sandbox answered (those that passed the
    /// request checks, faulted ones included; not those answered by a [`Fault::Status`]).
    pub fn certificate_downloads(&self) -> usize {
        self.state.certs.downloads()
    }

    /// How many TCP connections the sandbox admitted since it started (open or closed since;
    /// `/_sandbox/…` control connections included; connections refused at the connection cap
    /// not counted). A pooled client reuses them: a warm pool serves a burst at the same
    /// concurrency without opening new ones (a cold burst may open a few more than its
    /// concurrency, as hyper's pool races a new connection against one being returned).
    pub fn connections_accepted(&self) -> u64 {
        self.state.conns.admitted()
    }

    /// The serial of the platform certificate that signs certificate-mode answers now.
    pub fn platform_serial(&self) -> String {
        self.state.certs.current_serial()
    }

    /// Rotates the platform certificate like WeChat Pay does: generates a new RSA-2048 key and
    /// self-signed certificate (on tokio's blocking pool), lists it beside the old ones in
    /// `GET /v3/certificates`, and from now on signs with it every answer to a request whose
    /// `Wechatpay-Serial` names a platform certificate (old or new). Returns the new serial.
    pub async fn rotate_platform_certificate(&self) -> Result<String> {
        certs::rotate(&self.state).await
    }

    /// Stops accepting connections, gives open ones 2 s to finish, and removes the config
    /// folder (with any key files in it) if the sandbox created it. Idempotent; dropping the
    /// last handle does the same.
    pub fn shutdown(&self) {
        self.state.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_standard_time() {
        assert_eq!(rfc3339_cst(0), "1970-01-01T08:00:00+08:00");
        assert_eq!(rfc3339_cst(1_763_740_800), "2025-11-22T00:00:00+08:00");
        assert_eq!(rfc3339_cst(951_782_400), "2000-02-29T08:00:00+08:00");
    }
}
