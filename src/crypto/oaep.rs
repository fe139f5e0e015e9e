//! RSAES-OAEP with SHA-1 and MGF1-SHA-1, empty label: the cipher of sensitive
//! fields (names, phone numbers, ID and bank card numbers). Encrypt with a platform key
//! ([`PublicKey`]), decrypt with the merchant key ([`PrivateKey`]); ciphertexts are standard
//! base64 (with padding).
//!
//! # Why AWS-LC (`aws-lc-rs`)
//!
//! - ring, which signs and verifies everywhere else, has no RSA encryption at all.
//! - The `rsa` crate has OAEP, but RUSTSEC-2023-0071 ("Marvin": non-constant-time private-key
//!   operations leak timing) applies to every private-key operation it makes, which is exactly
//!   the decryption path a merchant runs on fields WeChat Pay sends back. It has no fixed
//!   release.
//! - AWS-LC (BoringSSL lineage) was checked in the vendored source of `aws-lc-sys` 0.47: the
//!   private-key operation blinds its input (`rsa_blinding_get`, `BN_BLINDING_convert`) and
//!   exponentiates with `BN_mod_exp_mont_consttime` on constant-time Montgomery contexts
//!   (`crypto/fipsmodule/rsa/rsa_impl.c`), and the OAEP padding check folds every failure into
//!   one constant-time flag (`constant_time_is_zero_w` in `crypto/rsa_extra/rsa_crypt.c`), so
//!   the Marvin class of timing leak does not apply. AWS-LC is maintained by AWS, has
//!   formally verified parts and FIPS-validated releases (its `fips` feature, not used here).
//!   `aws-lc-rs` 1.x exposes OAEP with SHA-1/MGF1-SHA-1 (`OAEP_SHA1_MGF1SHA1`), builds with a C
//!   compiler only (no cmake), and is the backend the performance work moves signing to, so
//!   the SDK ends with one RSA implementation.
//!
//! The code that touches AWS-LC is this file only, behind three crate-private calls
//! ([`DecryptingKey::new`], [`encrypt`], [`DecryptingKey::decrypt`]); PKCS#1 v1.5 encryption
//! is deliberately absent (the reference SDKs dropped it after CVE-2023-46809).

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{
    KeyPair, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey, OAEP_SHA1_MGF1SHA1,
};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::error::{CryptoError, Error, Result};
use crate::keys::{PrivateKey, PublicKey};
use crate::{Options, Wechatpay};

/// OAEP overhead with SHA-1: two 20-byte digests and two marker bytes.
const OAEP_SHA1_OVERHEAD: usize = 2 * 20 + 2;

/// The merchant key in the form AWS-LC decrypts with, made once when the key is loaded.
/// `None` if AWS-LC refused it (outside 2048–8192 bits): decryption then fails with
/// [`CryptoError::OaepKey`] while signing is unaffected.
#[derive(Clone)]
pub(crate) struct DecryptingKey(Option<std::sync::Arc<OaepPrivateDecryptingKey>>);

impl DecryptingKey {
    /// From the DER of a PEM private key: PKCS#8 (`pkcs1 == false`) or PKCS#1 `RSAPrivateKey`,
    /// which AWS-LC's decrypting key does not parse directly: it goes through `KeyPair` and
    /// back out as PKCS#8 (in memory only).
    pub(crate) fn new(der: &[u8], pkcs1: bool) -> Self {
        let pkcs8 = if pkcs1 {
            KeyPair::from_der(der)
                .ok()
                .and_then(|pair| pair.as_der().ok())
                .map(|d| d.as_ref().to_vec())
        } else {
            Some(der.to_vec())
        };
        let key = pkcs8
            .and_then(|d| PrivateDecryptingKey::from_pkcs8(&d).ok())
            .and_then(|k| OaepPrivateDecryptingKey::new(k).ok());
        Self(key.map(std::sync::Arc::new))
    }

