//! `wxpay upload` run as a binary against a served sandbox, which checks the meta's signature
//! and its sha256 against the file part: the recorded request carries the file's bytes intact
//! and the `-F` meta fields with their JSON types; every exit status.
#![cfg(feature = "cli")]

mod cli_util;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use cli_util::{inject, last_line, recorded, run, text, Served};
use ring::digest::{digest, SHA256};
use serde_json::Value;

const UPLOAD: &str = "v3/merchant/media/upload";

/// A small GIF followed by every byte value: not UTF-8, so a mangled byte would show.
fn image() -> Vec<u8> {
    let mut bytes = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    bytes.extend(0..=255u8);
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The body of a recorded request, whether kept as text or base64.
fn body(request: &Value) -> Vec<u8> {
    match (request["body"].as_str(), request["body_base64"].as_str()) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(b64)) => BASE64.decode(b64).expect("base64 body"),
        _ => panic!("no body recorded: {request}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The recorded uploads (by target).
fn uploads(served: &Served) -> Vec<Value> {
    recorded(served)
        .into_iter()
        .filter(|r| r["target"] == "/v3/merchant/media/upload")
        .collect()
}

#[test]
fn an_image_upload_is_verified_and_sent_with_its_bytes_and_meta_fields_intact() {
    let served = Served::start("upload-ok");
    let toml = served.toml();
    let file = served.dir.write("logo.gif", image());
    let out = run(&[
        "upload",
        UPLOAD,
        &file,
        "-c",
        &toml,
        "-F",
        r#"meta={"bank_type":"ICBC_DEBIT","count":1,"code":"007"}"#,
        "-F",
        "note=42",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(answer["status"], 200, "{answer}");
    assert!(
        answer["body"]["media_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{answer}"
    );

    let uploads = uploads(&served);
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    let request = &uploads[0];
    assert_eq!(request["method"], "POST");
    assert_eq!(
        request["authenticated"], true,
        "the sandbox verified the signature"
    );
    let sent = body(request);
    assert!(
        contains(&sent, &image()),
        "the file part holds the file's bytes"
    );
    let sent = String::from_utf8_lossy(&sent);
    assert!(
        sent.contains(r#"name="file"; filename="logo.gif""#),
        "{sent}"
    );
    // The meta: computed filename and sha256, the -F fields with their JSON types.
    let sha256 = hex(digest(&SHA256, &image()).as_ref());
    for field in [
        r#""filename":"logo.gif""#,
        &format!(r#""sha256":"{sha256}""#),
        r#""bank_type":"ICBC_DEBIT""#,
        r#""count":1"#,
        r#""code":"007""#,
        r#""note":"42""#,
    ] {
        assert!(sent.contains(field), "{field} in the meta: {sent}");
    }
}

#[test]
fn the_file_given_as_name_at_path_goes_in_the_part_so_named() {
    let served = Served::start("upload-part");
    let file = served.dir.write("form.gif", image());
    let part = format!("submission_file=@{file}");
    let meta = format!(
        "meta=@{}",
        served
            .dir
            .write("meta.json", r#"{"sub_mchid":"1900000110"}"#)
    );
    let out = run(&[
        "upload",
        UPLOAD,
        "-F",
        &part,
        "-F",
        &meta,
        "-c",
        &served.toml(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let uploads = uploads(&served);
    assert_eq!(uploads.len(), 1);
    let sent = body(&uploads[0]);
    assert!(contains(
        &sent,
        br#"name="submission_file"; filename="form.gif""#
    ));
    assert!(contains(&sent, &image()));
    assert!(
        contains(&sent, br#""sub_mchid":"1900000110""#),
        "-F meta=@FILE"
    );
}

#[test]
fn an_in_process_sandbox_takes_an_upload() {
    let dir = cli_util::TempDir::new("upload-inproc");
    let file = dir.write("a.gif", image());
    let out = run(&["upload", "v3.merchant.media.upload", &file, "--sandbox"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(answer["body"]["media_id"].is_string(), "{answer}");
}

#[test]
fn bad_input_is_exit_2_and_nothing_is_sent() {
    let served = Served::start("upload-bad");
    let toml = served.toml();
    let file = served.dir.write("a.gif", image());
    let missing = served.dir.path("missing.gif");
    // One byte over the library's 16 MiB bound: sparse, so cheap to make.
    let big = served.dir.path("big.png");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(16 * 1024 * 1024 + 1)
        .unwrap();
    let at_file = format!("file=@{file}");
    let bad_part = format!("bad name=@{file}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![UPLOAD, &missing], "missing.gif"),
        (vec![UPLOAD, &big], "larger than"),
        (vec![UPLOAD], "missing the file"),
        (vec![UPLOAD, &file, "-F", &at_file], "two files"),
        (
            vec![UPLOAD, &file, "-F", "bank_type"],
            "expected NAME=VALUE",
        ),
        (vec![UPLOAD, &file, "-F", "meta=[1]"], "JSON object"),
        (vec![UPLOAD, &file, "-F", "meta={"], "not valid JSON"),
        (
            vec![UPLOAD, &file, "-F", r#"meta={"sha256":"0"}"#],
            "sha256",
        ),
        (vec![UPLOAD, "-F", &bad_part], "ASCII letters"),
        (vec!["/", &file], "names no endpoint"),
    ];
    for (args, needle) in cases {
        let mut call = vec!["upload"];
        call.extend(&args);
        call.extend(["-c", toml.as_str()]);
        let out = run(&call);
        assert_eq!(out.status.code(), Some(2), "{call:?}: {}", text(&out));
        let line = last_line(&out);
        assert!(
            line.starts_with("wxpay: ") && line.contains(needle),
            "{call:?}: {line}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).lines().count(),
            1,
            "{call:?}"
        );
    }
    // Without a key: nothing to sign with.
    let out = run(&["upload", UPLOAD, &file]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(last_line(&out).contains("no private key"), "{}", text(&out));
    assert!(uploads(&served).is_empty(), "nothing was sent");
}

#[test]
fn transport_api_and_verification_failures_are_3_4_and_5() {
    let served = Served::start("upload-faults");
    let toml = served.toml();
    let file = served.dir.write("a.gif", image());
    for (fault, code) in [
        (r#"{"fault":"drop"}"#, 3),
        (r#"{"fault":"status","status":400}"#, 4),
        (r#"{"fault":"wrong_signature"}"#, 5),
    ] {
        inject(&served, fault);
        let out = run(&["upload", UPLOAD, &file, "-c", &toml]);
        cli_util::assert_failed_quietly(&out, &served, code, 400, fault);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn an_answer_that_cannot_be_written_is_exit_6() {
    let served = Served::start("upload-full");
    let file = served.dir.write("a.gif", image());
    let out = cli_util::run_stdout_full(&["upload", UPLOAD, &file, "-c", &served.toml()]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(last_line(&out).contains("went through"), "{}", text(&out));
    assert_eq!(uploads(&served).len(), 1, "the upload was sent once");
}

#[test]
fn template_variables_fill_the_path_and_an_unused_one_is_exit_2() {
    let served = Served::start("upload-param");
    let toml = served.toml();
    let file = served.dir.write("list.gif", image());
    let uri = "v3/marketing/bank/packages/{package_id}/tasks";
    let out = run(&["upload", uri, &file, "-P", "package_id=8000", "-c", &toml]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let targets: Vec<String> = recorded(&served)
        .iter()
        .map(|r| r["target"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(targets, ["/v3/marketing/bank/packages/8000/tasks"]);

    let out = run(&[
        "upload",
        UPLOAD,
        &file,
        "-P",
        "package_id=8000",
        "-c",
        &toml,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(last_line(&out).contains("package_id"), "{}", text(&out));
    assert_eq!(recorded(&served).len(), 1, "nothing more was sent");
}
