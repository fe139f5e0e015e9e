//! Platform certificates: download `GET /v3/certificates`, decrypt each
//! `encrypt_certificate` with the APIv3 key, verify the download itself, and load the
//! certificates into the client's [`KeyStore`]; refresh them in the background or when a
//! response names a serial the store does not know.
//!
//! **How a download is trusted.** The answer must verify like any response, with a key the
//! store already holds. A client that holds no key for the answer's `Wechatpay-Serial` (the
//! first download, or a rotation: the platform signs with its new certificate) verifies it
//! with the downloaded certificate of that serial instead, which is the *trust-on-first-use*
//! of the PHP and JS certificate downloaders: what vouches for that certificate is then only
//! that it decrypted with the APIv3 key (AES-GCM authenticates it) and that the answer came
//! over TLS from the WeChat Pay host. Limits:
//!
//! - a client that holds the WeChat Pay public key
//!   ([`Builder::public_key`](crate::Builder::public_key)) never trusts a download on first
//!   use (the platform signs its answers with that key);
//! - a download never replaces a trusted certificate with another key under the same serial;
//! - each certificate's serial must equal its `serial_no`, and expired ones are left out.
//!
//! A client configured with platform certificates only
//! ([`Builder::certificate`](crate::Builder::certificate)) accepts a new serial on first use
//! (that is how it follows a rotation); to accept none, download nothing: turn the refresh
//! on an unknown serial off
//! ([`Builder::refresh_on_unknown_serial`](crate::Builder::refresh_on_unknown_serial)), set
//! no background refresh and load new certificates yourself.
//!
//! Merchants that only have a WeChat Pay public key (every merchant registered since 2024-Q3)
//! have no platform certificates: the platform answers `404 RESOURCE_NOT_EXISTS`, reported as
//! [`ConfigError::NoPlatformCertificates`].
//!//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> wechatpay_chain::Result<()> {
//! use wechatpay_chain::sandbox::Sandbox;
//! use wechatpay_chain::{ConfigError, ErrorKind};
//!
//! let sandbox = Sandbox::builder().start().await?;
//! let wxpay = sandbox.client()?;
//! // PHP: composer exec CertificateDownloader.php -- -k $apiv3Key -m $mchid -f $keyFile -s $serial -o $dir
//! // JS:  wxpay crt -m $mchid -s $serial -f $keyFile -k $apiv3Key -o $dir
//! let certificates = wxpay.platform_certificates().download().await?;
//! for certificate in &certificates {
//!     // Already in the client's key store; `certificate.pem()` to keep a copy.
//!     assert!(wxpay.key_store().ids().contains(&certificate.serial().to_string()));
//! }
//!
//! // A merchant with only a WeChat Pay public key has no platform certificates.
//! let public_key_only = Sandbox::builder().public_key_only().start().await?;
//! let err = public_key_only.client()?.platform_certificates().download().await.unwrap_err();
//! assert_eq!(err.kind(), &ErrorKind::Config(ConfigError::NoPlatformCertificates));
//! # sandbox.shutdown();
//! # public_key_only.shutdown();
//! # Ok(()) }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use http::{HeaderMap, Method};
use serde::Deserialize;

use crate::client::{ApiV3Key, ClientInner, Wechatpay};
use crate::crypto::aes_gcm_decrypt;
use crate::error::{ConfigError, DecodeError, Error, Result, VerifyError};
use crate::keys::{Certificate, KeyStore};
use crate::options::Options;
use crate::response::Response;
use crate::verifier::verify_response;

/// The default interval of the background refresh ([`Builder::certificate_refresh`](crate::Builder::certificate_refresh)).
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(12 * 3600);

/// After a refresh caused by an unknown serial, no unknown serial causes another download for
/// this long: serials the platform does not list (anyone can send a notification naming one)
/// cannot make the client download more than once per this interval. Every download lists
/// all current certificates, so a rotation is still picked up by the next one.
pub const UNKNOWN_SERIAL_BACKOFF: Duration = Duration::from_secs(60);

