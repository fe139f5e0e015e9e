//! Target `notification`: a notification as a listener receives it — headers plus a JSON
//! envelope — through the shipped `notification::open` (verification, parsing, decryption).
//! First byte even: arbitrary headers and body; `% 4 == 1`: a valid notification vector,
//! mutated; `% 4 == 3`: a vector's envelope with its resource or fields changed (or replaced by
//! arbitrary bytes), then signed correctly, so the parser and decryption behind a valid
//! signature are fuzzed too.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use wechatpay_chain::crypto::{aes_gcm_decrypt, aes_gcm_encrypt};
use wechatpay_chain::notification::{open, Notification};
use wechatpay_chain::signer::{canonical_response, sign_base64};
use wechatpay_chain::verifier::verify_signed;
use wechatpay_chain::{ApiV3Key, Error, ErrorKind, PrivateKey};

use super::fixtures::{key_store, valid_vectors, APIV3_KEY, PUBLIC_KEY_ID};
use super::input::Input;
use super::verifier::{check_really_signed, mutate, read_headers, vector_headers};

/// The second the notification vectors were checked at.
const NOTIFICATION_NOW: i64 = 1_763_780_200;

/// The private half of the fixtures' WeChat Pay public key (it signs the `signed` mode).
const PUBLIC_KEY_PRIVATE: &str = include_str!("../../tests/fixtures/pub_key_private.pem");

pub(crate) fn notification_target(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    if mode.is_multiple_of(2) {
        raw(&mut input);
    } else if mode % 4 == 1 {
        mutated(&mut input);
    } else {
        signed(&mut input);
    }
}

fn apiv3_key() -> ApiV3Key {
    ApiV3Key::new(APIV3_KEY).expect("32 bytes")
}

/// Display and Debug of any error never panic.
fn touch(e: &Error) {
    let _ = (e.to_string(), format!("{e:?}"));
}

/// What opened is consistent: the resource is the plaintext's JSON, and the plaintext
/// re-encrypts to the body's ciphertext (the base64 decoder is canonical, so no second
/// spelling of a ciphertext can decrypt).
fn check_opened(n: &Notification, body: &[u8]) {
    let _ = format!("{n:?}");
    let envelope: Value = serde_json::from_slice(body).expect("an opened body is JSON");
    let r = &envelope["resource"];
    let field = |name: &str| r[name].as_str().unwrap_or("");
    assert_eq!(field("algorithm"), "AEAD_AES_256_GCM");
    let again = aes_gcm_encrypt(
        APIV3_KEY,
        field("nonce").as_bytes(),
        field("associated_data").as_bytes(),
        n.plaintext(),
    )
    .expect("re-encrypts");
    assert_eq!(again, field("ciphertext").trim(), "decryption round-trips");
    let json: Value = serde_json::from_slice(n.plaintext()).expect("the resource is JSON");
    assert_eq!(&json, n.resource());
    assert_eq!(Some(n.id()), envelope["id"].as_str());
    assert_eq!(Some(n.event_type()), envelope["event_type"].as_str());
}

/// Arbitrary headers and body: no panic; `open` fails with exactly the verification error
/// `verify_signed` gives, and otherwise passes the signature oracle.
fn raw(input: &mut Input<'_>) {
    let headers = read_headers(input);
    let now = NOTIFICATION_NOW + i64::from(input.u16()) - 32768;
    let body = input.rest();
    let keys = key_store();
    let result = open(&headers, body, keys, &apiv3_key(), now);
    match verify_signed(&headers, body, now, keys) {
        Ok(()) => {
            check_really_signed(&headers, body, now, keys);
            match &result {
                Ok(n) => check_opened(n, body),
                Err(e) => {
                    assert!(e.verify().is_none(), "verified, then a verify error: {e:?}");
                    touch(e);
                }
            }
        }
        Err(v) => {
            let e = result.expect_err("open must fail when verification fails");
            assert_eq!(
                e.verify(),
                Some(&v),
                "open fails with the verification error"
            );
            touch(&e);
        }
    }
}

