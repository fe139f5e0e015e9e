//! Captures every `tracing` event and span (fields included) at TRACE, and `log` records
//! (rustls), into one shared buffer, for tests asserting that no secret is ever logged. One
//! global subscriber per test binary.

#![allow(dead_code)] // each test crate uses its own subset

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::format::FmtSpan;

/// Where the subscriber writes.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static BUFFER: OnceLock<Buffer> = OnceLock::new();

/// Installs the global subscriber (once): TRACE, every span's creation, entry, exit and close
/// with its fields, `log` records bridged in.
pub(crate) fn install() {
    BUFFER.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::FULL)
            .with_target(true)
            // Plain text: with the `cli` feature tracing-subscriber's `ansi` is on, and
            // colour codes would split the fields the tests look for.
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    });
}

/// Everything captured so far.
pub(crate) fn text() -> String {
    let buffer = BUFFER.get().expect("capture::install() first");
    let bytes = buffer
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The window length: no run of this many characters of a secret may appear.
pub(crate) const WINDOW: usize = 24;

/// Every `WINDOW`-character window of some secrets, to search texts for any of them.
#[derive(Default)]
pub(crate) struct Secrets {
    windows: HashSet<Vec<u8>>,
    shortest: Vec<String>,
}

impl Secrets {
    /// Adds a secret: all its windows (the whole of it when shorter than `WINDOW`).
    pub(crate) fn add(&mut self, secret: &str) {
        let bytes = secret.as_bytes();
        assert!(!bytes.is_empty(), "an empty secret");
        if bytes.len() < WINDOW {
            self.shortest.push(secret.to_string());
            return;
        }
        for window in bytes.windows(WINDOW) {
            self.windows.insert(window.to_vec());
        }
    }

    /// Adds the base64 body of a PEM file (its lines joined, so every window within a line too).
    pub(crate) fn add_pem(&mut self, pem: &str) {
        self.add(&pem_body(pem));
    }

    /// Forgets the windows that public material also has (a private key's PEM holds its
    /// public modulus, which a certificate shows legitimately): call after the secrets.
    pub(crate) fn except_public_pem(&mut self, pem: &str) {
        for window in pem_body(pem).as_bytes().windows(WINDOW) {
            self.windows.remove(window);
        }
    }

    /// How many windows are searched for.
    pub(crate) fn len(&self) -> usize {
        self.windows.len() + self.shortest.len()
    }

    /// Where `text` shows a window of a secret (or a whole short secret), if it does.
    pub(crate) fn find(&self, text: &str) -> Option<usize> {
        let at = text
            .as_bytes()
            .windows(WINDOW)
            .position(|w| self.windows.contains(w));
        at.or_else(|| self.shortest.iter().find_map(|s| text.find(s.as_str())))
    }

    /// Panics naming `what` and the place if `text` contains a window of a secret.
    pub(crate) fn assert_absent(&self, what: &str, text: &str) {
        if let Some(at) = self.find(text) {
            let bytes = text.as_bytes();
            let around = &bytes[at.saturating_sub(400)..(at + WINDOW + 40).min(bytes.len())];
            panic!(
                "{what} shows a secret at byte {at}: …{}…",
                String::from_utf8_lossy(around)
            );
        }
    }
}

/// The base64 body of a PEM file: its lines joined, the `-----` lines left out.
fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect()
}

/// `Display`, `Debug` and every `source()` (Display and Debug) of an error, one per line.
pub(crate) fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{e}\n{e:?}\n");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!("{s}\n{s:?}\n"));
        source = s.source();
    }
    text
}