/// The platform certificate downloader of a client: [`Wechatpay::platform_certificates`].
///
/// ```no_run
/// # async fn demo(wxpay: wechatpay_chain::Wechatpay) -> wechatpay_chain::Result<()> {
/// // PHP: vendor/bin/CertificateDownloader.php -k $apiv3Key -m $mchid -f $keyPath -s $serial -o ./
/// // JS:  wxpay crt -m $mchid -s $serial -f apiclient_key.pem -k $apiv3Key -o ./
/// let certificates = wxpay.platform_certificates().refresh().await?;
/// for cert in &certificates {
///     println!("{} valid until {}", cert.serial(), cert.not_after());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PlatformCertificates {
    client: Wechatpay,
}

impl PlatformCertificates {
    pub(crate) fn new(client: Wechatpay) -> Self {
        Self { client }
    }

    /// Downloads, decrypts and verifies the platform certificates (see the
    /// [module](crate::certificates) for how the download is trusted) without loading them.
    ///
    /// Errors: [`ConfigError::MissingApiV3Key`] without an APIv3 key;
    /// [`ConfigError::NoPlatformCertificates`] for a public-key-only merchant (the `404`
    /// response is kept, the [`ApiError`](crate::ApiError) is the source); a
    /// [`VerifyError`] when the download does not verify or a certificate does not match its
    /// `serial_no`; [`ErrorKind::Crypto`](crate::ErrorKind::Crypto) when a certificate does not
    /// decrypt (wrong APIv3 key).
    pub async fn download(&self) -> Result<Vec<Certificate>> {
        download(self.client.inner()).await
    }

    /// [`download`](Self::download)s and then inserts every certificate into the client's
    /// [`KeyStore`]. Nothing is inserted when the download fails.
    pub async fn refresh(&self) -> Result<Vec<Certificate>> {
        refresh(self.client.inner()).await
    }
}

/// `GET /v3/certificates`.
#[derive(Deserialize)]
struct Listing {
    data: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    serial_no: String,
    encrypt_certificate: Encrypted,
}

#[derive(Deserialize)]
struct Encrypted {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
    ciphertext: String,
}

/// Checks a `/v3/certificates` answer and returns its certificates: a pure function over the
/// response's request `path`, headers, body bytes, the clock `now`, the APIv3 key and the keys
/// already `trusted`. Nothing is inserted anywhere.
///
/// Every `encrypt_certificate` is decrypted and parsed, each certificate's serial must equal
/// its `serial_no`, expired certificates are left out (none left is an error), and the answer
/// must verify with a `trusted` key or, when `trusted` has no usable key for its
/// `Wechatpay-Serial` and no WeChat Pay public key, with the downloaded certificate of that
/// serial (trust on first use). A listed certificate whose serial `trusted` holds with another
/// key is refused ([`VerifyError::Certificate`]).
pub fn verify_download(
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    apiv3_key: &ApiV3Key,
    trusted: &KeyStore,
) -> Result<Vec<Certificate>> {
    let listing: Listing =
        serde_json::from_slice(body).map_err(|e| Error::from(DecodeError::Json).with_source(e))?;
    let mut all = Vec::with_capacity(listing.data.len());
    for entry in listing.data {
        let e = &entry.encrypt_certificate;
        if e.algorithm != "AEAD_AES_256_GCM" {
            return Err(VerifyError::Certificate(format!(
                "certificate {} is encrypted with {}, not AEAD_AES_256_GCM",
                shown(&entry.serial_no),
                shown(&e.algorithm)
            ))
            .into());
        }
        let pem = aes_gcm_decrypt(
            apiv3_key.as_bytes(),
            e.nonce.as_bytes(),
            e.associated_data.as_bytes(),
            &e.ciphertext,
        )?;
        let cert = Certificate::from_pem(&pem)?;
        if !cert.serial().eq_ignore_ascii_case(entry.serial_no.trim()) {
            return Err(VerifyError::Certificate(format!(
                "the certificate listed as serial_no {} has serial {}",
                shown(&entry.serial_no),
                cert.serial()
            ))
            .into());
        }
        if cert.not_before() > cert.not_after() {
            return Err(VerifyError::Certificate(format!(
                "certificate {} ends before it starts",
                cert.serial()
            ))
            .into());
        }
        all.push(cert);
    }

    // A key the client already trusts is never replaced by another key under its serial.
    let held = trusted.certificates();
    for cert in &all {
        if held
            .iter()
            .any(|h| h.serial() == cert.serial() && h.public_key() != cert.public_key())
        {
            return Err(VerifyError::Certificate(format!(
                "the download lists certificate {} with another key than the trusted certificate of that serial; nothing was loaded",
                cert.serial()
            ))
            .into());
        }
    }

    match verify_response(200, path, headers, body, now, trusted) {
        Ok(()) => {}
        Err(VerifyError::UnknownSerial { serial, known }) => {
            // The platform signs with the WeChat Pay public key when the request names it
            // (the preferred id): a client that holds one never needs a first use.
            if trusted.has_public_key() {
                return Err(VerifyError::Certificate(format!(
                    "the download is signed by {serial:?}, which no trusted key vouches for, and a client that holds the WeChat Pay public key does not trust a download on first use; nothing was loaded"
                ))
                .into());
            }
            // Bootstrap: only the downloaded certificate the answer names may vouch for it.
            let Some(own) = all.iter().find(|c| c.serial() == serial) else {
                return Err(VerifyError::UnknownSerial { serial, known }.into());
            };
            let candidate = KeyStore::new();
            candidate.insert_certificate(own.clone());
            verify_response(200, path, headers, body, now, &candidate)?;
            tracing::info!(
                serial = %serial,
                "platform certificates trusted on first use (no configured key for the download's Wechatpay-Serial)"
            );
        }
        Err(e) => return Err(e.into()),
    }

    let usable: Vec<Certificate> = all.into_iter().filter(|c| now <= c.not_after()).collect();
    if usable.is_empty() {
        return Err(VerifyError::Certificate(
            "the download lists no certificate that is still valid".into(),
        )
        .into());
    }
    Ok(usable)
}

