//! Keys: the merchant's private key, WeChat Pay public keys, platform certificates, and the
//! key store that maps a `Wechatpay-Serial` value to the key that verifies it.
//!
//! The private key never appears in `Debug`, `Display` or an error message.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};

use x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo};
use x509_parser::public_key::RSAPublicKey;

use crate::crypto::backend::{Active, Backend};
use crate::error::{Error, KeyError, KeyMaterial, Result};

const MIN_BITS: usize = 2048;

/// The largest key or certificate file read: 1 MiB (a PEM key or certificate is a few KiB), so
/// a wrong path such as `/dev/zero` fails instead of exhausting memory.
pub(crate) const KEY_FILE_CAP: u64 = 1024 * 1024;

/// Reads a key file of at most [`KEY_FILE_CAP`] bytes; the error names the path and keeps the
/// I/O error (or the size limit) as its source.
fn read_file(path: &Path, material: KeyMaterial) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let read = || -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        std::fs::File::open(path)?
            .take(KEY_FILE_CAP + 1)
            .read_to_end(&mut buf)?;
        if buf.len() as u64 > KEY_FILE_CAP {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "larger than the 1 MiB limit for key and certificate files",
            ));
        }
        Ok(buf)
    };
    read().map_err(|e| {
        Error::from(KeyError::Read {
            material,
            path: path.to_path_buf(),
        })
        .with_source(e)
    })
}

/// Decodes the first PEM block.
fn first_pem(pem: &[u8], material: KeyMaterial) -> Result<Pem> {
    let mut blocks = Pem::iter_from_buffer(pem);
    match blocks.next() {
        Some(Ok(block)) => Ok(block),
        Some(Err(e)) => Err(Error::from(KeyError::Pem {
            material,
            found: None,
        })
        .with_source(e)),
        None => Err(KeyError::Pem {
            material,
            found: None,
        }
        .into()),
    }
}

/// PEM labels an error may name; any other label is text from the file (a pasted secret,
/// say) and is never shown.
const KNOWN_LABELS: &[&str] = &[
    "CERTIFICATE",
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "EC PRIVATE KEY",
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "CERTIFICATE REQUEST",
    "OPENSSH PRIVATE KEY",
];

/// The label of the first PEM block of `pem` when it is a known kind (never text from the
/// file otherwise): for errors that say what was given instead.
pub(crate) fn pem_label(pem: &[u8]) -> Option<String> {
    let block = Pem::iter_from_buffer(pem).next()?.ok()?;
    KNOWN_LABELS
        .contains(&block.label.as_str())
        .then(|| block.label.clone())
}

/// A PEM block whose label is not one `material` accepts; an unknown label is not repeated.
fn wrong_label(material: KeyMaterial, label: &str) -> Error {
    let shown = if KNOWN_LABELS.contains(&label) {
        label
    } else {
        "(a label of an unknown kind)"
    };
    KeyError::Pem {
        material,
        found: Some(shown.to_string()),
    }
    .into()
}

/// Bit length of a big-endian unsigned integer with possible leading zero bytes.
fn bit_len(be: &[u8]) -> usize {
    let trimmed: &[u8] = match be.iter().position(|&b| b != 0) {
        Some(i) => &be[i..],
        None => &[],
    };
    trimmed
        .first()
        .map_or(0, |b| trimmed.len() * 8 - b.leading_zeros() as usize)
}

/// The merchant API private key (RSA ≥ 2048 bits) that signs requests.
#[derive(Clone)]
pub struct PrivateKey {
    pair: Arc<<Active as Backend>::RsaKeyPair>,
    /// The same key for RSA-OAEP decryption of sensitive fields (AWS-LC).
    #[cfg(feature = "oaep")]
    oaep: crate::crypto::oaep::DecryptingKey,
}

