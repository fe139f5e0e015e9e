//! Platform certificates: the `certificates_response` vector (pure download check), and end
//! to end against the sandbox: bootstrap, rotation under 100 concurrent requests with one
//! download, a tampered download, the public-key-only advice, the background refresh.
#![cfg(feature = "sandbox")]

mod support;

use std::future::Future;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};
use tokio::task::JoinSet;
use wechatpay_chain::certificates::verify_download;
use wechatpay_chain::sandbox::{Fault, Sandbox, SandboxHandle};
use wechatpay_chain::{
    ApiV3Key, Builder, ConfigError, CryptoError, ErrorKind, KeyStore, Options, PublicKey, Result,
    VerifyError, Wechatpay,
};

use support::{fixtures, merchant_key, platform_certificate, str_field};

/// Every network test is bounded: a hang is a failure.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the test took longer than 30 s")
}

/// Waits (at most 10 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 10 s: {what}");
}

/// The merchant identity, the APIv3 key and the sandbox's address, and NO platform key.
fn bare_builder(sandbox: &SandboxHandle) -> Builder {
    let f = fixtures();
    Wechatpay::builder()
        .mchid(f.mchid)
        .serial(f.merchant_serial)
        .private_key(merchant_key())
        .apiv3_key(f.apiv3_key)
        .base_uri(sandbox.base_uri())
        .no_backup()
}

/// Certificate mode: the platform certificate only (no WeChat Pay public key), so requests
/// name the certificate and the sandbox signs with the platform certificate key.
fn certificate_builder(sandbox: &SandboxHandle) -> Builder {
    bare_builder(sandbox).certificate(platform_certificate())
}

/// A signed POST to a catalog endpoint the sandbox answers with a signed `200 {}`.
fn seed(
    wxpay: &Wechatpay,
) -> impl Future<Output = Result<wechatpay_chain::Response>> + Send + 'static {
    wxpay
        .v3()
        .pay()
        .transactions()
        .native()
        .post(json!({"json": {}}))
}

fn header_map(value: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, v) in value.as_object().expect("headers object") {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
        );
    }
    map
}

#[test]
fn the_vector_download_decrypts_and_verifies() {
    let case = &support::vectors()["certificates_response"];
    let headers = header_map(&case["headers"]);
    let body = str_field(case, "body").as_bytes();
    let path = str_field(case, "path");
    let now = case["now"].as_i64().unwrap();
    let key = ApiV3Key::new(fixtures().apiv3_key).unwrap();

    // With the configured keys, and with none at all (trust on first use).
    for (name, trusted) in [
        ("trusted", support::key_store()),
        ("bootstrap", KeyStore::new()),
    ] {
        let certs = verify_download(path, &headers, body, now, &key, &trusted)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(certs.len(), 1, "{name}");
        assert_eq!(certs[0].serial(), fixtures().platform_serial, "{name}");
        assert_eq!(
            certs[0].pem(),
            str_field(case, "decrypted_certificate"),
            "{name}"
        );
        if name == "bootstrap" {
            assert!(trusted.ids().is_empty(), "nothing inserted");
        }
    }

    // A key the store holds under that serial must verify: no fallback to the download.
    let wrong = KeyStore::new();
    wrong.insert_public_key(fixtures().platform_serial, support::public_key());
    let e = verify_download(path, &headers, body, now, &key, &wrong).unwrap_err();
    assert_eq!(e.verify(), Some(&VerifyError::BadSignature), "{e}");

    // Another APIv3 key does not decrypt.
    let other = ApiV3Key::new([b'x'; 32]).unwrap();
    let e = verify_download(path, &headers, body, now, &other, &KeyStore::new()).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Crypto(CryptoError::Decrypt), "{e}");

    // A body changed after signing does not verify.
    let tampered = String::from_utf8(body.to_vec())
        .unwrap()
        .replace("2125-10-29", "2125-10-30");
    let e = verify_download(
        path,
        &headers,
        tampered.as_bytes(),
        now,
        &key,
        &KeyStore::new(),
    )
    .unwrap_err();
    assert_eq!(e.verify(), Some(&VerifyError::BadSignature), "{e}");

    // A certificate listed under another serial_no is refused.
    let renamed = String::from_utf8(body.to_vec())
        .unwrap()
        .replace(&fixtures().platform_serial, "0123456789ABCDEF");
    let e = verify_download(
        path,
        &headers,
        renamed.as_bytes(),
        now,
        &key,
        &KeyStore::new(),
    )
    .unwrap_err();
    assert!(
        matches!(e.verify(), Some(VerifyError::Certificate(m)) if m.contains("0123456789ABCDEF")),
        "{e}"
    );
}

