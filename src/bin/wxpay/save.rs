//! `-o FILE`: the response body streamed into a file, with a progress bar on a terminal.
//!
//! The body goes into a temporary file beside `FILE` (same folder, so the rename cannot cross
//! file systems) that is renamed to `FILE` only once every byte arrived and was flushed: an
//! interrupted download leaves no file that looks complete, and an existing `FILE` is replaced
//! only by a whole body.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt as _;
use wechatpay_chain::StreamingResponse;

use crate::progress;

/// What was saved: bytes and the final path.
pub(crate) struct Saved {
    pub(crate) bytes: u64,
}

/// Why saving failed, after the request went through.
pub(crate) struct NotSaved {
    /// Bytes written before the failure (removed again).
    pub(crate) bytes: u64,
    /// The cause, one line.
    pub(crate) reason: String,
}

/// `.NAME.wxpay-PID.part` beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.wxpay-{}.part", std::process::id()))
}

/// The declared length of the body, for the progress bar.
fn content_length(response: &StreamingResponse) -> Option<u64> {
    response
        .headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Streams the rest of `response` into `path` (via a temporary file, renamed at the end).
pub(crate) async fn to_file(
    response: &mut StreamingResponse,
    path: &Path,
) -> Result<Saved, NotSaved> {
    let temp = temp_path(path);
    let bar = progress::bytes(content_length(response));
    let result = write_all(response, &temp, &bar).await;
    bar.finish_and_clear();
    let result = result.and_then(|bytes| {
        std::fs::rename(&temp, path)
            .map(|()| Saved { bytes })
            .map_err(|e| NotSaved {
                bytes,
                reason: format!("cannot rename the finished download into place: {e}"),
            })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

async fn write_all(
    response: &mut StreamingResponse,
    temp: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<u64, NotSaved> {
    let fail = |bytes: u64, reason: String| NotSaved { bytes, reason };
    let mut file = tokio::fs::File::create(temp)
        .await
        .map_err(|e| fail(0, format!("cannot create the file: {e}")))?;
    let mut written = 0u64;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Err(fail(written, e.to_string())),
        };
        file.write_all(&chunk)
            .await
            .map_err(|e| fail(written, e.to_string()))?;
        written += chunk.len() as u64;
        bar.set_position(written);
    }
    file.flush()
        .await
        .map_err(|e| fail(written, e.to_string()))?;
    file.sync_all()
        .await
        .map_err(|e| fail(written, e.to_string()))?;
    Ok(written)
}
