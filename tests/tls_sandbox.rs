//! The sandbox's TLS mode (`SandboxBuilder::tls`) against this crate's client and a raw
//! rustls client: HTTP/2 and HTTP/1.1 by ALPN, the test CA trusted only when configured,
//! client certificates verified against the test CA, the handshake bounded by the header-read
//! timeout, the config files naming the TLS files; and the builder's checks of the merchant
//! API certificate. (Mutual-TLS routes are tested in the crate: `src/sandbox/tls.rs`.)
#![cfg(feature = "sandbox")]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::{
    ConfigError, ErrorKind, KeyError, KeyMaterial, Method, PrivateKey, PublicKey, TransportKind,
    Version, Wechatpay,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

/// Every test body is bounded: a hang is a failure, not a stuck CI job.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the test took longer than 60 s")
}

async fn tls_sandbox() -> SandboxHandle {
    Sandbox::builder()
        .tls(true)
        .start()
        .await
        .expect("the TLS sandbox starts")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).unwrap()
}

/// A client for the sandbox's merchant built by hand: nothing TLS-specific unless added.
fn bare_builder(sandbox: &SandboxHandle) -> wechatpay_chain::Builder {
    Wechatpay::builder()
        .mchid("1900000109")
        .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
        .private_key(PrivateKey::from_pem(fixture("apiclient_key.pem")).unwrap())
        .public_key(
            "PUB_KEY_ID_0119000001092025112200000000000001",
            PublicKey::from_pem(fixture("pub_key.pem")).unwrap(),
        )
        .base_uri(sandbox.base_uri())
        .no_backup()
        .no_proxy()
}

/// A raw rustls client trusting the sandbox's CA, offering `alpn`, with an optional client
/// certificate; its handshake with the sandbox.
async fn raw_tls(
    sandbox: &SandboxHandle,
    alpn: &[&[u8]],
    identity: Option<(&[u8], &[u8])>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let ca = sandbox.ca_certificate_pem().expect("TLS mode");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(sandbox.addr()).await?;
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
}