/// An unverified value for an error message: quoted, escaped (one line) and at most 64
/// characters.
fn shown(value: &str) -> String {
    format!("{:?}", value.chars().take(64).collect::<String>())
}

/// The boxed download: [`refresh_for_serial`] is called from the request path, which a
/// download goes through, so the future must have a name to break the cycle.
type Download<'a> = Pin<Box<dyn Future<Output = Result<Vec<Certificate>>> + Send + 'a>>;

/// Downloads and checks the certificates (see [`verify_download`]). The request itself skips
/// the ordinary verification (done here instead), so it never recurses into a refresh.
pub(crate) fn download(client: &Arc<ClientInner>) -> Download<'_> {
    Box::pin(async move {
        let apiv3_key = client
            .apiv3_key
            .clone()
            .ok_or(ConfigError::MissingApiV3Key(
                "download platform certificates",
            ))?;
        let wxpay = Wechatpay::from_inner(client.clone());
        let request = wxpay
            .chain("v3/certificates")
            .prepare(Method::GET, Options::new().skip_verification())?;
        let path = request.path().to_string();
        let response = wxpay.execute(request).await.map_err(not_exists_advice)?;
        check(
            &path,
            &response,
            client.clock.now(),
            &apiv3_key,
            &client.keys,
        )
        .map_err(|e| e.with_response(response))
    })
}

fn check(
    path: &str,
    response: &Response,
    now: i64,
    apiv3_key: &ApiV3Key,
    keys: &KeyStore,
) -> Result<Vec<Certificate>> {
    verify_download(
        path,
        response.headers(),
        response.bytes(),
        now,
        apiv3_key,
        keys,
    )
}

/// `404 RESOURCE_NOT_EXISTS` becomes the advice to configure the public key; the API error
/// stays reachable as the source, its response as the error's response.
fn not_exists_advice(e: Error) -> Error {
    let is_404 = e
        .api()
        .is_some_and(|api| api.status == 404 && api.code.as_deref() == Some("RESOURCE_NOT_EXISTS"));
    if !is_404 {
        return e;
    }
    let response = e.response().cloned();
    let advice = Error::from(ConfigError::NoPlatformCertificates);
    let advice = match response {
        Some(response) => advice.with_response(response),
        None => advice,
    };
    advice.with_source(e)
}

/// Downloads and inserts.
pub(crate) async fn refresh(client: &Arc<ClientInner>) -> Result<Vec<Certificate>> {
    let certificates = download(client).await?;
    for cert in &certificates {
        client.keys.insert_certificate(cert.clone());
    }
    tracing::info!(
        serials = ?certificates.iter().map(Certificate::serial).collect::<Vec<_>>(),
        "platform certificates loaded"
    );
    Ok(certificates)
}

