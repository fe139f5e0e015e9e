//! The AWS-LC backend (feature `aws-lc-rs`).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};

use super::{fixed, Backend, Sha1Context, NONCE_LEN};
use crate::error::{CryptoError, Error, KeyError, KeyMaterial, Result};

/// AWS-LC, selected by the feature `aws-lc-rs`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AwsLc;

/// Classifies AWS-LC's refusal of a private key by the reason it names (the same names as
/// ring's); the reason says nothing the kind does not, so it is not kept as a source.
fn rejected(e: aws_lc_rs::error::KeyRejected) -> Error {
    match e.description_() {
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

impl Backend for AwsLc {
    const NAME: &'static str = "aws-lc-rs";
    type RsaKeyPair = RsaKeyPair;
    type RsaPublicKey = signature::ParsedPublicKey;
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
        key.public_modulus_len()
    }

    fn rsa_public_pkcs1_der(key: &RsaKeyPair) -> Vec<u8> {
        key.public_key().as_ref().to_vec()
    }

    fn rsa_sign_sha256(key: &RsaKeyPair, message: &[u8]) -> Result<Vec<u8>> {
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message,
            &mut signature,
        )
        .map_err(|_| Error::signing("AWS-LC could not produce an RSA signature"))?;
        Ok(signature)
    }

    fn rsa_public_key(pkcs1: &[u8]) -> Option<signature::ParsedPublicKey> {
        signature::ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, pkcs1).ok()
    }

    fn rsa_verify_sha256(
        key: &signature::ParsedPublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        // The 2048–8192-bit range is checked on every verification, as for an unparsed key.
        key.verify_sig(message, signature).is_ok()
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
        rustls::crypto::aws_lc_rs::default_provider()
    }
}
