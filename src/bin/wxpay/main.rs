//! `wxpay`: script any WeChat Pay APIv3 endpoint from the command line.
//!
//! Exit status (also in `--help`): 0 for a verified 2xx (or a dry run); 2 bad input or
//! configuration; 3 transport failure; 4 API error (status ≥ 400); 5 verification failure;
//! 6 the request went through but its response could not be written (`-o` or stdout), so the
//! order (or other change) may already exist. Errors are one line on stderr.
//!
//! No message shows a configured value (the APIv3 key, a password in a base URI, a path or a
//! value from the config file) or a request signature: `--dry-run` prints the Authorization
//! header with its signature redacted unless it was made with the throw-away test key.
//! Every input is read up to a cap (see `input.rs`): body 32 MiB, config 1 MiB, key and
//! certificate files 1 MiB.

// A command line talks on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod config;
mod input;
mod output;
mod send;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use wechatpay_chain::{Error, ErrorKind};

use crate::config::{Config, FileConfig, Overrides};

/// The exit statuses, for `--help`.
const EXIT_STATUS: &str = "\
Exit status:
  0  a verified 2xx response (or a dry run)
  2  bad input or configuration (nothing was sent)
  3  transport failure (a POST may still have reached the server)
  4  API error: the server answered with status >= 400
  5  verification failure: the response's signature did not check out
  6  the request went through, but its response could not be written (-o or stdout):
     the order (or other change) may already exist; query it before sending again

Inputs are capped: -d @FILE / @- 32 MiB, the config file 1 MiB, key and certificate files 1 MiB.";

/// Sign, send and verify any WeChat Pay APIv3 request. No `Debug`: it holds the APIv3 key.
#[derive(Parser)]
#[command(
    name = "wxpay",
    version,
    args_conflicts_with_subcommands = true,
    after_help = EXIT_STATUS
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    request: RequestArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the WeChat Pay simulator on loopback for any client.
    Sandbox {
        /// Address to listen on (loopback only).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// A folder laid out like the test fixtures (with fixtures.json); default: built-in test keys.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Generate fresh test keys (merchant, platform certificate, public key, APIv3 key) and
        /// write them into the config dir, which --keys can load later.
        #[arg(long, conflicts_with = "keys")]
        generate_keys: bool,
        /// Where to write the client config (wxpay.toml, wxpay.json); default: a temp folder.
        #[arg(long)]
        config_dir: Option<PathBuf>,
        /// Bench mode, for load benchmarks only: requests are still verified, but every one
        /// gets the same small body signed once per second, and nothing is recorded.
        #[arg(long)]
        bench: bool,
    },
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object (or value) on one line.
    Json,
    /// Indented JSON.
    Pretty,
}

/// A request: the URI and everything that goes with it.
#[derive(clap::Args)]
pub struct RequestArgs {
    /// The endpoint: dotted (v3.pay.transactions.native; names normalized like .seg()), slashed (v3/pay/transactions/native; a path as written, IDs kept verbatim) or an absolute URL.
    pub uri: Option<String>,
    /// HTTP method (default: POST when a body is given, else GET).
    #[arg(short = 'X', long)]
    pub method: Option<String>,
    /// Config file (TOML): mchid, serial, private_key, public keys/certificates, apiv3_key, base_uri.
    #[arg(short, long, env = "WECHATPAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// URI template variable NAME=VALUE (repeatable; values are never normalized; a NAME the template lacks is an error).
    #[arg(short = 'P', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Query parameter NAME=VALUE (repeatable, kept in order).
    #[arg(short = 'q', long = "query", value_name = "NAME=VALUE")]
    pub queries: Vec<String>,
    /// Extra header 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The JSON body, sent exactly as given: JSON text, @file, or @- for stdin.
    #[arg(short, long, value_name = "JSON|@FILE|@-")]
    pub data: Option<String>,
    /// Write the response body to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Build and sign, print the request, do not send (the signature is shown redacted unless
    /// it was made with the throw-away test key: a signed request is replayable).
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
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
}

impl std::fmt::Debug for RequestArgs {
    /// The URI only: the arguments hold the APIv3 key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestArgs")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// A failure with its exit status and one-line message.
#[derive(Debug)]
pub struct Fail {
    code: u8,
    message: String,
}

/// Exit status: the request went through but its response could not be written.
pub const EXIT_NOT_WRITTEN: u8 = 6;

impl Fail {
    /// Bad input or configuration (exit 2).
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(2, message)
    }

    /// A failure with its exit status.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The message behind `prefix: `.
    pub fn prefixed(self, prefix: &str) -> Self {
        Self {
            message: format!("{prefix}: {}", self.message),
            ..self
        }
    }

    /// The message with every occurrence of each secret (8 characters or more; shorter
    /// values are refused elsewhere without being shown) replaced by `<redacted>`.
    pub fn scrub(self, secrets: &[String]) -> Self {
        let message = secrets
            .iter()
            .filter(|s| s.chars().count() >= 8)
            .fold(self.message, |m, s| m.replace(s.as_str(), "<redacted>"));
        Self { message, ..self }
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        let code = match e.kind() {
            ErrorKind::Transport(_) => 3,
            ErrorKind::Api(_) => 4,
            ErrorKind::Verify(_) => 5,
            _ => 2,
        };
        // The library keeps causes in source(); a terminal user wants them on the same line.
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        Self { code, message }
    }
}

impl RequestArgs {
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
            public_keys,
            certificates: self.certificates.clone(),
        })
    }

    fn config(&self) -> Result<Config, Fail> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        Ok(Config::merge(file, self.config.clone(), self.overrides()?))
    }
}

fn run(cli: Cli) -> Result<(), Fail> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Fail::input(format!("cannot start the runtime: {e}")))?;
    match cli.command {
        Some(Command::Sandbox {
            listen,
            keys,
            generate_keys,
            config_dir,
            bench,
        }) => runtime.block_on(send::serve_sandbox(
            listen,
            keys,
            generate_keys,
            config_dir,
            bench,
        )),
        None => {
            let config = cli.request.config()?;
            let secrets = config.secrets();
            runtime
                .block_on(send::request(&cli.request, config))
                .map_err(|f| f.scrub(&secrets))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fail) => {
            eprintln!("wxpay: {}", fail.message);
            ExitCode::from(fail.code)
        }
    }
}