    /// Decrypts base64 `ciphertext`.
    pub(crate) fn decrypt(&self, ciphertext: &str) -> Result<Vec<u8>> {
        let key = self.0.as_deref().ok_or(CryptoError::OaepKey)?;
        let cipher = BASE64
            .decode(ciphertext.trim())
            .map_err(|e| Error::from(CryptoError::OaepBase64).with_source(e))?;
        let expected = key.key_size_bytes();
        if cipher.len() != expected {
            return Err(CryptoError::OaepLength {
                got: cipher.len(),
                expected,
            }
            .into());
        }
        let mut plain = vec![0; key.min_output_size()];
        // AWS-LC's error carries nothing (and must not: no padding oracle).
        let len = key
            .decrypt(&OAEP_SHA1_MGF1SHA1, &cipher, &mut plain, None)
            .map_err(|_| CryptoError::OaepDecrypt)?
            .len();
        plain.truncate(len);
        Ok(plain)
    }
}

impl fmt::Debug for DecryptingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptingKey").finish_non_exhaustive()
    }
}

/// Wraps a PKCS#1 `RSAPublicKey` in a `SubjectPublicKeyInfo` (rsaEncryption, NULL
/// parameters), the form AWS-LC parses public keys from.
fn spki_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    fn push_len(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(u8::try_from(len).unwrap_or(0));
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap_or(0));
            out.extend_from_slice(&bytes[skip..]);
        }
    }
    // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
    const ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0x03];
    push_len(&mut bit_string, pkcs1.len() + 1);
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    push_len(&mut out, ALGORITHM.len() + bit_string.len());
    out.extend_from_slice(ALGORITHM);
    out.extend_from_slice(&bit_string);
    out
}

/// Encrypts `plain` to `key`; base64 of the ciphertext. Randomized: two calls differ.
pub(crate) fn encrypt(key: &PublicKey, plain: &[u8]) -> Result<String> {
    let key = PublicEncryptingKey::from_der(&spki_from_pkcs1(key.pkcs1_der()))
        .ok()
        .and_then(|k| OaepPublicEncryptingKey::new(k).ok())
        .ok_or(CryptoError::OaepKey)?;
    let max = key.key_size_bytes().saturating_sub(OAEP_SHA1_OVERHEAD);
    if plain.len() > max {
        return Err(CryptoError::PlaintextTooLong {
            length: plain.len(),
            max,
        }
        .into());
    }
    let mut cipher = vec![0; key.ciphertext_size()];
    let out = key
        .encrypt(&OAEP_SHA1_MGF1SHA1, plain, &mut cipher, None)
        .map_err(|_| CryptoError::Cipher)?;
    Ok(BASE64.encode(out))
}

/// Encrypts a sensitive field to a platform key with RSAES-OAEP (SHA-1, MGF1-SHA-1): the
/// base64 ciphertext to put in the request body. Prefer
/// [`Wechatpay::encryptor`](crate::Wechatpay::encryptor), which also names the key for the
/// request's `Wechatpay-Serial`.
///
/// Fails with [`CryptoError::PlaintextTooLong`] over 214 bytes (2048-bit key).
pub fn oaep_encrypt(key: &PublicKey, plain: &[u8]) -> Result<String> {
    encrypt(key, plain)
}

/// Decrypts a base64 RSAES-OAEP (SHA-1, MGF1-SHA-1) field encrypted to the merchant key.
///
/// Fails with [`CryptoError::OaepBase64`], [`CryptoError::OaepLength`], or
/// [`CryptoError::OaepDecrypt`] (wrong key or altered; no more detail by design).
pub fn oaep_decrypt(key: &PrivateKey, ciphertext: &str) -> Result<Vec<u8>> {
    key.decrypting_key().decrypt(ciphertext)
}

