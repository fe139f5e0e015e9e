//! The sandbox's TLS mode ([`SandboxBuilder::tls`](super::SandboxBuilder::tls)): a test CA
//! generated at start, a server certificate it signs for the loopback names, and a merchant
//! API certificate it signs for the sandbox merchant, as WeChat Pay's CA issues
//! `apiclient_cert.pem`. The server asks for a client certificate but does not require one:
//! each endpoint decides (the APIv2 `secapi/…` endpoints refuse a request without one), so
//! the pipeline learns whether the connection presented a valid one.
//!
//! Everything here is **test-only**: the CA's key lives in memory for the sandbox's lifetime
//! and signs nothing else.

use std::fmt;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SerialNumber, PKCS_RSA_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::keys::SandboxKeys;
use crate::crypto::backend::{Active, Backend as _};
use crate::error::{Error, Result};

/// The organization of every certificate made here: nobody's real identity.
const ORGANIZATION: &str = "wechatpay-chain sandbox (test only)";
/// The names the server certificate covers: where the sandbox listens.
const SERVER_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// The client certificate a connection presented (verified against the test CA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientCertificate {
    /// The subject's common name (the merchant id for the sandbox's merchant certificate).
    pub(crate) common_name: Option<String>,
    /// The serial, upper-case hex without separators.
    pub(crate) serial: String,
}

/// The TLS server configuration and the PEM files clients need. No key in its `Debug`.
pub(crate) struct SandboxTls {
    acceptor: TlsAcceptor,
    pub(crate) ca_pem: String,
    pub(crate) merchant_cert_pem: String,
    /// The private key of `merchant_cert_pem`: the merchant API key itself when it is PKCS#8
    /// RSA (what rcgen can take), else a fresh ECDSA P-256 key (`own_key` is then true).
    pub(crate) merchant_key_pem: String,
    pub(crate) own_key: bool,
}

impl fmt::Debug for SandboxTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxTls")
            .field("own_key", &self.own_key)
            .finish_non_exhaustive()
    }
}

fn failed(what: &str, e: impl fmt::Display) -> Error {
    Error::sandbox(format!("TLS mode: cannot make {what}: {e}"))
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "CN");
    name.push(DnType::OrganizationName, ORGANIZATION);
    name.push(DnType::CommonName, common_name);
    name
}

/// The merchant serial as X.509 serial bytes, when it is one (hex, positive, ≤ 20 bytes).
fn serial_bytes(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 40 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    matches!(bytes.first(), Some(1..=0x7F)).then_some(bytes)
}

