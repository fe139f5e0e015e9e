//! The sandbox's platform certificates: `GET /v3/certificates` (counted), rotation, and the
//! public-key-only mode where the platform has no certificates for the merchant.
//!
//! Like the platform after a rotation, the sandbox lists the old and the new certificate and
//! signs certificate-mode answers (a request whose `Wechatpay-Serial` names any of its
//! certificates) with the newest one. A request without `Wechatpay-Serial` to
//! `/v3/certificates` (a client that holds no platform key yet) is also answered in
//! certificate mode; every other answer is signed with the WeChat Pay public key.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use http::StatusCode;
use serde_json::json;

use super::keys::SandboxKeys;
use super::reply::Reply;
use super::{lock, rfc3339_cst, State};
use crate::crypto::aes_gcm_encrypt;
use crate::error::{Error, Result};
use crate::keys::{Certificate, PrivateKey};
use crate::signer::nonce;

/// The platform's answer to a public-key-only merchant (its wording).
const NO_CERTIFICATES: &str =
    "无可用的平台证书，请在商户平台-API安全申请使用微信支付公钥。可查看指引https://pay.weixin.qq.com/docs/merchant/products/platform-certificate/wxp-pub-key-guide.html";

/// The platform certificates and their keys, oldest first; the last one signs.
#[derive(Debug)]
pub(crate) struct PlatformCerts {
    certs: Mutex<Vec<(Certificate, PrivateKey)>>,
    downloads: AtomicUsize,
    public_key_only: bool,
}

impl PlatformCerts {
    /// Starts with the keys' platform certificate.
    pub(crate) fn new(keys: &SandboxKeys, public_key_only: bool) -> Self {
        Self {
            certs: Mutex::new(vec![(
                keys.platform_cert.clone(),
                keys.platform_key.clone(),
            )]),
            downloads: AtomicUsize::new(0),
            public_key_only,
        }
    }

    /// How many `/v3/certificates` requests were answered (after the request checks).
    pub(crate) fn downloads(&self) -> usize {
        self.downloads.load(Ordering::SeqCst)
    }

    /// The serial of the certificate that signs now.
    pub(crate) fn current_serial(&self) -> String {
        lock(&self.certs)
            .last()
            .map(|(c, _)| c.serial().to_string())
            .unwrap_or_default()
    }

    /// The key that signs an answer to a request on `path` that named `request_serial`:
    /// the newest certificate's in certificate mode (see the module), else the public key's.
    pub(crate) fn response_key(
        &self,
        keys: &SandboxKeys,
        request_serial: Option<&str>,
        path: &str,
    ) -> (String, PrivateKey) {
        let public = || (keys.public_key_id.clone(), keys.public_key_private.clone());
        if self.public_key_only {
            return public();
        }
        let certs = lock(&self.certs);
        let certificate_mode = match request_serial.map(str::trim) {
            Some(serial) => certs
                .iter()
                .any(|(c, _)| c.serial().eq_ignore_ascii_case(serial)),
            None => is_certificates(path),
        };
        match certs.last() {
            Some((cert, key)) if certificate_mode => (cert.serial().to_string(), key.clone()),
            _ => public(),
        }
    }

    /// The private key of the certificate whose serial is `serial` (any case), old or new: a
    /// field encrypted to a rotated-out certificate still decrypts while it is listed.
    pub(crate) fn private_key(&self, serial: &str) -> Option<PrivateKey> {
        lock(&self.certs)
            .iter()
            .find(|(c, _)| c.serial().eq_ignore_ascii_case(serial))
            .map(|(_, key)| key.clone())
    }

    /// The key that signs a notification: the WeChat Pay public key's, or once a certificate
    /// was rotated in (and the merchant is not public-key-only) the newest certificate's, as
    /// the platform signs with its new certificate after a rotation.
    pub(crate) fn notification_key(&self, keys: &SandboxKeys) -> (String, PrivateKey) {
        let certs = lock(&self.certs);
        match certs.last() {
            Some((cert, key)) if certs.len() > 1 && !self.public_key_only => {
                (cert.serial().to_string(), key.clone())
            }
            _ => (keys.public_key_id.clone(), keys.public_key_private.clone()),
        }
    }

    /// Adds a certificate; it signs from now on.
    fn push(&self, cert: Certificate, key: PrivateKey) {
        lock(&self.certs).push((cert, key));
    }
}

/// `/v3/certificates` or `/hk/v3/certificates`.
fn is_certificates(path: &str) -> bool {
    matches!(path, "/v3/certificates" | "/hk/v3/certificates")
}

/// `GET /v3/certificates`: every platform certificate encrypted with the APIv3 key
/// (AES-256-GCM, like a notification resource), or `404 RESOURCE_NOT_EXISTS` for a public-key-only merchant. Counted.
pub(crate) fn listing(state: &State) -> Reply {
    let certs = &state.certs;
    certs.downloads.fetch_add(1, Ordering::SeqCst);
    if certs.public_key_only {
        return Reply::error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            NO_CERTIFICATES.to_string(),
            None,
        );
    }
    let failure = |what: &str| {
        Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            format!("sandbox: {what}"),
            None,
        )
    };
    let list: Vec<Certificate> = lock(&certs.certs).iter().map(|(c, _)| c.clone()).collect();
    let mut data = Vec::with_capacity(list.len());
    for cert in &list {
        let Ok(nonce) = nonce() else {
            return failure("random generator failed");
        };
        let nonce: String = nonce.chars().take(12).collect();
        let Ok(ciphertext) = aes_gcm_encrypt(
            &state.keys.apiv3_key,
            nonce.as_bytes(),
            b"certificate",
            cert.pem().as_bytes(),
        ) else {
            return failure("encryption failed");
        };
        data.push(json!({
            "serial_no": cert.serial(),
            "effective_time": rfc3339_cst(cert.not_before()),
            "expire_time": rfc3339_cst(cert.not_after()),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": "certificate",
                "ciphertext": ciphertext,
            },
        }));
    }
    Reply::json(StatusCode::OK, &json!({ "data": data }))
}

/// Generates a new platform key and certificate (on the blocking pool), lists it beside the
/// old ones and signs certificate-mode answers with it from now on. Returns its serial.
pub(crate) async fn rotate(state: &State) -> Result<String> {
    let now = super::now();
    let (serial, key_pem, cert_pem) =
        tokio::task::spawn_blocking(move || super::keygen::platform(now))
            .await
            .map_err(|e| Error::sandbox("key generation did not finish").with_source(e))??;
    let cert = Certificate::from_pem(&cert_pem)?;
    let key = PrivateKey::from_pem(&key_pem)?;
    if cert.serial() != serial || cert.public_key() != &key.public_key() {
        return Err(Error::sandbox(
            "the rotated platform certificate does not match its key",
        ));
    }
    state.certs.push(cert, key);
    tracing::info!(serial = %serial, "sandbox: platform certificate rotated");
    Ok(serial)
}

#[cfg(test)]
mod tests;
