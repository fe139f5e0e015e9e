//! Bounded reads of everything `wxpay` takes from files and stdin: no input is read further
//! than its cap, so `-d @/dev/zero`, an endless `-d @-` or a huge key file fail with a clear
//! error instead of exhausting memory.

use std::io::Read;
use std::path::Path;

use crate::Fail;

/// A MiB.
const MIB: u64 = 1024 * 1024;

/// The largest request body (`-d @FILE`, `-d @-`): 32 MiB, the size the sandbox accepts.
pub(crate) const BODY_CAP: u64 = 32 * MIB;

/// The largest config file: 1 MiB (a real one is a few hundred bytes).
pub(crate) const CONFIG_CAP: u64 = MIB;

/// The largest PEM file read here (merchant certificate and key, a test CA): 1 MiB, like the
/// library's cap on key files.
pub(crate) const PEM_CAP: u64 = MIB;

/// Reads at most `cap` bytes from `reader`; more is an input error naming `what` and the cap.
pub(crate) fn read_capped(reader: impl Read, cap: u64, what: &str) -> Result<Vec<u8>, Fail> {
    let mut buf = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| Fail::input(format!("cannot read {what}: {e}")))?;
    if u64::try_from(buf.len()).map_or(true, |n| n > cap) {
        return Err(Fail::input(format!(
            "{what} is larger than the limit of {}",
            size(cap)
        )));
    }
    Ok(buf)
}

/// Reads at most `cap` bytes of the file at `path` (see [`read_capped`]).
pub(crate) fn read_file_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>, Fail> {
    let file =
        std::fs::File::open(path).map_err(|e| Fail::input(format!("cannot read {what}: {e}")))?;
    read_capped(file, cap, what)
}

/// An argument that is its own text, or `@FILE`, or `@-` (stdin), read up to `cap`. Errors
/// name it as `{name} ({flag}@-, stdin)` or `{name} file ({flag}@FILE)`; `flag` is the
/// option it came with (`"-d "`), or empty for a positional argument.
pub(crate) fn read_arg(arg: &str, cap: u64, name: &str, flag: &str) -> Result<Vec<u8>, Fail> {
    match arg.strip_prefix('@') {
        Some("-") => read_capped(
            std::io::stdin().lock(),
            cap,
            &format!("{name} ({flag}@-, stdin)"),
        ),
        Some(path) => read_file_capped(
            Path::new(path),
            cap,
            &format!("{name} file ({flag}@{path})"),
        ),
        None => Ok(arg.as_bytes().to_vec()),
    }
}

/// `32 MiB`, `1 MiB`, or bytes.
pub(crate) fn size(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}
