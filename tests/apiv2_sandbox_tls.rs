//! The sandbox's APIv2 mutual-TLS endpoint and v2 refund notification, in TLS mode, with a
//! raw rustls client (this crate's refuses a mutual-TLS call without a certificate before
//! sending; the point here is what the sandbox does) and a loopback notification listener.
#![cfg(feature = "sandbox")]

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::v2::notification;
use wechatpay_chain::v2::sign::{verify, SignType};
use wechatpay_chain::v2::xml::{from_xml, to_xml};

#[path = "support/apiv2.rs"]
mod v2s;
use v2s::*;

/// POSTs `body` over HTTPS to a TLS-mode sandbox with a raw rustls client trusting its CA,
/// presenting the sandbox's merchant API certificate when `identity`; the status and body.
/// (A raw client: this crate's refuses a mutual-TLS call without a certificate before
/// sending, and the point here is what the sandbox does.)
async fn tls_post(
    sandbox: &SandboxHandle,
    identity: bool,
    path: &str,
    (content_type, body): (&'static str, Bytes),
) -> (u16, Bytes) {
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
    let config = if identity {
        let cert = sandbox.merchant_certificate_pem().unwrap();
        let key = sandbox.merchant_certificate_key_pem().unwrap();
        builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let tcp = TcpStream::connect(sandbox.addr()).await.unwrap();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::post(path)
        .header(http::header::HOST, "127.0.0.1")
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(body))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// POSTs `data` as XML ([`tls_post`]); the parsed answer (always HTTP 200, like the platform).
async fn tls_call(
    sandbox: &SandboxHandle,
    identity: bool,
    path: &str,
    data: &Map<String, Value>,
) -> Map<String, Value> {
    let xml = ("text/xml; charset=utf-8", Bytes::from(to_xml(data)));
    let (status, body) = tls_post(sandbox, identity, path, xml).await;
    assert_eq!(status, 200);
    from_xml(&body).unwrap()
}

#[tokio::test]
async fn refund_over_mutual_tls_is_made_and_refused_without_the_certificate() {
    let sandbox = Sandbox::builder().tls(true).start().await.unwrap();
    let paid = tls_call(
        &sandbox,
        false,
        "/pay/micropay",
        &signed(micropay("V2TLS001", "100"), SignType::Md5),
    )
    .await;
    assert_eq!(text(&paid, "result_code"), "SUCCESS", "{paid:?}");

    let refused = tls_call(
        &sandbox,
        false,
        "/secapi/pay/refund",
        &refund("V2TLS001", "V2TLSR1", "100", "30"),
    )
    .await;
    assert_refused(&refused, "merchant API certificate");
    let last = sandbox.requests().pop().unwrap();
    assert!(!last.client_certificate && !last.authenticated);

    let made = tls_call(
        &sandbox,
        true,
        "/secapi/pay/refund",
        &refund("V2TLS001", "V2TLSR1", "100", "30"),
    )
    .await;
    assert_eq!(text(&made, "result_code"), "SUCCESS", "{made:?}");
    assert_eq!(text(&made, "refund_fee"), "30");
    assert_eq!(text(&made, "out_refund_no"), "V2TLSR1");
    assert_eq!(text(&made, "transaction_id"), text(&paid, "transaction_id"));
    assert!(!text(&made, "refund_id").is_empty());
    assert_eq!(text(&made, "sign").len(), 64);
    verify(&made, &key(), Some(SignType::HmacSha256)).unwrap();
    let last = sandbox.requests().pop().unwrap();
    assert!(last.client_certificate && last.authenticated);

    let too_much = tls_call(
        &sandbox,
        true,
        "/secapi/pay/refund",
        &refund("V2TLS001", "V2TLSR2", "100", "71"),
    )
    .await;
    assert_eq!(
        text(&too_much, "err_code"),
        "INVALID_REQUEST",
        "{too_much:?}"
    );
    let query = signed(
        fields(&[
            ("appid", APPID),
            ("mch_id", MCHID),
            ("out_trade_no", "V2TLS001"),
        ]),
        SignType::Md5,
    );
    let state = tls_call(&sandbox, false, "/pay/orderquery", &query).await;
    assert_eq!(text(&state, "trade_state"), "REFUND");
    sandbox.shutdown();
}

/// A loopback listener for v2 notifications: opens each with `v2::notification::open` and the
/// APIv2 key, answers the ack (or the fail XML), and reports the opened fields (or the error).
async fn v2_listener() -> (
    String,
    mpsc::UnboundedReceiver<Result<Map<String, Value>, String>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v2notify", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let service =
                hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let body = request.into_body().collect().await?.to_bytes();
                        let answer = match notification::open(&body, &key()) {
                            Ok(n) if n.is_refund() => {
                                let _ = tx.send(Ok(n.fields().clone()));
                                notification::ack().to_string()
                            }
                            Ok(_) => {
                                let _ = tx.send(Err("not a refund notification".to_string()));
                                notification::fail("not a refund notification")
                            }
                            Err(e) => {
                                let _ = tx.send(Err(e.to_string()));
                                notification::fail("cannot open")
                            }
                        };
                        Ok::<_, hyper::Error>(http::Response::new(Full::new(Bytes::from(answer))))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, rx)
}

#[tokio::test]
async fn a_v2_refund_notification_carries_the_refund_encrypted_in_req_info() {
    let sandbox = Sandbox::builder().tls(true).start().await.unwrap();
    let (url, mut opened) = v2_listener().await;
    let paid = tls_call(
        &sandbox,
        false,
        "/pay/micropay",
        &signed(micropay("V2N001", "500"), SignType::Md5),
    )
    .await;
    // The refund names the listener: the sandbox notifies it once, after answering.
    let mut request = refund("V2N001", "V2NR1", "500", "120");
    request.remove("sign");
    request.insert("notify_url".into(), url.clone().into());
    let request = signed(request, SignType::HmacSha256);
    let made = tls_call(&sandbox, true, "/secapi/pay/refund", &request).await;
    assert_eq!(text(&made, "result_code"), "SUCCESS", "{made:?}");
    let automatic = next(&mut opened).await.unwrap();

    // And again on demand.
    let status = sandbox
        .deliver_v2_refund_notification(&url, "V2NR1")
        .await
        .unwrap();
    assert_eq!(status, 200);
    let info = next(&mut opened).await.unwrap();
    // And through the control endpoint, for clients in other languages.
    let control = serde_json::json!({"notify_url": url, "out_refund_no": "V2NR1"});
    let control = ("application/json", Bytes::from(control.to_string()));
    let (status, answer) = tls_post(
        &sandbox,
        false,
        "/_sandbox/v2/refund-notifications",
        control,
    )
    .await;
    assert_eq!((status, &answer[..]), (200, &br#"{"status":200}"#[..]));
    let controlled = next(&mut opened).await.unwrap();
    for info in [&automatic, &info, &controlled] {
        assert_eq!(text(info, "out_refund_no"), "V2NR1");
        assert_eq!(text(info, "refund_id"), text(&made, "refund_id"));
        assert_eq!(text(info, "transaction_id"), text(&paid, "transaction_id"));
        assert_eq!(text(info, "out_trade_no"), "V2N001");
        assert_eq!(text(info, "refund_fee"), "120");
        assert_eq!(text(info, "total_fee"), "500");
        assert_eq!(text(info, "refund_status"), "SUCCESS");
        assert_eq!(text(info, "success_time").len(), 19);
    }

    let unknown = sandbox.deliver_v2_refund_notification(&url, "V2NOPE").await;
    assert!(unknown.unwrap_err().to_string().contains("V2NOPE"));
    let remote = sandbox
        .deliver_v2_refund_notification("http://example.com/notify", "V2NR1")
        .await;
    assert!(remote.is_err());
    sandbox.shutdown();
}

/// The next opened notification, within 20 s: a notification that never arrives fails the test
/// instead of hanging it (the listener keeps its sender).
async fn next<T>(opened: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(20), opened.recv())
        .await
        .expect("a notification within 20 s")
        .expect("the listener is running")
}
