//! The keys of the commands that send nothing (`wxpay crypto`, `wxpay notification`): the
//! merchant private key, the platform keys and the APIv3 key, from the config file, flags and
//! environment, or the sandbox's test keys; no merchant id, serial or base URI needed.

use std::path::PathBuf;

use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::{
    ApiV3Key, Certificate, Clock as _, KeyStore, PrivateKey, PublicKey, SystemClock,
};

use crate::config::Config;
use crate::{ClientArgs, Fail};

/// Where the keys come from. No `Debug`: it holds the APIv3 key.
#[derive(clap::Args)]
pub(crate) struct KeyArgs {
    /// Config file (TOML): private_key, public_keys, certificates, apiv3_key (other keys ignored).
    #[arg(short, long, env = "WECHATPAY_CONFIG")]
    config: Option<PathBuf>,
    /// Use the sandbox's test keys (no configuration needed; the other key settings are ignored).
    #[arg(long)]
    sandbox: bool,
    /// Merchant API private key file (PEM).
    #[arg(long, env = "WECHATPAY_PRIVATE_KEY")]
    private_key: Option<PathBuf>,
    /// WeChat Pay public key ID=FILE (repeatable).
    #[arg(long = "public-key", value_name = "ID=FILE")]
    public_keys: Vec<String>,
    /// Platform certificate file (repeatable).
    #[arg(long = "certificate", value_name = "FILE")]
    certificates: Vec<PathBuf>,
    /// APIv3 key (prefer the environment variable to keep it out of shell history).
    #[arg(long, env = "WECHATPAY_APIV3_KEY", hide_env_values = true)]
    apiv3_key: Option<String>,
}

/// The configured keys, loaded when asked for; with `--sandbox` the sandbox that wrote them
/// runs (its key files exist) until this is dropped.
pub(crate) struct Keys {
    config: Config,
    /// Keeps the in-process sandbox serving; the last handle dropped shuts it down.
    _sandbox: Option<SandboxHandle>,
}

impl KeyArgs {
    /// The configuration: the sandbox's (`--sandbox`) or the config file, overridden by flags
    /// and the environment.
    pub(crate) async fn open(&self) -> Result<Keys, Fail> {
        let args = ClientArgs {
            config: self.config.clone(),
            sandbox: self.sandbox,
            private_key: self.private_key.clone(),
            public_keys: self.public_keys.clone(),
            certificates: self.certificates.clone(),
            apiv3_key: self.apiv3_key.clone(),
            ..ClientArgs::default()
        };
        if !self.sandbox {
            return Ok(Keys {
                config: args.config()?,
                _sandbox: None,
            });
        }
        let sandbox = Sandbox::builder().start().await.map_err(Fail::from)?;
        // Like `--sandbox` of the other commands: the sandbox's keys only, nothing from the
        // environment (a WECHATPAY_APIV3_KEY must not replace the sandbox's).
        let args = ClientArgs {
            config: Some(sandbox.config_toml_path()),
            sandbox: true,
            ..ClientArgs::default()
        };
        // On an error the handle is dropped here, which shuts the sandbox down.
        let config = args.config()?;
        Ok(Keys {
            config,
            _sandbox: Some(sandbox),
        })
    }
}

/// The current Unix time (which platform certificates are valid).
pub(crate) fn now() -> i64 {
    SystemClock.now()
}

impl Keys {
    /// Values no message may show (the APIv3 key): see [`Fail::scrub`].
    pub(crate) fn secrets(&self) -> Vec<String> {
        self.config.secrets()
    }

    /// The configured platform keys: `[public_keys]` / `--public-key` and `[certificates]` /
    /// `--certificate`. Errors name the entry, never its path.
    pub(crate) fn platform_keys(&self) -> Result<KeyStore, Fail> {
        let store = KeyStore::new();
        for (id, path) in &self.config.file.public_keys {
            let key = PublicKey::from_pem_file(path).map_err(|e| {
                Fail::from(e)
                    .scrub(&[path.display().to_string()])
                    .prefixed(&format!("public key {id}"))
            })?;
            store.insert_public_key(id, key);
        }
        for (name, path) in &self.config.file.certificates {
            let cert = Certificate::from_pem_file(path).map_err(|e| {
                Fail::from(e)
                    .scrub(&[path.display().to_string()])
                    .prefixed(&format!("certificate {name}"))
            })?;
            store.insert_certificate(cert);
        }
        Ok(store)
    }

    /// The configured APIv3 key; `needed` says what for.
    pub(crate) fn apiv3_key(&self, needed: &str) -> Result<ApiV3Key, Fail> {
        let key = self.config.file.apiv3_key.as_deref().ok_or_else(|| {
            Fail::input(format!("no APIv3 key configured ({needed}): set apiv3_key in the config (-c), --apiv3-key or WECHATPAY_APIV3_KEY"))
        })?;
        ApiV3Key::new(key)
            .map_err(|_| Fail::input(format!("the APIv3 key must be 32 bytes, got {}", key.len())))
    }

    /// The configured merchant private key.
    pub(crate) fn private_key(&self) -> Result<PrivateKey, Fail> {
        self.config.private_key()?.ok_or_else(|| {
            Fail::input("no private key configured; pass -c wxpay.toml, --private-key, or set WECHATPAY_PRIVATE_KEY (or use --sandbox)")
        })
    }
}
