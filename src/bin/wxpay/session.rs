//! The client a subcommand talks through: configured from `ClientArgs`, or an in-process
//! sandbox's (`--sandbox`), which lives as long as the session.

use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::Wechatpay;

use crate::{ClientArgs, Fail};

/// A configured client, and the sandbox behind it when `--sandbox` was given.
pub(crate) struct Session {
    /// Signs, sends and verifies.
    pub(crate) client: Wechatpay,
    /// Values no message may show (the APIv3 key, paths from the config): see [`Fail::scrub`].
    pub(crate) secrets: Vec<String>,
    /// Keeps the in-process sandbox serving; the last handle dropped shuts it down.
    _sandbox: Option<SandboxHandle>,
}

/// The in-process sandbox of `--sandbox` (announced on stderr), in TLS mode: HTTPS with a
/// test CA its client trusts, and the merchant certificate for the mutual-TLS endpoints
/// (`v2/secapi/…`), so every call works as against the platform.
async fn start_sandbox() -> Result<SandboxHandle, Fail> {
    let sandbox = Sandbox::builder()
        .tls(true)
        .start()
        .await
        .map_err(Fail::from)?;
    eprintln!("wxpay: in-process sandbox at {}", sandbox.base_uri());
    Ok(sandbox)
}

impl Session {
    /// The client of `args`: the sandbox's with `--sandbox` (announced on stderr), else one
    /// built from the config file, flags and environment, which must name a private key.
    pub(crate) async fn open(args: &ClientArgs) -> Result<Self, Fail> {
        if args.sandbox {
            let sandbox = start_sandbox().await?;
            let client = sandbox.client().map_err(Fail::from)?;
            return Ok(Self {
                client,
                secrets: Vec::new(),
                _sandbox: Some(sandbox),
            });
        }
        let config = args.config()?;
        let secrets = config.secrets();
        let key = config.private_key()?.ok_or_else(|| {
            Fail::input(
                "no private key configured; pass -c wxpay.toml, --private-key, or set WECHATPAY_PRIVATE_KEY (or use --sandbox)",
            )
        })?;
        let client = config
            .builder()?
            .private_key(key)
            .build()
            .map_err(|e| config.build_error(e).scrub(&secrets))?;
        Ok(Self {
            client,
            secrets,
            _sandbox: None,
        })
    }
}
