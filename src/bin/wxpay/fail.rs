//! A failure of a command: its exit status and its one-line message.

use wechatpay_chain::{ConfigError, Error, ErrorKind, TransportKind};

/// A failure with its exit status and one-line message.
#[derive(Debug)]
pub struct Fail {
    /// The exit status.
    pub code: u8,
    /// One line, without the `wxpay: ` prefix.
    pub message: String,
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
            ErrorKind::Transport(t) if t.kind == TransportKind::Output => EXIT_NOT_WRITTEN,
            ErrorKind::Transport(_) => 3,
            ErrorKind::Api(_) | ErrorKind::ApiV2(_) => 4,
            ErrorKind::Verify(_) => 5,
            _ => 2,
        };
        // The library keeps causes in source(); a terminal user wants them on the same line.
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            // A message that already quotes its cause (an io error's text) is not repeated.
            let text = c.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            cause = c.source();
        }
        if let Some(hint) = setting_hint(&e) {
            message.push_str(hint);
        }
        Self { code, message }
    }
}

/// For a missing setting the library names by its builder method: the config key and flags
/// that give it in `wxpay`.
fn setting_hint(e: &Error) -> Option<&'static str> {
    match e.kind() {
        ErrorKind::Config(ConfigError::MissingMerchantCertificate(_)) => Some(
            "; in wxpay: merchant_cert and merchant_key in the config (-c), or --merchant-cert and --merchant-key",
        ),
        ErrorKind::Config(ConfigError::MissingApiV2Key(_)) => Some(
            "; in wxpay: apiv2_key in the config (-c), --apiv2-key or WECHATPAY_APIV2_KEY",
        ),
        ErrorKind::Config(ConfigError::MissingV3Credentials(_)) => Some(
            "; in wxpay: serial and private_key in the config (-c), or --serial and --private-key",
        ),
        _ => None,
    }
}
