//! The sandbox's key material and the client configuration it writes.
//!
//! Keys come from a folder laid out like `tests/fixtures/` (with its `fixtures.json`), are
//! the crate's embedded **test-only** fixtures, or are freshly generated
//! ([`SandboxKeys::generate`]; the config folder then becomes such a keys folder). The folder
//! holds:
//!
//! | file | what |
//! |---|---|
//! | `fixtures.json` | `mchid`, `merchant_serial`, `platform_serial`, `platform_certificate_file`, `public_key_id`, `apiv3_key`, `apiv2_key` (optional: [`TEST_APIV2_KEY`] when absent) |
//! | `apiclient_key.pem` | the merchant API private key (clients sign with it; the sandbox checks with its public half) |
//! | `platform_key.pem` + the platform certificate file | the platform certificate and its private half (certificate mode) |
//! | `pub_key.pem` + `pub_key_private.pem` | the WeChat Pay public key and its private half (public-key mode) |
//! | `apiclient_cert.pem` | the merchant certificate (written for generated keys; never read) |

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{Error, Result};
use crate::keys::{Certificate, PrivateKey, PublicKey};

/// The embedded fixtures: generated for this project's tests, never valid anywhere else.
mod embedded {
    pub(super) const MANIFEST: &str = include_str!("../../tests/fixtures/fixtures.json");
    pub(super) const MERCHANT_KEY: &str = include_str!("../../tests/fixtures/apiclient_key.pem");
    pub(super) const PLATFORM_KEY: &str = include_str!("../../tests/fixtures/platform_key.pem");
    pub(super) const PLATFORM_CERT: &str =
        include_str!("../../tests/fixtures/wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem");
    pub(super) const PUBLIC_KEY: &str = include_str!("../../tests/fixtures/pub_key.pem");
    pub(super) const PUBLIC_KEY_PRIVATE: &str =
        include_str!("../../tests/fixtures/pub_key_private.pem");
}

const MERCHANT_KEY_FILE: &str = "apiclient_key.pem";
const PLATFORM_KEY_FILE: &str = "platform_key.pem";
const PUBLIC_KEY_FILE: &str = "pub_key.pem";
const PUBLIC_KEY_PRIVATE_FILE: &str = "pub_key_private.pem";
const MERCHANT_CERT_FILE: &str = "apiclient_cert.pem";
const MANIFEST_FILE: &str = "fixtures.json";
/// TLS mode: the sandbox's test CA.
const TLS_CA_FILE: &str = "sandbox_ca.pem";
/// TLS mode: the merchant API certificate signed by the test CA (not `apiclient_cert.pem`,
/// the self-signed one of a generated keys folder).
const TLS_CERT_FILE: &str = "apiclient_tls_cert.pem";
/// TLS mode: the key of [`TLS_CERT_FILE`] when it is not the merchant key.
const TLS_KEY_FILE: &str = "apiclient_tls_key.pem";

/// The APIv2 key of a keys folder whose `fixtures.json` names none (folders written before
/// the sandbox spoke APIv2): the embedded fixtures' **test-only** key.
pub(crate) const TEST_APIV2_KEY: &str = "TestOnlyApiV2Key0123456789abcdef";

/// `fixtures.json`.
#[derive(Deserialize, Serialize)]
struct Manifest {
    mchid: String,
    merchant_serial: String,
    platform_serial: String,
    platform_certificate_file: String,
    public_key_id: String,
    apiv3_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    apiv2_key: Option<String>,
}

