//! `wxpay bill (trade|fundflow) -q bill_date=… -o FILE`: apply, streamed download, gunzip and
//! SHA-1 check through `wechatpay_chain::bill`, which writes a temporary file beside `FILE`
//! and renames it into place only once the digest matched: `FILE` never holds a bill that
//! failed (an earlier file there is left as it was).
//!
//! `-o -` (stdout) is refused: the digest can only be checked after the last byte, and bytes
//! already on stdout cannot be taken back. Write the file, then read it.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde_json::json;
use wechatpay_chain::bill::{BillApply, BillRequest};
use wechatpay_chain::{ErrorKind, Options};

use crate::session::Session;
use crate::{output, ClientArgs, Fail, Format, GlobalArgs, EXIT_NOT_WRITTEN};

/// Examples for `wxpay bill --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  wxpay bill trade -q bill_date=2026-11-30 -o trade-2026-11-30.csv -c wxpay.toml
  wxpay bill trade -q bill_date=2026-11-30 -q bill_type=ALL -q tar_type=GZIP -o trade.csv
  wxpay bill fundflow -q bill_date=2026-11-30 -q account_type=BASIC -o fundflow.csv --sandbox

A gzip bill (tar_type=GZIP) is decompressed on the way; the SHA-1 of the bill is checked
against the apply's hash_value. The summary prints on stdout:
{\"bill\",\"hash_type\",\"hash_value\",\"bytes\",\"gzip\",\"path\"}.

Exit status: 0 the bill is in FILE and its digest matched; 2 bad input (a bad -q, -o - or a
folder that does not exist: nothing was sent); 3 transport failure (also: the file could not be
written); 4 API error (e.g. no bill for that date); 5 the apply did not verify (its signature,
or it is not a bill apply answer), or the bill did not match its digest or was cut short: FILE
was not written; 6 the bill was saved but the summary could not be written on stdout.";

/// Which bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BillKind {
    /// The trade bill (GET v3/bill/tradebill; query bill_date, bill_type, tar_type).
    Trade,
    /// The fund-flow bill (GET v3/bill/fundflowbill; query bill_date, account_type, tar_type).
    Fundflow,
}

impl BillKind {
    fn apply_uri(self) -> &'static str {
        match self {
            Self::Trade => "v3/bill/tradebill",
            Self::Fundflow => "v3/bill/fundflowbill",
        }
    }
}

/// The arguments of `wxpay bill`.
#[derive(clap::Args)]
pub(crate) struct BillArgs {
    /// The bill to download.
    #[arg(value_enum)]
    kind: BillKind,
    /// Query parameter of the apply NAME=VALUE (repeatable; bill_date is required).
    #[arg(short = 'q', long = "query", value_name = "NAME=VALUE")]
    queries: Vec<String>,
    /// The file to write the bill to (appears only once its digest matched).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Who signs, and where the request goes.
    #[command(flatten)]
    client: ClientArgs,
}

impl std::fmt::Debug for BillArgs {
    /// The bill kind only: the client arguments hold the APIv3 key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillArgs")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn options(queries: &[String]) -> Result<Options, Fail> {
    let mut options = Options::new();
    let mut has_date = false;
    for q in queries {
        let (name, value) = q
            .split_once('=')
            .ok_or_else(|| Fail::input(format!("-q {q:?}: expected NAME=VALUE")))?;
        has_date |= name == "bill_date";
        options = options.query(name, value);
    }
    if !has_date {
        return Err(Fail::input(
            "missing -q bill_date=YYYY-MM-DD (the day of the bill)",
        ));
    }
    Ok(options)
}

/// Refuses an output that cannot work before anything is sent.
fn check_output(path: &Path) -> Result<(), Fail> {
    if path.as_os_str() == "-" {
        return Err(Fail::input(
            "-o -: a bill is only checked after its last byte, so it is written to a file that appears once its digest matched; give -o FILE and read the file",
        ));
    }
    if path.is_dir() {
        return Err(Fail::input(format!(
            "-o {}: is a folder; give a file name",
            path.display()
        )));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Fail::input(format!(
            "-o {}: the folder {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// A failure of the download: a cut or corrupt gzip is a bill that could not be checked
/// (exit 5, like a digest mismatch), not bad input.
fn download_fail(e: wechatpay_chain::Error, format: Format) -> Fail {
    let bad_bill = matches!(e.kind(), ErrorKind::Decode(_));
    let fail = output::failed(e, format);
    if bad_bill {
        Fail::new(5, fail.message)
    } else {
        fail
    }
}

/// Applies, downloads, checks and prints the summary.
pub(crate) async fn run(args: &BillArgs, global: &GlobalArgs) -> Result<(), Fail> {
    let options = options(&args.queries)?;
    check_output(&args.output)?;
    let session = Session::open(&args.client).await?;
    let result = async {
        // Applied here rather than inside BillRequest: the summary shows the apply's digest.
        let apply: BillApply = session
            .client
            .chain(args.kind.apply_uri())
            .get(options)
            .await
            .map_err(|e| output::failed(e, global.format))?
            .json()
            .map_err(|e| Fail::new(5, Fail::from(e).message).prefixed("the bill apply's answer"))?;
        let summary = BillRequest::from_apply(&session.client, apply.clone())
            .download_to_file(&args.output)
            .await
            .map_err(|e| download_fail(e, global.format))?;
        let value = json!({
            "bill": args.kind.apply_uri(),
            "hash_type": apply.hash_type,
            "hash_value": apply.hash_value,
            "bytes": summary.bytes,
            "gzip": summary.gzip,
            "path": args.output.display().to_string(),
        });
        output::print(&value, global.format).map_err(|e| {
            Fail::new(
                EXIT_NOT_WRITTEN,
                format!(
                    "the bill was saved to {} but its summary could not be written on stdout: {e}",
                    args.output.display()
                ),
            )
        })
    }
    .await;
    result.map_err(|f| f.scrub(&session.secrets))
}
