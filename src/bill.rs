//! Bills in one call: apply (`GET v3/bill/tradebill` or `v3/bill/fundflowbill`, verified) →
//! signed, streamed download of its `download_url` (unsigned answer) → gunzip when the bill is
//! gzip → SHA-1 of the bill as it passes, checked against the apply's `hash_value` → into any
//! [`AsyncWrite`], in constant memory whatever the bill's size.
//!
//! The digest covers the *decompressed* bill, as WeChat Pay computes it; whether the download
//! is gzip is read from its first two bytes (`1f 8b`, which no CSV bill starts with), so it
//! works for `tar_type=GZIP` and plain alike, and a wrong guess could not pass the digest.
//!
//! A digest mismatch is [`VerifyError::BillDigest`]; a truncated or corrupt gzip is
//! [`DecodeError::Gzip`]. Bytes reach the writer before the digest can be checked (that is
//! what constant memory means), so after an error from [`BillRequest::download_to`] the output
//! is incomplete or wrong: **discard it**. [`BillRequest::download_to_file`] does that for
//! you: it writes to a temporary file beside the target and renames it into place only once
//! the digest matched, so the target never holds a bill that failed.
//!
//! From blocking code (feature `blocking`), wait for the file variant:
//! `wechatpay_chain::blocking::wait(wxpay.trade_bill(query).download_to_file(path))`.
//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> wechatpay_chain::Result<()> {
//! # let sandbox = wechatpay_chain::sandbox::Sandbox::builder().start().await?;
//! # let wxpay = sandbox.client()?;
//! use wechatpay_chain::Options;
//!
//! // PHP: $res = $instance->v3->bill->tradebill->get(['query' => ['bill_date' => '2026-11-30', 'tar_type' => 'GZIP']]);
//! //      $url = json_decode((string) $res->getBody(), true)['download_url'];
//! //      $instance->chain('{+download_url}')->get(['download_url' => $url, 'sink' => '/tmp/bill.csv.gz']);
//! //      // then gunzip and compare sha1_file(...) with hash_value yourself
//! // JS:  const { data } = await wxpay.v3.bill.tradebill.get({ params: { bill_date, tar_type: 'GZIP' } });
//! //      const res = await wxpay.v3.billdownload.file.get({ params: new URL(data.download_url).searchParams, responseType: 'arraybuffer' });
//! //      // then zlib.gunzipSync(res.data) and Hash.sha1(...) === data.hash_value yourself
//! let query = Options::new().query("bill_date", "2026-11-30").query("tar_type", "GZIP");
//! # let dir = std::env::temp_dir().join(format!("wechatpay-bill-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("trade-2026-11-30.csv");
//! let bill = wxpay.trade_bill(query).download_to_file(&path).await?;
//! assert_eq!(bill.bytes, std::fs::metadata(&path).unwrap().len()); // only a bill that passed
//! assert_eq!(bill.sha1.len(), 40);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # sandbox.shutdown();
//! # Ok(()) }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::write::GzDecoder;
use serde::Deserialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::chain::Chain;
use crate::client::Wechatpay;
use crate::crypto::backend::{Active, Backend, Sha1Context as _};
use crate::download::output_error;
use crate::error::{DecodeError, Error, ErrorKind, Result, VerifyError};
use crate::options::Options;

/// The most compressed bytes handed to the gunzip at once: each step's output is bounded
/// (flate2 decompresses into a 32 KiB buffer), so memory stays constant for any bill.
const GUNZIP_STEP: usize = 8 * 1024;

/// The answer of a bill apply endpoint (`v3/bill/tradebill`, `v3/bill/fundflowbill`, …):
/// `{"hash_type":"SHA1","hash_value":"…","download_url":"https://…"}`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BillApply {
    /// The digest algorithm; WeChat Pay uses `SHA1`.
    pub hash_type: String,
    /// The hex digest of the (decompressed) bill.
    pub hash_value: String,
    /// Where to download the bill: an absolute URL on the platform host.
    pub download_url: String,
}

impl BillApply {
    /// Reads an apply answer given as JSON (e.g. one you stored): the three fields above.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        Self::deserialize(value).map_err(|e| Error::from(DecodeError::Json).with_source(e))
    }
}