/// Everything the simulator needs to act as WeChat Pay towards one merchant.
pub(crate) struct SandboxKeys {
    pub(crate) mchid: String,
    pub(crate) merchant_serial: String,
    pub(crate) merchant_key: PrivateKey,
    merchant_key_pem: String,
    /// Verifies request signatures.
    pub(crate) merchant_public: PublicKey,
    pub(crate) platform_cert: Certificate,
    pub(crate) platform_key: PrivateKey,
    pub(crate) public_key_id: String,
    pub(crate) public_key: PublicKey,
    public_key_pem: String,
    pub(crate) public_key_private: PrivateKey,
    pub(crate) apiv3_key: [u8; 32],
    /// The APIv2 key (32 ASCII characters): signs and checks APIv2 XML, encrypts `req_info`.
    pub(crate) apiv2_key: crate::v2::sign::ApiV2Key,
    /// Its text, for the config files.
    apiv2_key_text: String,
    /// Generated keys only: what else the config folder needs to be a keys folder.
    generated: Option<GeneratedFiles>,
}

/// The files only a keys folder has (private halves of the platform's keys). No `Debug`.
struct GeneratedFiles {
    platform_key_pem: String,
    public_key_private_pem: String,
    merchant_cert_pem: String,
}

impl fmt::Debug for SandboxKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxKeys")
            .field("mchid", &self.mchid)
            .field("merchant_serial", &self.merchant_serial)
            .field("platform_serial", &self.platform_cert.serial())
            .field("public_key_id", &self.public_key_id)
            .field("generated", &self.generated.is_some())
            .finish_non_exhaustive()
    }
}

/// Reads a file of the keys folder, naming it in the error.
fn read(dir: &Path, name: &str) -> Result<String> {
    let path = dir.join(name);
    std::fs::read_to_string(&path).map_err(|e| {
        Error::sandbox(format!(
            "cannot read {}; the keys folder must be laid out like tests/fixtures/",
            path.display()
        ))
        .with_source(e)
    })
}

impl SandboxKeys {
    /// The crate's embedded test-only fixtures.
    pub(crate) fn embedded() -> Result<Self> {
        use embedded::*;
        let manifest = serde_json::from_str(MANIFEST).map_err(|e| {
            Error::sandbox("the embedded fixtures.json does not parse").with_source(e)
        })?;
        Self::from_parts(
            manifest,
            MERCHANT_KEY.into(),
            PLATFORM_KEY,
            PLATFORM_CERT,
            PUBLIC_KEY.into(),
            PUBLIC_KEY_PRIVATE,
        )
    }

    /// Fresh key material ([`super::keygen::generate`]), checked like a loaded folder.
    ///
    /// Blocking and CPU-bound (RSA key generation): call it off the async executor.
    pub(crate) fn generate() -> Result<Self> {
        let g = super::keygen::generate(super::now())?;
        let manifest = Manifest {
            mchid: g.mchid,
            merchant_serial: g.merchant_serial,
            platform_certificate_file: format!("wechatpay_{}.pem", g.platform_serial),
            platform_serial: g.platform_serial,
            public_key_id: g.public_key_id,
            apiv3_key: g.apiv3_key,
            apiv2_key: Some(crate::signer::nonce()?),
        };
        let mut keys = Self::from_parts(
            manifest,
            g.merchant_key_pem,
            &g.platform_key_pem,
            &g.platform_cert_pem,
            g.public_key_pem,
            &g.public_key_private_pem,
        )?;
        let merchant_cert = Certificate::from_pem(&g.merchant_cert_pem)?;
        if merchant_cert.serial() != keys.merchant_serial
            || merchant_cert.public_key() != &keys.merchant_public
        {
            return Err(Error::sandbox(
                "the generated merchant certificate does not match its key",
            ));
        }
        keys.generated = Some(GeneratedFiles {
            platform_key_pem: g.platform_key_pem,
            public_key_private_pem: g.public_key_private_pem,
            merchant_cert_pem: g.merchant_cert_pem,
        });
        Ok(keys)
    }

