//! The ring backend (the default).

use ::ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ::ring::digest;
use ::ring::rand::SystemRandom;
use ::ring::signature::{self, RsaKeyPair};

use super::{fixed, Backend, Sha1Context, NONCE_LEN};
use crate::error::{CryptoError, Error, KeyError, KeyMaterial, Result};

/// ring, selected when the feature `aws-lc-rs` is off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ring;

/// Classifies ring's refusal of a private key. ring names the reason only through `Display`
/// (and its error is no `std::error::Error` without its `std` feature), so the kind carries it.
fn rejected(e: ::ring::error::KeyRejected) -> Error {
    match e.to_string().as_str() {
        "WrongAlgorithm" => KeyError::NotRsa(KeyMaterial::PrivateKey),
        "TooSmall" => KeyError::TooSmall(KeyMaterial::PrivateKey),
        _ => KeyError::Malformed(KeyMaterial::PrivateKey),
    }
    .into()
}

fn gcm_key(key: &[u8; 32]) -> std::result::Result<LessSafeKey, CryptoError> {
    let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Cipher)?;
    Ok(LessSafeKey::new(key))
}

/// A running SHA-1 of this backend.
pub(crate) struct Sha1(digest::Context);

impl Sha1Context for Sha1 {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finish(self) -> [u8; 20] {
        fixed(self.0.finish().as_ref())
    }
}

impl Backend for Ring {
    const NAME: &'static str = "ring";
    type RsaKeyPair = RsaKeyPair;
    type RsaPublicKey = Box<[u8]>;
    type Sha1 = Sha1;

    fn rsa_private_key(der: &[u8], pkcs1: bool) -> Result<RsaKeyPair> {
        if pkcs1 {
            RsaKeyPair::from_der(der)
        } else {
            RsaKeyPair::from_pkcs8(der)
        }
        .map_err(rejected)
    }

    fn rsa_modulus_len(key: &RsaKeyPair) -> usize {
        key.public().modulus_len()
    }

    fn rsa_public_pkcs1_der(key: &RsaKeyPair) -> Vec<u8> {
        key.public().as_ref().to_vec()
    }

    fn rsa_sign_sha256(key: &RsaKeyPair, message: &[u8]) -> Result<Vec<u8>> {
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message,
            &mut signature,
        )
        .map_err(|_| Error::signing("ring could not produce an RSA signature"))?;
        Ok(signature)
    }

    // ring has no parsed public key: it parses the DER on every verification.
    fn rsa_public_key(pkcs1: &[u8]) -> Option<Box<[u8]>> {
        Some(pkcs1.into())
    }

    fn rsa_verify_sha256(pkcs1: &Box<[u8]>, message: &[u8], signature: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, pkcs1)
            .verify(message, signature)
            .is_ok()
    }

    fn aes_256_gcm_seal(
        key: &[u8; 32],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> std::result::Result<(), CryptoError> {
        gcm_key(key)?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), in_out)
            .map_err(|_| CryptoError::Cipher)
    }

    fn aes_256_gcm_open(
        key: &[u8; 32],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> std::result::Result<(), CryptoError> {
        let len = gcm_key(key)?
            .open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), in_out)
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        in_out.truncate(len);
        Ok(())
    }

    fn sha256(data: &[u8]) -> [u8; 32] {
        fixed(digest::digest(&digest::SHA256, data).as_ref())
    }

    fn sha1(data: &[u8]) -> [u8; 20] {
        fixed(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref())
    }

    fn sha1_context() -> Sha1 {
        Sha1(digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY))
    }

    fn rustls_provider() -> rustls::crypto::CryptoProvider {
        rustls::crypto::ring::default_provider()
    }
}