/// What a successful bill download wrote.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillSummary {
    /// The bytes of the (decompressed) bill written to the output.
    pub bytes: u64,
    /// Its SHA-1, lower-case hex: equal to the apply's `hash_value`.
    pub sha1: String,
    /// Whether the download was gzip (decompressed on the way).
    pub gzip: bool,
}

/// Where the bill's apply answer comes from.
#[derive(Debug)]
enum Source {
    /// Apply on this chain with these options.
    Apply(Chain, Box<Options>),
    /// An apply answer already at hand.
    Known(BillApply),
}

/// One bill to download: built by [`Wechatpay::trade_bill`], [`Wechatpay::fund_flow_bill`],
/// [`BillRequest::apply`] or [`BillRequest::from_apply`]; nothing is sent until
/// [`download_to`](Self::download_to) or [`download_to_file`](Self::download_to_file).
#[derive(Debug)]
#[must_use = "a bill request does nothing until download_to or download_to_file"]
pub struct BillRequest {
    client: Wechatpay,
    source: Source,
}

impl Wechatpay {
    /// The trade bill (`GET v3/bill/tradebill`; query `bill_date`, `bill_type`, `tar_type`).
    /// See [`crate::bill`].
    pub fn trade_bill(&self, options: impl Into<Options>) -> BillRequest {
        BillRequest::apply(self.chain("v3/bill/tradebill"), options)
    }

    /// The fund-flow bill (`GET v3/bill/fundflowbill`; query `bill_date`, `account_type`,
    /// `tar_type`). See [`crate::bill`].
    pub fn fund_flow_bill(&self, options: impl Into<Options>) -> BillRequest {
        BillRequest::apply(self.chain("v3/bill/fundflowbill"), options)
    }
}

impl BillRequest {
    /// A bill applied for with `GET` on any apply endpoint answering
    /// `{hash_type, hash_value, download_url}` (e.g. `v3/bill/sub-merchant-fundflowbill`).
    pub fn apply(chain: Chain, options: impl Into<Options>) -> Self {
        Self {
            client: chain.client(),
            source: Source::Apply(chain, Box::new(options.into())),
        }
    }

    /// A bill whose apply answer is already at hand (see [`BillApply::from_json`]).
    pub fn from_apply(client: &Wechatpay, apply: BillApply) -> Self {
        Self {
            client: client.clone(),
            source: Source::Known(apply),
        }
    }

    /// Applies, downloads, gunzips and checks the bill into `writer` (flushed at the end).
    ///
    /// On error the output is incomplete or does not match the digest: the caller must discard
    /// it (or use [`download_to_file`](Self::download_to_file), which does).
    pub async fn download_to<W>(self, writer: &mut W) -> Result<BillSummary>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let apply = match self.source {
            Source::Known(apply) => apply,
            Source::Apply(chain, options) => chain.get(*options).await?.json::<BillApply>()?,
        };
        if !apply.hash_type.eq_ignore_ascii_case("SHA1") {
            return Err(Error::new(ErrorKind::Unsupported(format!(
                "bill hash_type {:?}: only SHA1 is known; check the digest yourself with Chain::download",
                apply.hash_type
            ))));
        }
        let mut download = self.client.chain(&apply.download_url).download(()).await?;
        let mut sink = Sink::new(writer);
        while let Some(chunk) = download.chunk().await? {
            sink.push(&chunk).await?;
        }
        sink.finish(&apply.hash_value).await
    }

    /// [`download_to`](Self::download_to) a file at `path`, atomically: the bill is written
    /// to a temporary file in the same directory, synced, and renamed to `path` only when
    /// complete and its digest matched; on any error the temporary file is removed and `path`
    /// is left as it was.
    pub async fn download_to_file(self, path: impl AsRef<Path>) -> Result<BillSummary> {
        let path = path.as_ref();
        // Removed on any error, and also if this future is dropped half-way.
        let partial = Partial(Some(temp_path(path)?));
        let temp = partial.0.as_deref().unwrap_or(path);
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(temp)
            .await
            .map_err(output_error)?;
        let summary = self.download_to(&mut file).await?;
        file.sync_all().await.map_err(output_error)?;
        drop(file);
        tokio::fs::rename(temp, path).await.map_err(output_error)?;
        partial.keep();
        Ok(summary)
    }
}

/// A temporary file that is removed unless kept.
struct Partial(Option<PathBuf>);

