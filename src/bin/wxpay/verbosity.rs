//! `-v` / `-vv`: the library's tracing on stderr (`-v` debug, `-vv` trace, for this crate and
//! the `wxpay` binary; other crates stay at warnings). The library never puts a secret in an
//! event or span (see `tests/secrets_tracing.rs`), and the binary traces nothing of its
//! configuration, so verbosity shows no key, signature or config path.

use std::io::IsTerminal as _;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt as _;

/// Installs the stderr subscriber for `count` `-v` flags; nothing for 0.
pub(crate) fn init(count: u8) {
    // The library describes a request as a span (method, template, status, request_id,
    // elapsed_ms) with few events inside, so its close is reported (-vv: its start too).
    let (level, spans) = match count {
        0 => return,
        1 => (Level::DEBUG, FmtSpan::CLOSE),
        _ => (Level::TRACE, FmtSpan::NEW | FmtSpan::CLOSE),
    };
    let filter = Targets::new()
        .with_target("wechatpay_chain", level)
        .with_target("wxpay", level)
        .with_default(Level::WARN);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(Level::TRACE)
        .with_span_events(spans)
        .finish()
        .with(filter);
    // Only fails when a subscriber is already set, which nothing else in the binary does.
    let _ = tracing::subscriber::set_global_default(subscriber);
}
