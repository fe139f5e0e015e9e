//! Sensitive fields (RSA-OAEP, SHA-1, MGF1-SHA-1): every `oaep` vector of
//! `tests/data/vectors.json` (ciphertexts made by the reference JS SDK), our encryption checked
//! by decrypting with the private halves of the fixture platform keys, typed failures, the
//! `Wechatpay-Serial` pin, and end to end against the sandbox, which decrypts like the platform.
#![cfg(feature = "oaep")]

mod support;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};
use wechatpay_chain::crypto::{oaep_decrypt, oaep_encrypt};
use wechatpay_chain::{
    ChainError, CryptoError, DecodeError, Encryptor, Error, ErrorKind, Method, Options, PrivateKey,
    PublicKey, Wechatpay,
};

use support::{array, fixture, str_field};

fn private(name: &str) -> PrivateKey {
    PrivateKey::from_pem(fixture(name)).expect("fixture private key")
}

/// The private key that decrypts a vector, by its `encrypted_for`.
fn decrypting_key(encrypted_for: &str) -> PrivateKey {
    match encrypted_for {
        "merchant" => private("apiclient_key.pem"),
        "platform" => private("platform_key.pem"),
        "pubkey" => private("pub_key_private.pem"),
        other => panic!("unknown encrypted_for {other}"),
    }
}

/// The public key a vector was encrypted to.
fn encrypting_key(encrypted_for: &str) -> PublicKey {
    match encrypted_for {
        "merchant" => support::merchant_key().public_key(),
        "platform" => support::platform_certificate().public_key().clone(),
        "pubkey" => support::public_key(),
        other => panic!("unknown encrypted_for {other}"),
    }
}

fn cases() -> Vec<Value> {
    let cases = array(&support::vectors(), "oaep").to_vec();
    let kinds: Vec<&str> = cases
        .iter()
        .map(|c| str_field(c, "encrypted_for"))
        .collect();
    for kind in ["merchant", "platform", "pubkey"] {
        assert!(kinds.contains(&kind), "no {kind} oaep vector");
    }
    cases
}

fn crypto_error(e: &Error) -> &CryptoError {
    match e.kind() {
        ErrorKind::Crypto(c) => c,
        other => panic!("not a crypto error: {other:?} ({e})"),
    }
}

#[test]
fn every_reference_ciphertext_decrypts_to_its_plaintext() {
    for case in cases() {
        let key = decrypting_key(str_field(&case, "encrypted_for"));
        let plain = key.oaep_decrypt(str_field(&case, "ciphertext")).unwrap();
        assert_eq!(plain, str_field(&case, "plaintext"), "{case}");
    }
}

#[test]
fn a_pkcs1_merchant_key_decrypts_too() {
    let pkcs1 = private("apiclient_key.pkcs1.pem");
    for case in cases() {
        if str_field(&case, "encrypted_for") == "merchant" {
            let plain = pkcs1.oaep_decrypt(str_field(&case, "ciphertext")).unwrap();
            assert_eq!(plain, str_field(&case, "plaintext"));
        }
    }
}

#[test]
fn our_ciphertexts_decrypt_with_each_keys_private_half() {
    for case in cases() {
        let kind = str_field(&case, "encrypted_for");
        let plain = str_field(&case, "plaintext");
        let public = encrypting_key(kind);
        let a = public.oaep_encrypt(plain).unwrap();
        let b = oaep_encrypt(&public, plain.as_bytes()).unwrap();
        assert_ne!(a, b, "OAEP is randomized");
        assert_eq!(BASE64.decode(&a).unwrap().len(), 256, "one 2048-bit block");
        let private = decrypting_key(kind);
        assert_eq!(private.oaep_decrypt(&a).unwrap(), plain);
        assert_eq!(oaep_decrypt(&private, &b).unwrap(), plain.as_bytes());
        // Another key does not decrypt it.
        let other = if kind == "merchant" {
            "platform"
        } else {
            "merchant"
        };
        let e = decrypting_key(other).oaep_decrypt(&a).unwrap_err();
        assert_eq!(crypto_error(&e), &CryptoError::OaepDecrypt);
    }
}

