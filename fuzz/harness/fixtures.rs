//! The repository's test fixtures (compiled in, so the fuzz binaries run from any directory) and
//! one client built from them once.

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use wechatpay_chain::{Certificate, FixedClock, FixedNonce, KeyStore, PublicKey, Sign, Wechatpay};

pub(crate) const MCHID: &str = "1900000109";
pub(crate) const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD2A4B1A16";
pub(crate) const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0119000001092025112200000000000001";
pub(crate) const APIV3_KEY: &[u8; 32] = b"TestOnlyApiV3Key0123456789abcdef";
/// The second the request vectors were signed at.
pub(crate) const NOW: i64 = 1_763_780_000;
pub(crate) const NONCE: &str = "FuzzNonce0123456789abcdefABCDEFG";

const PLATFORM_CERTIFICATE: &str =
    include_str!("../../tests/fixtures/wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem");
const PUBLIC_KEY: &str = include_str!("../../tests/fixtures/pub_key.pem");
const VECTORS: &str = include_str!("../../tests/data/vectors.json");

/// Signs with 256 zero bytes: these targets fuzz what is signed, not RSA, and a real RSA
/// signature per input would cut the fuzzer's speed tenfold.
#[derive(Debug)]
struct ZeroSigner;

impl Sign for ZeroSigner {
    fn sign(&self, _message: &[u8]) -> wechatpay_chain::Result<Vec<u8>> {
        Ok(vec![0; 256])
    }
}

/// The platform certificate of the fixtures.
pub(crate) fn platform_certificate() -> Certificate {
    Certificate::from_pem(PLATFORM_CERTIFICATE).expect("fixture certificate")
}

/// The WeChat Pay public key of the fixtures.
pub(crate) fn public_key() -> PublicKey {
    PublicKey::from_pem(PUBLIC_KEY).expect("fixture public key")
}

/// Both platform keys: the certificate under its serial, the public key under its id.
pub(crate) fn key_store() -> &'static KeyStore {
    static STORE: OnceLock<KeyStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = KeyStore::new();
        store.insert_certificate(platform_certificate());
        store.insert_public_key(PUBLIC_KEY_ID, public_key());
        store
    })
}

/// The fixture merchant with both platform keys, the clock stopped at [`NOW`] and a fixed
/// nonce; built once.
pub(crate) fn client() -> &'static Wechatpay {
    static CLIENT: OnceLock<Wechatpay> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Wechatpay::builder()
            .mchid(MCHID)
            .serial(MERCHANT_SERIAL)
            .signer(Arc::new(ZeroSigner))
            .certificate(platform_certificate())
            .public_key(PUBLIC_KEY_ID, public_key())
            .apiv3_key(APIV3_KEY)
            .clock(FixedClock(NOW))
            .nonce_source(FixedNonce(NONCE.into()))
            .no_proxy()
            .build()
            .expect("the fixture client builds")
    })
}

/// `tests/data/vectors.json`, parsed once.
pub(crate) fn vectors() -> &'static Value {
    static VALUE: OnceLock<Value> = OnceLock::new();
    VALUE.get_or_init(|| serde_json::from_str(VECTORS).expect("vectors.json is JSON"))
}

/// The signed vectors of `section` that verify (`expect` is `ok` and a signature is present).
pub(crate) fn valid_vectors(section: &str) -> Vec<&'static Value> {
    vectors()[section]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|v| v["expect"] == "ok" && v["headers"]["Wechatpay-Signature"].is_string())
                .collect()
        })
        .unwrap_or_default()
}