impl PrivateKey {
    /// Loads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self> {
        let block = first_pem(pem.as_ref(), KeyMaterial::PrivateKey)?;
        let pkcs1 = match block.label.as_str() {
            "PRIVATE KEY" => false,
            "RSA PRIVATE KEY" => true,
            other => return Err(wrong_label(KeyMaterial::PrivateKey, other)),
        };
        let pair = Active::rsa_private_key(&block.contents, pkcs1)?;
        if Active::rsa_modulus_len(&pair) * 8 < MIN_BITS {
            return Err(KeyError::TooSmall(KeyMaterial::PrivateKey).into());
        }
        let key = Self {
            pair: Arc::new(pair),
            #[cfg(feature = "oaep")]
            oaep: crate::crypto::oaep::DecryptingKey::new(&block.contents, pkcs1),
        };
        // ring does not check every part of the key when loading it (a corrupted CRT exponent
        // passes), but it checks each signature it makes (AWS-LC too): sign once here, so a damaged key is
        // refused when it is loaded instead of failing every request afterwards (found by
        // fuzzing: fuzz/regressions/keys/private-key-loads-but-cannot-sign).
        if key.sign_sha256(b"wechatpay-chain key check").is_err() {
            return Err(KeyError::Malformed(KeyMaterial::PrivateKey).into());
        }
        Ok(key)
    }

    /// Loads a PEM private key from a file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_pem(read_file(path.as_ref(), KeyMaterial::PrivateKey)?)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`: the raw signature bytes.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>> {
        Active::rsa_sign_sha256(&self.pair, message)
    }

    /// The public half, e.g. to verify own signatures in tests or the sandbox.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_pkcs1_der(Active::rsa_public_pkcs1_der(&self.pair))
    }

    #[cfg(feature = "oaep")]
    pub(crate) fn decrypting_key(&self) -> &crate::crypto::oaep::DecryptingKey {
        &self.oaep
    }

    /// Decrypts a sensitive field WeChat Pay encrypted to this merchant key (RSAES-OAEP,
    /// SHA-1, MGF1-SHA-1, base64): the UTF-8 text.
    ///
    /// Fails with a [`CryptoError`](crate::CryptoError) (`OaepBase64`, `OaepLength`,
    /// `OaepDecrypt`) or [`DecodeError::NotUtf8`](crate::DecodeError::NotUtf8); no error
    /// repeats the plaintext.
    ///
    /// ```
    /// # fn demo(merchant_key: &wechatpay_chain::PrivateKey, field: &str) -> wechatpay_chain::Result<()> {
    /// // PHP: Rsa::decrypt($field, $merchantPrivateKey)
    /// // JS:  Rsa.decrypt(field, merchantPrivateKey)
    /// let name: String = merchant_key.oaep_decrypt(field)?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "oaep")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oaep")))]
    pub fn oaep_decrypt(&self, ciphertext: &str) -> Result<String> {
        let plain = self.oaep.decrypt(ciphertext)?;
        // No source: a UTF-8 error would carry the plaintext bytes into `Debug`.
        String::from_utf8(plain).map_err(|_| crate::error::DecodeError::NotUtf8.into())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &(Active::rsa_modulus_len(&self.pair) * 8))
            .finish_non_exhaustive()
    }
}

/// An RSA public key (WeChat Pay public key, or the key of a platform certificate).
///
/// Parsed once for the backend when it is made (AWS-LC keeps it parsed; ring parses per
/// verification), so verifying every response does not parse the key again. Cloning is
/// cheap: the key is shared.
#[derive(Clone)]
pub struct PublicKey {
    inner: Arc<ParsedPublicKey>,
}

struct ParsedPublicKey {
    /// PKCS#1 `RSAPublicKey` DER: the key's identity ([`PublicKey::pkcs1_der`], equality).
    pkcs1: Box<[u8]>,
    /// The backend's form; `None` when the backend refused the key: verification fails closed.
    verifying: Option<<Active as Backend>::RsaPublicKey>,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.inner.pkcs1 == other.inner.pkcs1
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    fn from_pkcs1_der(der: Vec<u8>) -> Self {
        let verifying = Active::rsa_public_key(&der);
        Self {
            inner: Arc::new(ParsedPublicKey {
                pkcs1: der.into(),
                verifying,
            }),
        }
    }

    fn checked_pkcs1(der: &[u8]) -> Result<Self> {
        let (_, key) = RSAPublicKey::from_der(der)
            .map_err(|e| Error::from(KeyError::Malformed(KeyMaterial::PublicKey)).with_source(e))?;
        if bit_len(key.modulus) < MIN_BITS {
            return Err(KeyError::TooSmall(KeyMaterial::PublicKey).into());
        }
        Ok(Self::from_pkcs1_der(der.to_vec()))
    }