    /// A folder laid out like `tests/fixtures/`.
    pub(crate) fn from_dir(dir: &Path) -> Result<Self> {
        let manifest: Manifest = serde_json::from_str(&read(dir, MANIFEST_FILE)?).map_err(|e| {
            Error::sandbox(format!(
                "{} does not parse",
                dir.join(MANIFEST_FILE).display()
            ))
            .with_source(e)
        })?;
        let cert_file = Path::new(&manifest.platform_certificate_file);
        if cert_file.components().count() != 1 {
            return Err(Error::sandbox(
                "keys folder: platform_certificate_file must be a file name inside the keys folder",
            ));
        }
        let cert = read(dir, &manifest.platform_certificate_file)?;
        Self::from_parts(
            manifest,
            read(dir, MERCHANT_KEY_FILE)?,
            &read(dir, PLATFORM_KEY_FILE)?,
            &cert,
            read(dir, PUBLIC_KEY_FILE)?,
            &read(dir, PUBLIC_KEY_PRIVATE_FILE)?,
        )
    }

    fn from_parts(
        m: Manifest,
        merchant_key_pem: String,
        platform_key: &str,
        platform_cert: &str,
        public_key_pem: String,
        public_key_private: &str,
    ) -> Result<Self> {
        let apiv3_key: [u8; 32] = m.apiv3_key.as_bytes().try_into().map_err(|_| {
            Error::sandbox(format!(
                "keys folder: apiv3_key must be 32 bytes, got {}",
                m.apiv3_key.len()
            ))
        })?;
        let apiv2_key_text = m.apiv2_key.unwrap_or_else(|| TEST_APIV2_KEY.to_string());
        let apiv2_key = crate::v2::sign::ApiV2Key::new(&apiv2_key_text).map_err(|_| {
            Error::sandbox(format!(
                "keys folder: apiv2_key must be 32 bytes, got {}",
                apiv2_key_text.len()
            ))
        })?;
        if m.mchid.is_empty() || !m.mchid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::sandbox("keys folder: mchid must be digits"));
        }
        let merchant_key = PrivateKey::from_pem(&merchant_key_pem)?;
        let platform_cert = Certificate::from_pem(platform_cert)?;
        let platform_key = PrivateKey::from_pem(platform_key)?;
        let public_key = PublicKey::from_pem(&public_key_pem)?;
        let public_key_private = PrivateKey::from_pem(public_key_private)?;
        if platform_cert.serial() != m.platform_serial {
            return Err(Error::sandbox(format!(
                "keys folder: the platform certificate's serial is {}, fixtures.json says {}",
                platform_cert.serial(),
                m.platform_serial
            )));
        }
        if &platform_key.public_key() != platform_cert.public_key() {
            return Err(Error::sandbox(
                "keys folder: platform_key.pem is not the private key of the platform certificate",
            ));
        }
        if public_key_private.public_key() != public_key {
            return Err(Error::sandbox(
                "keys folder: pub_key_private.pem is not the private half of pub_key.pem",
            ));
        }
        let merchant_serial = m.merchant_serial.to_ascii_uppercase();
        if merchant_serial.is_empty() || merchant_serial == m.platform_serial {
            return Err(Error::sandbox(
                "keys folder: merchant_serial must be set and differ from platform_serial",
            ));
        }
        Ok(Self {
            mchid: m.mchid,
            merchant_serial,
            merchant_public: merchant_key.public_key(),
            merchant_key,
            merchant_key_pem,
            platform_cert,
            platform_key,
            public_key_id: m.public_key_id,
            public_key,
            public_key_pem,
            public_key_private,
            apiv3_key,
            apiv2_key,
            apiv2_key_text,
            generated: None,
        })
    }

    /// The merchant API private key as loaded (PEM).
    pub(crate) fn merchant_key_pem(&self) -> &str {
        &self.merchant_key_pem
    }

    /// The APIv2 key as text (test-only; see [`SandboxHandle::apiv2_key`]).
    ///
    /// [`SandboxHandle::apiv2_key`]: super::SandboxHandle::apiv2_key
    pub(crate) fn apiv2_key_text(&self) -> &str {
        &self.apiv2_key_text
    }

    /// The platform certificate serial.
    pub(crate) fn platform_serial(&self) -> &str {
        self.platform_cert.serial()
    }

    fn certificate_file(&self) -> String {
        format!("wechatpay_{}.pem", self.platform_serial())
    }

    /// Writes the client's PEM files, `wxpay.toml` and `wxpay.json` into `dir`; for generated
    /// keys also `fixtures.json`, the platform's private keys and the merchant certificate, so
    /// that `dir` is a keys folder [`SandboxKeys::from_dir`] loads.
    ///
    /// The TOML names files relative to its folder, as `wxpay --config` reads them; the JSON, meant for clients
    /// in other languages, gives absolute paths. Private keys and the files that hold the
    /// APIv3 key (`fixtures.json`, `wxpay.toml`, `wxpay.json`) are readable by the owner only (Unix).
    /// In TLS mode (`tls`) also the test CA, the merchant's CA-signed API certificate (and
    /// its key when it is not the merchant key), named by `tls_test_root_ca`, `merchant_cert`
    /// and `merchant_key`.
    pub(crate) fn write_config(
        &self,
        dir: &Path,
        base_uri: &str,
        tls: Option<&super::tls::SandboxTls>,
    ) -> Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
        let tls_files = tls.map(|tls| self.write_tls_files(dir, tls)).transpose()?;
        let cert_file = self.certificate_file();
        write_file(&dir.join(MERCHANT_KEY_FILE), &self.merchant_key_pem, true)?;
        write_file(&dir.join(PUBLIC_KEY_FILE), &self.public_key_pem, false)?;
        write_file(&dir.join(&cert_file), self.platform_cert.pem(), false)?;
        if let Some(files) = &self.generated {
            self.write_keys_folder(dir, files, &cert_file)?;
        }

        // JSON string literals are valid TOML basic strings (same escapes).
        let q = |s: &str| serde_json::Value::from(s).to_string();
        let apiv3_key = String::from_utf8_lossy(&self.apiv3_key);
        // Top-level keys: before the first table.
        let tls_toml = tls_files.map_or_else(String::new, |[ca, cert, key]| {
            format!(
                "tls_test_root_ca = {}\nmerchant_cert = {}\nmerchant_key = {}\n",
                q(ca),
                q(cert),
                q(key)
            )
        });
        let toml = format!(
            "# Written by the wechatpay-chain sandbox: TEST-ONLY keys, never valid against WeChat Pay.\n\
             mchid = {}\nserial = {}\nprivate_key = {}\napiv3_key = {}\nbase_uri = {}\napiv2_key = {}\n{tls_toml}\n\
             [public_keys]\n{} = {}\n\n[certificates]\n{} = {}\n",
            q(&self.mchid),
            q(&self.merchant_serial),
            q(MERCHANT_KEY_FILE),
            q(&apiv3_key),
            q(base_uri),
            q(self.apiv2_key_text()),
            q(&self.public_key_id),
            q(PUBLIC_KEY_FILE),
            q(self.platform_serial()),
            q(&cert_file),
        );
        let toml_path = dir.join("wxpay.toml");
        write_file(&toml_path, &toml, true)?;

        let abs = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let mut public_keys = serde_json::Map::new();
        public_keys.insert(self.public_key_id.clone(), abs(PUBLIC_KEY_FILE).into());
        let mut certificates = serde_json::Map::new();
        certificates.insert(self.platform_serial().to_string(), abs(&cert_file).into());
        let mut config = json!({
            "mchid": self.mchid,
            "serial": self.merchant_serial,
            "private_key": abs(MERCHANT_KEY_FILE),
            "apiv3_key": apiv3_key,
            "apiv2_key": self.apiv2_key_text,
            "base_uri": base_uri,
            "public_keys": public_keys,
            "certificates": certificates,
        });
        if let (Some([ca, cert, key]), Some(object)) = (tls_files, config.as_object_mut()) {
            object.insert("tls_test_root_ca".into(), abs(ca).into());
            object.insert("merchant_cert".into(), abs(cert).into());
            object.insert("merchant_key".into(), abs(key).into());
        }
        let json_path = dir.join("wxpay.json");
        let text = serde_json::to_string_pretty(&config)
            .map_err(|e| Error::sandbox("cannot serialize wxpay.json").with_source(e))?;
        write_file(&json_path, &(text + "\n"), true)?;
        Ok((toml_path, json_path))
    }

    /// TLS mode's files: the test CA, the merchant's CA-signed certificate and, when it is
    /// not the merchant key, its key; returns their names (CA, certificate, key).
    fn write_tls_files(
        &self,
        dir: &Path,
        tls: &super::tls::SandboxTls,
    ) -> Result<[&'static str; 3]> {
        write_file(&dir.join(TLS_CA_FILE), &tls.ca_pem, false)?;
        write_file(&dir.join(TLS_CERT_FILE), &tls.merchant_cert_pem, false)?;
        let key = if tls.own_key {
            write_file(&dir.join(TLS_KEY_FILE), &tls.merchant_key_pem, true)?;
            TLS_KEY_FILE
        } else {
            MERCHANT_KEY_FILE
        };
        Ok([TLS_CA_FILE, TLS_CERT_FILE, key])
    }

    /// The rest of a keys folder: `fixtures.json`, the platform's private keys, the merchant
    /// certificate.
    fn write_keys_folder(&self, dir: &Path, files: &GeneratedFiles, cert_file: &str) -> Result<()> {
        let manifest = Manifest {
            mchid: self.mchid.clone(),
            merchant_serial: self.merchant_serial.clone(),
            platform_serial: self.platform_serial().to_string(),
            platform_certificate_file: cert_file.to_string(),
            public_key_id: self.public_key_id.clone(),
            apiv3_key: String::from_utf8_lossy(&self.apiv3_key).into_owned(),
            apiv2_key: Some(self.apiv2_key_text.clone()),
        };
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| Error::sandbox("cannot serialize fixtures.json").with_source(e))?;
        write_file(&dir.join(PLATFORM_KEY_FILE), &files.platform_key_pem, true)?;
        write_file(
            &dir.join(PUBLIC_KEY_PRIVATE_FILE),
            &files.public_key_private_pem,
            true,
        )?;
        write_file(
            &dir.join(MERCHANT_CERT_FILE),
            &files.merchant_cert_pem,
            false,
        )?;
        write_file(&dir.join(MANIFEST_FILE), &(text + "\n"), true)
    }
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::sandbox(format!("cannot write {}", path.display())).with_source(e)
}

/// Writes a file; private keys are readable by the owner only (Unix).
fn write_file(path: &Path, contents: &str, private: bool) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|e| write_error(path, e))?;
    std::io::Write::write_all(&mut file, contents.as_bytes()).map_err(|e| write_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_fixtures_load_and_match_the_folder() {
        let embedded = SandboxKeys::embedded().unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let folder = SandboxKeys::from_dir(&dir).unwrap();
        assert_eq!(embedded.mchid, "1900000109");
        assert_eq!(embedded.platform_serial(), folder.platform_serial());
        assert_eq!(embedded.public_key, folder.public_key);
        assert!(!format!("{embedded:?}").contains("TestOnlyApiV3Key"));
        assert_eq!(embedded.apiv2_key_text(), TEST_APIV2_KEY);
        assert_eq!(folder.apiv2_key_text(), TEST_APIV2_KEY);
        assert!(!format!("{embedded:?}").contains("TestOnlyApiV2Key"));
    }

    #[test]
    fn a_folder_without_fixtures_json_is_named() {
        let e = SandboxKeys::from_dir(Path::new("/nonexistent-sandbox-keys")).unwrap_err();
        assert!(e.to_string().contains("fixtures.json"), "{e}");
    }
}
