//! Target `notification`: a notification as a listener receives it — headers plus a JSON
//! envelope `{id, event_type, resource{algorithm, ciphertext, nonce, associated_data}}` —
//! verified with `verify_signed` and decrypted with `crypto::aes_gcm_decrypt`. Even first byte:
//! arbitrary headers and body; odd: a valid notification vector, mutated.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;
use wechatpay_chain::crypto::{aes_gcm_decrypt, aes_gcm_encrypt};
use wechatpay_chain::verifier::verify_signed;

use super::fixtures::{key_store, valid_vectors, APIV3_KEY};
use super::input::Input;
use super::verifier::{check_really_signed, mutate, read_headers, vector_headers};

/// The second the notification vectors were checked at.
const NOTIFICATION_NOW: i64 = 1_763_780_200;

pub(crate) fn notification_target(data: &[u8]) {
    let mut input = Input::new(data);
    if input.byte().is_multiple_of(2) {
        raw(&mut input);
    } else {
        mutated(&mut input);
    }
}

/// The resource fields of an envelope, if it has the shape of one.
struct Resource<'a> {
    algorithm: &'a str,
    ciphertext: &'a str,
    nonce: &'a str,
    associated_data: &'a str,
}

fn resource(envelope: &Value) -> Option<Resource<'_>> {
    let _ = (
        envelope.get("id")?.as_str()?,
        envelope.get("event_type")?.as_str()?,
    );
    let r = envelope.get("resource")?;
    Some(Resource {
        algorithm: r.get("algorithm")?.as_str()?,
        ciphertext: r.get("ciphertext")?.as_str()?,
        nonce: r.get("nonce")?.as_str()?,
        associated_data: r
            .get("associated_data")
            .and_then(Value::as_str)
            .unwrap_or(""),
    })
}

/// Decrypts a resource; what decrypts re-encrypts to the same ciphertext (the base64 decoder
/// is canonical, so no second spelling of a ciphertext can decrypt).
fn decrypt(resource: &Resource<'_>) -> Option<Vec<u8>> {
    if resource.algorithm != "AEAD_AES_256_GCM" {
        return None;
    }
    let (nonce, aad) = (
        resource.nonce.as_bytes(),
        resource.associated_data.as_bytes(),
    );
    match aes_gcm_decrypt(APIV3_KEY, nonce, aad, resource.ciphertext) {
        Ok(plain) => {
            let again = aes_gcm_encrypt(APIV3_KEY, nonce, aad, &plain).expect("re-encrypts");
            assert_eq!(again, resource.ciphertext.trim(), "decryption round-trips");
            Some(plain)
        }
        Err(e) => {
            let _ = (e.to_string(), format!("{e:?}"));
            None
        }
    }
}

/// Arbitrary headers and body: no panic; whatever verifies passes the oracle; whatever
/// decrypts round-trips.
fn raw(input: &mut Input<'_>) {
    let headers = read_headers(input);
    let now = NOTIFICATION_NOW + i64::from(input.u16()) - 32768;
    let body = input.rest();
    let keys = key_store();
    match verify_signed(&headers, body, now, keys) {
        Ok(()) => check_really_signed(&headers, body, now, keys),
        Err(e) => {
            let _ = (e.to_string(), format!("{e:?}"));
        }
    }
    if let Ok(envelope) = serde_json::from_slice::<Value>(body) {
        if let Some(r) = resource(&envelope) {
            if let Some(plain) = decrypt(&r) {
                let _ = serde_json::from_slice::<Value>(&plain);
            }
        }
    }
}

/// A valid notification vector: mutated headers or body never verify; a changed ciphertext,
/// nonce or associated data never decrypts; the unchanged vector does both.
fn mutated(input: &mut Input<'_>) {
    let vectors = valid_vectors("notifications");
    let vector = vectors[usize::from(input.byte()) % vectors.len()];
    let original_headers = vector_headers(vector);
    let original_body = vector["body"].as_str().unwrap_or_default().as_bytes();
    let now = vector["now"].as_i64().unwrap_or(NOTIFICATION_NOW);
    let keys = key_store();
    let envelope: Value = serde_json::from_slice(original_body).expect("vector envelope");
    let r = resource(&envelope).expect("vector resource");
    let plain = decrypt(&r).expect("a valid vector decrypts");
    assert_eq!(
        plain,
        vector["plaintext"].as_str().unwrap_or_default().as_bytes(),
        "the vector's plaintext"
    );

    // The sealed bytes, changed where the input says: never decrypt.
    let mut sealed = BASE64.decode(r.ciphertext).expect("vector base64");
    let (mut nonce, mut aad) = (
        r.nonce.as_bytes().to_vec(),
        r.associated_data.as_bytes().to_vec(),
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
    let changed = sealed != BASE64.decode(r.ciphertext).unwrap_or_default()
        || nonce != r.nonce.as_bytes()
        || aad != r.associated_data.as_bytes();
    let result = aes_gcm_decrypt(APIV3_KEY, &nonce, &aad, &BASE64.encode(&sealed));
    assert_eq!(
        result.is_ok(),
        !changed,
        "a changed resource decrypts: {changed}"
    );

    // The signed envelope, mutated like a response: a changed one never verifies.
    let mut headers = original_headers.clone();
    let mut body = original_body.to_vec();
    let mut at = now;
    mutate(input, &mut headers, &mut body, &mut at);
    if let Ok(()) = verify_signed(&headers, &body, at, keys) {
        check_really_signed(&headers, &body, at, keys);
    }
}