    /// Parses a DER `SubjectPublicKeyInfo` holding an RSA key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let (_, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| Error::from(KeyError::Malformed(KeyMaterial::PublicKey)).with_source(e))?;
        if spki.algorithm.algorithm != OID_PKCS1_RSAENCRYPTION {
            return Err(KeyError::NotRsa(KeyMaterial::PublicKey).into());
        }
        Self::checked_pkcs1(&spki.subject_public_key.data)
    }

    /// Loads a PEM public key: SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self> {
        let block = first_pem(pem.as_ref(), KeyMaterial::PublicKey)?;
        match block.label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&block.contents),
            "RSA PUBLIC KEY" => Self::checked_pkcs1(&block.contents),
            other => Err(wrong_label(KeyMaterial::PublicKey, other)),
        }
    }

    /// Loads a PEM public key from a file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_pem(read_file(path.as_ref(), KeyMaterial::PublicKey)?)
    }

    /// Verifies an RSASSA-PKCS1-v1_5 SHA-256 signature.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.inner
            .verifying
            .as_ref()
            .is_some_and(|key| Active::rsa_verify_sha256(key, message, signature))
    }

    /// The PKCS#1 `RSAPublicKey` DER bytes.
    pub fn pkcs1_der(&self) -> &[u8] {
        &self.inner.pkcs1
    }

    /// Encrypts a sensitive field to this key (RSAES-OAEP, SHA-1, MGF1-SHA-1): base64. The
    /// request carrying it must name this key in `Wechatpay-Serial`; prefer
    /// [`Wechatpay::encryptor`](crate::Wechatpay::encryptor), which keeps the two together.
    #[cfg(feature = "oaep")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oaep")))]
    pub fn oaep_encrypt(&self, plain: &str) -> Result<String> {
        crate::crypto::oaep::encrypt(self, plain.as_bytes())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("pkcs1_len", &self.inner.pkcs1.len())
            .finish_non_exhaustive()
    }
}

/// A WeChat Pay platform certificate: serial, validity and public key.
#[derive(Clone, Debug)]
pub struct Certificate {
    serial: String,
    not_before: i64,
    not_after: i64,
    key: PublicKey,
    pem: Arc<str>,
}

impl Certificate {
    /// Parses an X.509 certificate in PEM.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self> {
        let block = first_pem(pem.as_ref(), KeyMaterial::Certificate)?;
        if block.label != "CERTIFICATE" {
            return Err(wrong_label(KeyMaterial::Certificate, &block.label));
        }
        let cert = block.parse_x509().map_err(|e| {
            Error::from(KeyError::Malformed(KeyMaterial::Certificate)).with_source(e)
        })?;
        let serial = cert
            .raw_serial()
            .iter()
            .skip_while(|&&b| b == 0)
            .map(|b| format!("{b:02X}"))
            .collect();
        let key = PublicKey::from_spki_der(cert.public_key().raw)?;
        let pem_text = String::from_utf8_lossy(pem.as_ref()).into_owned();
        Ok(Self {
            serial,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            key,
            pem: pem_text.into(),
        })
    }

    /// Parses an X.509 certificate from a PEM file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_pem(read_file(path.as_ref(), KeyMaterial::Certificate)?)
    }

    /// The serial number in upper-case hex, the value of `Wechatpay-Serial`.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// Start of validity, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// End of validity, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The PEM text it was loaded from.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Only expiry disqualifies: a certificate fresh from WeChat Pay may look not-yet-valid to a
    /// client whose clock lags, and rejecting it would break verification for no safety gain.
    fn valid_at(&self, now: i64) -> bool {
        now <= self.not_after
    }
}

#[derive(Clone, Debug)]
enum StoredKey {
    PublicKey(PublicKey),
    Certificate(Certificate),
}

impl StoredKey {
    fn usable_at(&self, now: i64) -> Option<&PublicKey> {
        match self {
            Self::PublicKey(k) => Some(k),
            Self::Certificate(c) => c.valid_at(now).then_some(&c.key),
        }
    }
}

