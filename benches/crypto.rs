//! The cryptography of one request and one notification, per backend.
//!
//! `cargo bench --bench crypto` (ring, the default) and
//! `cargo bench --bench crypto --features aws-lc-rs`: the benchmark ids carry the active
//! backend's name, so both runs can be compared side by side. Measured: the canonical request
//! message + RSA-2048 SHA-256 signature (base64), the canonical response message + verification,
//! AES-256-GCM decryption of a notification-sized (~1 KB) resource, and RSA-OAEP encryption and
//! decryption of a sensitive field (feature `oaep`, on by default).

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use wechatpay_chain::crypto::{aes_gcm_decrypt, aes_gcm_encrypt};
use wechatpay_chain::signer::{canonical_request, canonical_response, sign_base64};
use wechatpay_chain::PrivateKey;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
const APIV3_KEY: &[u8; 32] = b"TestOnlyApiV3Key0123456789abcdef";
const TIMESTAMP: &str = "1763780100";
const NONCE: &str = "G1TbFv8kX0eNqQ2aHzY5rWc3uJm7sLpD";
const TARGET: &str = "/v3/payscore/partner/serviceorder/1234323JKHDFE1243252/send-pendingmessage";
const BODY: &[u8] = br#"{"service_id":"2002000000000558128851361561536","sub_mchid":"1900000109"}"#;

/// The active crypto backend (`ring`, or `aws-lc-rs` with that feature).
fn backend() -> &'static str {
    wechatpay_chain::crypto::BACKEND
}

/// A decrypted notification resource of about 1 KB (a paid transaction's JSON).
fn resource_plaintext() -> Vec<u8> {
    let mut plain = String::from(
        r#"{"mchid":"1900000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000202401010000000001","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"CMC","attach":""#,
    );
    while plain.len() < 960 {
        plain.push_str("attach-data-");
    }
    plain.push_str(r#"","success_time":"2026-12-01T10:00:00+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}"#);
    plain.into_bytes()
}

fn benches(c: &mut Criterion) {
    let backend = backend();
    let key = PrivateKey::from_pem_file(format!("{FIX}apiclient_key.pem")).unwrap();
    let public = key.public_key();

    let response = canonical_response(TIMESTAMP, NONCE, BODY);
    let response_signature = key.sign_sha256(&response).unwrap();

    let plain = resource_plaintext();
    let aes_nonce = b"fdasflkja484";
    let resource = aes_gcm_encrypt(APIV3_KEY, aes_nonce, b"transaction", &plain).unwrap();
    assert_eq!(
        aes_gcm_decrypt(APIV3_KEY, aes_nonce, b"transaction", &resource).unwrap(),
        plain
    );

    let mut group = c.benchmark_group(format!("crypto/{backend}"));
    group.bench_function("canonical_request_and_sign", |b| {
        b.iter(|| {
            let message = canonical_request("POST", black_box(TARGET), TIMESTAMP, NONCE, BODY);
            sign_base64(black_box(&key), &message).unwrap()
        });
    });
    group.bench_function("canonical_response_and_verify", |b| {
        b.iter(|| {
            let message = canonical_response(TIMESTAMP, NONCE, black_box(BODY));
            assert!(public.verify_sha256(&message, black_box(&response_signature)));
        });
    });
    group.bench_function(format!("aes_256_gcm_decrypt_{}B", plain.len()), |b| {
        b.iter(|| {
            aes_gcm_decrypt(APIV3_KEY, aes_nonce, b"transaction", black_box(&resource)).unwrap()
        });
    });
    #[cfg(feature = "oaep")]
    {
        use base64::engine::general_purpose::STANDARD as BASE64;
        use base64::Engine as _;
        use wechatpay_chain::crypto::{oaep_decrypt, oaep_encrypt};
        let field = "张三 13800138000";
        let encrypted = oaep_encrypt(&public, field.as_bytes()).unwrap();
        assert_eq!(oaep_decrypt(&key, &encrypted).unwrap(), field.as_bytes());
        assert_eq!(BASE64.decode(&encrypted).unwrap().len(), 256);
        group.bench_function("oaep_encrypt", |b| {
            b.iter(|| oaep_encrypt(black_box(&public), field.as_bytes()).unwrap());
        });
        group.bench_function("oaep_decrypt", |b| {
            b.iter(|| oaep_decrypt(black_box(&key), black_box(&encrypted)).unwrap());
        });
    }
    group.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
