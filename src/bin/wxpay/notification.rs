//! `wxpay notification`: verify and decrypt a saved notification (callback), given as a
//! headers file and a body file, or as the raw HTTP/1.1 request on stdin.
//!
//! Fails closed: the signature is checked first (`wechatpay_chain::notification::open`), and
//! nothing of the body is printed unless it verified and decrypted.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;
use wechatpay_chain::notification;

use crate::input::{read_capped, read_file_capped};
use crate::keys::{now, KeyArgs};
use crate::output::print;
use crate::{Fail, Format, EXIT_NOT_WRITTEN};

/// The largest notification read (headers file, body file, or the request on stdin): 1 MiB;
/// a real one is a few KiB.
const NOTIFICATION_CAP: u64 = 1024 * 1024;

/// Examples for `wxpay notification --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  wxpay notification -c wxpay.toml < request.http
  wxpay notification -c wxpay.toml --headers headers.txt --body body.json
  wxpay notification -c wxpay.toml --at 1763780200 --headers headers.txt --body body.json

  request.http is the request as received: request line, headers, blank line, body
  (Content-Length is honoured). headers.txt holds 'Name: value' lines, e.g.
    Wechatpay-Serial: PUB_KEY_ID_0119000001092025112200000000000001
  body.json is the body byte for byte (an added newline breaks the signature).
  The keys: the platform keys and the APIv3 key (no merchant key needed), from the config
  (wxpay.toml: [public_keys] / [certificates], apiv3_key = \"...\") or flags, e.g.
    WECHATPAY_APIV3_KEY=... wxpay notification --public-key PUB_KEY_ID_...=pub_key.pem < request.http

Exit status: 0 verified and decrypted (printed); 2 bad input or configuration (no APIv3 key,
unreadable request, a body that is not a notification or does not decrypt); 5 the signature
or its timestamp did not verify (nothing of the body is printed); 6 stdout could not be written.";

/// `wxpay notification`.
#[derive(clap::Args)]
pub(crate) struct NotificationArgs {
    /// File of the notification's headers, one 'Name: value' per line (names in any case).
    #[arg(long, value_name = "FILE", requires = "body")]
    headers: Option<PathBuf>,
    /// File of the notification's body, exactly as received.
    #[arg(long, value_name = "FILE", requires = "headers")]
    body: Option<PathBuf>,
    /// Check the signature's timestamp against this Unix time instead of now (a callback saved
    /// earlier; the ±5 minute window applies around it).
    #[arg(long, value_name = "UNIX_SECONDS")]
    at: Option<i64>,
    /// The platform keys and the APIv3 key.
    #[command(flatten)]
    keys: KeyArgs,
}

/// Verifies, decrypts, prints.
pub(crate) async fn run(args: &NotificationArgs, format: Format) -> Result<(), Fail> {
    let (headers, body) = match (&args.headers, &args.body) {
        (Some(h), Some(b)) => (
            parse_headers_file(h)?,
            read_file_capped(b, NOTIFICATION_CAP, "the body file (--body)")?,
        ),
        _ if std::io::stdin().is_terminal() => {
            return Err(Fail::input(
                "no notification given: pipe the raw request on stdin (wxpay notification < request.http) or pass --headers FILE --body FILE",
            ))
        }
        _ => parse_request(&read_capped(
            std::io::stdin().lock(),
            NOTIFICATION_CAP,
            "the request on stdin",
        )?)?,
    };
    let keys = args.keys.open().await?;
    let secrets = keys.secrets();
    let apiv3_key = keys
        .apiv3_key("the resource is encrypted with it")
        .map_err(|f| f.scrub(&secrets))?;
    let store = keys.platform_keys()?;
    let at = args.at.unwrap_or_else(now);
    let opened = notification::open(&headers, &body, &store, &apiv3_key, at)
        .map_err(|e| Fail::from(e).scrub(&secrets))?;
    drop(keys);
    let value = json!({
        "id": opened.id(),
        "event_type": opened.event_type(),
        "resource_type": opened.resource_type(),
        "summary": opened.summary(),
        "create_time": opened.create_time(),
        "original_type": opened.original_type(),
        "resource": opened.resource(),
    });
    print(&value, format)
        .map_err(|e| Fail::new(EXIT_NOT_WRITTEN, format!("cannot write to stdout: {e}")))
}

/// The headers of `--headers FILE`.
fn parse_headers_file(path: &Path) -> Result<HeaderMap, Fail> {
    let bytes = read_file_capped(path, NOTIFICATION_CAP, "the headers file (--headers)")?;
    parse_headers(&bytes, "the headers file (--headers)", 1)
}

/// `Name: value` lines (CRLF or LF; blank lines skipped); `first_line` numbers the first one.
fn parse_headers(bytes: &[u8], what: &str, first_line: usize) -> Result<HeaderMap, Fail> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| Fail::input(format!("{what}: not UTF-8 text")))?;
    let mut headers = HeaderMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let at = i + first_line;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| Fail::input(format!("{what}, line {at}: expected 'Name: value'")))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| Fail::input(format!("{what}, line {at}: not a header name")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| Fail::input(format!("{what}, line {at}: not a header value")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// A raw HTTP/1.1 request: request line, headers, blank line, body (`Content-Length` bytes
/// when given, else the rest).
fn parse_request(raw: &[u8]) -> Result<(HeaderMap, Vec<u8>), Fail> {
    const WHAT: &str = "the request on stdin";
    let (head, rest) = split_head(raw).ok_or_else(|| {
        Fail::input(format!(
            "{WHAT}: no blank line after the headers (expected request line, headers, blank line, body; or use --headers FILE --body FILE)"
        ))
    })?;
    let (request_line, header_lines) = match head.iter().position(|&b| b == b'\n') {
        Some(i) => (&head[..i], &head[i + 1..]),
        None => (head, &[][..]),
    };
    let request_line = String::from_utf8_lossy(request_line);
    let parts: Vec<&str> = request_line.split_whitespace().collect();
    if parts.len() != 3 || !parts[2].starts_with("HTTP/1.") {
        return Err(Fail::input(format!(
            "{WHAT}: the first line is not an HTTP/1.1 request line ('POST /notify HTTP/1.1')"
        )));
    }
    let headers = parse_headers(header_lines, WHAT, 2)?;
    if headers
        .get(http::header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes() != b"identity")
    {
        return Err(Fail::input(format!(
            "{WHAT}: a Transfer-Encoding body is not supported; save the decoded body and use --headers FILE --body FILE"
        )));
    }
    let body = match headers.get(http::header::CONTENT_LENGTH) {
        None => rest.to_vec(),
        Some(value) => {
            let length: usize = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| Fail::input(format!("{WHAT}: Content-Length is not a number")))?;
            if rest.len() < length {
                return Err(Fail::input(format!(
                    "{WHAT}: the body is {} bytes, shorter than its Content-Length {length}",
                    rest.len()
                )));
            }
            rest[..length].to_vec()
        }
    };
    Ok((headers, body))
}

/// The head (without the blank line) and what follows it, split at the first CRLFCRLF or LFLF.
fn split_head(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let crlf = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let (at, len) = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some((&raw[..at], &raw[at + len..]))
}