/// Platform-side keys by id: WeChat Pay public keys (`PUB_KEY_ID_…`) and platform
/// certificates (upper-case hex serial). Shared by the client and updatable while it runs.
///
/// ```
/// use std::sync::Arc;
/// use wechatpay_chain::{Certificate, KeyStore, PublicKey};
/// # fn main() -> wechatpay_chain::Result<()> {
/// # let path = |name: &str| format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
///
/// // PHP/JS: the `certs` map, [$serialOrPublicKeyId => $key].
/// let store = Arc::new(KeyStore::new());
/// store.insert_public_key("PUB_KEY_ID_0119000001092025112200000000000001", PublicKey::from_pem_file(path("pub_key.pem"))?);
/// let certificate = Certificate::from_pem_file(path("wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem"))?;
/// let now = certificate.not_before() + 1;
/// store.insert_certificate(certificate);
/// assert_eq!(store.ids().len(), 2);
///
/// // The request's `Wechatpay-Serial`: the public key when there is one.
/// let (id, _key) = store.preferred(now).expect("a usable key");
/// assert_eq!(id, "PUB_KEY_ID_0119000001092025112200000000000001");
/// assert!(store.get("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", now).is_some());
/// // Share it with a client (`Builder::key_store`) to add keys while the client runs.
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct KeyStore {
    keys: RwLock<BTreeMap<String, StoredKey>>,
}

impl KeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, StoredKey>> {
        // A poisoned lock only means a panic elsewhere while inserting; the map is still whole.
        self.keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, StoredKey>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds (or replaces) a WeChat Pay public key under its id (`PUB_KEY_ID_…`).
    pub fn insert_public_key(&self, id: impl Into<String>, key: PublicKey) {
        self.write()
            .insert(id.into().trim().to_string(), StoredKey::PublicKey(key));
    }

    /// Adds (or replaces) a platform certificate under its serial.
    pub fn insert_certificate(&self, cert: Certificate) {
        self.write()
            .insert(cert.serial.clone(), StoredKey::Certificate(cert));
    }

