//! `Debug` and `Display` of the client, keys and every error never show the private key or
//! the APIv3 key.
#![cfg(feature = "sandbox")]

use std::time::Duration;

use wechatpay_chain::sandbox::{Fault, Sandbox};
use wechatpay_chain::{json, ApiV3Key, Method, Options, PrivateKey, Wechatpay};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
const APIV3_KEY: &str = "TestOnlyApiV3Key0123456789abcdef";

/// Lines of the private key PEMs: none may appear anywhere.
fn secret_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for f in [
        "apiclient_key.pem",
        "apiclient_key.pkcs1.pem",
        "platform_key.pem",
        "pub_key_private.pem",
    ] {
        let pem = std::fs::read_to_string(format!("{FIX}{f}")).unwrap();
        lines.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(|l| l[..16.min(l.len())].to_string()),
        );
    }
    lines.push(APIV3_KEY.into());
    lines
}

fn assert_clean(what: &str, text: &str) {
    for secret in secret_lines() {
        assert!(!text.contains(&secret), "{what} leaks {secret:?}: {text}");
    }
}

fn check_error(what: &str, e: &wechatpay_chain::Error) {
    assert_clean(what, &format!("{e}"));
    assert_clean(what, &format!("{e:?}"));
    assert_eq!(
        format!("{e}").lines().count(),
        1,
        "{what}: Display is one line: {e}"
    );
}

#[tokio::test]
async fn nothing_prints_a_secret() {
    let sandbox = tokio::time::timeout(Duration::from_secs(20), Sandbox::builder().start())
        .await
        .unwrap()
        .unwrap();
    let builder = sandbox.client_builder().apiv3_key(APIV3_KEY);
    assert_clean("builder", &format!("{builder:?}"));
    let wxpay = builder.timeout(Duration::from_secs(5)).build().unwrap();
    assert_clean("client", &format!("{wxpay:?}"));
    assert!(
        format!("{wxpay:?}").contains("1900000109"),
        "Debug still says something useful"
    );
    let key = PrivateKey::from_pem_file(format!("{FIX}apiclient_key.pem")).unwrap();
    assert_clean("key", &format!("{key:?}"));
    assert_clean(
        "apiv3 key",
        &format!("{:?}", ApiV3Key::new(APIV3_KEY).unwrap()),
    );
    let chain = wxpay.v3().pay().transactions().native();
    assert_clean("chain", &format!("{chain:?}"));
    let prepared = chain
        .prepare(Method::POST, json!({"json": {"a": 1}}))
        .unwrap();
    assert_clean("prepared", &format!("{prepared:?}"));
    assert!(prepared.headers()["authorization"].is_sensitive());

    // Errors of every kind.
    check_error(
        "config",
        &Wechatpay::builder()
            .mchid("1")
            .serial("AB")
            .private_key(key.clone())
            .apiv3_key("short")
            .build()
            .unwrap_err(),
    );
    check_error(
        "key",
        &PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err(),
    );
    check_error(
        "chain",
        &wxpay.chain("v3/{id}").prepare(Method::GET, ()).unwrap_err(),
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let e = wxpay
        .v3()
        .certificates()
        .get(Options::new().base_uri(format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e}");
    check_error("transport", &e);
    // SIGN_ERROR shows the local canonical message: still nothing secret in it.
    let wrong = PrivateKey::from_pem_file(format!("{FIX}platform_key.pem")).unwrap();
    let signer_mismatch = sandbox
        .client_builder()
        .private_key(wrong)
        .apiv3_key(APIV3_KEY)
        .build()
        .unwrap();
    let e = signer_mismatch
        .v3()
        .pay()
        .transactions()
        .native()
        .post(json!({"json": {}}))
        .await
        .unwrap_err();
    assert_eq!(e.api().unwrap().code.as_deref(), Some("SIGN_ERROR"), "{e}");
    check_error("sign error", &e);
    sandbox.inject(Fault::WrongSignature);
    let e = wxpay.v3().certificates().get(()).await.unwrap_err();
    assert!(e.verify().is_some(), "{e}");
    check_error("verify", &e);
    sandbox.inject(Fault::Status(500));
    let e = wxpay.v3().certificates().get(()).await.unwrap_err();
    assert!(e.api().is_some(), "{e}");
    check_error("api", &e);
    sandbox.shutdown();
}