impl Partial {
    /// The file was renamed into place: nothing to remove.
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Best effort: the file may not exist (creating it failed).
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `.{name}.{random}.part` beside `path`.
fn temp_path(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        Error::from(crate::error::ChainError::InvalidOptions(format!(
            "{} does not name a file to write the bill to",
            path.display()
        )))
    })?;
    let random: String = crate::signer::nonce()?.chars().take(12).collect();
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".{random}.part"));
    Ok(path.with_file_name(temp))
}

/// Gunzips (when the download is gzip), hashes and writes the bill as chunks arrive.
struct Sink<'w, W: ?Sized> {
    writer: &'w mut W,
    sha1: <Active as Backend>::Sha1,
    bytes: u64,
    /// The first bytes, held until there are two to tell whether this is gzip.
    head: Vec<u8>,
    /// Decided on the first two bytes: `Some` for gzip.
    mode: Option<Option<GzDecoder<Vec<u8>>>>,
}

impl<'w, W: AsyncWrite + Unpin + ?Sized> Sink<'w, W> {
    fn new(writer: &'w mut W) -> Self {
        Self {
            writer,
            sha1: Active::sha1_context(),
            bytes: 0,
            head: Vec::with_capacity(2),
            mode: None,
        }
    }

    /// Takes the next chunk of the download.
    async fn push(&mut self, mut chunk: &[u8]) -> Result<()> {
        if self.mode.is_none() {
            let take = chunk.len().min(2 - self.head.len());
            self.head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.head.len() < 2 {
                return Ok(());
            }
            self.start().await?;
        }
        self.feed(chunk).await
    }

    /// Decides gzip or plain on the bytes held in `head` (all of the download if it is
    /// shorter than two bytes), then feeds them.
    async fn start(&mut self) -> Result<()> {
        let gzip = self.head[..] == [0x1f, 0x8b];
        self.mode = Some(gzip.then(|| GzDecoder::new(Vec::new())));
        let head = std::mem::take(&mut self.head);
        self.feed(&head).await
    }

    /// Bytes of the download, once the mode is known.
    async fn feed(&mut self, mut input: &[u8]) -> Result<()> {
        if !matches!(self.mode, Some(Some(_))) {
            return self.emit(input).await;
        }
        while !input.is_empty() {
            let Some(Some(decoder)) = self.mode.as_mut() else {
                break;
            };
            let step = &input[..input.len().min(GUNZIP_STEP)];
            let n = decoder.write(step).map_err(gzip_error)?;
            if n == 0 {
                // The gzip stream ended and more bytes follow: not one bill.
                return Err(gzip_error(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "bytes after the end of the gzip stream",
                )));
            }
            input = &input[n..];
            self.drain().await?;
        }
        Ok(())
    }

    /// Hands the gunzip's output so far to the hash and the writer.
    async fn drain(&mut self) -> Result<()> {
        let Some(Some(decoder)) = self.mode.as_mut() else {
            return Ok(());
        };
        let out = std::mem::take(decoder.get_mut());
        self.emit(&out).await?;
        if let Some(Some(decoder)) = self.mode.as_mut() {
            // Keep the allocation for the next step.
            let mut out = out;
            out.clear();
            *decoder.get_mut() = out;
        }
        Ok(())
    }

    async fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.sha1.update(bytes);
        self.bytes += bytes.len() as u64;
        self.writer.write_all(bytes).await.map_err(output_error)
    }

    /// Ends the download: completes the gunzip (its trailer checked), flushes the writer and
    /// compares the digest with `expected`.
    async fn finish(mut self, expected: &str) -> Result<BillSummary> {
        if self.mode.is_none() {
            // A download of fewer than two bytes: not gzip.
            self.start().await?;
        }
        let gzip = matches!(self.mode, Some(Some(_)));
        if let Some(Some(decoder)) = self.mode.as_mut() {
            decoder.try_finish().map_err(gzip_error)?;
            self.drain().await?;
        }
        self.writer.flush().await.map_err(output_error)?;
        let actual: String = self
            .sha1
            .finish()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if !actual.eq_ignore_ascii_case(expected.trim()) {
            return Err(VerifyError::BillDigest {
                expected: expected.to_string(),
                actual,
            }
            .into());
        }
        Ok(BillSummary {
            bytes: self.bytes,
            sha1: actual,
            gzip,
        })
    }
}

fn gzip_error(e: std::io::Error) -> Error {
    Error::from(DecodeError::Gzip).with_source(e)
}
