//! What a `/v3/certificates` answer may plant in a store that already trusts keys.

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use serde_json::json;

use crate::certificates::verify_download;
use crate::client::ApiV3Key;
use crate::crypto::aes_gcm_encrypt;
use crate::error::VerifyError;
use crate::keys::{Certificate, KeyStore, PrivateKey};
use crate::sandbox::keygen::platform_with_serial;

const APIV3: &[u8; 32] = b"TestOnlyApiV3Key0123456789abcdef";
const NOW: i64 = 1_764_000_000;

fn pair(serial: &[u8]) -> (Certificate, PrivateKey) {
    let (key, cert) = platform_with_serial(NOW, serial).unwrap();
    (
        Certificate::from_pem(cert).unwrap(),
        PrivateKey::from_pem(key).unwrap(),
    )
}

/// A listing of `certs`, signed by `signer` under `serial` as the platform would.
fn answer(certs: &[&Certificate], serial: &str, signer: &PrivateKey) -> (HeaderMap, Vec<u8>) {
    let data: Vec<_> = certs
        .iter()
        .map(|c| {
            let ciphertext =
                aes_gcm_encrypt(APIV3, b"0123456789ab", b"certificate", c.pem().as_bytes())
                    .unwrap();
            json!({"serial_no": c.serial(), "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM", "nonce": "0123456789ab",
                "associated_data": "certificate", "ciphertext": ciphertext}})
        })
        .collect();
    let body = json!({ "data": data }).to_string().into_bytes();
    let message = format!("{NOW}\nNONCE\n{}\n", String::from_utf8_lossy(&body));
    let signature = signer.sign_sha256(message.as_bytes()).unwrap();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    put("wechatpay-timestamp", NOW.to_string());
    put("wechatpay-nonce", "NONCE".into());
    put("wechatpay-serial", serial.into());
    put(
        "wechatpay-signature",
        base64::engine::general_purpose::STANDARD.encode(signature),
    );
    (headers, body)
}

fn certificate_error(e: &crate::Error) -> &str {
    match e.verify() {
        Some(VerifyError::Certificate(m)) => m,
        _ => panic!("not a certificate error: {e}"),
    }
}

#[test]
fn a_download_cannot_plant_a_key_over_a_trusted_one() {
    let key = ApiV3Key::new(APIV3).unwrap();
    let (trusted_cert, _) = pair(&[0x11; 20]);
    // The same serial with the attacker's key, listed and signed by that key.
    let (forged, forged_key) = pair(&[0x11; 20]);
    let (headers, body) = answer(&[&forged], forged.serial(), &forged_key);

    let store = KeyStore::new();
    store.insert_certificate(trusted_cert.clone());
    let e = verify_download("/v3/certificates", &headers, &body, NOW, &key, &store).unwrap_err();
    assert!(certificate_error(&e).contains("another key"), "{e}");

    // Even when the answer is signed by a new serial (first use), it cannot list the trusted
    // serial with another key.
    let (fresh, fresh_key) = pair(&[0x22; 20]);
    let (headers, body) = answer(&[&fresh, &forged], fresh.serial(), &fresh_key);
    let e = verify_download("/v3/certificates", &headers, &body, NOW, &key, &store).unwrap_err();
    assert!(certificate_error(&e).contains("another key"), "{e}");

    // A rotation (a new serial beside the trusted certificate) is still followed.
    let (headers, body) = answer(&[&trusted_cert, &fresh], fresh.serial(), &fresh_key);
    let got = verify_download("/v3/certificates", &headers, &body, NOW, &key, &store).unwrap();
    assert_eq!(got.len(), 2);
}

#[test]
fn a_client_holding_the_public_key_never_trusts_a_download_on_first_use() {
    let key = ApiV3Key::new(APIV3).unwrap();
    let (cert, cert_key) = pair(&[0x33; 20]);
    let (headers, body) = answer(&[&cert], cert.serial(), &cert_key);

    // No key at all: the bootstrap (trust on first use) is allowed.
    let empty = KeyStore::new();
    assert_eq!(
        verify_download("/v3/certificates", &headers, &body, NOW, &key, &empty)
            .unwrap()
            .len(),
        1
    );

    // A store with the WeChat Pay public key refuses it and names why.
    let (_, other) = pair(&[0x44; 20]);
    let store = KeyStore::new();
    store.insert_public_key(
        "PUB_KEY_ID_0000000000000000000000000000",
        other.public_key(),
    );
    let e = verify_download("/v3/certificates", &headers, &body, NOW, &key, &store).unwrap_err();
    assert!(certificate_error(&e).contains("public key"), "{e}");
}

#[test]
fn unverified_listing_values_are_quoted_and_cut_in_errors() {
    let key = ApiV3Key::new(APIV3).unwrap();
    let long = format!("evil\n{}", "A".repeat(1000));
    let body = json!({"data": [{"serial_no": long, "encrypt_certificate": {
        "algorithm": long, "nonce": "0123456789ab", "ciphertext": ""}}]})
    .to_string();
    let e = verify_download(
        "/v3/certificates",
        &HeaderMap::new(),
        body.as_bytes(),
        NOW,
        &key,
        &KeyStore::new(),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(!text.contains('\n') && text.len() < 400, "{text}");
    assert!(certificate_error(&e).contains("\"evil\\nAAA"), "{text}");
}
