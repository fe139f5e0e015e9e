//! Fresh key material for [`SandboxBuilder::generate_keys`](super::SandboxBuilder::generate_keys).
//!
//! ring signs and verifies but cannot generate RSA keys, so the three RSA-2048 key pairs come
//! from `rsa` (PKCS#8 PEM) and the self-signed certificates from `rcgen`, which signs with ring.
//! Every random value comes from the operating system's generator. Nothing here is ever
//! formatted into a log line or an error message except ids and serials.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose, SerialNumber,
    PKCS_RSA_SHA256,
};
use ring::rand::{SecureRandom, SystemRandom};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::rand_core::OsRng;
use rsa::RsaPrivateKey;
use rustls::pki_types::PrivatePkcs8KeyDer;

use crate::error::{CryptoError, Error, Result};

/// RSA modulus size of every generated key (WeChat Pay's).
const BITS: usize = 2048;
/// The platform certificate's common name.
pub(crate) const PLATFORM_CN: &str = "WeChat Pay sandbox platform";
/// The organization of both generated certificates: nobody's real identity.
const ORGANIZATION: &str = "wechatpay-chain sandbox (test only)";
const DAY: i64 = 86_400;
/// Five years, one of them a leap year.
const VALIDITY: i64 = (5 * 365 + 1) * DAY;

/// Freshly generated key material, as the files of a keys folder would hold it.
///
/// No `Debug`: it holds private keys.
pub(crate) struct Generated {
    pub(crate) mchid: String,
    pub(crate) merchant_serial: String,
    /// PKCS#8 `BEGIN PRIVATE KEY`.
    pub(crate) merchant_key_pem: String,
    /// Self-signed, serial = `merchant_serial`, CN = `mchid`.
    pub(crate) merchant_cert_pem: String,
    pub(crate) platform_serial: String,
    pub(crate) platform_key_pem: String,
    pub(crate) platform_cert_pem: String,
    pub(crate) public_key_id: String,
    /// SPKI `BEGIN PUBLIC KEY`.
    pub(crate) public_key_pem: String,
    pub(crate) public_key_private_pem: String,
    pub(crate) apiv3_key: String,
}

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::sandbox(format!("cannot generate {what}: {e}"))
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CryptoError::Random)?;
    Ok(bytes)
}

/// `n` random decimal digits, without modulo bias.
fn random_digits(n: usize) -> Result<String> {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        // 250 = 25 × 10: bytes at or above it are rejected so every digit is equally likely.
        for b in random_bytes::<32>()?.into_iter().filter(|&b| b < 250) {
            if out.len() == n {
                break;
            }
            out.push(char::from(b'0' + b % 10));
        }
    }
    Ok(out)
}

/// 20 random bytes usable as an X.509 serial (RFC 5280: positive, at most 20 octets) that
/// reads as exactly 40 upper-case hex digits: the first byte is in `0x01..=0x7F`.
fn random_serial() -> Result<[u8; 20]> {
    let mut serial = random_bytes::<20>()?;
    serial[0] = (serial[0] & 0x7F).max(1);
    Ok(serial)
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A 10-digit merchant id of the usual shape (`1` then nine digits).
fn random_mchid() -> Result<String> {
    Ok(format!("1{}", random_digits(9)?))
}

/// An RSA-2048 key pair: (PKCS#8 private PEM, SPKI public PEM, PKCS#8 DER for rcgen).
struct RsaPair {
    private_pem: String,
    public_pem: String,
    pkcs8_der: Vec<u8>,
}

fn rsa_pair(what: &str) -> Result<RsaPair> {
    let key = RsaPrivateKey::new(&mut OsRng, BITS).map_err(|e| failed(what, e))?;
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| failed(what, e))?
        .to_string();
    let pkcs8_der = key
        .to_pkcs8_der()
        .map_err(|e| failed(what, e))?
        .as_bytes()
        .to_vec();
    let public_pem = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| failed(what, e))?;
    Ok(RsaPair {
        private_pem,
        public_pem,
        pkcs8_der,
    })
}