#[test]
fn tampered_and_malformed_ciphertexts_are_typed_errors() {
    let case = &cases()[0];
    let key = decrypting_key(str_field(case, "encrypted_for"));
    let cipher = BASE64.decode(str_field(case, "ciphertext")).unwrap();
    for i in [0, 100, 255] {
        let mut altered = cipher.clone();
        altered[i] ^= 0x01;
        let e = key.oaep_decrypt(&BASE64.encode(&altered)).unwrap_err();
        assert_eq!(crypto_error(&e), &CryptoError::OaepDecrypt, "byte {i}");
        assert!(
            e.to_string().contains("not encrypted to this merchant key"),
            "{e}"
        );
    }
    let e = key.oaep_decrypt("not base64!").unwrap_err();
    assert_eq!(crypto_error(&e), &CryptoError::OaepBase64);
    assert!(
        std::error::Error::source(&e).is_some(),
        "the decoder's error is kept"
    );
    let e = key
        .oaep_decrypt(&BASE64.encode(&cipher[..255]))
        .unwrap_err();
    assert_eq!(
        crypto_error(&e),
        &CryptoError::OaepLength {
            got: 255,
            expected: 256
        }
    );
    let e = key.oaep_decrypt("").unwrap_err();
    assert!(matches!(
        crypto_error(&e),
        CryptoError::OaepLength { got: 0, .. }
    ));
}

#[test]
fn a_plaintext_longer_than_one_block_is_refused() {
    let key = support::public_key();
    let private = private("pub_key_private.pem");
    let longest = "a".repeat(214);
    assert_eq!(
        private
            .oaep_decrypt(&key.oaep_encrypt(&longest).unwrap())
            .unwrap(),
        longest
    );
    let e = key.oaep_encrypt(&"a".repeat(215)).unwrap_err();
    assert_eq!(
        crypto_error(&e),
        &CryptoError::PlaintextTooLong {
            length: 215,
            max: 214
        }
    );
    // Bytes, not characters: 72 three-byte characters are 216 bytes.
    let e = key.oaep_encrypt(&"张".repeat(72)).unwrap_err();
    assert!(matches!(
        crypto_error(&e),
        CryptoError::PlaintextTooLong { length: 216, .. }
    ));
}

#[test]
fn non_utf8_plaintext_is_a_decode_error_that_does_not_repeat_it() {
    let merchant = support::merchant_key();
    let cipher = oaep_encrypt(&merchant.public_key(), &[0xff, 0xfe, 0x41]).unwrap();
    assert_eq!(
        oaep_decrypt(&merchant, &cipher).unwrap(),
        [0xff, 0xfe, 0x41]
    );
    let e = merchant.oaep_decrypt(&cipher).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Decode(DecodeError::NotUtf8));
    assert!(std::error::Error::source(&e).is_none(), "{e:?}");
}

#[test]
fn the_encryptor_uses_the_preferred_key_and_pins_its_id() {
    let f = support::fixtures();
    let wxpay = support::client();
    let enc = wxpay.encryptor().unwrap();
    assert_eq!(enc.serial(), f.public_key_id, "the public key is preferred");
    assert_eq!(enc.public_key(), &support::public_key());
    let field = enc.encrypt("张三").unwrap();
    assert_eq!(
        private("pub_key_private.pem").oaep_decrypt(&field).unwrap(),
        "张三"
    );
    assert!(!format!("{enc:?}").contains(&field));
}

fn bare_builder() -> wechatpay_chain::Builder {
    let f = support::fixtures();
    Wechatpay::builder()
        .mchid(f.mchid)
        .serial(f.merchant_serial)
        .private_key(support::merchant_key())
        .clock(wechatpay_chain::FixedClock(support::VECTOR_EPOCH))
}

#[test]
fn a_certificate_only_store_encrypts_to_the_certificate_and_an_empty_one_fails() {
    let f = support::fixtures();
    let wxpay = bare_builder()
        .certificate(support::platform_certificate())
        .build()
        .unwrap();
    let enc = wxpay.encryptor().unwrap();
    assert_eq!(enc.serial(), f.platform_serial);
    let field = enc.encrypt("13800138000").unwrap();
    assert_eq!(
        private("platform_key.pem").oaep_decrypt(&field).unwrap(),
        "13800138000"
    );

    let e = bare_builder().build().unwrap().encryptor().unwrap_err();
    assert_eq!(crypto_error(&e), &CryptoError::NoPlatformKey);
    assert!(e.to_string().contains("Builder::public_key"), "{e}");
}

