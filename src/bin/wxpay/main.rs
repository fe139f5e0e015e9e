//! `wxpay`: script any WeChat Pay APIv3 (or APIv2: `v2/…`, see `apiv2.rs`) endpoint from the
//! command line.
//!
//! Exit status (also in `--help`): 0 for a verified 2xx (or a dry run); 2 bad input or
//! configuration; 3 transport failure; 4 API error (status ≥ 400, or an APIv2 answer that is
//! not SUCCESS); 5 verification failure;
//! 6 the request went through but its response could not be written (`-o` or stdout), so the
//! order (or other change) may already exist. Errors are one line on stderr.
//!
//! No message shows a configured value (the APIv3 or APIv2 key, a password in a base URI, a path or a
//! value from the config file) or a request signature: `--dry-run` prints the Authorization
//! header with its signature redacted unless it was made with the throw-away test key.
//! Every input is read up to a cap (see `input.rs`): body 32 MiB, config 1 MiB, key and
//! certificate files 1 MiB.

// A command line talks on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod apiv2;
mod args;
mod bill;
mod certificates;
mod colour;
mod completions;
mod config;
mod crypto;
mod endpoints;
mod fail;
mod help;
mod input;
mod keys;
mod notification;
mod output;
mod parse;
mod progress;
mod save;
mod send;
mod serve;
mod session;
mod upload;
mod verbosity;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use crate::args::{ClientArgs, Format, GlobalArgs, RequestArgs};
pub use crate::fail::{Fail, EXIT_NOT_WRITTEN};

// The whole command line. No `Debug`: it holds the APIv3 key. (A doc comment here would
// become the help's about line, so the about is given below.)
#[derive(Parser)]
#[command(
    about = "Sign, send and verify any WeChat Pay APIv3 (or APIv2) request.",
    name = "wxpay",
    version,
    args_conflicts_with_subcommands = true,
    after_help = help::EXIT_STATUS,
    after_long_help = help::after_long_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    request: RequestArgs,
    #[command(flatten)]
    global: GlobalArgs,
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
        /// Serve HTTPS (HTTP/2 and HTTP/1.1) with a generated test CA, and take the merchant API
        /// certificate for mutual TLS (secapi/… needs it): the CA, certificate and key paths are
        /// printed and named in the config files (tls_test_root_ca, merchant_cert, merchant_key).
        #[arg(long)]
        tls: bool,
    },
    /// Upload a file (image, video, PDF) with its signed meta, as multipart/form-data.
    #[command(after_help = upload::EXAMPLES)]
    Upload(upload::UploadArgs),
    /// Download a trade or fund-flow bill into a file, its SHA-1 checked.
    #[command(after_help = bill::EXAMPLES)]
    Bill(bill::BillArgs),
    /// Search the endpoint catalog: method, path, variables, query, body fields.
    #[command(after_help = endpoints::EXAMPLES)]
    Endpoints {
        /// Substring of the path, chain template or dotted chain (any case).
        filter: Option<String>,
        /// Only endpoints with this HTTP method.
        #[arg(short = 'X', long)]
        method: Option<String>,
    },
    /// Print the shell completion script on stdout.
    #[command(after_help = completions::EXAMPLES)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Download, decrypt and verify the platform certificates; save each as DIR/wechatpay_SERIAL.pem.
    #[command(after_help = certificates::EXAMPLES)]
    Certificates(certificates::CertificatesArgs),
    /// Verify and decrypt a saved notification (callback): --headers FILE --body FILE, or the raw request on stdin.
    #[command(after_help = notification::EXAMPLES)]
    Notification(notification::NotificationArgs),
    /// Encrypt, decrypt, sign and verify by hand with the configured keys.
    #[command(subcommand, after_help = crypto::EXAMPLES)]
    Crypto(crypto::CryptoCommand),
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
            tls,
        }) => runtime.block_on(serve::serve_sandbox(
            listen,
            keys,
            generate_keys,
            config_dir,
            bench,
            tls,
        )),
        Some(Command::Upload(args)) => runtime.block_on(upload::run(&args, &cli.global)),
        Some(Command::Bill(args)) => runtime.block_on(bill::run(&args, &cli.global)),
        Some(Command::Endpoints { filter, method }) => {
            endpoints::run(filter.as_deref(), method.as_deref(), cli.global.format)
        }
        Some(Command::Completions { shell }) => completions::run(shell),
        Some(Command::Certificates(args)) => {
            runtime.block_on(certificates::run(&args, cli.global.format))
        }
        Some(Command::Notification(args)) => {
            runtime.block_on(notification::run(&args, cli.global.format))
        }
        Some(Command::Crypto(command)) => {
            runtime.block_on(crypto::run(&command, cli.global.format))
        }
        None => {
            let config = cli.request.client.config()?;
            let secrets = config.secrets();
            runtime
                .block_on(send::request(&cli.request, &cli.global, config))
                .map_err(|f| f.scrub(&secrets))
        }
    }
}

fn main() -> ExitCode {
    let cli: Cli = parse::parse();
    verbosity::init(cli.global.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fail) => {
            eprintln!("wxpay: {}", fail.message);
            ExitCode::from(fail.code)
        }
    }
}
