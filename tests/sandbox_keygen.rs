//! Sandboxes with generated keys (`SandboxBuilder::generate_keys`): fresh merchant, platform
//! and public-key material that serves the seed flow, rides `/v3/certificates`, differs
//! between sandboxes and is written as a keys folder that another sandbox loads.
#![cfg(feature = "sandbox")]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use wechatpay_chain::crypto::aes_gcm_decrypt;
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::{
    Certificate, Options, PrivateKey, PublicKey, StatusCode, VerifyError, Wechatpay,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
const SERVICE_ID: &str = "2002000000000558128851361561536";
const SUB_MCHID: &str = "1900000109";
const DAY: i64 = 86_400;

/// Every test is bounded; RSA key generation takes about a second per sandbox, more on a
/// loaded machine, so the bound is generous but finite.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(300), f)
        .await
        .expect("the test took longer than 300 s")
}

async fn generated() -> SandboxHandle {
    Sandbox::builder()
        .generate_keys()
        .start()
        .await
        .expect("a sandbox with generated keys starts")
}

/// `fixtures.json`, of the test fixtures or of a generated config folder.
#[derive(Debug, Deserialize, PartialEq)]
struct Manifest {
    mchid: String,
    merchant_serial: String,
    platform_serial: String,
    platform_certificate_file: String,
    public_key_id: String,
    apiv3_key: String,
}

fn manifest(dir: &Path) -> Manifest {
    let text = std::fs::read_to_string(dir.join("fixtures.json")).expect("fixtures.json");
    serde_json::from_str(&text).expect("fixtures.json shape")
}

fn fixture_manifest() -> Manifest {
    manifest(Path::new(FIXTURES))
}