    /// Every id in the store, usable or not.
    pub fn ids(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// True if the store holds `id` (compared case-insensitively, for set-up checks).
    pub fn contains_ignore_case(&self, id: &str) -> bool {
        self.read().keys().any(|k| k.eq_ignore_ascii_case(id))
    }

    /// The key for `id` (exact, case-sensitive) if it is usable at `now`.
    pub fn get(&self, id: &str, now: i64) -> Option<PublicKey> {
        self.read().get(id)?.usable_at(now).cloned()
    }

    /// The ids usable at `now`.
    pub fn usable_ids(&self, now: i64) -> Vec<String> {
        self.read()
            .iter()
            .filter(|(_, k)| k.usable_at(now).is_some())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// True if the store holds a WeChat Pay public key (`PUB_KEY_ID_…`).
    pub(crate) fn has_public_key(&self) -> bool {
        self.read()
            .values()
            .any(|k| matches!(k, StoredKey::PublicKey(_)))
    }

    /// The platform certificates in the store.
    pub fn certificates(&self) -> Vec<Certificate> {
        self.read()
            .values()
            .filter_map(|k| match k {
                StoredKey::Certificate(c) => Some(c.clone()),
                StoredKey::PublicKey(_) => None,
            })
            .collect()
    }

    /// The id to send as `Wechatpay-Serial`: a WeChat Pay public key id when one is loaded,
    /// else the newest platform certificate valid at `now`.
    pub fn preferred(&self, now: i64) -> Option<(String, PublicKey)> {
        let keys = self.read();
        let public = keys.iter().find_map(|(id, k)| match k {
            StoredKey::PublicKey(key) => Some((id.clone(), key.clone())),
            StoredKey::Certificate(_) => None,
        });
        public.or_else(|| {
            keys.values()
                .filter_map(|k| match k {
                    StoredKey::Certificate(c) if c.valid_at(now) => Some(c),
                    _ => None,
                })
                .max_by_key(|c| (c.not_before, c.not_after))
                .map(|c| (c.serial.clone(), c.key.clone()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIX}{name}")).unwrap()
    }

    #[test]
    fn an_unknown_pem_label_is_not_repeated() {
        let pem = "-----BEGIN TOPSECRET0123456789-----\nAAAA\n-----END TOPSECRET0123456789-----\n";
        let e = PrivateKey::from_pem(pem).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("TOPSECRET"), "{shown}");
        assert!(shown.contains("unknown kind"), "{shown}");
        let e = PublicKey::from_pem(fixture("apiclient_key.pem")).unwrap_err();
        assert!(e.to_string().contains("found BEGIN PRIVATE KEY"), "{e}");
    }

    #[test]
    fn pkcs8_and_pkcs1_private_keys_sign_alike() {
        let a = PrivateKey::from_pem(fixture("apiclient_key.pem")).unwrap();
        let b = PrivateKey::from_pem(fixture("apiclient_key.pkcs1.pem")).unwrap();
        assert_eq!(a.sign_sha256(b"m").unwrap(), b.sign_sha256(b"m").unwrap());
        assert!(a
            .public_key()
            .verify_sha256(b"m", &b.sign_sha256(b"m").unwrap()));
    }

    #[test]
    fn a_key_parsed_once_verifies_on_many_threads_and_equals_its_reparse() {
        let private = PrivateKey::from_pem(fixture("apiclient_key.pem")).unwrap();
        let public = private.public_key();
        let signature = private.sign_sha256(b"m").unwrap();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let (public, signature) = (public.clone(), &signature);
                scope.spawn(move || {
                    for _ in 0..20 {
                        assert!(public.verify_sha256(b"m", signature));
                        assert!(!public.verify_sha256(b"n", signature));
                    }
                });
            }
        });
        let reparsed = PublicKey::checked_pkcs1(public.pkcs1_der()).unwrap();
        assert_eq!(public, reparsed);
        assert!(reparsed.verify_sha256(b"m", &signature));
    }

    /// A modulus of the right size with exponent 1: x509-parser takes it, and whatever the
    /// backend makes of it, every verification fails closed.
    #[test]
    fn a_key_the_backend_cannot_use_fails_closed() {
        let mut modulus = vec![0x00, 0xc0];
        modulus.extend([0x5a; 255]);
        let mut der = vec![0x30, 0x82, 0x01, 0x08, 0x02, 0x82, 0x01, 0x01];
        der.extend(&modulus);
        der.extend([0x02, 0x01, 0x01]);
        let key = PublicKey::checked_pkcs1(&der).unwrap();
        let signature = [0x11; 256];
        // With e = 1 the "signature" is its own message representative: not a valid padding.
        assert!(!key.verify_sha256(b"m", &signature));
        assert!(!key.verify_sha256(b"m", &[]));
        // Which path this takes: AWS-LC refuses the key when it is made (`None`), ring keeps
        // the DER and refuses it per verification.
        assert_eq!(
            key.inner.verifying.is_none(),
            cfg!(feature = "aws-lc-rs"),
            "the backend's view of the key"
        );
    }

    #[test]
    fn spki_and_pkcs1_public_keys_are_the_same_key() {
        let a = PublicKey::from_pem(fixture("pub_key.pem")).unwrap();
        let b = PublicKey::from_pem(fixture("pub_key.pkcs1.pem")).unwrap();
        assert_eq!(a, b);
        let private = PrivateKey::from_pem(fixture("pub_key_private.pem")).unwrap();
        assert_eq!(private.public_key(), a);
    }

    #[test]
    fn certificate_serial_and_key() {
        let c = Certificate::from_pem(fixture(
            "wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem",
        ))
        .unwrap();
        assert_eq!(c.serial(), "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
        assert!(c.not_before() < c.not_after());
        let platform = PrivateKey::from_pem(fixture("platform_key.pem")).unwrap();
        assert_eq!(&platform.public_key(), c.public_key());
        let merchant = Certificate::from_pem(fixture("apiclient_cert.pem")).unwrap();
        assert_eq!(
            merchant.serial(),
            "3775B6A45ACD588826D15E583A95F5DD2A4B1A16"
        );
    }

    fn key_error(e: &Error) -> &KeyError {
        match e.kind() {
            crate::ErrorKind::Key(k) => k,
            other => panic!("not a key error: {other:?}"),
        }
    }

    fn pem(material: KeyMaterial, found: Option<&str>) -> KeyError {
        KeyError::Pem {
            material,
            found: found.map(str::to_string),
        }
    }

    #[test]
    fn wrong_pem_kinds_are_typed() {
        let e = PrivateKey::from_pem(fixture("pub_key.pem")).unwrap_err();
        assert_eq!(
            key_error(&e),
            &pem(KeyMaterial::PrivateKey, Some("PUBLIC KEY"))
        );
        let e = PublicKey::from_pem(fixture("apiclient_cert.pem")).unwrap_err();
        assert_eq!(
            key_error(&e),
            &pem(KeyMaterial::PublicKey, Some("CERTIFICATE"))
        );
        assert!(e.to_string().contains("Certificate::from_pem"), "{e}");
        let e = Certificate::from_pem(fixture("pub_key.pem")).unwrap_err();
        assert_eq!(
            key_error(&e),
            &pem(KeyMaterial::Certificate, Some("PUBLIC KEY"))
        );
        let e = PrivateKey::from_pem("garbage").unwrap_err();
        assert_eq!(key_error(&e), &pem(KeyMaterial::PrivateKey, None));
    }

    #[test]
    fn non_rsa_and_short_keys_are_refused() {
        use KeyMaterial::{PrivateKey, PublicKey};
        type Load = fn(&str) -> Result<()>;
        let cases: [(&str, Load, KeyError); 4] = [
            (
                "invalid/ec_p256_key.pem",
                |pem| super::PrivateKey::from_pem(pem).map(drop),
                KeyError::NotRsa(PrivateKey),
            ),
            (
                "invalid/rsa1024_key.pem",
                |pem| super::PrivateKey::from_pem(pem).map(drop),
                KeyError::TooSmall(PrivateKey),
            ),
            (
                "invalid/ec_p256_pub.pem",
                |pem| super::PublicKey::from_pem(pem).map(drop),
                KeyError::NotRsa(PublicKey),
            ),
            (
                "invalid/rsa1024_pub.pem",
                |pem| super::PublicKey::from_pem(pem).map(drop),
                KeyError::TooSmall(PublicKey),
            ),
        ];
        for (file, load, expected) in cases {
            let e = load(&fixture(file)).unwrap_err();
            assert_eq!(key_error(&e), &expected, "{file}: {e}");
            assert!(
                e.to_string().contains("2048 bits"),
                "{file}: says what is needed: {e}"
            );
        }
    }

    #[test]
    fn malformed_der_keeps_the_parser_error_as_source() {
        use std::error::Error as _;
        let e = PublicKey::from_spki_der(b"\x30\x03\x02\x01").unwrap_err();
        assert_eq!(key_error(&e), &KeyError::Malformed(KeyMaterial::PublicKey));
        assert!(e.source().is_some(), "{e:?}");
    }

    #[test]
    fn unreadable_file_keeps_the_io_error_as_source() {
        use std::error::Error as _;
        let path = format!("{FIX}does-not-exist.pem");
        let e = PrivateKey::from_pem_file(&path).unwrap_err();
        assert_eq!(
            key_error(&e),
            &KeyError::Read {
                material: KeyMaterial::PrivateKey,
                path: path.clone().into()
            }
        );
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            io.map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
        assert!(
            !e.to_string().contains("No such file"),
            "the cause is not repeated: {e}"
        );
    }

    #[test]
    fn private_key_debug_is_redacted() {
        let k = PrivateKey::from_pem(fixture("apiclient_key.pem")).unwrap();
        let d = format!("{k:?}");
        assert_eq!(d, "PrivateKey { bits: 2048, .. }");
    }

    #[test]
    fn preferred_key_is_the_public_key_then_newest_certificate() {
        let store = KeyStore::new();
        let c = Certificate::from_pem(fixture(
            "wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem",
        ))
        .unwrap();
        let now = c.not_before() + 1;
        store.insert_certificate(c.clone());
        assert_eq!(store.preferred(now).unwrap().0, c.serial());
        assert!(store.preferred(c.not_after() + 1).is_none());
        assert!(store.get(c.serial(), c.not_after() + 1).is_none());
        store.insert_public_key(
            "PUB_KEY_ID_X",
            PublicKey::from_pem(fixture("pub_key.pem")).unwrap(),
        );
        assert_eq!(store.preferred(now).unwrap().0, "PUB_KEY_ID_X");
    }
}
