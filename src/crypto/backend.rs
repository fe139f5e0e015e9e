//! The cryptographic backend: one crate-private trait over the primitives the SDK uses (RSA
//! PKCS#1 v1.5 SHA-256 signing and verification, AES-256-GCM, SHA-256 and SHA-1, the rustls
//! provider), implemented on ring (default) and on AWS-LC (feature `aws-lc-rs`).
//!
//! Everything above this module calls [`Active`], a zero-sized type chosen by `cfg`: static
//! dispatch, no per-call indirection, and exactly one backend compiled in. RSA-OAEP
//! (`crypto::oaep`) is AWS-LC in both cases (ring has no RSA encryption); the sandbox, a test
//! server, uses ring directly.

#[cfg(feature = "aws-lc-rs")]
mod aws_lc;
#[cfg(not(feature = "aws-lc-rs"))]
mod ring;

use crate::error::{CryptoError, Result};

/// The backend the features select.
#[cfg(not(feature = "aws-lc-rs"))]
pub(crate) type Active = ring::Ring;
/// The backend the features select.
#[cfg(feature = "aws-lc-rs")]
pub(crate) type Active = aws_lc::AwsLc;

/// The AES-256-GCM nonce length (WeChat Pay sends 12 ASCII characters).
pub(crate) const NONCE_LEN: usize = 12;

/// A running SHA-1 (bill downloads hash as chunks arrive).
pub(crate) trait Sha1Context: Send {
    /// Adds `data`.
    fn update(&mut self, data: &[u8]);
    /// The 20-byte digest of everything added.
    fn finish(self) -> [u8; 20];
}

/// The primitives, as associated functions of a zero-sized backend type.
pub(crate) trait Backend {
    /// `"ring"` or `"aws-lc-rs"`.
    const NAME: &'static str;
    /// A parsed RSA private key, ready to sign.
    type RsaKeyPair: Send + Sync + 'static;
    /// A public key ready to verify with: parsed once, not per signature, where the backend
    /// can keep it parsed.
    type RsaPublicKey: Send + Sync + 'static;
    /// A running SHA-1.
    type Sha1: Sha1Context;

    /// Parses a PKCS#8 `PrivateKeyInfo` (`pkcs1 == false`) or a PKCS#1 `RSAPrivateKey` DER.
    /// Fails with [`KeyError`](crate::KeyError) `NotRsa`, `TooSmall` (under 2048 bits) or
    /// `Malformed`.
    fn rsa_private_key(der: &[u8], pkcs1: bool) -> Result<Self::RsaKeyPair>;
    /// The modulus length in bytes (the signature length).
    fn rsa_modulus_len(key: &Self::RsaKeyPair) -> usize;
    /// The public half as PKCS#1 `RSAPublicKey` DER.
    fn rsa_public_pkcs1_der(key: &Self::RsaKeyPair) -> Vec<u8>;
    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    fn rsa_sign_sha256(key: &Self::RsaKeyPair, message: &[u8]) -> Result<Vec<u8>>;
    /// Prepares a PKCS#1 `RSAPublicKey` for repeated verification; `None` when the backend
    /// refuses it, and then every verification with it fails closed.
    fn rsa_public_key(pkcs1: &[u8]) -> Option<Self::RsaPublicKey>;
    /// Verifies an RSASSA-PKCS1-v1_5 SHA-256 signature with a public key of 2048–8192 bits
    /// (the range is checked on every call).
    fn rsa_verify_sha256(key: &Self::RsaPublicKey, message: &[u8], signature: &[u8]) -> bool;
    /// Encrypts `in_out` in place and appends the 16-byte tag.
    fn aes_256_gcm_seal(
        key: &[u8; 32],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> std::result::Result<(), CryptoError>;
    /// Checks the tag and decrypts `in_out` (ciphertext || tag) in place; on success `in_out`
    /// is truncated to the plaintext.
    fn aes_256_gcm_open(
        key: &[u8; 32],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut Vec<u8>,
    ) -> std::result::Result<(), CryptoError>;
    /// SHA-256 of `data`.
    fn sha256(data: &[u8]) -> [u8; 32];
    /// SHA-1 of `data` (legacy uses only: statements' `Wechatpay-Statement-Sha1`).
    fn sha1(data: &[u8]) -> [u8; 20];
    /// A new running SHA-1 (bill digests).
    fn sha1_context() -> Self::Sha1;
    /// The rustls provider of the HTTPS transport.
    fn rustls_provider() -> rustls::crypto::CryptoProvider;
}

/// Copies a digest into a fixed array (the algorithms fix the lengths).
fn fixed<const N: usize>(digest: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(digest);
    out
}
