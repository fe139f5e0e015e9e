//! `wxpay` output: `--format pretty` piped is plain JSON, `-o` streams a download into a file
//! (digest intact, no progress bar on a piped stderr, nothing left behind when it breaks),
//! `-vv` traces the request without a secret, and an API error's body is printed on stdout.

#![cfg(feature = "cli")]

mod cli_util;

use cli_util::{assert_no_window, last_line, run, text, Served};
use ring::digest;
use serde_json::Value;

fn sha1_hex(bytes: &[u8]) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn stdout_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {}", text(out)))
}

#[test]
fn pretty_piped_has_no_escape_codes_and_parses_as_json() {
    let out = run(&["--sandbox", "v3/certificates", "--format", "pretty"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !out.stdout.contains(&0x1b),
        "escape codes on a pipe: {}",
        text(&out)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(stdout.lines().count() > 5, "indented: {stdout}");
    assert!(stdout.contains("\n  \"status\": 200"), "{stdout}");
    assert_eq!(stdout_json(&out)["status"], 200);
    // NO_COLOR changes nothing on a pipe, and json stays one line.
    let out = cli_util::run_env(
        &["--sandbox", "v3/certificates", "--format", "json"],
        &[("NO_COLOR", "1")],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// Applies for a bill on `served` through `wxpay`: (download_url, SHA-1 hex).
fn apply_bill(served: &Served) -> (String, String) {
    let toml = served.toml();
    let out = run(&[
        "-c",
        &toml,
        "v3/bill/tradebill",
        "-q",
        "bill_date=2026-11-30",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let apply = stdout_json(&out);
    (
        apply["body"]["download_url"].as_str().unwrap().to_string(),
        apply["body"]["hash_value"].as_str().unwrap().to_string(),
    )
}

/// The names in `dir` other than the sandbox's own files.
fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("wxpay-") || n.starts_with("bill"))
        .collect()
}

#[test]
fn a_bill_downloads_through_o_with_its_digest_and_no_progress_bar_on_a_pipe() {
    let served = Served::start("out-bill");
    let (url, sha1) = apply_bill(&served);
    let out_dir = cli_util::TempDir::new("out-bill-files");
    let path = out_dir.path("bill.csv");
    let out = run(&["-c", &served.toml(), &url, "-o", &path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bytes = std::fs::read(&path).expect("the bill was written");
    assert!(!bytes.is_empty());
    assert_eq!(sha1_hex(&bytes), sha1, "the served bytes, by their digest");
    let summary = stdout_json(&out);
    assert_eq!(summary["status"], 200);
    assert_eq!(summary["bytes"], bytes.len());
    assert_eq!(summary["path"], path.as_str());
    assert!(summary["request_id"].is_string(), "{summary}");
    // A piped stderr gets no bar: no carriage returns, no escape codes, no bar characters.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains(['\r', '\u{1b}', '█', '░', '▏', '#']),
        "progress bar on a pipe: {stderr:?}"
    );
    assert!(stderr.trim().is_empty(), "nothing on stderr: {stderr:?}");
    assert_eq!(
        leftovers(&out_dir.0),
        ["bill.csv"],
        "no temporary file left"
    );
}

/// Serves one answer on loopback that promises `declared` bytes of an unsigned download,
/// sends `sent` of them and closes: a download broken off mid-body. Its base URI.
fn broken_download_server(declared: usize, sent: usize) -> String {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
        let mut stream = reader.into_inner();
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nRequest-ID: BROKEN-1\r\n\r\n"
        );
        let _ = stream.write_all(&vec![b'x'; sent]);
        let _ = stream.flush();
    });
    base
}

#[test]
fn a_download_broken_off_leaves_no_file_and_exits_6() {
    let served = Served::start("out-broken");
    let out_dir = cli_util::TempDir::new("out-broken-files");
    let path = out_dir.path("bill.csv");
    // An existing file is not replaced by a partial body either.
    std::fs::write(&path, "the old bill").unwrap();
    let base = broken_download_server(100_000, 5_000);
    let out = run(&[
        "-c",
        &served.toml(),
        "--base-uri",
        &base,
        "v3/billdownload/file?token=T-100-P-N-20261130",
        "-o",
        &path,
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let line = last_line(&out);
    assert!(
        line.starts_with("wxpay: the request went through (HTTP 200, Request-ID BROKEN-1)"),
        "{line}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "the old bill");
    assert_eq!(
        leftovers(&out_dir.0),
        ["bill.csv"],
        "no temporary file left"
    );
    // The summary still says what came back.
    assert_eq!(stdout_json(&out)["status"], 200);
}

#[test]
fn verbose_traces_the_request_and_no_secret() {
    let served = Served::start("out-verbose");
    let toml = served.toml();
    let config = served.config();
    let apiv3_key = config["apiv3_key"].as_str().unwrap().to_string();
    let private_key: String = served
        .private_key_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let order = r#"{"out_order_no":"VERBOSE1","appid":"wxd678efh567hg6787","sub_mchid":"1900000109","service_id":"500001","service_introduction":"x","post_payments":[{"name":"x","amount":1}]}"#;
    for args in [
        vec!["-vv", "-c", &toml, "v3/certificates"],
        vec![
            "-c",
            &toml,
            "-vv",
            "v3/payscore/partner/servicepayondeliveryorder",
            "-d",
            order,
        ],
        vec!["-v", "-c", &toml, "v3/certificates"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            stderr.contains("wechatpay.request") && stderr.contains("status=200"),
            "{args:?}: the request's span is traced: {stderr}"
        );
        assert_no_window(&stderr, &apiv3_key, 8, "APIv3 key");
        assert_no_window(&stderr, &private_key, 16, "private key");
        assert!(!stderr.contains("signature=\""), "{stderr}");
        assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
        assert!(!stderr.contains(&toml), "config path: {stderr}");
        assert!(
            !stderr.contains(served.dir.0.to_str().unwrap()),
            "config folder: {stderr}"
        );
    }
    // Without -v, no tracing at all.
    let out = run(&["-c", &toml, "v3/certificates"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wechatpay.request"));
}

#[test]
fn an_api_error_prints_its_body_on_stdout_and_one_line_on_stderr() {
    let served = Served::start("out-api-error");
    let toml = served.toml();
    let order = r#"{"out_order_no":"TWICE1","appid":"wxd678efh567hg6787","sub_mchid":"1900000109","service_id":"500001","service_introduction":"x","post_payments":[{"name":"x","amount":1}]}"#;
    let out = run(&[
        "-c",
        &toml,
        "v3/payscore/partner/servicepayondeliveryorder",
        "-d",
        order,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let send = [
        "-c",
        &toml,
        "v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage",
        "-P",
        "out_order_no=TWICE1",
        "-d",
        r#"{"service_id":"500001","sub_mchid":"1900000109"}"#,
    ];
    let out = run(&send);
    assert_eq!(out.status.code(), Some(0), "first: {}", text(&out));
    assert_eq!(stdout_json(&out)["status"], 204);
    for format in ["json", "pretty"] {
        let mut args = send.to_vec();
        args.extend(["--format", format]);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(4), "again: {}", text(&out));
        let error = stdout_json(&out);
        assert_eq!(error["status"], 400, "{error}");
        assert_eq!(error["code"], "INVALID_REQUEST", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("only once"),
            "{error}"
        );
        assert!(error["request_id"].is_string(), "{error}");
        assert!(error.get("detail").is_some(), "{error}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count() > 1, format == "pretty", "{stdout}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("wxpay: ") && stderr.contains("INVALID_REQUEST"));
    }
}
