//! Target `keys`: `PrivateKey`, `PublicKey` and `Certificate` from PEM text, from DER wrapped in
//! a PEM block of each label, and `PublicKey::from_spki_der`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use wechatpay_chain::{Certificate, PrivateKey, PublicKey};

use super::input::Input;

const LABELS: &[&str] = &[
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "CERTIFICATE",
];

/// DER in a PEM block (64-character lines, as openssl writes them).
fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let text = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

pub(crate) fn keys_target(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let rest = input.rest();
    let label = LABELS[usize::from(mode / 8) % LABELS.len()];
    let bytes = if mode % 8 >= 4 {
        pem(label, rest)
    } else {
        rest.to_vec()
    };
    match mode % 4 {
        0 => private_key(&bytes),
        1 => {
            if let Ok(key) = PublicKey::from_pem(&bytes).map_err(show) {
                check_public(&key);
            }
        }
        2 => {
            if let Ok(key) = PublicKey::from_spki_der(rest).map_err(show) {
                check_public(&key);
            }
        }
        _ => certificate(&bytes),
    }
}

/// Every error renders (`Display`, `Debug`) without panicking.
fn show(e: wechatpay_chain::Error) {
    let _ = (e.to_string(), format!("{e:?}"), e.kind());
}

fn check_public(key: &PublicKey) {
    let _ = format!("{key:?}");
    assert!(!key.pkcs1_der().is_empty());
    assert!(
        !key.verify_sha256(b"message", &[0; 256]),
        "a zero signature verifies"
    );
}

/// A loaded private key signs, and its public half verifies what it signed.
fn private_key(bytes: &[u8]) {
    let Ok(key) = PrivateKey::from_pem(bytes).map_err(show) else {
        return;
    };
    let _ = format!("{key:?}");
    let signature = key.sign_sha256(b"message").expect("a loaded key signs");
    assert!(
        key.public_key().verify_sha256(b"message", &signature),
        "a loaded key's signature does not verify"
    );
}

/// A loaded certificate has an upper-case hex serial and a usable key.
fn certificate(bytes: &[u8]) {
    let Ok(cert) = Certificate::from_pem(bytes).map_err(show) else {
        return;
    };
    let serial = cert.serial();
    assert!(
        serial
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "serial {serial:?} is not upper-case hex"
    );
    let _ = (
        cert.not_before(),
        cert.not_after(),
        format!("{cert:?}"),
        cert.pem(),
    );
    check_public(cert.public_key());
}