/// A platform key snapshot for sensitive fields: encrypts with one key and names that same key
/// for the request's `Wechatpay-Serial`, so a key refresh or rotation between encrypting and
/// sending cannot make the two disagree. Made by [`Wechatpay::encryptor`] (with a client), or
/// with [`Encryptor::new`] for a key you hold.
///
/// Send the encrypted fields with [`Encryptor::options`]: a `Wechatpay-Serial` header naming
/// another key in the same request is then an error, never a silent choice. Fields WeChat Pay
/// sends back encrypted to the merchant key decrypt with
/// [`PrivateKey::oaep_decrypt`](crate::PrivateKey::oaep_decrypt).
///
/// ```
/// # fn main() -> wechatpay_chain::Result<()> {
/// use wechatpay_chain::{Encryptor, PrivateKey, PublicKey};
/// # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
/// # let read = |name: &str| std::fs::read(format!("{dir}{name}")).unwrap();
/// # let (platform_pem, platform_private_pem) = (read("pub_key.pem"), read("pub_key_private.pem"));
///
/// // PHP: $encrypted = Rsa::encrypt('13800138000', Rsa::from('file:///path/to/pub_key.pem', Rsa::KEY_TYPE_PUBLIC));
/// //      ... 'headers' => ['Wechatpay-Serial' => 'PUB_KEY_ID_0114232134912410000000000000']
/// // JS:  const encrypted = Rsa.encrypt('13800138000', Rsa.from('file:///path/to/pub_key.pem', Rsa.KEY_TYPE_PUBLIC));
/// let enc = Encryptor::new("PUB_KEY_ID_0114232134912410000000000000", PublicKey::from_pem(platform_pem)?);
/// let phone = enc.encrypt("13800138000")?; // base64, 344 characters for a 2048-bit key
/// let options = enc.options().json(serde_json::json!({ "mobile_phone": phone }));
/// // wxpay.chain("v3/…").post(options).await? sends `Wechatpay-Serial: PUB_KEY_ID_…`
///
/// // What the platform does with its private key (PHP/JS: Rsa::decrypt / Rsa.decrypt):
/// assert_eq!(PrivateKey::from_pem(platform_private_pem)?.oaep_decrypt(&phone)?, "13800138000");
/// # drop(options);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Encryptor {
    serial: String,
    key: PublicKey,
}

impl Encryptor {
    /// An encryptor for the platform key `serial` (a `PUB_KEY_ID_…` or certificate serial).
    pub fn new(serial: impl Into<String>, key: PublicKey) -> Self {
        Self {
            serial: serial.into().trim().to_string(),
            key,
        }
    }

    /// The key's id: what the request's `Wechatpay-Serial` must be.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The platform public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// Encrypts one field (UTF-8) with RSAES-OAEP (SHA-1, MGF1-SHA-1): base64.
    ///
    /// Fails with [`CryptoError::PlaintextTooLong`] over 214 bytes (2048-bit key).
    pub fn encrypt(&self, plain: &str) -> Result<String> {
        encrypt(&self.key, plain.as_bytes())
    }

    /// Options with `Wechatpay-Serial` pinned to this key
    /// ([`Options::wechatpay_serial`]); add the body and parameters to them.
    pub fn options(&self) -> Options {
        Options::new().wechatpay_serial(self.serial.clone())
    }
}

