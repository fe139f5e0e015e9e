//! AES-256-GCM with the APIv3 key: the cipher of notification resources and of
//! downloaded platform certificates; and (feature `oaep`, on by default) RSA-OAEP for sensitive
//! fields: [`oaep_encrypt`] and [`oaep_decrypt`] (on AWS-LC, whose RSA decryption is blinded
//! and constant-time: ring has no RSA encryption, and the `rsa` crate's decryption is open to
//! the Marvin timing attack, RUSTSEC-2023-0071).
//!
//! The ciphertext is standard base64 (with padding) of `ciphertext || tag`, the tag being the
//! last 16 bytes; the nonce is 12 bytes (WeChat Pay sends 12 ASCII characters) and the
//! associated data is authenticated but not encrypted.
//!
//! ```
//! use wechatpay_chain::crypto::{aes_gcm_decrypt, aes_gcm_encrypt};
//!
//! let key = b"TestOnlyApiV3Key0123456789abcdef";
//! let cipher = aes_gcm_encrypt(key, b"fdasflkja484", b"transaction", b"{}")?;
//! assert_eq!(aes_gcm_decrypt(key, b"fdasflkja484", b"transaction", &cipher)?, b"{}");
//! # Ok::<(), wechatpay_chain::Error>(())
//! ```

pub(crate) mod backend;
#[cfg(feature = "oaep")]
#[cfg_attr(docsrs, doc(cfg(feature = "oaep")))]
pub(crate) mod oaep;
#[cfg(feature = "oaep")]
#[cfg_attr(docsrs, doc(cfg(feature = "oaep")))]
pub use oaep::{oaep_decrypt, oaep_encrypt, Encryptor};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use self::backend::{Active, Backend as _, NONCE_LEN};
use crate::error::{CryptoError, Error, Result};

/// The cryptographic backend compiled in: `"ring"` (the default) or `"aws-lc-rs"` (feature
/// `aws-lc-rs`). It signs and verifies RSA, runs AES-256-GCM and the digests, and is the
/// rustls provider of the HTTPS transport; RSA-OAEP (feature `oaep`) is AWS-LC either way.
///
/// ```
/// let expected = if cfg!(feature = "aws-lc-rs") { "aws-lc-rs" } else { "ring" };
/// assert_eq!(wechatpay_chain::crypto::BACKEND, expected);
/// ```
pub const BACKEND: &str = <Active as backend::Backend>::NAME;

/// Length of the authentication tag appended to the ciphertext.
pub const AES_GCM_TAG_LEN: usize = 16;

fn checked_nonce(nonce: &[u8]) -> Result<&[u8; NONCE_LEN]> {
    nonce
        .try_into()
        .map_err(|_| CryptoError::NonceLength(nonce.len()).into())
}

/// Encrypts `plain` with AES-256-GCM; returns base64 of `ciphertext || tag`.
///
/// `nonce` must be 12 bytes and must never repeat under the same key.
pub fn aes_gcm_encrypt(key: &[u8; 32], nonce: &[u8], aad: &[u8], plain: &[u8]) -> Result<String> {
    let nonce = checked_nonce(nonce)?;
    let mut buffer = Vec::with_capacity(plain.len() + AES_GCM_TAG_LEN);
    buffer.extend_from_slice(plain);
    // The backends' errors say nothing the kind does not: they are not kept as sources.
    Active::aes_256_gcm_seal(key, nonce, aad, &mut buffer)?;
    Ok(BASE64.encode(buffer))
}

