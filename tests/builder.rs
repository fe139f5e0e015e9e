//! The builder collects everything and applies it only in `build()`: keys given before or
//! after `key_store(…)` are all kept, and a failing build changes nothing outside the builder.

mod support;

use std::sync::Arc;

use wechatpay_chain::{Builder, ChainError, ConfigError, ErrorKind, KeyStore, Wechatpay};

fn config_error(builder: Builder) -> ConfigError {
    match builder.build().unwrap_err().kind() {
        ErrorKind::Config(c) => c.clone(),
        other => panic!("not a config error: {other:?}"),
    }
}

/// The merchant identity only: no platform keys.
fn merchant() -> Builder {
    let f = support::fixtures();
    Wechatpay::builder()
        .mchid(f.mchid)
        .serial(f.merchant_serial)
        .private_key(support::merchant_key())
}

#[test]
fn keys_given_before_and_after_key_store_are_all_kept() {
    let f = support::fixtures();
    let shared = Arc::new(KeyStore::new());
    let wxpay = merchant()
        .certificate(support::platform_certificate())
        .key_store(shared.clone())
        .public_key(f.public_key_id.clone(), support::public_key())
        .build()
        .unwrap();
    let mut expected = vec![f.platform_serial.clone(), f.public_key_id.clone()];
    expected.sort();
    assert_eq!(
        shared.ids(),
        expected,
        "both keys landed in the shared store"
    );
    assert!(Arc::ptr_eq(wxpay.key_store(), &shared));
}

#[test]
fn keys_without_a_shared_store_go_to_the_clients_own() {
    let f = support::fixtures();
    let wxpay = merchant()
        .public_key(f.public_key_id.clone(), support::public_key())
        .build()
        .unwrap();
    assert_eq!(wxpay.key_store().ids(), vec![f.public_key_id]);
}

#[test]
fn a_failing_build_leaves_a_shared_store_untouched() {
    let f = support::fixtures();
    type Break = Box<dyn Fn(Builder) -> Builder>;
    let failing: Vec<(&str, Break)> = vec![
        ("no mchid", Box::new(|b| b.mchid(""))),
        ("bad APIv3 key", Box::new(|b| b.apiv3_key("short"))),
        ("bad base URI", Box::new(|b| b.base_uri("not a uri"))),
        (
            "bad backup URI",
            Box::new(|b| b.backup_base_uri("ftp://example.com/")),
        ),
        (
            "own serial among the keys",
            Box::new(|b| {
                b.certificate(
                    wechatpay_chain::Certificate::from_pem(support::fixture("apiclient_cert.pem"))
                        .unwrap(),
                )
            }),
        ),
    ];
    for (what, break_it) in failing {
        let shared = Arc::new(KeyStore::new());
        let builder = merchant()
            .public_key(f.public_key_id.clone(), support::public_key())
            .key_store(shared.clone())
            .certificate(support::platform_certificate());
        let result = break_it(builder).build();
        assert!(result.is_err(), "{what}: built");
        assert!(
            shared.ids().is_empty(),
            "{what}: the store was changed: {:?}",
            shared.ids()
        );
    }
}

#[test]
fn the_merchant_serial_in_a_shared_store_is_refused() {
    let f = support::fixtures();
    let shared = Arc::new(KeyStore::new());
    shared.insert_certificate(
        wechatpay_chain::Certificate::from_pem(support::fixture("apiclient_cert.pem")).unwrap(),
    );
    let e = config_error(merchant().key_store(shared));
    assert_eq!(
        e,
        ConfigError::OwnSerialInKeyStore(f.merchant_serial.to_ascii_uppercase())
    );
}

#[test]
fn config_errors_are_typed() {
    let cases: Vec<(Builder, ConfigError)> = vec![
        (Wechatpay::builder(), ConfigError::MissingMchid),
        (merchant().mchid("  "), ConfigError::MissingMchid),
        (
            merchant().mchid("19000x"),
            ConfigError::InvalidMchid("19000x".into()),
        ),
        (
            Wechatpay::builder().mchid("1900000109"),
            ConfigError::MissingSerial,
        ),
        (
            merchant().serial("XYZ"),
            ConfigError::InvalidSerial("XYZ".into()),
        ),
        (
            Wechatpay::builder().mchid("1900000109").serial("ABCDEF"),
            ConfigError::MissingPrivateKey,
        ),
        (
            merchant().apiv3_key([0u8; 31]),
            ConfigError::ApiV3KeyLength(31),
        ),
    ];
    for (builder, expected) in cases {
        let shown = format!("{builder:?}");
        assert_eq!(config_error(builder), expected, "{shown}");
    }
}

#[test]
fn an_unusable_base_uri_is_a_chain_error() {
    let e = merchant().base_uri("not a uri").build().unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Chain(_)), "{e:?}");
    let e = merchant()
        .base_uri("http://example.com/")
        .build()
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Chain(ChainError::InsecureScheme(_))),
        "{e:?}"
    );
}

#[cfg(feature = "sandbox")]
#[tokio::test]
async fn no_backup_overrides_a_backup_given_earlier() {
    use std::time::Duration;
    let run = async {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let backup = wechatpay_chain::sandbox::Sandbox::builder()
            .start()
            .await
            .unwrap();
        let unreachable = format!("http://127.0.0.1:{closed}/");
        let with_backup = backup
            .client_builder()
            .base_uri(&unreachable)
            .backup_base_uri(backup.base_uri());
        let wxpay = with_backup.no_backup().build().unwrap();
        let e = wxpay.chain("v3/certificates").get(()).await.unwrap_err();
        assert!(e.is_connect(), "{e}");
        assert!(backup.requests().is_empty(), "the backup was not tried");

        let wxpay = backup
            .client_builder()
            .base_uri(&unreachable)
            .backup_base_uri(backup.base_uri())
            .build()
            .unwrap();
        wxpay.chain("v3/certificates").get(()).await.unwrap();
        assert_eq!(
            backup.requests().len(),
            1,
            "the backup answers when allowed"
        );
        backup.shutdown();
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}
