//! `-o FILE`: the response body streamed into a file, with a progress bar on a terminal.
//!
//! A regular file (new, or existing — through a symlink, its target) is written under a
//! temporary name beside it (same folder, so the rename cannot cross file systems) and renamed
//! into place only once every byte arrived and was flushed: an interrupted download leaves no
//! file that looks complete, and an existing file is replaced only by a whole body (keeping
//! its permissions). Anything else that exists (`/dev/stdout`, a pipe, a device) is written
//! directly: it cannot be replaced, and must not be (a rename over `/dev/full` would swap the
//! device for a file).

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt as _;
use wechatpay_chain::StreamingResponse;

use crate::progress;

/// What was saved: the bytes written.
pub(crate) struct Saved {
    pub(crate) bytes: u64,
}

/// Why saving failed, after the request went through.
pub(crate) struct NotSaved {
    /// Bytes written before the failure (removed again).
    pub(crate) bytes: u64,
    /// The cause, one line.
    pub(crate) reason: String,
    /// Whether the output was written in place (a device, a pipe): what was written stays.
    pub(crate) in_place: bool,
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

/// Where the body goes: a regular file (replaced by a rename, with the old one's permissions)
/// or something written in place.
enum Target {
    Replace {
        path: PathBuf,
        permissions: Option<std::fs::Permissions>,
    },
    InPlace,
}

fn target(path: &Path) -> Target {
    match std::fs::canonicalize(path).and_then(|real| Ok((std::fs::metadata(&real)?, real))) {
        Ok((meta, real)) if meta.is_file() => Target::Replace {
            path: real,
            permissions: Some(meta.permissions()),
        },
        Ok(_) => Target::InPlace,
        // Not there yet (or its folder is missing: creating the temporary file says so).
        Err(_) => Target::Replace {
            path: path.to_path_buf(),
            permissions: None,
        },
    }
}

/// Streams the rest of `response` into `path` (via a temporary file renamed at the end, for
/// a regular file).
pub(crate) async fn to_file(
    response: &mut StreamingResponse,
    path: &Path,
) -> Result<Saved, NotSaved> {
    let bar = progress::bytes(content_length(response));
    let result = match target(path) {
        Target::InPlace => write_all(response, path, &bar).await.map_err(|e| NotSaved {
            in_place: true,
            ..e
        }),
        Target::Replace { path, permissions } => {
            let temp = temp_path(&path);
            let result = write_all(response, &temp, &bar).await.and_then(|bytes| {
                if let Some(permissions) = permissions {
                    let _ = std::fs::set_permissions(&temp, permissions);
                }
                std::fs::rename(&temp, &path)
                    .map(|()| bytes)
                    .map_err(|e| NotSaved {
                        bytes,
                        reason: format!("cannot rename the finished download into place: {e}"),
                        in_place: false,
                    })
            });
            if result.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            result
        }
    };
    bar.finish_and_clear();
    result.map(|bytes| Saved { bytes })
}

async fn write_all(
    response: &mut StreamingResponse,
    to: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<u64, NotSaved> {
    let fail = |bytes: u64, reason: String| NotSaved {
        bytes,
        reason,
        in_place: false,
    };
    let mut file = tokio::fs::File::create(to)
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
    // Durable before the rename; a device or a pipe has nothing to sync.
    if file.metadata().await.is_ok_and(|m| m.is_file()) {
        file.sync_all()
            .await
            .map_err(|e| fail(written, e.to_string()))?;
    }
    Ok(written)
}
