//! The client's rustls configuration: which servers it trusts (the embedded webpki roots, the
//! operating system's with `native-roots`, plus a test-only root CA when one is given) and the
//! merchant API certificate it presents on mutual-TLS routes ([`super::Route::mutual_tls`]).
//!
//! The PEM inputs are parsed when the client is built, so a wrong file is reported by
//! `build()`, not by the first refund.

use std::fmt;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::crypto::backend::{Active, Backend as _};
use crate::error::{ConfigError, Error, KeyError, KeyMaterial, Result};

/// The merchant's API certificate (chain) and private key, parsed and checked to belong
/// together. Its `Debug` shows neither.
pub(crate) struct MerchantIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl fmt::Debug for MerchantIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerchantIdentity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl MerchantIdentity {
    /// Parses `cert_pem` (the certificate first, then any intermediates) and `key_pem`
    /// (PKCS#8, PKCS#1 or SEC1), and checks with rustls that the key is the certificate's.
    pub(crate) fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self> {
        let chain = certificates(cert_pem)?;
        // The parser's error is not kept as the source: it may quote a line of the key file.
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| KeyError::Pem {
            material: KeyMaterial::PrivateKey,
            found: None,
        })?;
        let identity = Self { chain, key };
        // The same check rustls makes when it loads the identity for a connection.
        client_config(Arc::new(Active::rustls_provider()), &[], Some(&identity))?;
        Ok(identity)
    }
}

/// Every `CERTIFICATE` block of `pem`, in order; none is an error naming what was found.
pub(crate) fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let no_certificate = |found: Option<String>| KeyError::Pem {
        material: KeyMaterial::Certificate,
        found,
    };
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::from(no_certificate(None)).with_source(e))?;
    if chain.is_empty() {
        // Say what the block was (a key given as the certificate, say) when it is a known kind.
        let found = crate::keys::pem_label(pem);
        return Err(no_certificate(found).into());
    }
    Ok(chain)
}

/// Parses a test-only root CA (`Builder::tls_test_root_ca`).
pub(crate) fn test_roots(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let roots = certificates(pem)?;
    let mut store = RootCertStore::empty();
    for root in &roots {
        store.add(root.clone()).map_err(|e| {
            Error::from(KeyError::Malformed(KeyMaterial::Certificate)).with_source(e)
        })?;
    }
    Ok(roots)
}

/// The rustls configuration of one connection pool: the usual roots (or the webpki roots
/// plus `test_roots` when there are any), and `identity` presented when the server asks.
pub(crate) fn client_config(
    provider: Arc<CryptoProvider>,
    test_roots: &[CertificateDer<'static>],
    identity: Option<&MerchantIdentity>,
) -> Result<ClientConfig> {
    let tls = |e: rustls::Error| Error::from(ConfigError::Tls).with_source(e);
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls)?;
    let builder = if test_roots.is_empty() {
        use hyper_rustls::ConfigBuilderExt as _;
        #[cfg(feature = "native-roots")]
        let builder = builder
            .with_native_roots()
            .map_err(|e| Error::from(ConfigError::Tls).with_source(e))?;
        #[cfg(not(feature = "native-roots"))]
        let builder = builder.with_webpki_roots();
        builder
    } else {
        // Test-only: the embedded roots and the sandbox's CA (not the system's roots).
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for root in test_roots {
            roots.add(root.clone()).map_err(tls)?;
        }
        builder.with_root_certificates(roots)
    };
    let Some(identity) = identity else {
        return Ok(builder.with_no_client_auth());
    };
    builder
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                Error::from(ConfigError::MerchantCertificateMismatch)
            }
            e => Error::from(ConfigError::Tls).with_source(e),
        })
}