#[tokio::test]
async fn a_v3_request_over_tls_negotiates_http2_and_verifies() {
    bounded(async {
        let sandbox = tls_sandbox().await;
        assert!(sandbox.base_uri().starts_with("https://127.0.0.1:"));
        let wxpay = sandbox.client().unwrap();
        let answer = wxpay.v3().certificates().get(()).await.unwrap();
        assert_eq!(answer.status(), 200);
        let recorded = sandbox.requests();
        let [request] = recorded.as_slice() else {
            panic!("one request recorded: {recorded:?}");
        };
        assert_eq!(request.version, Version::HTTP_2, "h2 chosen by ALPN");
        assert!(request.authenticated);
        assert!(
            !request.client_certificate,
            "an ordinary route does not present the merchant certificate"
        );
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn http1_over_tls_works() {
    bounded(async {
        let sandbox = tls_sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let prepared = wxpay.v3().certificates().prepare(Method::GET, ()).unwrap();
        let stream = raw_tls(&sandbox, &[b"http/1.1"], None).await.unwrap();
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let mut request = http::Request::get(prepared.target())
            .header(http::header::HOST, "127.0.0.1")
            .body(Empty::new())
            .unwrap();
        for (name, value) in prepared.headers() {
            request.headers_mut().insert(name, value.clone());
        }
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let recorded = sandbox.requests();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].version, Version::HTTP_11);
        assert!(recorded[0].authenticated);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_client_without_the_test_ca_cannot_connect_and_nothing_is_recorded() {
    bounded(async {
        let sandbox = tls_sandbox().await;
        let wxpay = bare_builder(&sandbox).build().unwrap();
        let e = wxpay.v3().certificates().get(()).await.unwrap_err();
        assert_eq!(e.transport_kind(), Some(TransportKind::Connect), "{e:?}");
        assert!(sandbox.requests().is_empty());

        // The same client with the CA added gets through.
        let ca = sandbox.ca_certificate_pem().unwrap();
        let wxpay = bare_builder(&sandbox).tls_test_root_ca(ca).build().unwrap();
        assert_eq!(
            wxpay.v3().certificates().get(()).await.unwrap().status(),
            200
        );
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn client_certificates_are_verified_against_the_test_ca() {
    bounded(async {
        let sandbox = tls_sandbox().await;
        // Self-signed by the merchant key, not issued by the sandbox's CA: refused.
        let cert = fixture("apiclient_cert.pem");
        let key = fixture("apiclient_key.pem");
        let refused = async {
            let mut stream = raw_tls(&sandbox, &[b"http/1.1"], Some((&cert, &key))).await?;
            // TLS 1.3: the server's verdict on the client certificate arrives after the
            // client's side of the handshake is done, with the first read.
            stream
                .write_all(b"GET /v3/certificates HTTP/1.1\r\nHost: x\r\n\r\n")
                .await?;
            let mut buf = [0u8; 64];
            match stream.read(&mut buf).await? {
                0 => Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
                _ => Ok(()),
            }
        };
        assert!(refused.await.is_err(), "a foreign client certificate");
        assert!(sandbox.requests().is_empty());

        // The sandbox's own merchant certificate is accepted.
        let cert = sandbox.merchant_certificate_pem().unwrap();
        let key = sandbox.merchant_certificate_key_pem().unwrap();
        let stream = raw_tls(
            &sandbox,
            &[b"http/1.1"],
            Some((cert.as_bytes(), key.as_bytes())),
        )
        .await
        .unwrap();
        let status = unsigned_get(stream).await;
        assert_eq!(status, 401, "unsigned, but over mutual TLS");
        let recorded = sandbox.requests();
        assert_eq!(recorded.len(), 1);
        assert!(recorded[0].client_certificate);
        sandbox.shutdown();
    })
    .await;
}

/// An unsigned `GET /v3/certificates` over HTTP/1.1 on `stream`: its status.
async fn unsigned_get(stream: TlsStream<TcpStream>) -> http::StatusCode {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get("/v3/certificates")
        .header(http::header::HOST, "127.0.0.1")
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, "test")
        .body(Empty::new())
        .unwrap();
    sender.send_request(request).await.unwrap().status()
}

/// Whether the server closes `stream` within `limit` (reads until EOF or an error).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut sink = [0u8; 4096];
    let wait = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, wait).await.is_ok()
}

#[tokio::test]
async fn a_tls_handshake_that_never_completes_is_closed_by_the_header_read_timeout() {
    bounded(async {
        let idle = Duration::from_secs(30);
        let sandbox = Sandbox::builder()
            .tls(true)
            .header_read_timeout(Duration::from_millis(300))
            .idle_timeout(idle)
            .start()
            .await
            .unwrap();
        // Nothing at all, then the first bytes of a ClientHello record only.
        for partial in [&b""[..], &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]] {
            let started = Instant::now();
            let mut stream = TcpStream::connect(sandbox.addr()).await.unwrap();
            stream.write_all(partial).await.unwrap();
            assert!(
                closed_within(&mut stream, Duration::from_secs(20)).await,
                "{partial:?}"
            );
            assert!(
                started.elapsed() < idle,
                "{partial:?}: closed by the header-read timeout ({:?})",
                started.elapsed()
            );
        }
        assert!(sandbox.requests().is_empty());
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn the_config_files_name_the_tls_files_and_they_work() {
    bounded(async {
        let sandbox = tls_sandbox().await;
        let json: Value =
            serde_json::from_slice(&std::fs::read(sandbox.config_json_path()).unwrap()).unwrap();
        let read = |key: &str| std::fs::read(json[key].as_str().unwrap()).unwrap();
        let ca = read("tls_test_root_ca");
        let cert = read("merchant_cert");
        let key = read("merchant_key");
        assert_eq!(ca, sandbox.ca_certificate_pem().unwrap().into_bytes());
        assert_eq!(
            cert,
            sandbox.merchant_certificate_pem().unwrap().into_bytes()
        );
        assert_eq!(
            key,
            sandbox.merchant_certificate_key_pem().unwrap().into_bytes()
        );
        assert_eq!(key, fixture("apiclient_key.pem"), "the merchant key itself");
        assert_eq!(json["base_uri"], sandbox.base_uri().as_str());

        let toml = std::fs::read_to_string(sandbox.config_toml_path()).unwrap();
        for line in [
            "tls_test_root_ca = \"sandbox_ca.pem\"",
            "merchant_cert = \"apiclient_tls_cert.pem\"",
            "merchant_key = \"apiclient_key.pem\"",
        ] {
            assert!(toml.contains(line), "{line} in\n{toml}");
        }
        let top_level = toml.split("\n[").next().unwrap();
        assert!(
            top_level.contains("merchant_cert"),
            "before the first table"
        );

        let wxpay = bare_builder(&sandbox)
            .tls_test_root_ca(&ca)
            .merchant_api_certificate(&cert, &key)
            .build()
            .unwrap();
        assert_eq!(
            wxpay.v3().certificates().get(()).await.unwrap().status(),
            200
        );

        // Plain mode: none of it.
        let plain = Sandbox::builder().start().await.unwrap();
        assert!(plain.ca_certificate_pem().is_none());
        assert!(plain.merchant_certificate_pem().is_none());
        assert!(plain.merchant_certificate_key_pem().is_none());
        let json: Value =
            serde_json::from_slice(&std::fs::read(plain.config_json_path()).unwrap()).unwrap();
        assert!(json.get("merchant_cert").is_none());
        plain.shutdown();
        sandbox.shutdown();
    })
    .await;
}

#[test]
fn the_builder_checks_the_merchant_certificate_and_never_shows_it() {
    let cert = fixture("apiclient_cert.pem");
    let key = fixture("apiclient_key.pem");
    let base = || {
        Wechatpay::builder()
            .mchid("1900000109")
            .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
            .private_key(PrivateKey::from_pem(&key).unwrap())
    };
    let builder = base().merchant_api_certificate(&cert, &key);
    let shown = format!("{builder:?}");
    assert!(shown.contains("merchant_api_certificate: true"), "{shown}");
    assert!(
        !shown.contains("PRIVATE KEY") && !shown.contains("MII"),
        "{shown}"
    );
    let wxpay = builder.build().unwrap();
    assert!(!format!("{wxpay:?}").contains("MII"));

    // The key given as the certificate: named.
    let e = base()
        .merchant_api_certificate(&key, &key)
        .build()
        .unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Key(KeyError::Pem {
            material: KeyMaterial::Certificate,
            found: Some("PRIVATE KEY".into()),
        })
    );
    // No key in the key PEM.
    let e = base()
        .merchant_api_certificate(&cert, &cert)
        .build()
        .unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Key(KeyError::Pem {
            material: KeyMaterial::PrivateKey,
            found: None,
        })
    );
    // Another key than the certificate's.
    let e = base()
        .merchant_api_certificate(&cert, fixture("platform_key.pem"))
        .build()
        .unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Config(ConfigError::MerchantCertificateMismatch)
    );
    assert!(e.to_string().contains("merchant_api_certificate"), "{e}");
    // A PKCS#1 key is taken too.
    base()
        .merchant_api_certificate(&cert, fixture("apiclient_key.pkcs1.pem"))
        .build()
        .unwrap();
    // A test root CA that is no certificate.
    let e = base().tls_test_root_ca("not a pem").build().unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Key(KeyError::Pem {
                material: KeyMaterial::Certificate,
                ..
            })
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_merchant_key_rcgen_cannot_take_gets_a_fresh_certificate_key() {
    bounded(async {
        // A keys folder whose merchant key is PKCS#1 (`BEGIN RSA PRIVATE KEY`).
        let dir = std::env::temp_dir().join(format!("wechatpay-tls-pkcs1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "fixtures.json",
            "platform_key.pem",
            "pub_key.pem",
            "pub_key_private.pem",
            "wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem",
        ] {
            std::fs::write(dir.join(name), fixture(name)).unwrap();
        }
        let pkcs1 = fixture("apiclient_key.pkcs1.pem");
        std::fs::write(dir.join("apiclient_key.pem"), &pkcs1).unwrap();
        let sandbox = Sandbox::builder()
            .keys_dir(&dir)
            .tls(true)
            .start()
            .await
            .unwrap();
        let key = sandbox.merchant_certificate_key_pem().unwrap();
        assert_ne!(key.as_bytes(), pkcs1.as_slice(), "a key of its own");
        let json: Value =
            serde_json::from_slice(&std::fs::read(sandbox.config_json_path()).unwrap()).unwrap();
        let key_file = json["merchant_key"].as_str().unwrap();
        assert!(key_file.ends_with("apiclient_tls_key.pem"), "{key_file}");
        assert_eq!(std::fs::read(key_file).unwrap(), key.as_bytes());

        // The client builder takes the pair, and the pair passes the sandbox's verifier.
        let wxpay = sandbox.client().unwrap();
        assert_eq!(
            wxpay.v3().certificates().get(()).await.unwrap().status(),
            200
        );
        let cert = sandbox.merchant_certificate_pem().unwrap();
        let stream = raw_tls(
            &sandbox,
            &[b"http/1.1"],
            Some((cert.as_bytes(), key.as_bytes())),
        )
        .await
        .unwrap();
        assert_eq!(unsigned_get(stream).await, 401);
        let recorded = sandbox.requests();
        assert!(recorded.last().unwrap().client_certificate);
        sandbox.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