#[tokio::test]
async fn a_client_without_platform_keys_bootstraps_and_then_verifies() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = bare_builder(&sandbox)
            .refresh_on_unknown_serial(false)
            .build()
            .unwrap();
        let certs = wxpay.platform_certificates().download().await.unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].serial(), sandbox.platform_serial());
        assert!(
            wxpay.key_store().ids().is_empty(),
            "download() inserts nothing"
        );

        let loaded = wxpay.platform_certificates().refresh().await.unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(wxpay.key_store().ids(), vec![sandbox.platform_serial()]);
        let ok = seed(&wxpay).await.expect("ordinary responses verify now");
        assert_eq!(ok.status(), 200);
        assert_eq!(sandbox.certificate_downloads(), 2);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_under_100_concurrent_requests_is_one_download() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = certificate_builder(&sandbox).build().unwrap();
        assert_eq!(seed(&wxpay).await.unwrap().status(), 200);
        let old = sandbox.platform_serial();
        let new = sandbox.rotate_platform_certificate().await.unwrap();
        assert_ne!(old, new);
        let before = sandbox.certificate_downloads();

        let mut requests = JoinSet::new();
        for _ in 0..100 {
            requests.spawn(seed(&wxpay));
        }
        let mut ok = 0;
        while let Some(result) = requests.join_next().await {
            let response = result
                .unwrap()
                .expect("every request verifies after the refresh");
            assert_eq!(response.status(), 200);
            ok += 1;
        }
        assert_eq!(ok, 100);
        assert_eq!(sandbox.certificate_downloads() - before, 1, "single flight");
        let mut ids = wxpay.key_store().ids();
        ids.sort();
        let mut both = vec![old, new.clone()];
        both.sort();
        assert_eq!(ids, both, "old and new certificates loaded");

        // Later requests name the new certificate and need no download.
        assert_eq!(seed(&wxpay).await.unwrap().status(), 200);
        assert_eq!(sandbox.certificate_downloads() - before, 1);
        let last = sandbox.requests().pop().unwrap();
        assert_eq!(last.headers["wechatpay-serial"], new.as_str());
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_serial_the_download_does_not_bring_fails_closed_without_a_loop() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = certificate_builder(&sandbox).build().unwrap();
        let before = sandbox.certificate_downloads();
        for attempt in 0..3 {
            sandbox.inject(Fault::UnknownSerial);
            let e = seed(&wxpay).await.unwrap_err();
            assert!(
                matches!(e.verify(), Some(VerifyError::UnknownSerial { .. })),
                "{attempt}: {e}"
            );
        }
        assert_eq!(
            sandbox.certificate_downloads() - before,
            1,
            "one download, then the serial backs off"
        );

        // Turned off: no download at all.
        let quiet = certificate_builder(&sandbox)
            .refresh_on_unknown_serial(false)
            .build()
            .unwrap();
        sandbox.inject(Fault::UnknownSerial);
        assert!(seed(&quiet).await.is_err());
        assert_eq!(sandbox.certificate_downloads() - before, 1);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_tampered_download_is_refused_and_nothing_is_inserted() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        // Bootstrapping and already trusting: both refuse a wrong signature.
        for trusted in [false, true] {
            let builder = if trusted {
                certificate_builder(&sandbox)
            } else {
                bare_builder(&sandbox)
            };
            let wxpay = builder.refresh_on_unknown_serial(false).build().unwrap();
            let ids = wxpay.key_store().ids();
            sandbox.inject(Fault::WrongSignature);
            let e = wxpay.platform_certificates().refresh().await.unwrap_err();
            assert_eq!(
                e.verify(),
                Some(&VerifyError::BadSignature),
                "{trusted}: {e}"
            );
            assert_eq!(e.status().map(|s| s.as_u16()), Some(200), "response kept");
            assert_eq!(wxpay.key_store().ids(), ids, "{trusted}: nothing inserted");

            // A download whose signature names no key at all is refused as well.
            sandbox.inject(Fault::UnknownSerial);
            let e = wxpay.platform_certificates().refresh().await.unwrap_err();
            assert!(
                matches!(e.verify(), Some(VerifyError::UnknownSerial { .. })),
                "{e}"
            );
            assert_eq!(wxpay.key_store().ids(), ids);
        }
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_public_key_only_merchant_is_told_to_configure_its_public_key() {
    bounded(async {
        let sandbox = Sandbox::builder().public_key_only().start().await.unwrap();
        let wxpay = sandbox.client().unwrap();
        let e = wxpay.platform_certificates().refresh().await.unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::Config(ConfigError::NoPlatformCertificates),
            "{e}"
        );
        let text = e.to_string();
        assert!(
            text.contains("public_key(\"PUB_KEY_ID_") && text.contains("RESOURCE_NOT_EXISTS"),
            "{text}"
        );
        assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
        let api = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<wechatpay_chain::Error>())
            .and_then(wechatpay_chain::Error::api)
            .expect("the API error is the source");
        assert_eq!(api.code.as_deref(), Some("RESOURCE_NOT_EXISTS"));

        // Ordinary calls verify with the public key as ever.
        assert_eq!(seed(&wxpay).await.unwrap().status(), 200);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn the_apiv3_key_is_required_and_named() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let f = fixtures();
        let builder = || {
            Wechatpay::builder()
                .mchid(f.mchid.clone())
                .serial(f.merchant_serial.clone())
                .private_key(merchant_key())
                .public_key(
                    f.public_key_id.clone(),
                    PublicKey::from_pem(support::fixture("pub_key.pem")).unwrap(),
                )
                .base_uri(sandbox.base_uri())
                .no_backup()
        };
        let e = builder()
            .build()
            .unwrap()
            .platform_certificates()
            .download()
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Config(ConfigError::MissingApiV3Key(_))),
            "{e}"
        );
        assert!(e.to_string().contains("apiv3_key"), "{e}");
        let e = builder()
            .certificate_refresh(Duration::from_secs(60))
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("apiv3_key"), "{e}");
        assert_eq!(sandbox.certificate_downloads(), 0);
        sandbox.shutdown();
    })
    .await;
}