/// The refresh state of a client.
#[derive(Debug)]
pub(crate) struct Refresher {
    /// Refresh when a response names an unknown serial.
    on_unknown: bool,
    /// When the last download caused by an unknown serial ended; the lock makes concurrent
    /// misses wait for the one download in flight (single flight).
    last: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Refresher {
    /// `on_unknown`: refresh on an unknown serial (needs the APIv3 key as well).
    pub(crate) fn new(on_unknown: bool) -> Self {
        Self {
            on_unknown,
            last: tokio::sync::Mutex::default(),
        }
    }
}

/// A serial worth a download: the shape of a certificate serial or a public key id.
fn plausible_serial(serial: &str) -> bool {
    !serial.is_empty()
        && serial.len() <= 64
        && serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Makes `serial` known if a download can: true when the store then holds a usable key for
/// it. Single flight: concurrent callers wait for the one download in flight and then find
/// the serial in the store; after a download, no unknown serial causes another one for
/// [`UNKNOWN_SERIAL_BACKOFF`]. A caller cancelled during its download (its request timed
/// out) records nothing, so the next caller downloads. Never downloads without the APIv3 key
/// or when the client turned the refresh off
/// ([`Builder::refresh_on_unknown_serial`](crate::Builder::refresh_on_unknown_serial)).
/// Failures are logged (never a secret) and give false.
pub(crate) async fn refresh_for_serial(client: &Arc<ClientInner>, serial: &str) -> bool {
    let known = || client.keys.get(serial, client.clock.now()).is_some();
    if !client.refresher.on_unknown || client.apiv3_key.is_none() || !plausible_serial(serial) {
        return false;
    }
    if known() {
        return true;
    }
    let mut last = client.refresher.last.lock().await;
    if known() {
        return true;
    }
    if last.is_some_and(|at| at.elapsed() < UNKNOWN_SERIAL_BACKOFF) {
        tracing::debug!(
            serial,
            "unknown serial: the certificates were downloaded recently"
        );
        return false;
    }
    tracing::info!(
        serial,
        "unknown Wechatpay-Serial: downloading the platform certificates"
    );
    let result = refresh(client).await;
    *last = Some(tokio::time::Instant::now());
    match result {
        Ok(_) => known(),
        Err(e) => {
            tracing::warn!(serial, error = %e, "platform certificate refresh failed");
            false
        }
    }
}

/// After a response failed verification only for its unknown serial: refresh once (see
/// [`refresh_for_serial`]) and verify again; else the original error (fail closed).
pub(crate) async fn recover_unknown_serial(
    client: &Arc<ClientInner>,
    path: &str,
    response: &Response,
    error: VerifyError,
) -> Result<(), VerifyError> {
    let VerifyError::UnknownSerial { serial, .. } = &error else {
        return Err(error);
    };
    if !refresh_for_serial(client, serial).await {
        return Err(error);
    }
    verify_response(
        response.status().as_u16(),
        path,
        response.headers(),
        response.bytes(),
        client.clock.now(),
        &client.keys,
    )
}

/// The background refresh task of a client; dropping it (with the client) aborts the task at
/// once, even while it waits for its next tick.
#[derive(Debug)]
pub(crate) struct BackgroundRefresh(tokio::task::AbortHandle);

impl Drop for BackgroundRefresh {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the background refresh on `runtime`: a download at once and then every `every`.
/// The task holds only a [`Weak`] reference to the client, and the client holds the returned
/// guard: dropping the client ends the task.
pub(crate) fn spawn_background(
    runtime: &tokio::runtime::Handle,
    client: Weak<ClientInner>,
    every: Duration,
) -> BackgroundRefresh {
    let every = every.max(Duration::from_millis(10));
    let task = runtime.spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(client) = client.upgrade() else {
                tracing::debug!("client dropped: background certificate refresh ends");
                break;
            };
            if let Err(e) = refresh(&client).await {
                tracing::warn!(error = %e, "background platform certificate refresh failed");
            }
        }
    });
    BackgroundRefresh(task.abort_handle())
}
