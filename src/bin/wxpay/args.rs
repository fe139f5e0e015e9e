//! The command line's arguments shared by several commands: the request, the client's
//! configuration and the output format.

use std::path::PathBuf;

use clap::ValueEnum;

use crate::config::{Config, FileConfig, Overrides};
use crate::Fail;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object (or value) on one line.
    Json,
    /// Indented JSON, coloured on a terminal (unless NO_COLOR is set).
    Pretty,
}

/// A request: the URI and everything that goes with it.
#[derive(clap::Args)]
pub struct RequestArgs {
    /// The endpoint: dotted (v3.pay.transactions.native; names normalized like .seg()), slashed (v3/pay/transactions/native; a path as written, IDs kept verbatim) or an absolute URL.
    pub uri: Option<String>,
    /// HTTP method (default: POST when a body is given or the URI is v2/…, else GET).
    #[arg(short = 'X', long)]
    pub method: Option<String>,
    /// URI template variable NAME=VALUE (repeatable; values are never normalized; a NAME the template lacks is an error).
    #[arg(short = 'P', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Query parameter NAME=VALUE (repeatable, kept in order). For a v2/… URI: a field of the
    /// signed data, after those of -d (sent as the query with -X GET).
    #[arg(short = 'q', long = "query", value_name = "NAME=VALUE")]
    pub queries: Vec<String>,
    /// Extra header 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The JSON body, sent exactly as given: JSON text, @file, or @- for stdin. For a v2/… URI:
    /// the APIv2 fields as one JSON object, signed with the APIv2 key (sign_type among them
    /// picks MD5, the default, or HMAC-SHA256) and sent as XML (as the query with -X GET).
    #[arg(short, long, value_name = "JSON|@FILE|@-")]
    pub data: Option<String>,
    /// APIv2: add no nonce_str to the data (endpoints that take none, or -d carries its own).
    #[arg(long)]
    pub nonceless: bool,
    /// APIv2: present the merchant API certificate (mutual TLS; --merchant-cert/--merchant-key)
    /// even where the catalog does not ask for it (it does for secapi/…, transfers, red packets).
    #[arg(long)]
    pub security: bool,
    /// Stream the response body into FILE (written under a temporary name, renamed when
    /// complete; a progress bar on a terminal); the summary (status, request_id, bytes, path)
    /// goes to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Build and sign, print the request, do not send (the signature is shown redacted unless
    /// it was made with the throw-away test key: a signed request is replayable).
    #[arg(long)]
    pub dry_run: bool,
    /// Who signs, and where the request goes.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Flags of every command: output format and verbosity.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "json", global = true)]
    pub format: Format,
    /// Show the request's tracing on stderr: -v debug, -vv trace (never a key, a signature or
    /// a config path).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Who signs and where requests go: the configuration of every command that calls the API.
#[derive(Default, clap::Args)]
pub struct ClientArgs {
    /// Config file (TOML): mchid, serial, private_key, public keys/certificates, apiv3_key, base_uri, apiv2_key, merchant_cert, merchant_key, tls_test_root_ca.
    #[arg(short, long, env = "WECHATPAY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Send to an in-process sandbox (no configuration needed).
    #[arg(long)]
    pub sandbox: bool,
    /// Merchant id.
    #[arg(long, env = "WECHATPAY_MCHID")]
    pub mchid: Option<String>,
    /// Merchant API certificate serial.
    #[arg(long, env = "WECHATPAY_SERIAL")]
    pub serial: Option<String>,
    /// Merchant API private key file (PEM).
    #[arg(long, env = "WECHATPAY_PRIVATE_KEY")]
    pub private_key: Option<PathBuf>,
    /// WeChat Pay public key ID=FILE (repeatable).
    #[arg(long = "public-key", value_name = "ID=FILE")]
    pub public_keys: Vec<String>,
    /// Platform certificate file (repeatable).
    #[arg(long = "certificate", value_name = "FILE")]
    pub certificates: Vec<PathBuf>,
    /// APIv3 key (prefer the environment variable to keep it out of shell history).
    #[arg(long, env = "WECHATPAY_APIV3_KEY", hide_env_values = true)]
    pub apiv3_key: Option<String>,
    /// Base URI (default: the api.mch.weixin.qq.com host over https).
    #[arg(long, env = "WECHATPAY_BASE_URI")]
    pub base_uri: Option<String>,
    /// APIv2 key, for v2/… URIs (prefer the environment variable to keep it out of shell history).
    #[arg(long, env = "WECHATPAY_APIV2_KEY", hide_env_values = true)]
    pub apiv2_key: Option<String>,
    /// Merchant API certificate file (PEM), presented for mutual TLS on the v2 endpoints that
    /// need it (secapi/…, transfers, red packets) or with --security; needs --merchant-key.
    #[arg(long, env = "WECHATPAY_MERCHANT_CERT", value_name = "FILE")]
    pub merchant_cert: Option<PathBuf>,
    /// The private key (PEM) of --merchant-cert.
    #[arg(long, env = "WECHATPAY_MERCHANT_KEY", value_name = "FILE")]
    pub merchant_key: Option<PathBuf>,
    /// TESTS ONLY: also trust this CA (PEM) for HTTPS, e.g. a `wxpay sandbox --tls` CA. Never
    /// point it at a CA you do not control.
    #[arg(long, value_name = "FILE")]
    pub tls_test_root_ca: Option<PathBuf>,
}

impl std::fmt::Debug for RequestArgs {
    /// The URI only: the arguments hold the APIv3 key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestArgs")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ClientArgs {
    /// Nothing configured is shown: the arguments hold the APIv3 key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientArgs")
            .field("sandbox", &self.sandbox)
            .finish_non_exhaustive()
    }
}

impl ClientArgs {
    /// Flags and environment, which win over the config file.
    fn overrides(&self) -> Result<Overrides, Fail> {
        let public_keys = self
            .public_keys
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(id, path)| (id.trim().to_string(), PathBuf::from(path)))
                    .ok_or_else(|| Fail::input(format!("--public-key {kv:?}: expected ID=FILE")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Overrides {
            mchid: self.mchid.clone(),
            serial: self.serial.clone(),
            private_key: self.private_key.clone(),
            apiv3_key: self.apiv3_key.clone(),
            base_uri: self.base_uri.clone(),
            apiv2_key: self.apiv2_key.clone(),
            merchant_cert: self.merchant_cert.clone(),
            merchant_key: self.merchant_key.clone(),
            tls_test_root_ca: self.tls_test_root_ca.clone(),
            public_keys,
            certificates: self.certificates.clone(),
        })
    }

    /// The configuration: the config file, overridden by flags and the environment.
    pub(crate) fn config(&self) -> Result<Config, Fail> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        Ok(Config::merge(file, self.config.clone(), self.overrides()?))
    }
}