impl Wechatpay {
    /// An [`Encryptor`] for the preferred platform key now (the WeChat Pay public key if one is
    /// loaded, else the newest valid platform certificate): encrypt sensitive fields with it
    /// and send them with [`Encryptor::options`], which pins `Wechatpay-Serial` to the same key.
    ///
    /// Fails with [`CryptoError::NoPlatformKey`] when no platform key is usable.
    ///
    /// ```
    /// # #[cfg(feature = "sandbox")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> wechatpay_chain::Result<()> {
    /// # let sandbox = wechatpay_chain::sandbox::Sandbox::builder().start().await?;
    /// # let wxpay = sandbox.client()?;
    /// use wechatpay_chain::json;
    ///
    /// // PHP: $name = Rsa::encrypt('张三', $platformPublicKeyInstance);
    /// //      $instance->v3->profitsharing->receivers->add->postAsync(['json' => [..., 'name' => $name],
    /// //          'headers' => ['Wechatpay-Serial' => $platformCertificateSerialOrPublicKeyId]]);
    /// // JS:  const name = Rsa.encrypt('张三', platformPublicKey);
    /// //      wxpay.v3.profitsharing.receivers.add.post({..., name}, {headers: {'Wechatpay-Serial': id}});
    /// let enc = wxpay.encryptor()?;
    /// let body = json!({
    ///     "appid": "wx8888888888888888", "type": "MERCHANT_ID", "account": "86693852",
    ///     "relation_type": "STORE", "name": enc.encrypt("张三")?,
    /// });
    /// // The sandbox decrypts `name` with the key `Wechatpay-Serial` names, as the platform does.
    /// wxpay.chain("v3/profitsharing/receivers/add").post(enc.options().json(body)).await?;
    /// # sandbox.shutdown();
    /// # Ok(()) }
    /// # #[cfg(not(feature = "sandbox"))]
    /// # fn main() {}
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "oaep")))]
    pub fn encryptor(&self) -> Result<Encryptor> {
        let (serial, key) = self
            .inner()
            .keys
            .preferred(self.now())
            .ok_or(CryptoError::NoPlatformKey)?;
        Ok(Encryptor::new(serial, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_wrapping_matches_the_fixture() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        let pem = std::fs::read(format!("{dir}pub_key.pem")).unwrap();
        let block = x509_parser::pem::Pem::iter_from_buffer(&pem)
            .next()
            .unwrap()
            .unwrap();
        let key = PublicKey::from_pem(&pem).unwrap();
        assert_eq!(spki_from_pkcs1(key.pkcs1_der()), block.contents);
    }

    fn pem(label: &str, der: &[u8]) -> String {
        let b64 = BASE64.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    fn is_oaep_key_error(e: &Error) -> bool {
        matches!(e.kind(), crate::ErrorKind::Crypto(CryptoError::OaepKey))
    }

    #[test]
    fn a_3072_bit_merchant_key_round_trips() {
        let pair = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa3072).unwrap();
        let der = pair.as_der().unwrap();
        let key = PrivateKey::from_pem(pem("PRIVATE KEY", der.as_ref())).unwrap();
        let cipher = encrypt(&key.public_key(), "张三".as_bytes()).unwrap();
        assert_eq!(BASE64.decode(&cipher).unwrap().len(), 384);
        assert_eq!(key.oaep_decrypt(&cipher).unwrap(), "张三");
        // A 2048-bit ciphertext is refused by length, before any private-key operation.
        let short = BASE64.encode([1u8; 256]);
        let e = key.oaep_decrypt(&short).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                crate::ErrorKind::Crypto(CryptoError::OaepLength {
                    got: 256,
                    expected: 384
                })
            ),
            "{e}"
        );
    }

    #[test]
    fn key_material_aws_lc_refuses_is_a_typed_error_not_a_panic() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        let pem = std::fs::read(format!("{dir}apiclient_key.pkcs1.pem")).unwrap();
        let block = x509_parser::pem::Pem::iter_from_buffer(&pem)
            .next()
            .unwrap()
            .unwrap();
        let whole = &block.contents;
        let cipher = BASE64.encode([7u8; 256]);
        let odd: [&[u8]; 5] = [
            &[],
            b"not DER at all",
            &[0x30, 0x03, 0x02, 0x01, 0x00],
            &whole[..whole.len() / 2],
            &whole[1..],
        ];
        for der in odd {
            for pkcs1 in [true, false] {
                let e = DecryptingKey::new(der, pkcs1).decrypt(&cipher).unwrap_err();
                assert!(is_oaep_key_error(&e), "{e}");
            }
        }
        // The whole key parses in its own form only.
        assert!(DecryptingKey::new(whole, true).0.is_some());
        assert!(DecryptingKey::new(whole, false).0.is_none());
    }
}