impl SandboxTls {
    /// Generates the CA, the server certificate and the merchant certificate, and the rustls
    /// server configuration (ALPN `h2` and `http/1.1`, client certificates optional).
    pub(crate) fn generate(keys: &SandboxKeys) -> Result<Self> {
        let mut ca = CertificateParams::default();
        ca.distinguished_name = name("wechatpay-chain sandbox test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(|e| failed("the CA key", e))?;
        let ca = CertifiedIssuer::self_signed(ca, ca_key).map_err(|e| failed("the CA", e))?;

        let server_key = KeyPair::generate().map_err(|e| failed("the server key", e))?;
        let mut server = CertificateParams::new(SERVER_NAMES.map(String::from).to_vec())
            .map_err(|e| failed("the server certificate", e))?;
        server.distinguished_name = name("127.0.0.1");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server
            .signed_by(&server_key, &ca)
            .map_err(|e| failed("the server certificate", e))?;

        // The merchant's own API key when rcgen (ring) can take it: PKCS#8 RSA.
        let merchant_key = PrivatePkcs8KeyDer::from_pem_slice(keys.merchant_key_pem().as_bytes())
            .ok()
            .and_then(|der| KeyPair::from_pkcs8_der_and_sign_algo(&der, &PKCS_RSA_SHA256).ok());
        let own_key = merchant_key.is_none();
        let client_key = match merchant_key {
            Some(key) => key,
            None => KeyPair::generate().map_err(|e| failed("the merchant TLS key", e))?,
        };
        let mut client = CertificateParams::default();
        client.distinguished_name = name(&keys.mchid);
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        // Like the platform's: the merchant API certificate's serial is the merchant serial.
        client.serial_number = serial_bytes(&keys.merchant_serial).map(SerialNumber::from);
        let client_cert = client
            .signed_by(&client_key, &ca)
            .map_err(|e| failed("the merchant certificate", e))?;

        let provider = Arc::new(Active::rustls_provider());
        let mut roots = RootCertStore::empty();
        roots
            .add(ca.der().clone())
            .map_err(|e| failed("the client verifier", e))?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| failed("the client verifier", e))?;
        let server_der = PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| failed("the server configuration", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_cert.der().clone()], server_der)
            .map_err(|e| failed("the server configuration", e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        let merchant_key_pem = if own_key {
            client_key.serialize_pem()
        } else {
            keys.merchant_key_pem().to_string()
        };
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca_pem: ca.pem(),
            merchant_cert_pem: client_cert.pem(),
            merchant_key_pem,
            own_key,
        })
    }

    /// Runs the server side of a handshake; the stream and the verified client certificate,
    /// if the client presented one (an invalid one fails the handshake).
    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
    ) -> std::io::Result<(TlsStream<TcpStream>, Option<Arc<ClientCertificate>>)> {
        let stream = self.acceptor.accept(stream).await?;
        let client = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(<[CertificateDer<'_>]>::first)
            .map(|der| Arc::new(describe(der)));
        Ok((stream, client))
    }
}

/// The subject common name and serial of a verified certificate.
fn describe(der: &CertificateDer<'_>) -> ClientCertificate {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        // rustls verified it, so it parses; stay total anyway.
        return ClientCertificate {
            common_name: None,
            serial: String::new(),
        };
    };
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let serial = cert
        .raw_serial()
        .iter()
        .skip_while(|&&b| b == 0)
        .map(|b| format!("{b:02X}"))
        .collect();
    ClientCertificate {
        common_name,
        serial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_serials_become_positive_x509_serials() {
        assert_eq!(serial_bytes("3775B6A4"), Some(vec![0x37, 0x75, 0xB6, 0xA4]));
        assert_eq!(serial_bytes("8775B6A4"), None, "negative as DER");
        assert_eq!(serial_bytes("00AB"), None, "leading zero byte");
        assert_eq!(serial_bytes("ABC"), None);
        assert_eq!(serial_bytes("ZZ"), None);
        assert_eq!(serial_bytes(&"11".repeat(21)), None, "over 20 bytes");
    }

    #[test]
    fn the_merchant_certificate_is_the_merchant_keys_and_names_the_merchant() {
        let keys = SandboxKeys::embedded().unwrap();
        let tls = SandboxTls::generate(&keys).unwrap();
        assert!(!tls.own_key, "the fixture merchant key is PKCS#8 RSA");
        assert_eq!(tls.merchant_key_pem, keys.merchant_key_pem());
        let der = CertificateDer::from_pem_slice(tls.merchant_cert_pem.as_bytes()).unwrap();
        let described = describe(&der);
        assert_eq!(described.common_name.as_deref(), Some(keys.mchid.as_str()));
        assert_eq!(described.serial, keys.merchant_serial);
        // The client side accepts the pair (rustls checks that the key is the certificate's).
        crate::transport::tls::MerchantIdentity::from_pem(
            tls.merchant_cert_pem.as_bytes(),
            tls.merchant_key_pem.as_bytes(),
        )
        .unwrap();
    }

    /// A client built like `client_builder()` minus the merchant certificate.
    fn without_certificate(sandbox: &super::super::SandboxHandle) -> crate::Wechatpay {
        let keys = &sandbox.state.keys;
        crate::Wechatpay::builder()
            .mchid(keys.mchid.clone())
            .serial(keys.merchant_serial.clone())
            .private_key(keys.merchant_key.clone())
            .public_key(keys.public_key_id.clone(), keys.public_key.clone())
            .tls_test_root_ca(sandbox.ca_certificate_pem().unwrap())
            .base_uri(sandbox.base_uri())
            .no_backup()
            .no_proxy()
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn mutual_tls_requests_present_the_merchant_certificate_and_others_do_not() {
        let sandbox = super::super::Sandbox::builder()
            .tls(true)
            .start()
            .await
            .unwrap();
        let wxpay = sandbox.client().unwrap();
        let chain = wxpay.v3().certificates();
        for mutual_tls in [true, false, true] {
            let mut prepared = chain.prepare(http::Method::GET, ()).unwrap();
            prepared.mutual_tls = mutual_tls;
            let answer = wxpay.execute(prepared).await.unwrap();
            assert_eq!(answer.status(), 200);
            let recorded = sandbox.requests();
            let last = recorded.last().unwrap();
            assert_eq!(last.client_certificate, mutual_tls);
            assert_eq!(last.version, http::Version::HTTP_2);
            assert!(last.authenticated);
        }
        sandbox.shutdown();
    }

    #[tokio::test]
    async fn a_mutual_tls_request_without_a_certificate_is_refused_before_sending() {
        let sandbox = super::super::Sandbox::builder()
            .tls(true)
            .start()
            .await
            .unwrap();
        let wxpay = without_certificate(&sandbox);
        let mut prepared = wxpay
            .v3()
            .certificates()
            .prepare(http::Method::GET, ())
            .unwrap();
        prepared.mutual_tls = true;
        let e = wxpay.execute(prepared.clone()).await.unwrap_err();
        assert_eq!(
            e.kind(),
            &crate::ErrorKind::Config(crate::ConfigError::MissingMerchantCertificate(
                "GET /v3/certificates".into()
            ))
        );
        assert!(e.to_string().contains("merchant_api_certificate"), "{e}");
        // The same refusal from the transport itself, for a route made by other code.
        let route = crate::transport::Route::new(
            sandbox.base_uri().trim_end_matches('/'),
            std::time::Duration::from_secs(10),
        )
        .with_mutual_tls();
        let request = prepared.to_http(prepared.uri().unwrap());
        let e = wxpay
            .inner()
            .transport
            .send(request, &route)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                crate::ErrorKind::Config(crate::ConfigError::MissingMerchantCertificate(_))
            ),
            "{e:?}"
        );
        assert!(sandbox.requests().is_empty(), "nothing was sent");
        // Without mutual TLS the same client gets through.
        prepared.mutual_tls = false;
        assert_eq!(wxpay.execute(prepared).await.unwrap().status(), 200);
        sandbox.shutdown();
    }
}
