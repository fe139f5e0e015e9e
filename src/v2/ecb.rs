//! AES-256-ECB with PKCS#7 padding, base64 in and out: the cipher of APIv2 refund
//! notifications' `req_info`.
//!
//! ECB has no IV and no authentication; WeChat Pay uses it only for `req_info`, whose key is
//! [`req_info_key`] (the lower-case hex MD5 of the APIv2 key, as 32 ASCII bytes). Do not use it
//! for anything new.
//!
//! ```
//! use wechatpay_chain::v2::ecb::{decrypt, encrypt};
//!
//! let key = b"0123456789abcdef0123456789abcdef";
//! assert_eq!(encrypt(b"hello", key), "pZwJZBLuy3mDACEQT4YTBw==");
//! assert_eq!(decrypt("pZwJZBLuy3mDACEQT4YTBw==", key)?, b"hello");
//! # Ok::<(), wechatpay_chain::Error>(())
//! ```

use aes::Aes256;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ecb::cipher::block_padding::Pkcs7;
use ecb::cipher::{BlockDecryptMut, BlockEncryptMut, KeyInit};

use super::sign::{md5_hex_of_bytes, ApiV2Key};
use crate::error::{CryptoError, Error, Result};

const BLOCK: usize = 16;

/// Encrypts `plain` with AES-256-ECB and PKCS#7 padding; standard base64 (with padding).
pub fn encrypt(plain: &[u8], key: &[u8; 32]) -> String {
    let cipher = ecb::Encryptor::<Aes256>::new(key.into());
    BASE64.encode(cipher.encrypt_padded_vec_mut::<Pkcs7>(plain))
}

/// Decrypts standard base64 of an AES-256-ECB ciphertext and removes its PKCS#7 padding.
///
/// Errors with [`CryptoError::AesEcb`] when the text is not base64, not whole 16-byte blocks,
/// or the padding is wrong (which is what a wrong key gives, almost always).
pub fn decrypt(b64: &str, key: &[u8; 32]) -> Result<Vec<u8>> {
    let data = BASE64.decode(b64.trim()).map_err(|e| {
        Error::from(CryptoError::AesEcb("the ciphertext is not base64")).with_source(e)
    })?;
    if data.is_empty() || data.len() % BLOCK != 0 {
        return Err(CryptoError::AesEcb("the ciphertext is not whole 16-byte blocks").into());
    }
    let cipher = ecb::Decryptor::<Aes256>::new(key.into());
    cipher.decrypt_padded_vec_mut::<Pkcs7>(&data).map_err(|_| {
        CryptoError::AesEcb(
            "the PKCS#7 padding is wrong (wrong key, or the ciphertext was altered)",
        )
        .into()
    })
}

/// The AES-256-ECB key of refund notifications' `req_info`: the lower-case hex MD5 of the
/// APIv2 key, used as 32 ASCII bytes (not the 16 raw digest bytes).
pub fn req_info_key(key: &ApiV2Key) -> [u8; 32] {
    // The hex of a 16-byte digest is always 32 ASCII bytes.
    let mut out = [0u8; 32];
    let hex = md5_hex_of_bytes(key.as_bytes());
    out.copy_from_slice(hex.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(e: &Error) -> &'static str {
        match e.kind() {
            crate::ErrorKind::Crypto(CryptoError::AesEcb(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failures_are_typed() {
        let key = b"0123456789abcdef0123456789abcdef";
        assert!(why(&decrypt("not base64!", key).unwrap_err()).contains("base64"));
        assert!(why(&decrypt("", key).unwrap_err()).contains("blocks"));
        assert!(why(&decrypt("AAAA", key).unwrap_err()).contains("blocks"));
        let other = b"fedcba9876543210fedcba9876543210";
        let e = decrypt(&encrypt(b"hello", key), other).unwrap_err();
        assert!(why(&e).contains("padding"));
    }

    #[test]
    fn req_info_key_is_the_hex_md5_of_the_apiv2_key() {
        let key = ApiV2Key::new("exposed_your_key_here_have_risks").unwrap();
        assert_eq!(&req_info_key(&key), b"4ad14ac334ab13540eb6c5479512a8e8");
    }
}
