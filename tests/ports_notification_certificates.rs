//! PHP and JS call sites ported line by line and run against the sandbox:
//!
//! - the PHP README notification recipe (`php://input`, headers in any case,
//!   `Rsa::verify(Formatter::joinedByLineFeed($ts, $nonce, $body), …)`, `AesGcm::decrypt`),
//!   including the commonest porting mistake: verifying a re-encoded body (JS
//!   `JSON.stringify(ctx.request.body)`), which must fail closed;
//! - `CertificateDownloader.php -o ./` / `wxpay crt -o ./`: download the platform certificates,
//!   write each to `wechatpay_{serial}.pem`, and configure a client from those files.
#![cfg(feature = "sandbox")]

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wechatpay_chain::notification::Reply;
use wechatpay_chain::sandbox::Sandbox;
use wechatpay_chain::{Certificate, ErrorKind, VerifyError, Wechatpay};

use support::{fixtures, merchant_key};

/// A listener that keeps what it received (headers, raw body) and answers 204.
async fn capture() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let tx = tx.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body.collect().await?.to_bytes();
                    let _ = tx.send((parts.headers, body));
                    Ok::<_, hyper::Error>(Reply::success().into_http().map(Full::new))
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
async fn the_php_notification_recipe_and_its_reencoding_mistake() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = sandbox.client().unwrap();
        let (url, mut received) = capture().await;
        let resource = json!({"out_trade_no": "PORT-1", "trade_state": "SUCCESS"});
        let status = sandbox
            .deliver_notification(&url, "TRANSACTION.SUCCESS", resource.clone())
            .await
            .unwrap();
        assert_eq!(status, 204);
        let (headers, body) = received.recv().await.unwrap();

        // PHP: $inWechatpaySignature = $headers['Wechatpay-Signature']; … (any case: some web
        // servers upper-case them). The HeaderMap is case-insensitive: re-key them upper-case.
        let mut shouted = HeaderMap::new();
        for (name, value) in &headers {
            let upper = HeaderName::from_bytes(name.as_str().to_uppercase().as_bytes()).unwrap();
            shouted.append(upper, value.clone());
        }
        // PHP: $inBody = file_get_contents('php://input');
        //      Rsa::verify(Formatter::joinedByLineFeed($ts, $nonce, $inBody), $sig, $platformKey)
        //      && 300 >= abs(time() - (int)$ts);
        //      ['resource' => [...]] = json_decode($inBody, true);
        //      $inBodyResource = AesGcm::decrypt($ciphertext, $apiv3Key, $nonce, $aad);
        let event = wxpay.notification(&shouted, &body).await.unwrap();
        assert_eq!(event.resource(), &resource);
        assert_eq!(event.event_type(), "TRANSACTION.SUCCESS");

        // JS (Koa with a JSON body parser): Rsa.verify(Formatter.joinedByLineFeed(ts, nonce,
        // JSON.stringify(ctx.request.body)), …): a re-encoded body is not what was signed.
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        let reencoded = serde_json::to_vec_pretty(&parsed).unwrap();
        assert_ne!(reencoded, body.to_vec());
        let e = wxpay.notification(&headers, &reencoded).await.unwrap_err();
        assert_eq!(e.verify(), Some(&VerifyError::BadSignature), "{e}");
        assert!(
            e.to_string()
                .starts_with("notification verification failed"),
            "{e}"
        );
        let reply = Reply::for_error(&e);
        assert_eq!(reply.status(), 401);
        sandbox.shutdown();
    })
    .await
    .expect("within 30 s");
}

#[tokio::test]
async fn the_certificate_downloader_cli_then_a_client_from_its_files() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let f = fixtures();
        // PHP: CertificateDownloader.php -k $apiv3Key -m $mchid -f $keyPath -s $serial -o ./
        // JS:  wxpay crt -m $mchid -s $serial -f apiclient_key.pem -k $apiv3Key -o ./
        let downloader = Wechatpay::builder()
            .mchid(f.mchid.clone())
            .serial(f.merchant_serial.clone())
            .private_key(merchant_key())
            .apiv3_key(f.apiv3_key.clone())
            .base_uri(sandbox.base_uri())
            .no_backup()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("r1-crt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = Vec::new();
        for cert in downloader.platform_certificates().download().await.unwrap() {
            let file = dir.join(format!("wechatpay_{}.pem", cert.serial()));
            std::fs::write(&file, cert.pem()).unwrap();
            files.push(file);
        }
        assert_eq!(files.len(), 1);

        // PHP: $platformCertificateInstance = Rsa::from('file://' . $file, Rsa::KEY_TYPE_PUBLIC);
        //      Builder::factory([... 'certs' => [$serial => $platformCertificateInstance]]);
        let cert = Certificate::from_pem_file(&files[0]).unwrap();
        let wxpay = Wechatpay::builder()
            .mchid(f.mchid.clone())
            .serial(f.merchant_serial.clone())
            .private_key(merchant_key())
            .certificate(cert)
            .base_uri(sandbox.base_uri())
            .no_backup()
            .refresh_on_unknown_serial(false)
            .build()
            .unwrap();
        let response = wxpay
            .v3()
            .pay()
            .transactions()
            .native()
            .post(json!({"json": {}}))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let _ = std::fs::remove_dir_all(&dir);

        // Without the APIv3 key the downloader says which key is missing.
        let bare = Wechatpay::builder()
            .mchid(f.mchid.clone())
            .serial(f.merchant_serial.clone())
            .private_key(merchant_key())
            .base_uri(sandbox.base_uri())
            .no_backup()
            .build()
            .unwrap();
        let e = bare.platform_certificates().download().await.unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Config(_)), "{e}");
        sandbox.shutdown();
    })
    .await
    .expect("within 30 s");
}