/// A valid notification vector: its resource changed never decrypts; its headers or body
/// mutated never open; the unchanged vector opens to its plaintext.
fn mutated(input: &mut Input<'_>) {
    let vectors = valid_vectors("notifications");
    let vector = vectors[usize::from(input.byte()) % vectors.len()];
    let original_headers = vector_headers(vector);
    let original_body = vector["body"].as_str().unwrap_or_default().as_bytes();
    let now = vector["now"].as_i64().unwrap_or(NOTIFICATION_NOW);
    let keys = key_store();
    let n = open(&original_headers, original_body, keys, &apiv3_key(), now)
        .expect("a valid vector opens");
    assert_eq!(
        n.plaintext(),
        vector["plaintext"].as_str().unwrap_or_default().as_bytes(),
        "the vector's plaintext"
    );
    check_opened(&n, original_body);

    // The sealed bytes, changed where the input says: never decrypt.
    let envelope: Value = serde_json::from_slice(original_body).expect("vector envelope");
    let r = &envelope["resource"];
    let field = |name: &str| r[name].as_str().unwrap_or_default();
    let mut sealed = BASE64.decode(field("ciphertext")).expect("vector base64");
    let (mut nonce, mut aad) = (
        field("nonce").as_bytes().to_vec(),
        field("associated_data").as_bytes().to_vec(),
    );
    match input.byte() % 4 {
        0 => {
            let at = usize::from(input.u16()) % sealed.len().max(1);
            if let Some(b) = sealed.get_mut(at) {
                *b ^= input.byte() | 1;
            }
        }
        1 => sealed.truncate(usize::from(input.u16()) % sealed.len().max(1)),
        2 => nonce = input.bytes().to_vec(),
        _ => aad = input.bytes().to_vec(),
    }
    let changed = sealed != BASE64.decode(field("ciphertext")).unwrap_or_default()
        || nonce != field("nonce").as_bytes()
        || aad != field("associated_data").as_bytes();
    let result = aes_gcm_decrypt(APIV3_KEY, &nonce, &aad, &BASE64.encode(&sealed));
    assert_eq!(
        result.is_ok(),
        !changed,
        "a changed resource decrypts: {changed}"
    );

    // The signed envelope, mutated like a response: a changed one never opens.
    let mut headers = original_headers.clone();
    let mut body = original_body.to_vec();
    let mut at = now;
    mutate(input, &mut headers, &mut body, &mut at);
    match open(&headers, &body, keys, &apiv3_key(), at) {
        Ok(opened) => {
            check_really_signed(&headers, &body, at, keys);
            check_opened(&opened, &body);
        }
        Err(e) => {
            let unchanged = headers == original_headers && body == original_body && at == now;
            assert!(!unchanged, "the unchanged vector fails: {e:?}");
            touch(&e);
        }
    }
}

/// Fields `signed` may replace, remove or retype.
const FIELDS: &[&str] = &[
    "id",
    "create_time",
    "event_type",
    "resource_type",
    "summary",
    "resource",
    "resource.algorithm",
    "resource.ciphertext",
    "resource.nonce",
    "resource.associated_data",
    "resource.original_type",
];

/// Headers that sign `body` at `now` with the fixtures' WeChat Pay public key.
fn sign(body: &[u8], now: i64) -> HeaderMap {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| PrivateKey::from_pem(PUBLIC_KEY_PRIVATE).expect("fixture key"));
    let (timestamp, nonce) = (now.to_string(), "FuzzNotificationNonce");
    let signature = sign_base64(key, &canonical_response(&timestamp, nonce, body)).expect("signs");
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).expect("header value"));
    };
    put("Wechatpay-Timestamp", &timestamp);
    put("Wechatpay-Nonce", nonce);
    put("Wechatpay-Signature", &signature);
    put("Wechatpay-Serial", PUBLIC_KEY_ID);
    headers
}

/// A vector's envelope with fields changed, signed correctly: `open` never fails on
/// verification; what opens is consistent; the untouched envelope opens to the vector's
/// plaintext; an error is a decode, crypto or unsupported-algorithm error.
fn signed(input: &mut Input<'_>) {
    let vectors = valid_vectors("notifications");
    let vector = vectors[usize::from(input.byte()) % vectors.len()];
    let original = vector["body"].as_str().unwrap_or_default().as_bytes();
    let now = vector["now"].as_i64().unwrap_or(NOTIFICATION_NOW);
    let mut envelope: Value = serde_json::from_slice(original).expect("vector envelope");
    let op = input.byte();
    let body = if op % 8 == 7 {
        input.rest().to_vec()
    } else {
        for _ in 0..=op % 4 {
            let path = FIELDS[usize::from(input.byte()) % FIELDS.len()];
            let (parent, name) = match path.split_once('.') {
                Some((_, inner)) => (&mut envelope["resource"], inner),
                None => (&mut envelope, path),
            };
            let Some(object) = parent.as_object_mut() else {
                continue;
            };
            match input.byte() % 4 {
                0 => {
                    object.remove(name);
                }
                1 => {
                    object.insert(name.into(), Value::from(input.u16()));
                }
                _ => {
                    let text = String::from_utf8_lossy(input.bytes()).into_owned();
                    object.insert(name.into(), Value::from(text));
                }
            }
        }
        serde_json::to_vec(&envelope).expect("serializes")
    };
    let headers = sign(&body, now);
    match open(&headers, &body, key_store(), &apiv3_key(), now) {
        Ok(n) => {
            check_opened(&n, &body);
            if body == original {
                assert_eq!(
                    n.plaintext(),
                    vector["plaintext"].as_str().unwrap_or_default().as_bytes()
                );
            }
        }
        Err(e) => {
            assert!(body != original, "the untouched envelope fails: {e:?}");
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Decode(_) | ErrorKind::Crypto(_) | ErrorKind::Unsupported(_)
                ),
                "a correctly signed body fails with {e:?}"
            );
            touch(&e);
        }
    }
}
