//! The crypto backend (`crypto::BACKEND`): the one the features select is active, it reproduces
//! the reference signatures byte for byte (RSASSA-PKCS1-v1_5 is deterministic) and verifies
//! them, it takes 3072- and 4096-bit keys and refuses 1024-bit ones, and ring and AWS-LC agree:
//! what one signs the other verifies.

mod support;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use wechatpay_chain::signer::canonical_request;
use wechatpay_chain::{crypto, ErrorKind, KeyError, KeyMaterial, PrivateKey};

use support::{array, str_field};

/// Every request vector: its canonical message and its signature bytes.
fn signed_vectors() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let cases = array(&support::vectors(), "request_signatures").to_vec();
    assert!(!cases.is_empty(), "no request_signatures vectors");
    cases
        .iter()
        .map(|case| {
            let message = canonical_request(
                str_field(case, "method"),
                str_field(case, "target"),
                str_field(case, "timestamp"),
                str_field(case, "nonce"),
                str_field(case, "body").as_bytes(),
            );
            let signature = BASE64.decode(str_field(case, "signature")).unwrap();
            (str_field(case, "name").to_string(), message, signature)
        })
        .collect()
}

#[test]
fn the_active_backend_is_the_one_the_features_select() {
    let expected = if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    };
    assert_eq!(crypto::BACKEND, expected);
}

#[test]
fn reference_signatures_are_reproduced_and_verify() {
    let key = support::merchant_key();
    let public = key.public_key();
    for (name, message, expected) in signed_vectors() {
        let signature = key.sign_sha256(&message).unwrap();
        assert_eq!(signature, expected, "{name}: {} signature", crypto::BACKEND);
        assert!(public.verify_sha256(&message, &expected), "{name}");
        let mut altered = expected.clone();
        altered[17] ^= 0x40;
        assert!(!public.verify_sha256(&message, &altered), "{name}: altered");
        assert!(
            !public.verify_sha256(b"another message", &expected),
            "{name}"
        );
    }
}

fn key_error(e: &wechatpay_chain::Error) -> &KeyError {
    match e.kind() {
        ErrorKind::Key(k) => k,
        other => panic!("not a key error: {other:?}"),
    }
}

#[test]
fn a_1024_bit_key_is_too_small() {
    let e = PrivateKey::from_pem(support::fixture("invalid/rsa1024_key.pem")).unwrap_err();
    assert_eq!(
        key_error(&e),
        &KeyError::TooSmall(KeyMaterial::PrivateKey),
        "{e}"
    );
}

/// The DER inside a PEM file.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    BASE64.decode(body).unwrap()
}

/// Both backends are dependencies whenever one of these features is on (OAEP is AWS-LC).
#[cfg(any(feature = "oaep", feature = "aws-lc-rs"))]
mod cross {
    use aws_lc_rs::signature::KeyPair as _;

    use super::*;

    fn ring_pair(pkcs8: &[u8]) -> ring::signature::RsaKeyPair {
        ring::signature::RsaKeyPair::from_pkcs8(pkcs8).unwrap()
    }

    fn aws_pair(pkcs8: &[u8]) -> aws_lc_rs::signature::RsaKeyPair {
        aws_lc_rs::signature::RsaKeyPair::from_pkcs8(pkcs8).unwrap()
    }

    fn ring_sign(pair: &ring::signature::RsaKeyPair, message: &[u8]) -> Vec<u8> {
        let mut out = vec![0; pair.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        pair.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, message, &mut out)
            .unwrap();
        out
    }

    fn aws_sign(pair: &aws_lc_rs::signature::RsaKeyPair, message: &[u8]) -> Vec<u8> {
        let mut out = vec![0; pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &rng,
            message,
            &mut out,
        )
        .unwrap();
        out
    }

    fn ring_verifies(pkcs1: &[u8], message: &[u8], signature: &[u8]) -> bool {
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, pkcs1)
            .verify(message, signature)
            .is_ok()
    }

    fn aws_verifies(pkcs1: &[u8], message: &[u8], signature: &[u8]) -> bool {
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            pkcs1,
        )
        .verify(message, signature)
        .is_ok()
    }

    #[test]
    fn what_one_backend_signs_the_other_verifies() {
        let pkcs8 = pem_der(&support::fixture("apiclient_key.pem"));
        let (ring_key, aws_key) = (ring_pair(&pkcs8), aws_pair(&pkcs8));
        let crate_key = support::merchant_key();
        let pkcs1 = crate_key.public_key().pkcs1_der().to_vec();
        assert_eq!(pkcs1, ring_key.public().as_ref());
        assert_eq!(pkcs1, aws_key.public_key().as_ref());
        for (name, message, expected) in signed_vectors() {
            let (by_ring, by_aws) = (ring_sign(&ring_key, &message), aws_sign(&aws_key, &message));
            assert_eq!(by_ring, expected, "{name}: ring");
            assert_eq!(by_aws, expected, "{name}: AWS-LC");
            assert!(aws_verifies(&pkcs1, &message, &by_ring), "{name}");
            assert!(ring_verifies(&pkcs1, &message, &by_aws), "{name}");
            // The crate's own signature (whichever backend is active) verifies under both.
            let ours = crate_key.sign_sha256(&message).unwrap();
            assert!(ring_verifies(&pkcs1, &message, &ours), "{name}");
            assert!(aws_verifies(&pkcs1, &message, &ours), "{name}");
            let mut altered = ours;
            altered[0] ^= 1;
            assert!(!ring_verifies(&pkcs1, &message, &altered), "{name}");
            assert!(!aws_verifies(&pkcs1, &message, &altered), "{name}");
        }
    }

    fn pem(label: &str, der: &[u8]) -> String {
        let text = BASE64.encode(der);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn larger_keys_sign_and_verify_across_backends() {
        use aws_lc_rs::encoding::AsDer as _;
        use aws_lc_rs::rsa::{KeyPair, KeySize};

        for (size, bits) in [(KeySize::Rsa3072, 3072), (KeySize::Rsa4096, 4096)] {
            let pkcs8 = KeyPair::generate(size).unwrap().as_der().unwrap();
            let key = PrivateKey::from_pem(pem("PRIVATE KEY", pkcs8.as_ref())).unwrap();
            assert!(format!("{key:?}").contains(&bits.to_string()), "{key:?}");
            let message = b"GET\n/v3/certificates\n1554208460\nNONCE\n\n";
            let signature = key.sign_sha256(message).unwrap();
            assert_eq!(signature.len(), bits / 8);
            let public = key.public_key();
            assert!(public.verify_sha256(message, &signature), "{bits}");
            assert!(
                ring_verifies(public.pkcs1_der(), message, &signature),
                "{bits}"
            );
            assert!(
                aws_verifies(public.pkcs1_der(), message, &signature),
                "{bits}"
            );
            let by_ring = ring_sign(&ring_pair(pkcs8.as_ref()), message);
            assert_eq!(by_ring, signature, "{bits}: deterministic across backends");
        }
    }
}