fn serial_header(wxpay: &Wechatpay, options: Options) -> wechatpay_chain::Result<String> {
    let prepared = wxpay
        .chain("v3/profitsharing/receivers/add")
        .prepare(Method::POST, options.json(json!({"name": "x"})))?;
    Ok(prepared.headers()["wechatpay-serial"]
        .to_str()
        .unwrap()
        .to_string())
}

fn header_error(result: wechatpay_chain::Result<String>) -> String {
    match result.unwrap_err().kind() {
        ErrorKind::Chain(ChainError::InvalidHeader(m)) => m.clone(),
        other => panic!("not an invalid-header error: {other:?}"),
    }
}

#[test]
fn the_pin_wins_over_the_preferred_key_and_conflicts_are_errors() {
    let f = support::fixtures();
    let wxpay = support::client();
    assert_eq!(
        serial_header(&wxpay, Options::new()).unwrap(),
        f.public_key_id
    );
    let cert = Encryptor::new(
        f.platform_serial.clone(),
        support::platform_certificate().public_key().clone(),
    );
    assert_eq!(
        serial_header(&wxpay, cert.options()).unwrap(),
        f.platform_serial
    );
    // The same id as a header too is fine; another one is refused, never silently chosen.
    let same = cert
        .options()
        .header("Wechatpay-Serial", f.platform_serial.clone());
    assert_eq!(serial_header(&wxpay, same).unwrap(), f.platform_serial);
    let other = cert
        .options()
        .header("wechatpay-serial", f.public_key_id.clone());
    let m = header_error(serial_header(&wxpay, other));
    assert!(m.contains("pinned to 5157F09E"), "{m}");
    let twice = cert.options().wechatpay_serial(f.public_key_id.clone());
    let m = header_error(serial_header(&wxpay, twice));
    assert!(m.contains("cannot pin it to PUB_KEY_ID"), "{m}");
    let m = header_error(serial_header(&wxpay, Options::new().wechatpay_serial(" ")));
    assert!(m.contains("empty id"), "{m}");
    // A header alone still overrides the default, as before.
    let header_only = Options::new().header("Wechatpay-Serial", f.platform_serial.clone());
    assert_eq!(
        serial_header(&wxpay, header_only).unwrap(),
        f.platform_serial
    );
}

