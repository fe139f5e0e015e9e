//! `wxpay notification`: a real signed notification from a served sandbox, captured as
//! received, opens from stdin (raw request) and from a headers file + body file; a tampered
//! one is exit 5 and shows nothing of the plaintext; the JS-computed vectors open with
//! `--at`; bad input and configuration are exit 2; an unwritable stdout is exit 6.
#![cfg(feature = "cli")]

mod cli_util;

use cli_util::{last_line, run, run_stdin, run_stdout_full, text, Capture, Served, TempDir};
use serde_json::{json, Value};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A resource only the decryption reveals.
fn resource() -> Value {
    json!({
        "out_order_no": "CLI-NOTIFY-7f3a9c",
        "service_id": "500001",
        "state": "DONE",
        "total_amount": 608,
    })
}

/// Has the served sandbox deliver a notification and returns the request as received.
fn capture(served: &Served) -> Vec<u8> {
    let capture = Capture::start();
    let body = json!({
        "notify_url": capture.url(),
        "event_type": "PAYSCORE.USER_PAID",
        "resource": resource(),
    })
    .to_string();
    let (status, answer) = served.control("POST", "/_sandbox/notifications", &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["status"],
        204
    );
    capture.take()
}

/// (head, body) of a raw request.
fn split(raw: &[u8]) -> (String, Vec<u8>) {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8(raw[..end].to_vec()).unwrap(),
        raw[end + 4..].to_vec(),
    )
}

/// Asserts the printed notification is the delivered one.
fn assert_opened(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let opened: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(opened["event_type"], "PAYSCORE.USER_PAID");
    assert_eq!(opened["original_type"], "payscore");
    assert_eq!(opened["resource"], resource());
    assert!(
        opened["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{opened}"
    );
    assert!(opened["create_time"].as_str().is_some(), "{opened}");
    assert!(opened["resource_type"].as_str().is_some(), "{opened}");
    assert!(opened["summary"].as_str().is_some(), "{opened}");
}

/// The JS reference's vectors (`tests/data/vectors.json`).
fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixture keys' facts (`tests/fixtures/fixtures.json`).
fn fixtures() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/fixtures.json")).unwrap())
        .unwrap()
}

#[test]
fn a_captured_notification_opens_from_stdin_and_from_files() {
    let served = Served::start("notify-open");
    let raw = capture(&served);
    let toml = served.toml();

    // Both ways: the raw request on stdin, and the headers and body in files.
    assert_opened(&run_stdin(&["notification", "-c", &toml], &raw));

    let (head, body) = split(&raw);
    let dir = TempDir::new("notify-open-files");
    // Without the request line; header names in another case.
    let headers: String = head
        .lines()
        .skip(1)
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            format!("{}:{value}\n", name.to_ascii_uppercase())
        })
        .collect();
    let headers = dir.write("headers.txt", headers);
    let body_file = dir.write("body.json", &body);
    assert_opened(&run(&[
        "notification",
        "-c",
        &toml,
        "--headers",
        &headers,
        "--body",
        &body_file,
    ]));

    // Bytes after the Content-Length body (a second request, junk) are not part of it.
    let mut longer = raw.clone();
    longer.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    assert_opened(&run_stdin(&["notification", "-c", &toml], &longer));
}

#[test]
fn a_tampered_notification_is_exit_5_and_shows_no_plaintext() {
    let served = Served::start("notify-tamper");
    let raw = capture(&served);
    let toml = served.toml();
    let (head, body) = split(&raw);

    // One character of the signed body changed (same length: Content-Length still holds).
    let text_body = String::from_utf8(body).unwrap();
    let at = text_body.find("\"ciphertext\":\"").unwrap() + 14;
    let mut tampered = text_body.into_bytes();
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let mut request = format!("{head}\r\n\r\n").into_bytes();
    request.extend_from_slice(&tampered);

    let out = run_stdin(&["notification", "-c", &toml], &request);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(out.stdout.is_empty(), "nothing printed: {}", text(&out));
    let last = last_line(&out);
    assert!(
        last.starts_with("wxpay: notification verification failed"),
        "{last}"
    );
    assert!(!text(&out).contains("CLI-NOTIFY-7f3a9c"));

    // The untampered request still opens (the tampering, not the sandbox, failed it).
    assert_opened(&run_stdin(&["notification", "-c", &toml], &raw));
}

/// The fixture platform keys (and APIv3 key) as flags: the keys the vectors were made with.
fn fixture_flags(apiv3_key: Option<&str>) -> Vec<String> {
    let fixtures: Value = fixtures();
    let s = |k: &str| fixtures[k].as_str().unwrap().to_string();
    // No merchant id, serial or private key: opening a notification needs none.
    let mut flags = vec![
        "--public-key".into(),
        format!("{}={FIXTURES}/pub_key.pem", s("public_key_id")),
        "--certificate".into(),
        format!("{FIXTURES}/{}", s("platform_certificate_file")),
    ];
    if let Some(key) = apiv3_key {
        flags.push("--apiv3-key".into());
        flags.push(key.into());
    }
    flags
}

/// Writes a vector's headers and body into `dir`; (headers file, body file).
fn vector_files(dir: &TempDir, name: &str, case: &Value) -> (String, String) {
    let headers: String = case["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}: {}\r\n", v.as_str().unwrap()))
        .collect();
    (
        dir.write(&format!("{name}.headers"), headers),
        dir.write(&format!("{name}.body"), case["body"].as_str().unwrap()),
    )
}

