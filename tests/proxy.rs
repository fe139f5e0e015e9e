//! The transport goes through an explicit proxy with `CONNECT`, and fails over to the backup
//! domain when the default one cannot be reached. No traffic leaves loopback: the test proxy
//! records each `CONNECT` and refuses it.

#[path = "support/fake_proxy.rs"]
mod fake_proxy;

use std::time::Duration;

use tokio::sync::mpsc;
use wechatpay_chain::{PrivateKey, Wechatpay};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

/// A proxy that answers every CONNECT with 502 and reports its request line.
async fn refusing_proxy() -> (String, mpsc::UnboundedReceiver<String>) {
    let (addr, mut heads) =
        fake_proxy::fake_proxy(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n").await;
    let (tx, lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(head) = heads.recv().await {
            let _ = tx.send(head.lines().next().unwrap_or_default().to_string());
        }
    });
    (format!("http://{addr}"), lines)
}

#[tokio::test]
async fn requests_tunnel_through_the_proxy_and_fail_over_to_the_backup_domain() {
    let run = async {
        let (proxy, mut seen) = refusing_proxy().await;
        let wxpay = Wechatpay::builder()
            .mchid("1900000109")
            .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
            .private_key(PrivateKey::from_pem_file(format!("{FIX}apiclient_key.pem")).unwrap())
            .proxy(proxy)
            .build()
            .unwrap();
        let e = wxpay.v3().certificates().get(()).await.unwrap_err();
        assert!(e.is_connect(), "a refused tunnel is a connect failure: {e}");
        assert_eq!(
            seen.recv().await.unwrap(),
            "CONNECT api.mch.weixin.qq.com:443 HTTP/1.1"
        );
        assert_eq!(
            seen.recv().await.unwrap(),
            "CONNECT api2.mch.weixin.qq.com:443 HTTP/1.1",
            "one retry on the backup domain"
        );
        assert!(seen.try_recv().is_err(), "exactly one failover");
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .unwrap();
}
