//! The sandbox's lifetime: the last dropped handle stops the server and removes the folder
//! holding its private keys, exactly as an explicit `shutdown()` does.

#![cfg(feature = "sandbox")]

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use wechatpay_chain::sandbox::Sandbox;

/// Polls until `addr` refuses connections, for at most `limit`.
async fn refused_within(addr: std::net::SocketAddr, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn key_file(dir: &Path) -> std::path::PathBuf {
    dir.join("apiclient_key.pem")
}

#[tokio::test]
async fn the_last_dropped_handle_stops_the_server_and_removes_the_key_folder() {
    let sandbox = Sandbox::builder().start().await.unwrap();
    let dir = sandbox.config_toml_path().parent().unwrap().to_path_buf();
    let addr = sandbox.addr();
    assert!(
        key_file(&dir).exists(),
        "the sandbox writes the client's private key into its folder"
    );

    // A clone keeps it alive: dropping one handle of two changes nothing.
    let clone = sandbox.clone();
    drop(sandbox);
    assert!(key_file(&dir).exists(), "a live clone keeps the folder");
    let wxpay = clone.client().unwrap();
    assert_eq!(
        wxpay.v3().certificates().get(()).await.unwrap().status(),
        200
    );

    drop(clone);
    assert!(
        !dir.exists(),
        "the folder holding the private key is removed with the last handle"
    );
    assert!(
        refused_within(addr, Duration::from_secs(5)).await,
        "the listener closes once the last handle is dropped"
    );
}

#[tokio::test]
async fn an_explicit_folder_is_kept_after_drop() {
    let parent =
        std::env::temp_dir().join(format!("wechatpay-lifecycle-kept-{}", std::process::id()));
    let sandbox = Sandbox::builder()
        .config_dir(&parent)
        .start()
        .await
        .unwrap();
    let addr = sandbox.addr();
    drop(sandbox);
    assert!(
        refused_within(addr, Duration::from_secs(5)).await,
        "dropped: the server stops"
    );
    assert!(
        key_file(&parent).exists(),
        "a folder the caller named is the caller's to remove"
    );
    std::fs::remove_dir_all(&parent).unwrap();
}

#[tokio::test]
async fn dropping_a_sandbox_with_generated_keys_removes_their_folder() {
    let sandbox = Sandbox::builder().generate_keys().start().await.unwrap();
    let dir = sandbox.config_toml_path().parent().unwrap().to_path_buf();
    for file in [
        "apiclient_key.pem",
        "platform_key.pem",
        "pub_key_private.pem",
    ] {
        assert!(
            dir.join(file).exists(),
            "{file} is generated into the folder"
        );
    }
    drop(sandbox);
    assert!(
        !dir.exists(),
        "the folder holding the generated private keys goes with the last handle"
    );
}