#[test]
fn the_vectors_open_at_their_time_and_fail_closed() {
    let vectors: Value = vectors();
    let dir = TempDir::new("notify-vectors");
    let fixtures: Value = fixtures();
    let flags = fixture_flags(fixtures["apiv3_key"].as_str());
    let cases = vectors["notifications"].as_array().unwrap();
    assert!(cases.len() >= 3);
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let (headers, body) = vector_files(&dir, &format!("v{i}"), case);
        let at = case["now"].as_i64().unwrap().to_string();
        let mut args = vec![
            "notification",
            "--headers",
            &headers,
            "--body",
            &body,
            "--at",
            &at,
        ];
        args.extend(flags.iter().map(String::as_str));
        let out = run(&args);
        if case["expect"] == "ok" {
            assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
            let opened: Value = serde_json::from_slice(&out.stdout).unwrap();
            let envelope: Value = serde_json::from_str(case["body"].as_str().unwrap()).unwrap();
            assert_eq!(opened["id"], envelope["id"], "{name}");
            assert_eq!(opened["event_type"], envelope["event_type"], "{name}");
            assert!(opened["resource"].is_object(), "{name}: {opened}");
        } else {
            assert_eq!(out.status.code(), Some(5), "{name}: {}", text(&out));
            assert!(out.stdout.is_empty(), "{name}");
        }
    }

    // Without --at the 2025 timestamp is far from now: exit 5, nothing printed.
    let (headers, body) = vector_files(&dir, "now", &cases[0]);
    let mut args = vec!["notification", "--headers", &headers, "--body", &body];
    args.extend(flags.iter().map(String::as_str));
    let out = run(&args);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        last_line(&out).contains("Wechatpay-Timestamp"),
        "{}",
        last_line(&out)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_input_and_configuration_are_exit_2() {
    let vectors: Value = vectors();
    let case = &vectors["notifications"][0];
    let dir = TempDir::new("notify-bad");
    let (headers, body) = vector_files(&dir, "ok", case);
    let at = case["now"].as_i64().unwrap().to_string();
    let fixtures: Value = fixtures();
    let apiv3 = fixtures["apiv3_key"].as_str().unwrap().to_string();

    let check = |args: Vec<String>, stdin: Option<&[u8]>, needle: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = match stdin {
            Some(input) => run_stdin(&args, input),
            None => run(&args),
        };
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let last = last_line(&out);
        assert!(
            last.starts_with("wxpay: ") && last.contains(needle),
            "{needle}: {last}"
        );
        assert!(out.stdout.is_empty());
        assert!(!text(&out).contains(&apiv3), "the APIv3 key is never shown");
    };
    let with = |extra: &[&str], key: Option<&str>| {
        let mut args: Vec<String> = ["notification", "--at", &at]
            .iter()
            .chain(extra)
            .map(ToString::to_string)
            .collect();
        args.extend(fixture_flags(key));
        args
    };

    // No APIv3 key: what to set.
    check(
        with(&["--headers", &headers, "--body", &body], None),
        None,
        "WECHATPAY_APIV3_KEY",
    );
    // Another APIv3 key: the signature verifies, the resource does not decrypt.
    check(
        with(
            &["--headers", &headers, "--body", &body],
            Some("WrongApiV3Key0123456789abcdefXYZ"),
        ),
        None,
        "AES-GCM",
    );
    // A headers file with a line that is not 'Name: value'.
    let bad_headers = dir.write("bad.headers", "Wechatpay-Serial: X\nno colon here\n");
    check(
        with(&["--headers", &bad_headers, "--body", &body], Some(&apiv3)),
        None,
        "line 2",
    );
    // A request on stdin: no blank line; not a request line; a body shorter than announced.
    check(
        with(&[], Some(&apiv3)),
        Some(b"POST /notify HTTP/1.1\r\nContent-Length: 3\r\n"),
        "no blank line",
    );
    check(
        with(&[], Some(&apiv3)),
        Some(b"hello\r\n\r\n{}"),
        "request line",
    );
    check(
        with(&[], Some(&apiv3)),
        Some(b"POST /notify HTTP/1.1\r\nContent-Length: 300\r\n\r\n{}"),
        "shorter than its Content-Length",
    );
    // Larger than the cap (1 MiB).
    let huge = vec![b'a'; 1024 * 1024 + 10];
    check(
        with(&[], Some(&apiv3)),
        Some(&huge),
        "larger than the limit",
    );
}

#[test]
fn an_unwritable_stdout_is_exit_6() {
    let vectors: Value = vectors();
    let case = &vectors["notifications"][0];
    let dir = TempDir::new("notify-full");
    let (headers, body) = vector_files(&dir, "ok", case);
    let at = case["now"].as_i64().unwrap().to_string();
    let fixtures: Value = fixtures();
    let mut args: Vec<String> = [
        "notification",
        "--headers",
        &headers,
        "--body",
        &body,
        "--at",
        &at,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    args.extend(fixture_flags(fixtures["apiv3_key"].as_str()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_stdout_full(&args);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        last_line(&out).contains("cannot write to stdout"),
        "{}",
        last_line(&out)
    );
}