/// Decrypts base64 `ciphertext || tag` with AES-256-GCM, checking the tag over the
/// ciphertext and `aad`.
///
/// Fails with [`ErrorKind::Crypto`](crate::ErrorKind::Crypto): [`CryptoError::NonceLength`] on
/// a nonce that is not 12 bytes, [`CryptoError::Base64`] and [`CryptoError::Truncated`] on text
/// that is not base64 or is shorter than the tag, and [`CryptoError::Decrypt`] on
/// authentication failure (wrong APIv3 key, nonce or associated data, or altered ciphertext).
pub fn aes_gcm_decrypt(
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    ciphertext: &str,
) -> Result<Vec<u8>> {
    let nonce = checked_nonce(nonce)?;
    let mut buffer = BASE64
        .decode(ciphertext.trim())
        .map_err(|e| Error::from(CryptoError::Base64).with_source(e))?;
    if buffer.len() < AES_GCM_TAG_LEN {
        return Err(CryptoError::Truncated(buffer.len()).into());
    }
    Active::aes_256_gcm_open(key, nonce, aad, &mut buffer)?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const VECTORS: &str = include_str!("../tests/data/vectors.json");

    fn vectors() -> Vec<serde_json::Value> {
        let all: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        all["aes_gcm"].as_array().unwrap().clone()
    }

    fn field<'a>(v: &'a serde_json::Value, name: &str) -> &'a [u8] {
        v[name].as_str().unwrap().as_bytes()
    }

    #[test]
    fn matches_the_reference_vectors() {
        let vectors = vectors();
        assert!(!vectors.is_empty());
        for v in &vectors {
            let key: &[u8; 32] = field(v, "key").try_into().unwrap();
            let (nonce, aad) = (field(v, "nonce"), field(v, "aad"));
            let cipher = v["ciphertext"].as_str().unwrap();
            assert_eq!(
                aes_gcm_encrypt(key, nonce, aad, field(v, "plaintext")).unwrap(),
                cipher
            );
            assert_eq!(
                aes_gcm_decrypt(key, nonce, aad, cipher).unwrap(),
                field(v, "plaintext")
            );
        }
    }

    fn crypto_error(e: &Error) -> &CryptoError {
        match e.kind() {
            ErrorKind::Crypto(c) => c,
            other => panic!("not a crypto error: {other:?}"),
        }
    }

    #[test]
    fn failures_are_typed() {
        let v = &vectors()[0];
        let key: &[u8; 32] = field(v, "key").try_into().unwrap();
        let (nonce, aad) = (field(v, "nonce"), field(v, "aad"));
        let cipher = v["ciphertext"].as_str().unwrap();

        let e = aes_gcm_encrypt(key, b"short", aad, b"x").unwrap_err();
        assert_eq!(crypto_error(&e), &CryptoError::NonceLength(5), "{e}");
        let e = aes_gcm_decrypt(key, b"0123456789abc", aad, cipher).unwrap_err();
        assert_eq!(crypto_error(&e), &CryptoError::NonceLength(13), "{e}");
        let e = aes_gcm_decrypt(key, nonce, b"other", cipher).unwrap_err();
        assert_eq!(crypto_error(&e), &CryptoError::Decrypt, "{e}");
        let e = aes_gcm_decrypt(&[0; 32], nonce, aad, cipher).unwrap_err();
        assert_eq!(crypto_error(&e), &CryptoError::Decrypt, "{e}");
        let mut altered = BASE64.decode(cipher).unwrap();
        altered[0] ^= 1;
        let e = aes_gcm_decrypt(key, nonce, aad, &BASE64.encode(altered)).unwrap_err();
        assert_eq!(crypto_error(&e), &CryptoError::Decrypt, "{e}");
        let e = aes_gcm_decrypt(key, nonce, aad, "not base64!").unwrap_err();
        assert_eq!(crypto_error(&e), &CryptoError::Base64, "{e}");
        let source = std::error::Error::source(&e).expect("the decoder's error is kept");
        assert!(source.downcast_ref::<base64::DecodeError>().is_some());
        let e = aes_gcm_decrypt(key, nonce, aad, "AAAA").unwrap_err();
        assert_eq!(crypto_error(&e), &CryptoError::Truncated(3), "{e}");
    }
}