/// A self-signed certificate over `key`, valid from a day ago for five years.
fn self_signed(
    key: &RsaPair,
    serial: &[u8],
    common_name: &str,
    now: i64,
    what: &str,
) -> Result<String> {
    let der = PrivatePkcs8KeyDer::from(key.pkcs8_der.as_slice());
    let pair = KeyPair::from_pkcs8_der_and_sign_algo(&der, &PKCS_RSA_SHA256)
        .map_err(|e| failed(what, e))?;
    let time =
        |unix: i64| time::OffsetDateTime::from_unix_timestamp(unix).map_err(|e| failed(what, e));
    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = time(now - DAY)?;
    params.not_after = time(now - DAY + VALIDITY)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "CN");
    name.push(DnType::OrganizationName, ORGANIZATION);
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let cert = params.self_signed(&pair).map_err(|e| failed(what, e))?;
    Ok(cert.pem())
}

/// Generates everything: three RSA-2048 key pairs in parallel (the slow part: about a second
/// in all, more on a busy machine), then the two certificates and the random ids.
///
/// Blocking and CPU-bound: call it off the async executor.
pub(crate) fn generate(now: i64) -> Result<Generated> {
    let (merchant, platform, public_key) = std::thread::scope(|scope| {
        let merchant = scope.spawn(|| rsa_pair("the merchant key"));
        let platform = scope.spawn(|| rsa_pair("the platform key"));
        let public_key = rsa_pair("the WeChat Pay public key");
        let join = |handle: std::thread::ScopedJoinHandle<'_, Result<RsaPair>>| {
            handle
                .join()
                .unwrap_or_else(|_| Err(Error::sandbox("key generation panicked")))
        };
        (join(merchant), join(platform), public_key)
    });
    let (merchant, platform, public_key) = (merchant?, platform?, public_key?);

    let mchid = random_mchid()?;
    let merchant_serial = random_serial()?;
    let platform_serial = random_serial()?;
    let merchant_cert_pem = self_signed(
        &merchant,
        &merchant_serial,
        &mchid,
        now,
        "the merchant certificate",
    )?;
    let platform_cert_pem = self_signed(
        &platform,
        &platform_serial,
        PLATFORM_CN,
        now,
        "the platform certificate",
    )?;
    Ok(Generated {
        mchid,
        merchant_serial: hex_upper(&merchant_serial),
        merchant_key_pem: merchant.private_pem,
        merchant_cert_pem,
        platform_serial: hex_upper(&platform_serial),
        platform_key_pem: platform.private_pem,
        platform_cert_pem,
        public_key_id: format!("PUB_KEY_ID_{}", random_digits(32)?),
        public_key_pem: public_key.public_pem,
        public_key_private_pem: public_key.private_pem,
        apiv3_key: crate::signer::nonce()?,
    })
}

/// A fresh platform key and its self-signed certificate, for a certificate rotation:
/// (serial, PKCS#8 key PEM, certificate PEM).
///
/// Blocking and CPU-bound: call it off the async executor.
pub(crate) fn platform(now: i64) -> Result<(String, String, String)> {
    let key = rsa_pair("the platform key")?;
    let serial = random_serial()?;
    let cert = self_signed(&key, &serial, PLATFORM_CN, now, "the platform certificate")?;
    Ok((hex_upper(&serial), key.private_pem, cert))
}

/// A fresh platform key and a self-signed certificate with the given serial (bytes), for
/// tests that need two certificates of one serial: (key PEM, certificate PEM).
#[cfg(test)]
pub(crate) fn platform_with_serial(now: i64, serial: &[u8]) -> Result<(String, String)> {
    let key = rsa_pair("the platform key")?;
    let cert = self_signed(&key, serial, PLATFORM_CN, now, "the platform certificate")?;
    Ok((key.private_pem, cert))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_platform_shapes() {
        let digits = random_digits(32).unwrap();
        assert_eq!(digits.len(), 32);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        let mchid = random_mchid().unwrap();
        assert_eq!(mchid.len(), 10);
        assert!(mchid.starts_with('1'));
        for _ in 0..64 {
            let serial = random_serial().unwrap();
            assert!((1..=0x7F).contains(&serial[0]));
            let hex = hex_upper(&serial);
            assert_eq!(hex.len(), 40);
            assert!(hex
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        }
        assert_ne!(random_serial().unwrap(), random_serial().unwrap());
    }
}
