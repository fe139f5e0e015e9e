//! The SDK's own CPU per request against the RSA floor (one RSA-2048 sign + one verify).
//!
//! `cargo bench --bench sign` prints criterion timings and, measured in the same run, the ratio
//! (prepare + verify_response − sign − verify) ÷ (sign + verify). Target: under 15 %.

// criterion's macros generate undocumented public functions; a benchmark reports on stdout.
#![allow(missing_docs, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use http::{HeaderMap, HeaderValue};
use wechatpay_chain::signer::{canonical_response, sign_base64};
use wechatpay_chain::verifier::verify_response;
use wechatpay_chain::{json, Certificate, FixedClock, KeyStore, Method, PrivateKey, Wechatpay};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
const CERT: &str = "wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem";
const NOW: i64 = 1_763_780_100;

struct Setup {
    client: Wechatpay,
    merchant: PrivateKey,
    keys: KeyStore,
    headers: HeaderMap,
    body: &'static [u8],
}

fn setup() -> Setup {
    let merchant = PrivateKey::from_pem_file(format!("{FIX}apiclient_key.pem")).unwrap();
    let platform = PrivateKey::from_pem_file(format!("{FIX}platform_key.pem")).unwrap();
    let cert = Certificate::from_pem_file(format!("{FIX}{CERT}")).unwrap();
    let client = Wechatpay::builder()
        .mchid("1900000109")
        .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
        .private_key(merchant.clone())
        .certificate(cert.clone())
        .clock(FixedClock(NOW))
        .build()
        .unwrap();
    let keys = KeyStore::new();
    keys.insert_certificate(cert.clone());
    let body: &'static [u8] = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}"#;
    let ts = NOW.to_string();
    let nonce = "RspNonce0123456789abcdefABCDEFGH";
    let signature = sign_base64(&platform, &canonical_response(&ts, nonce, body)).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Wechatpay-Timestamp", HeaderValue::from_str(&ts).unwrap());
    headers.insert("Wechatpay-Nonce", HeaderValue::from_static(nonce));
    headers.insert(
        "Wechatpay-Signature",
        HeaderValue::from_str(&signature).unwrap(),
    );
    headers.insert(
        "Wechatpay-Serial",
        HeaderValue::from_str(cert.serial()).unwrap(),
    );
    Setup {
        client,
        merchant,
        keys,
        headers,
        body,
    }
}

fn sdk_request(s: &Setup) {
    let prepared = s
        .client
        .v3()
        .payscore()
        .partner()
        .serviceorder()
        ._out_order_no_()
        .send_pendingmessage()
        .prepare(
            Method::POST,
            json!({"out_order_no": "1234323JKHDFE1243252",
                   "json": {"service_id": "2002000000000558128851361561536", "sub_mchid": "1900000109"}}),
        )
        .unwrap();
    black_box(&prepared);
    verify_response(200, prepared.path(), &s.headers, s.body, NOW, &s.keys).unwrap();
}

fn rsa_floor(s: &Setup) {
    let signature = s.merchant.sign_sha256(b"message").unwrap();
    let public = s.merchant.public_key();
    assert!(public.verify_sha256(b"message", black_box(&signature)));
}

fn benches(c: &mut Criterion) {
    let s = setup();
    c.bench_function("rsa_sign_plus_verify", |b| b.iter(|| rsa_floor(&s)));
    c.bench_function("sdk_prepare_plus_verify", |b| b.iter(|| sdk_request(&s)));
}

/// Both measured interleaved in one run so machine noise hits both alike.
fn overhead_ratio() {
    let s = setup();
    let (mut floor, mut sdk) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..300 {
        let t = Instant::now();
        rsa_floor(&s);
        floor += t.elapsed();
        let t = Instant::now();
        sdk_request(&s);
        sdk += t.elapsed();
    }
    let own = sdk.saturating_sub(floor);
    println!(
        "SDK own CPU per request: {:.1} % of one RSA-2048 sign + verify (target < 15 %)",
        own.as_secs_f64() / floor.as_secs_f64() * 100.0
    );
}

criterion_group!(group, benches);

fn main() {
    println!("crypto backend: {}", wechatpay_chain::crypto::BACKEND);
    group();
    overhead_ratio();
    Criterion::default().configure_from_args().final_summary();
}
