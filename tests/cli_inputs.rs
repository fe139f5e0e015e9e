//! `wxpay`'s inputs and outputs: an empty URI is a usage error (and the library refuses an
//! empty path), every input is read up to a cap (body 32 MiB, config 1 MiB, key and
//! certificate files 1 MiB), and a response that cannot be written after the request went
//! through exits 6 saying so. Every run is bounded in time.

#[cfg(feature = "cli")]
mod cli_util;
mod support;

use wechatpay_chain::{ChainError, Method, PrivateKey};

#[test]
fn the_library_refuses_an_empty_path() {
    let client = support::client();
    for uri in [
        "",
        "/",
        "https://api.mch.weixin.qq.com/",
        "https://api.mch.weixin.qq.com",
    ] {
        let e = client
            .chain(uri)
            .prepare(Method::GET, ())
            .expect_err(&format!("chain({uri:?}) must not sign GET /"));
        assert!(
            matches!(e.chain(), Some(ChainError::InvalidTarget(m)) if m.contains("path is empty")),
            "{uri:?}: {e}"
        );
    }
    // A real endpoint still prepares.
    assert!(client
        .chain("v3/certificates")
        .prepare(Method::GET, ())
        .is_ok());
}

#[test]
fn a_key_file_is_read_up_to_one_mib() {
    let dir = std::env::temp_dir().join(format!("wxpay-keycap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.pem");
    // A real key followed by 2 MiB of comment: readable before the cap existed.
    let mut pem = support::fixture("apiclient_key.pem").into_bytes();
    pem.extend(std::iter::repeat_n(b'#', 2 * 1024 * 1024));
    std::fs::write(&big, pem).unwrap();
    let e = PrivateKey::from_pem_file(&big).unwrap_err();
    let source = std::error::Error::source(&e).map(ToString::to_string);
    assert!(
        source.as_deref().is_some_and(|s| s.contains("1 MiB")),
        "{e}: {source:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "cli")]
mod cli {
    use std::io::Write as _;
    use std::process::Stdio;

    use serde_json::Value;

    use super::cli_util::{command, last_line, run, text, wait_bounded, Served, TempDir};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    #[test]
    fn an_empty_uri_is_a_usage_error() {
        for uri in ["", "/", " ", "."] {
            for extra in [&["--dry-run"][..], &["--sandbox"][..]] {
                let mut args = vec![uri];
                args.extend(extra);
                let out = run(&args);
                assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
                assert!(out.stdout.is_empty(), "{args:?}: nothing signed or sent");
                assert!(
                    last_line(&out).contains("names no endpoint"),
                    "{args:?}: {}",
                    text(&out)
                );
            }
        }
        // A bare base URL as the URI reaches the library's check.
        let out = run(&["https://api.mch.weixin.qq.com/", "--dry-run"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(last_line(&out).contains("path is empty"), "{}", text(&out));
    }

    /// Asserts exit 2 with a one-line error naming `what` and `cap`.
    fn assert_capped(out: &std::process::Output, what: &str, cap: &str) {
        assert_eq!(out.status.code(), Some(2), "{}", text(out));
        assert!(out.stdout.is_empty(), "{}", text(out));
        let last = last_line(out);
        assert!(
            last.contains(what) && last.contains(cap),
            "expected {what:?} and {cap:?} in {last:?}"
        );
    }

    #[test]
    fn dev_zero_inputs_stop_at_their_cap() {
        let out = run(&[
            "v3/pay/transactions/native",
            "-d",
            "@/dev/zero",
            "--dry-run",
        ]);
        assert_capped(&out, "-d @/dev/zero", "32 MiB");
        let out = run(&["-c", "/dev/zero", "v3/certificates", "--dry-run"]);
        assert_capped(&out, "config /dev/zero", "1 MiB");
        let out = run(&["--private-key", "/dev/zero", "v3/certificates", "--dry-run"]);
        assert_capped(&out, "--private-key", "1 MiB");
        let out = run(&["--certificate", "/dev/zero", "v3/certificates", "--dry-run"]);
        assert_capped(&out, "--certificate #0", "1 MiB");
        let out = run(&[
            "--public-key",
            "PUB_KEY_ID_1=/dev/zero",
            "v3/certificates",
            "--dry-run",
        ]);
        assert_capped(&out, "--public-key PUB_KEY_ID_1", "1 MiB");
    }

    #[test]
    fn an_endless_stdin_body_stops_at_its_cap() {
        let mut child = command(
            &["v3/pay/transactions/native", "-d", "@-", "--dry-run"],
            &[],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Writes until wxpay closes its end (a broken pipe) — forever if it never stops reading.
        let writer = std::thread::spawn(move || {
            let chunk = vec![b' '; 64 * 1024];
            let mut written: u64 = 0;
            while stdin.write_all(&chunk).is_ok() {
                written += chunk.len() as u64;
            }
            written
        });
        let out = wait_bounded(child, "wxpay -d @- with an endless stdin");
        assert_capped(&out, "-d @-", "32 MiB");
        let written = writer.join().unwrap();
        assert!(written >= 32 * 1024 * 1024, "stopped after {written} bytes");
    }

    #[test]
    fn oversized_files_are_refused_naming_input_and_cap() {
        let dir = TempDir::new("caps");
        // A valid JSON body of 33 MiB: sent as given before the cap existed.
        let mut body = vec![b'"'];
        body.extend(std::iter::repeat_n(b'a', 33 * 1024 * 1024));
        body.push(b'"');
        let path = dir.write("body.json", body);
        let out = run(&[
            "v3/pay/transactions/native",
            "-d",
            &format!("@{path}"),
            "--dry-run",
        ]);
        assert_capped(&out, "the body file", "32 MiB");

        // A config of 2 MiB: a comment after the settings.
        let mut config = b"mchid = \"1900000109\"\n".to_vec();
        config.extend(std::iter::repeat_n(b'#', 2 * 1024 * 1024));
        let path = dir.write("wxpay.toml", config);
        let out = run(&["-c", &path, "v3/certificates", "--dry-run"]);
        assert_capped(&out, "wxpay.toml", "1 MiB");

        // A key file of 2 MiB: the key, then a long comment.
        let mut pem = std::fs::read(format!("{FIXTURES}/apiclient_key.pem")).unwrap();
        pem.extend(std::iter::repeat_n(b'#', 2 * 1024 * 1024));
        let path = dir.write("big_key.pem", pem);
        let out = run(&["--private-key", &path, "v3/certificates", "--dry-run"]);
        assert_capped(&out, "--private-key", "1 MiB");
    }

    /// Runs `wxpay -c <served> v3/certificates -o <output>`: exit 6, the status and the
    /// Request-ID on stderr, and the response kept on stdout.
    fn assert_not_written(served: &Served, output: &str) {
        let toml = served.toml();
        let out = run(&["-c", &toml, "v3/certificates", "-o", output]);
        assert_eq!(out.status.code(), Some(6), "-o {output}: {}", text(&out));
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("-o {output}: the response on stdout ({e}): {}", text(&out))
        });
        assert_eq!(summary["status"], 200);
        let request_id = summary["request_id"].as_str().expect("a Request-ID");
        let last = last_line(&out);
        for needle in [
            "the request went through",
            "HTTP 200",
            request_id,
            output,
            "may already exist",
        ] {
            assert!(last.contains(needle), "-o {output}: {needle:?} in {last:?}");
        }
    }

    #[test]
    fn a_failed_output_after_the_request_exits_6_saying_it_went_through() {
        let served = Served::start("output");
        assert_not_written(&served, "/dev/full");
        assert_not_written(&served, "/nonexistent/dir/f");
        // A writable -o still works; stdout gets the summary, not the body.
        let path = served.dir.path("certificates.json");
        let out = run(&["-c", &served.toml(), "v3/certificates", "-o", &path]);
        assert!(out.status.success(), "{}", text(&out));
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["path"], path.as_str(), "{summary}");
        assert!(summary.get("body").is_none(), "{summary}");
        let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(saved["data"][0]["serial_no"].is_string(), "{saved}");
    }

    #[test]
    fn stdout_that_cannot_be_written_after_the_request_exits_6() {
        let served = Served::start("stdout-full");
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let child = command(&["-c", &served.toml(), "v3/certificates"], &[])
            .stdin(Stdio::null())
            .stdout(full)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_bounded(child, "wxpay > /dev/full");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{stderr}");
        assert!(
            stderr.contains("went through") && stderr.contains("stdout"),
            "{stderr}"
        );
    }

    #[test]
    fn help_documents_every_exit_status() {
        let out = run(&["--help"]);
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        for code in ["0 ", "2 ", "3 ", "4 ", "5 ", "6 "] {
            assert!(
                help.lines().any(|l| l.trim_start().starts_with(code)),
                "exit {code}in --help:\n{help}"
            );
        }
        assert!(help.contains("32 MiB") && help.contains("1 MiB"), "{help}");
    }
}
