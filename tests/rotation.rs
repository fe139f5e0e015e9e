//! A platform certificate rotation seen by every helper, not only by ordinary responses: a
//! notification signed by the new certificate, a verified streaming download, and a sensitive
//! field encrypted to the new certificate after the client picked it up.

#![cfg(feature = "sandbox")]

mod support;

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::{Builder, Wechatpay};

use support::notify_listener::listener;
use support::{fixtures, merchant_key, platform_certificate};

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the test finishes within 60 s")
}

/// Certificate mode: the fixture platform certificate only, and the APIv3 key (which turns
/// refresh on an unknown serial on).
fn certificate_builder(sandbox: &SandboxHandle) -> Builder {
    let f = fixtures();
    Wechatpay::builder()
        .mchid(f.mchid)
        .serial(f.merchant_serial)
        .private_key(merchant_key())
        .apiv3_key(f.apiv3_key)
        .certificate(platform_certificate())
        .base_uri(sandbox.base_uri())
        .no_backup()
}

#[tokio::test]
async fn a_notification_signed_by_a_rotated_certificate_opens_after_one_download() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = certificate_builder(&sandbox).build().unwrap();
        let new = sandbox.rotate_platform_certificate().await.unwrap();
        let before = sandbox.certificate_downloads();
        let (url, mut received) = listener(wxpay.clone()).await;

        let resource = json!({"out_trade_no": "ROT-1", "trade_state": "SUCCESS"});
        let status = sandbox
            .deliver_notification(&url, "TRANSACTION.SUCCESS", resource.clone())
            .await
            .unwrap();
        let opened = received
            .recv()
            .await
            .unwrap()
            .expect("opens after a refresh");
        assert_eq!(status, 204);
        assert_eq!(opened.resource(), &resource);
        assert_eq!(sandbox.certificate_downloads() - before, 1);
        assert!(wxpay.key_store().ids().contains(&new));

        // The next one needs no download.
        sandbox
            .deliver_notification(&url, "TRANSACTION.SUCCESS", resource)
            .await
            .unwrap();
        assert!(received.recv().await.unwrap().is_ok());
        assert_eq!(sandbox.certificate_downloads() - before, 1);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_notification_from_a_rotated_certificate_fails_closed_without_refresh() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = certificate_builder(&sandbox)
            .refresh_on_unknown_serial(false)
            .build()
            .unwrap();
        sandbox.rotate_platform_certificate().await.unwrap();
        let (url, mut received) = listener(wxpay).await;
        let status = sandbox
            .deliver_notification(&url, "TRANSACTION.SUCCESS", json!({"a": 1}))
            .await
            .unwrap();
        let error = received.recv().await.unwrap().unwrap_err();
        assert_eq!(status, 401, "refused with the failure reply");
        assert!(error.contains("Wechatpay-Serial"), "{error}");
        assert_eq!(sandbox.certificate_downloads(), 0);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_verified_streaming_download_picks_up_a_rotation() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = certificate_builder(&sandbox).build().unwrap();
        sandbox.rotate_platform_certificate().await.unwrap();
        let before = sandbox.certificate_downloads();
        // The bill apply answer is signed (not an exempt download): verified before release.
        let mut download = wxpay
            .v3()
            .bill()
            .tradebill()
            .download(json!({"query": {"bill_date": "2026-11-30"}}))
            .await
            .expect("verified after one certificate download");
        let mut body = Vec::new();
        download.write_to(&mut body).await.unwrap();
        let apply: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(apply["hash_type"], "SHA1");
        assert_eq!(sandbox.certificate_downloads() - before, 1);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_field_encrypted_to_the_rotated_certificate_is_accepted() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = certificate_builder(&sandbox).build().unwrap();
        let new = sandbox.rotate_platform_certificate().await.unwrap();
        wxpay.platform_certificates().refresh().await.unwrap();

        let encryptor = wxpay.encryptor().unwrap();
        assert_eq!(
            encryptor.serial(),
            new,
            "the newest certificate is preferred"
        );
        let body = json!({
            "appid": "wx8888888888888888",
            "type": "MERCHANT_ID",
            "account": "86693852",
            "name": encryptor.encrypt("张三").unwrap(),
            "relation_type": "STORE",
        });
        let response = wxpay
            .v3()
            .profitsharing()
            .receivers()
            .add()
            .post(encryptor.options().json(body))
            .await
            .expect("the sandbox decrypts with the rotated certificate's key");
        assert_eq!(response.status(), 200);
        let sent = sandbox.requests().pop().unwrap();
        assert_eq!(sent.headers["wechatpay-serial"], new.as_str());
        sandbox.shutdown();
    })
    .await;
}