#[test]
fn the_background_refresh_needs_a_runtime() {
    let e = support::builder_at(support::VECTOR_EPOCH)
        .certificate_refresh(Duration::from_secs(60))
        .build()
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Config(ConfigError::NoRuntime(_))),
        "{e}"
    );
}

#[tokio::test]
async fn the_background_refresh_picks_up_a_rotation_and_stops_with_the_client() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        // No refresh on unknown serial: only the background task can bring the new certificate.
        let wxpay = certificate_builder(&sandbox)
            .refresh_on_unknown_serial(false)
            .certificate_refresh(Duration::from_millis(200))
            .build()
            .unwrap();
        until("the first background download", || {
            sandbox.certificate_downloads() >= 1
        })
        .await;
        assert_eq!(seed(&wxpay).await.unwrap().status(), 200);

        let new = sandbox.rotate_platform_certificate().await.unwrap();
        let store = wxpay.key_store().clone();
        until("the rotated certificate is loaded", || {
            store.ids().contains(&new)
        })
        .await;
        for _ in 0..5 {
            assert_eq!(seed(&wxpay).await.unwrap().status(), 200);
        }
        assert_eq!(
            sandbox.requests().pop().unwrap().headers["wechatpay-serial"],
            new.as_str()
        );

        // Dropping the client ends the task: the downloads stop.
        drop(wxpay);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let settled = sandbox.certificate_downloads();
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(sandbox.certificate_downloads(), settled, "the task ended");
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_refresh_on_an_unknown_serial_fits_in_the_request_timeout() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = certificate_builder(&sandbox).build().unwrap();
        let before = sandbox.certificate_downloads();
        // The answer names an unknown serial; the certificate download then hangs for 20 s.
        sandbox.inject(Fault::UnknownSerial);
        sandbox.inject(Fault::Delay(Duration::from_secs(20)));
        let started = tokio::time::Instant::now();
        let e = wxpay
            .v3()
            .pay()
            .transactions()
            .native()
            .post(
                Options::new()
                    .json(json!({}))
                    .timeout(Duration::from_secs(1)),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e.verify(), Some(VerifyError::UnknownSerial { .. })),
            "the original error: {e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the refresh outlived the 1 s request timeout: {:?}",
            started.elapsed()
        );

        // The cancelled download recorded nothing: the next unknown serial downloads again.
        sandbox.inject(Fault::UnknownSerial);
        // (The delayed download is counted only after its 20 s, so any count is this one.)
        assert!(seed(&wxpay).await.is_err());
        assert_eq!(
            sandbox.certificate_downloads() - before,
            1,
            "a new download"
        );
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn dropping_the_client_ends_the_background_task_at_once() {
    bounded(async {
        // A closed port: the first download fails at once and opens no connection.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let f = fixtures();
        let builder = Wechatpay::builder()
            .mchid(f.mchid)
            .serial(f.merchant_serial)
            .private_key(merchant_key())
            .apiv3_key(f.apiv3_key)
            .certificate(platform_certificate())
            .base_uri(base)
            .no_backup()
            .certificate_refresh(Duration::from_secs(3600));
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();

        let wxpay = builder.build().unwrap();
        assert_eq!(metrics.num_alive_tasks(), before + 1, "the background task");
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The task now waits an hour for its next tick; dropping the client must end it.
        drop(wxpay);
        until("the background task ended", || {
            metrics.num_alive_tasks() == before
        })
        .await;
    })
    .await;
}
