//! Helpers shared by the integration tests: fixture and vector loading, and a client built
//! from the test keys. Nothing here touches the network (tests prepare requests, never send).

#![allow(dead_code)] // each test crate uses its own subset

#[cfg(feature = "sandbox")]
pub(crate) mod notify_listener;

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;
use wechatpay_chain::{
    Builder, Certificate, FixedClock, KeyStore, PrivateKey, PublicKey, Wechatpay,
};

/// The Unix second the request vectors were signed at (`request_signatures[0].timestamp`).
pub(crate) const VECTOR_EPOCH: i64 = 1_763_780_000;

/// A path inside the crate, from a path relative to its root.
pub(crate) fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Reads a file of the crate as text, naming it on failure.
pub(crate) fn read(relative: &str) -> String {
    let p = path(relative);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Parses a JSON file of the crate.
pub(crate) fn json(relative: &str) -> Value {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative} is not JSON: {e}"))
}

/// `tests/data/vectors.json`: protocol vectors (signatures, responses, …).
pub(crate) fn vectors() -> Value {
    json("tests/data/vectors.json")
}

/// `tests/data/chain-vectors.json`: chain, template and query vectors.
pub(crate) fn chain_vectors() -> Value {
    json("tests/data/chain-vectors.json")
}

/// A fixture file's text.
pub(crate) fn fixture(name: &str) -> String {
    read(&format!("tests/fixtures/{name}"))
}

/// `tests/fixtures/fixtures.json`: ids and serials of the test keys.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Fixtures {
    pub(crate) mchid: String,
    pub(crate) merchant_serial: String,
    pub(crate) platform_serial: String,
    pub(crate) platform_certificate_file: String,
    pub(crate) public_key_id: String,
    pub(crate) apiv3_key: String,
}

pub(crate) fn fixtures() -> Fixtures {
    serde_json::from_value(json("tests/fixtures/fixtures.json")).expect("fixtures.json shape")
}

/// The merchant API private key (PKCS#8).
pub(crate) fn merchant_key() -> PrivateKey {
    PrivateKey::from_pem(fixture("apiclient_key.pem")).expect("merchant key")
}

/// The platform certificate named by `fixtures.json`.
pub(crate) fn platform_certificate() -> Certificate {
    Certificate::from_pem(fixture(&fixtures().platform_certificate_file))
        .expect("platform certificate")
}

/// The WeChat Pay public key (SPKI).
pub(crate) fn public_key() -> PublicKey {
    PublicKey::from_pem(fixture("pub_key.pem")).expect("public key")
}

/// A key store holding both platform keys: the certificate (under its serial) and the public
/// key (under its `PUB_KEY_ID_…`).
pub(crate) fn key_store() -> KeyStore {
    let store = KeyStore::new();
    store.insert_certificate(platform_certificate());
    store.insert_public_key(fixtures().public_key_id, public_key());
    store
}

/// A builder with the merchant identity, both platform keys and a clock stopped at `now`.
pub(crate) fn builder_at(now: i64) -> Builder {
    let f = fixtures();
    Wechatpay::builder()
        .mchid(f.mchid)
        .serial(f.merchant_serial)
        .private_key(merchant_key())
        .certificate(platform_certificate())
        .public_key(f.public_key_id, public_key())
        .apiv3_key(f.apiv3_key)
        .clock(FixedClock(now))
}

/// A client whose clock is stopped at `now`.
pub(crate) fn client_at(now: i64) -> Wechatpay {
    builder_at(now).build().expect("test client")
}

/// A client whose clock is stopped at [`VECTOR_EPOCH`].
pub(crate) fn client() -> Wechatpay {
    client_at(VECTOR_EPOCH)
}

/// A JSON string field, with a readable panic.
pub(crate) fn str_field<'a>(case: &'a Value, name: &str) -> &'a str {
    case[name]
        .as_str()
        .unwrap_or_else(|| panic!("field {name} missing or not a string in {case}"))
}

/// A JSON array field, with a readable panic.
pub(crate) fn array<'a>(value: &'a Value, name: &str) -> &'a [Value] {
    value[name]
        .as_array()
        .unwrap_or_else(|| panic!("field {name} missing or not an array"))
}

/// `wxpay` (the binary built for these tests) with `args`, run with no `WECHATPAY_*` settings
/// inherited from the environment, so every test sees only what it passes.
#[cfg(feature = "cli")]
pub(crate) fn wxpay<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(args)
        .env_remove("WECHATPAY_CONFIG")
        .env_remove("WECHATPAY_PRIVATE_KEY")
        .env_remove("WECHATPAY_MCHID")
        .env_remove("WECHATPAY_SERIAL")
        .env_remove("WECHATPAY_BASE_URI")
        .output()
        .expect("run wxpay")
}
