//! The client configuration of `wxpay`: a TOML file, environment variables and flags (in
//! rising precedence), turned into a `Wechatpay` client.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wechatpay_chain::{Builder, Certificate, PrivateKey, PublicKey, Wechatpay};

use crate::Fail;

/// The configuration file (surface.md §5). Relative paths resolve against its folder.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) mchid: Option<String>,
    pub(crate) serial: Option<String>,
    pub(crate) private_key: Option<PathBuf>,
    pub apiv3_key: Option<String>,
    pub(crate) base_uri: Option<String>,
    #[serde(default)]
    pub(crate) public_keys: BTreeMap<String, PathBuf>,
    #[serde(default)]
    pub(crate) certificates: BTreeMap<String, PathBuf>,
}

impl FileConfig {
    /// Reads and parses a config file, resolving its relative paths.
    pub(crate) fn load(path: &Path) -> Result<Self, Fail> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Fail::input(format!("cannot read config {}: {e}", path.display())))?;
        let mut config: Self = toml::from_str(&text).map_err(|e| {
            Fail::input(format!(
                "config {}: {}",
                path.display(),
                one_line(&e.to_string())
            ))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        if let Some(p) = &mut config.private_key {
            resolve(p);
        }
        config.public_keys.values_mut().for_each(resolve);
        config.certificates.values_mut().for_each(resolve);
        Ok(config)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Settings given on the command line or in the environment (they win over the file).
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    pub(crate) mchid: Option<String>,
    pub(crate) serial: Option<String>,
    pub(crate) private_key: Option<PathBuf>,
    pub apiv3_key: Option<String>,
    pub(crate) base_uri: Option<String>,
    pub(crate) public_keys: Vec<(String, PathBuf)>,
    pub(crate) certificates: Vec<PathBuf>,
}

/// The merged configuration: what a client is built from.
#[derive(Debug, Default)]
pub(crate) struct Config {
    pub(crate) file: FileConfig,
}

impl Config {
    pub(crate) fn merge(file: FileConfig, over: Overrides) -> Self {
        let mut file = file;
        file.mchid = over.mchid.or(file.mchid);
        file.serial = over.serial.or(file.serial);
        file.private_key = over.private_key.or(file.private_key);
        file.apiv3_key = over.apiv3_key.or(file.apiv3_key);
        file.base_uri = over.base_uri.or(file.base_uri);
        file.public_keys.extend(over.public_keys);
        for (i, path) in over.certificates.into_iter().enumerate() {
            file.certificates
                .insert(format!("--certificate #{i}"), path);
        }
        Self { file }
    }

    /// A builder with everything configured except the private key.
    pub(crate) fn builder(&self) -> Result<Builder, Fail> {
        let c = &self.file;
        let mut builder = Wechatpay::builder();
        if let Some(m) = &c.mchid {
            builder = builder.mchid(m);
        }
        if let Some(s) = &c.serial {
            builder = builder.serial(s);
        }
        if let Some(k) = &c.apiv3_key {
            builder = builder.apiv3_key(k);
        }
        if let Some(b) = &c.base_uri {
            builder = builder.base_uri(b);
        }
        for (id, path) in &c.public_keys {
            builder = builder.public_key(id, PublicKey::from_pem_file(path).map_err(Fail::from)?);
        }
        for (name, path) in &c.certificates {
            let cert = Certificate::from_pem_file(path).map_err(Fail::from)?;
            if !name.starts_with("--certificate") && !cert.serial().eq_ignore_ascii_case(name) {
                return Err(Fail::input(format!(
                    "certificate {} has serial {}, but the config names it {name}",
                    path.display(),
                    cert.serial()
                )));
            }
            builder = builder.certificate(cert);
        }
        Ok(builder)
    }

    /// The configured private key, if any.
    pub(crate) fn private_key(&self) -> Result<Option<PrivateKey>, Fail> {
        self.file
            .private_key
            .as_ref()
            .map(|p| PrivateKey::from_pem_file(p).map_err(Fail::from))
            .transpose()
    }
}