#[cfg(feature = "sandbox")]
mod sandbox {
    use super::*;
    use std::future::Future;
    use std::time::Duration;
    use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};

    /// Every network test is bounded.
    async fn bounded<F: Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(30), f)
            .await
            .expect("the test took longer than 30 s")
    }

    async fn start() -> SandboxHandle {
        Sandbox::builder().start().await.expect("sandbox starts")
    }

    fn receiver(name: &str) -> Value {
        json!({"appid": "wx8888888888888888", "type": "MERCHANT_ID", "account": "86693852",
               "relation_type": "STORE", "name": name})
    }

    /// The `PARAM_ERROR` field the sandbox named.
    fn param_error_field(e: &Error) -> String {
        let api = e.api().unwrap_or_else(|| panic!("not an API error: {e}"));
        assert_eq!(api.status, 400, "{e}");
        assert_eq!(api.code.as_deref(), Some("PARAM_ERROR"), "{e}");
        api.detail.as_ref().unwrap()["field"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn an_encrypted_field_is_accepted_and_names_its_key() {
        bounded(async {
            let sandbox = start().await;
            let wxpay = sandbox.client().unwrap();
            let enc = wxpay.encryptor().unwrap();
            let body = receiver(&enc.encrypt("张三").unwrap());
            let response = wxpay
                .chain("v3/profitsharing/receivers/add")
                .post(enc.options().json(body))
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let sent = sandbox.requests().pop().unwrap();
            assert_eq!(sent.headers["wechatpay-serial"], enc.serial());
            assert!(!String::from_utf8_lossy(&sent.body).contains("张三"));

            // To the platform certificate instead: also accepted.
            let cert = wxpay
                .key_store()
                .certificates()
                .pop()
                .expect("the sandbox client has the certificate");
            let enc = Encryptor::new(cert.serial(), cert.public_key().clone());
            let body = receiver(&enc.encrypt("张三").unwrap());
            let response = wxpay
                .v3()
                .profitsharing()
                .receivers()
                .add()
                .post(enc.options().json(body))
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        })
        .await;
    }

    #[tokio::test]
    async fn the_sandbox_refuses_what_the_platform_would() {
        bounded(async {
            let sandbox = start().await;
            let wxpay = sandbox.client().unwrap();
            let add = wxpay.chain("v3/profitsharing/receivers/add");
            let public = wxpay.encryptor().unwrap();
            let cert = wxpay.key_store().certificates().pop().unwrap();

            // Encrypted to the public key, sent naming the certificate.
            let body = receiver(&public.encrypt("张三").unwrap());
            let options = Options::new().wechatpay_serial(cert.serial()).json(body);
            let e = add.post(options).await.unwrap_err();
            assert_eq!(param_error_field(&e), "name");
            assert!(e.to_string().contains("Wechatpay-Serial"), "{e}");

            // Not encrypted at all.
            let e = add.post(public.options().json(receiver("张三"))).await.unwrap_err();
            assert_eq!(param_error_field(&e), "name");

            // A serial that names no key of this merchant.
            let body = receiver(&public.encrypt("张三").unwrap());
            let e = add
                .post(Options::new().wechatpay_serial("PUB_KEY_ID_0000").json(body))
                .await
                .unwrap_err();
            assert_eq!(param_error_field(&e), "Wechatpay-Serial");

            // No Wechatpay-Serial at all: a client without platform keys sends none (the
            // sandbox runs on the fixture keys).
            let keyless = bare_builder()
                .clock(wechatpay_chain::SystemClock)
                .base_uri(sandbox.base_uri())
                .no_backup()
                .build()
                .unwrap();
            let body = receiver(&public.encrypt("张三").unwrap());
            let prepared = keyless
                .chain("v3/profitsharing/receivers/add")
                .prepare(Method::POST, body_options(body.clone()))
                .unwrap();
            assert!(prepared.headers().get("wechatpay-serial").is_none());
            let e = keyless
                .chain("v3/profitsharing/receivers/add")
                .post(body_options(body))
                .await
                .unwrap_err();
            assert_eq!(param_error_field(&e), "Wechatpay-Serial");
            assert!(e.to_string().contains("required with encrypted fields"), "{e}");

            // Nested: the second receiver of a profit-sharing order.
            let orders = wxpay.chain("v3/profitsharing/orders");
            let body = json!({"appid": "wx8888888888888888", "transaction_id": "4208450740201411110007820472",
                "out_order_no": "P20150806125346", "unfreeze_unsplit": true, "receivers": [
                    {"type": "MERCHANT_ID", "account": "86693852", "amount": 1, "description": "a",
                     "name": public.encrypt("张三").unwrap()},
                    {"type": "MERCHANT_ID", "account": "86693853", "amount": 1, "description": "b",
                     "name": "not encrypted"}]});
            let e = orders.post(public.options().json(body)).await.unwrap_err();
            assert_eq!(param_error_field(&e), "receivers[1].name");
        })
        .await;
    }

    /// A field WeChat Pay encrypts to the merchant (a complaint's `payer_phone`), decrypted
    /// with the merchant key.
    #[tokio::test]
    async fn a_field_encrypted_to_the_merchant_decrypts_with_its_key() {
        bounded(async {
            let sandbox = start().await;
            let wxpay = sandbox.client().unwrap();
            let response = wxpay
                .chain("v3/merchant-service/complaints-v2/{complaint_id}")
                .get(Options::new().param("complaint_id", "200201820200101080076610000"))
                .await
                .unwrap();
            let complaint: Value = response.json().unwrap();
            assert_eq!(complaint["complaint_id"], "200201820200101080076610000");
            let phone = complaint["payer_phone"].as_str().unwrap();
            assert_ne!(phone, "13800138000");
            let merchant = support::merchant_key();
            assert_eq!(merchant.oaep_decrypt(phone).unwrap(), "13800138000");
            let e = private("platform_key.pem").oaep_decrypt(phone).unwrap_err();
            assert_eq!(crypto_error(&e), &CryptoError::OaepDecrypt);
        })
        .await;
    }

    fn body_options(body: Value) -> Options {
        Options::new().json(body)
    }

    /// The divergence the pin prevents: a key arriving between encrypting and sending changes
    /// the preferred key. Pinned, the request still names the key the field was encrypted to;
    /// unpinned, it names the new key and the sandbox refuses the field.
    #[tokio::test]
    async fn a_rotation_between_encrypt_and_send_is_harmless_when_pinned() {
        bounded(async {
            let sandbox = start().await;
            let wxpay = sandbox.client().unwrap();
            let enc = wxpay.encryptor().unwrap();
            let body = receiver(&enc.encrypt("张三").unwrap());
            // A newly loaded key that sorts first becomes the preferred one.
            wxpay
                .key_store()
                .insert_public_key("PUB_KEY_ID_0000", support::merchant_key().public_key());
            assert_eq!(wxpay.encryptor().unwrap().serial(), "PUB_KEY_ID_0000");
            let add = wxpay.chain("v3/profitsharing/receivers/add");
            let response = add.post(enc.options().json(body.clone())).await.unwrap();
            assert_eq!(response.status(), 200);
            let e = add.post(body_options(body)).await.unwrap_err();
            assert_eq!(param_error_field(&e), "Wechatpay-Serial");
        })
        .await;
    }

    /// Newcomer ports of the reference samples, run against the sandbox: the PHP/JS way (encrypt
    /// with a key you hold, name it yourself in a `headers` map) works as written; and a pinned
    /// request survives `execute(prepare())` across a rotation in between.
    #[tokio::test]
    async fn ported_php_js_calls_and_execute_prepare_keep_the_key_named() {
        bounded(async {
            let sandbox = start().await;
            let wxpay = sandbox.client().unwrap();
            // PHP: $name = Rsa::encrypt('张三', $platformPublicKeyInstance);
            //      $instance->v3->profitsharing->receivers->add->postAsync(['json' => [..., 'name' => $name],
            //          'headers' => ['Wechatpay-Serial' => $platformCertificateSerial]]);
            // JS:  const name = Rsa.encrypt('张三', platformPublicKey);
            //      wxpay.v3.profitsharing.receivers.add.post({..., name}, {headers: {'Wechatpay-Serial': id}});
            let cert = wxpay
                .key_store()
                .certificates()
                .pop()
                .expect("a certificate");
            let name = cert.public_key().oaep_encrypt("张三").unwrap();
            let php_style = json!({
                "json": receiver(&name),
                "headers": {"Wechatpay-Serial": cert.serial()},
            });
            let response = wxpay
                .v3()
                .profitsharing()
                .receivers()
                .add()
                .post(php_style)
                .await
                .unwrap();
            assert_eq!(response.status(), 200);

            // Encrypt, rotate, then prepare and execute separately: still the pinned key.
            let enc = wxpay.encryptor().unwrap();
            let body = receiver(&enc.encrypt("张三").unwrap());
            wxpay
                .key_store()
                .insert_public_key("PUB_KEY_ID_0000", support::merchant_key().public_key());
            let prepared = wxpay
                .v3()
                .profitsharing()
                .receivers()
                .add()
                .prepare(Method::POST, enc.options().json(body.clone()))
                .unwrap();
            let sent = prepared.headers()["wechatpay-serial"].to_str().unwrap();
            assert_eq!(sent, enc.serial());
            let response = wxpay.execute(prepared).await.unwrap();
            assert_eq!(response.status(), 200);
            // The same body with the PHP-style header naming the new key (one the platform does
            // not hold) is refused, naming the header.
            let wrong = json!({"json": body, "headers": {"Wechatpay-Serial": "PUB_KEY_ID_0000"}});
            let e = wxpay
                .chain("v3/profitsharing/receivers/add")
                .post(wrong)
                .await
                .unwrap_err();
            assert_eq!(param_error_field(&e), "Wechatpay-Serial");
        })
        .await;
    }
}