fn config_dir(sandbox: &SandboxHandle) -> PathBuf {
    sandbox
        .config_toml_path()
        .parent()
        .expect("wxpay.toml is in the config folder")
        .to_path_buf()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The body of a pay-on-delivery order the sandbox accepts (as in `examples/support`).
fn order(out_order_no: &str) -> Value {
    json!({
        "out_order_no": out_order_no,
        "appid": "wxd678efh567hg6787",
        "sub_mchid": SUB_MCHID,
        "service_id": SERVICE_ID,
        "service_introduction": "就餐服务",
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "time_range": {"start_time": "OnAccept"},
        "notify_url": "https://example.invalid/notify",
        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "need_user_confirm": false,
    })
}

/// Creates an order and sends its pending message: 200 then 204, both verified by `wxpay`.
async fn seed_flow(wxpay: &Wechatpay, out_order_no: &str) -> Value {
    let created = wxpay
        .v3()
        .payscore()
        .partner()
        .servicepayondeliveryorder()
        .post(json!({"json": order(out_order_no)}))
        .await
        .expect("the order is created and the answer verifies");
    assert_eq!(created.status(), 200);
    let created: Value = created.json().unwrap();
    assert_eq!(created["state"], "CREATED");
    assert_eq!(created["out_order_no"], out_order_no);

    let pending = wxpay
        .v3()
        .payscore()
        .partner()
        .serviceorder()
        ._out_order_no_()
        .send_pendingmessage()
        .post(json!({
            "out_order_no": out_order_no,
            "json": {
                "service_id": SERVICE_ID,
                "sub_mchid": SUB_MCHID,
                "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
                "total_amount": 40000,
            },
        }))
        .await
        .expect("send-pendingmessage answers and verifies");
    assert_eq!(pending.status(), 204);
    assert!(pending.bytes().is_empty());
    created
}

/// The lines of a PEM file's body.
fn pem_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn now() -> i64 {
    use wechatpay_chain::Clock as _;
    wechatpay_chain::SystemClock.now()
}

#[tokio::test]
async fn generated_keys_serve_the_seed_flow_with_verified_responses() {
    bounded(async {
        let sandbox = generated().await;
        let dir = config_dir(&sandbox);
        let m = manifest(&dir);
        let wxpay = sandbox.client().unwrap();

        seed_flow(&wxpay, "KEYGEN-SEED-1").await;

        // The client signed with the generated merchant identity.
        let recorded = sandbox.requests();
        assert_eq!(recorded.len(), 2);
        for request in &recorded {
            let auth = request.headers["authorization"].to_str().unwrap();
            assert!(auth.contains(&format!("mchid=\"{}\"", m.mchid)), "{auth}");
            assert!(
                auth.contains(&format!("serial_no=\"{}\"", m.merchant_serial)),
                "{auth}"
            );
        }

        // Public-key mode by default, certificate mode on request: both verify with the
        // generated keys.
        let response = wxpay.v3().certificates().get(()).await.unwrap();
        assert_eq!(
            response.headers()["wechatpay-serial"],
            m.public_key_id.as_str()
        );
        let response = wxpay
            .v3()
            .certificates()
            .get(Options::new().header("Wechatpay-Serial", m.platform_serial.as_str()))
            .await
            .unwrap();
        assert_eq!(
            response.headers()["wechatpay-serial"],
            m.platform_serial.as_str()
        );

        // The written wxpay.toml names the generated merchant and keys.
        let toml = std::fs::read_to_string(sandbox.config_toml_path()).unwrap();
        assert!(toml.contains(&format!("mchid = \"{}\"", m.mchid)), "{toml}");
        assert!(
            toml.contains(&format!("\"{}\" = \"pub_key.pem\"", m.public_key_id)),
            "{toml}"
        );
        assert!(!toml.contains("PRIVATE KEY"));
        sandbox.shutdown();
        assert!(!dir.exists(), "the owned config folder is removed");
    })
    .await;
}

#[tokio::test]
async fn certificates_decrypt_with_the_generated_apiv3_key_to_the_generated_certificate() {
    bounded(async {
        let sandbox = generated().await;
        let dir = config_dir(&sandbox);
        let m = manifest(&dir);
        let fixture = fixture_manifest();

        // The shapes of the generated ids, none of them the fixtures'.
        assert_eq!(m.mchid.len(), 10, "{}", m.mchid);
        assert!(m.mchid.bytes().all(|b| b.is_ascii_digit()));
        for serial in [&m.merchant_serial, &m.platform_serial] {
            assert_eq!(serial.len(), 40, "{serial}");
            assert!(serial
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        }
        let digits = m.public_key_id.strip_prefix("PUB_KEY_ID_").unwrap();
        assert_eq!(digits.len(), 32);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(m.apiv3_key.len(), 32);
        assert_ne!(m.platform_serial, fixture.platform_serial);
        assert_ne!(m.merchant_serial, fixture.merchant_serial);
        assert_ne!(m.public_key_id, fixture.public_key_id);
        assert_ne!(m.apiv3_key, fixture.apiv3_key);

        let wxpay = sandbox.client().unwrap();
        let body: Value = wxpay
            .v3()
            .certificates()
            .get(())
            .await
            .unwrap()
            .json()
            .unwrap();
        let item = &body["data"][0];
        assert_eq!(item["serial_no"], m.platform_serial.as_str());
        let enc = &item["encrypt_certificate"];
        let s = |name: &str| enc[name].as_str().unwrap().to_string();
        let key: [u8; 32] = m.apiv3_key.as_bytes().try_into().unwrap();
        let pem = aes_gcm_decrypt(
            &key,
            s("nonce").as_bytes(),
            s("associated_data").as_bytes(),
            &s("ciphertext"),
        )
        .expect("decrypts with the generated APIv3 key");
        let fixture_key: [u8; 32] = fixture.apiv3_key.as_bytes().try_into().unwrap();
        assert!(aes_gcm_decrypt(
            &fixture_key,
            s("nonce").as_bytes(),
            s("associated_data").as_bytes(),
            &s("ciphertext"),
        )
        .is_err());

        let cert = Certificate::from_pem(&pem).unwrap();
        assert_ne!(cert.serial(), fixture.platform_serial);
        assert_eq!(cert.serial(), m.platform_serial);
        assert_eq!(pem, read(&dir, &m.platform_certificate_file).into_bytes());
        assert!((cert.not_before() - (now() - DAY)).abs() < 300);
        assert!(cert.not_after() - cert.not_before() >= 5 * 365 * DAY);
        // Its private half is platform_key.pem; the public key is pub_key.pem's pair.
        let platform_key = PrivateKey::from_pem(read(&dir, "platform_key.pem")).unwrap();
        assert_eq!(&platform_key.public_key(), cert.public_key());
        let public_key = PublicKey::from_pem(read(&dir, "pub_key.pem")).unwrap();
        let public_key_private = PrivateKey::from_pem(read(&dir, "pub_key_private.pem")).unwrap();
        assert_eq!(public_key_private.public_key(), public_key);
        assert_ne!(&public_key, cert.public_key());

        let (_, block) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let x509 = block.parse_x509().unwrap();
        let subject = x509.subject().to_string();
        assert!(
            subject.contains("CN=WeChat Pay sandbox platform"),
            "{subject}"
        );
        assert_eq!(x509.issuer(), x509.subject(), "self-signed");

        // The merchant certificate carries the merchant serial and key.
        let merchant_cert = Certificate::from_pem(read(&dir, "apiclient_cert.pem")).unwrap();
        assert_eq!(merchant_cert.serial(), m.merchant_serial);
        let merchant_key = PrivateKey::from_pem(read(&dir, "apiclient_key.pem")).unwrap();
        assert_eq!(merchant_cert.public_key(), &merchant_key.public_key());
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn two_generated_sandboxes_have_different_keys() {
    bounded(async {
        let (a, b) = tokio::join!(generated(), generated());
        let (dir_a, dir_b) = (config_dir(&a), config_dir(&b));
        let (ma, mb) = (manifest(&dir_a), manifest(&dir_b));
        assert_ne!(ma.merchant_serial, mb.merchant_serial);
        assert_ne!(ma.platform_serial, mb.platform_serial);
        assert_ne!(ma.public_key_id, mb.public_key_id);
        assert_ne!(ma.apiv3_key, mb.apiv3_key);
        for file in [
            "apiclient_key.pem",
            "platform_key.pem",
            "pub_key.pem",
            "pub_key_private.pem",
        ] {
            assert_ne!(read(&dir_a, file), read(&dir_b, file), "{file}");
        }
        let fixture = std::fs::read_to_string(format!("{FIXTURES}apiclient_key.pem")).unwrap();
        assert_ne!(read(&dir_a, "apiclient_key.pem"), fixture);

        // Each serves its own client, and only it.
        seed_flow(&a.client().unwrap(), "KEYGEN-A").await;
        seed_flow(&b.client().unwrap(), "KEYGEN-B").await;
        let stranger = a.client_builder().base_uri(b.base_uri()).build().unwrap();
        let e = stranger.v3().certificates().get(()).await.unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED), "{e}");

        // B's merchant identity signed with A's merchant key: the signature check fails.
        let forger = b
            .client_builder()
            .private_key(PrivateKey::from_pem(read(&dir_a, "apiclient_key.pem")).unwrap())
            .build()
            .unwrap();
        let e = forger.v3().certificates().get(()).await.unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED), "{e}");
        assert_eq!(
            e.api().and_then(|api| api.code.as_deref()),
            Some("SIGN_ERROR")
        );

        // B's answers do not verify with A's WeChat Pay public key.
        let wrong_key = Wechatpay::builder()
            .mchid(mb.mchid.clone())
            .serial(mb.merchant_serial.clone())
            .private_key(PrivateKey::from_pem(read(&dir_b, "apiclient_key.pem")).unwrap())
            .public_key(
                mb.public_key_id.clone(),
                PublicKey::from_pem(read(&dir_a, "pub_key.pem")).unwrap(),
            )
            .apiv3_key(mb.apiv3_key.clone())
            .base_uri(b.base_uri())
            .no_backup()
            .build()
            .unwrap();
        let e = wrong_key.v3().certificates().get(()).await.unwrap_err();
        assert_eq!(e.verify(), Some(&VerifyError::BadSignature), "{e}");
        a.shutdown();
        b.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_generated_config_folder_loads_as_keys_dir_and_accepts_the_first_client() {
    bounded(async {
        let first = generated().await;
        let dir = config_dir(&first);
        let second = Sandbox::builder()
            .keys_dir(&dir)
            .start()
            .await
            .expect("the generated config folder is a keys folder");

        // The first sandbox's client, pointed at the second, is accepted and verifies.
        let client = first
            .client_builder()
            .base_uri(second.base_uri())
            .build()
            .unwrap();
        seed_flow(&client, "KEYGEN-RELOADED").await;
        let certificates = client.v3().certificates().get(()).await.unwrap();
        assert_eq!(certificates.status(), 200);
        assert_eq!(second.requests().len(), 3);
        assert!(first.requests().is_empty());

        // Same identity in the second's own config.
        let written: Value =
            serde_json::from_slice(&std::fs::read(second.config_json_path()).unwrap()).unwrap();
        let m = manifest(&dir);
        assert_eq!(written["mchid"], m.mchid.as_str());
        assert_eq!(written["serial"], m.merchant_serial.as_str());
        assert!(written["certificates"][&m.platform_serial].is_string());

        // Private keys stay out of Debug, and their files are the owner's only.
        let mut secrets = Vec::new();
        for file in [
            "apiclient_key.pem",
            "platform_key.pem",
            "pub_key_private.pem",
        ] {
            secrets.extend(pem_lines(&read(&dir, file)));
        }
        secrets.push(m.apiv3_key.clone());
        let debug = format!(
            "{first:?} {second:?} {:?} {:?} {client:?}",
            Sandbox::builder().generate_keys(),
            first.client_builder(),
        );
        for secret in &secrets {
            assert!(!debug.contains(secret.as_str()), "Debug leaks {secret:?}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for file in [
                "apiclient_key.pem",
                "platform_key.pem",
                "pub_key_private.pem",
                "fixtures.json",
            ] {
                let mode = std::fs::metadata(dir.join(file))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "{file}: {mode:o}");
            }
        }
        second.shutdown();
        first.shutdown();
    })
    .await;
}

#[tokio::test]
async fn generated_keys_persist_in_an_explicit_config_dir() {
    bounded(async {
        let dir =
            std::env::temp_dir().join(format!("wechatpay-keygen-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = Sandbox::builder()
            .generate_keys()
            .config_dir(&dir)
            .start()
            .await
            .unwrap();
        let identity = manifest(&dir);
        first.shutdown();
        assert!(dir.join("fixtures.json").exists(), "kept past shutdown");

        // A later sandbox with the same keys: a client built from the written wxpay.json works.
        let later = Sandbox::builder().keys_dir(&dir).start().await.unwrap();
        let client = later.client().unwrap();
        seed_flow(&client, "KEYGEN-PERSISTED").await;
        assert_eq!(
            later.client_builder().build().unwrap().mchid(),
            identity.mchid
        );
        later.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}
