//! `wxpay certificates` against a served sandbox: the platform certificates are downloaded,
//! verified and saved as `DIR/wechatpay_<SERIAL>.pem`; a different file in the way is never
//! replaced silently; and each failure has its exit status (2 no/wrong APIv3 key or a
//! public-key-only merchant, 3 transport, 4 API error, 5 verification, 6 not written).
#![cfg(feature = "cli")]

mod cli_util;

use std::path::Path;

use cli_util::{last_line, run, text, Served, TempDir};
use serde_json::Value;
use wechatpay_chain::Certificate;

/// The sandbox's platform certificate serial (its config lists it under `[certificates]`).
fn platform_serial(served: &Served) -> String {
    let config = served.config();
    let certificates = config["certificates"].as_object().unwrap();
    assert_eq!(certificates.len(), 1, "{config}");
    certificates.keys().next().unwrap().clone()
}

/// Queues one sandbox fault.
fn fault(served: &Served, fault: &str) {
    let (status, body) = served.control("POST", "/_sandbox/faults", fault);
    assert_eq!(status, 200, "{body}");
}

/// `wxpay certificates -c <served config> -o dir` plus `extra`.
fn certificates(served: &Served, dir: &str, extra: &[&str]) -> std::process::Output {
    let toml = served.toml();
    let mut args = vec!["certificates", "-c", &toml, "-o", dir];
    args.extend_from_slice(extra);
    run(&args)
}

/// The files in `dir` (none when it does not exist).
fn files(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn saves_the_verified_certificates_then_leaves_them_unchanged() {
    let served = Served::start("certs-save");
    let out_dir = TempDir::new("certs-save-out");
    let dir = out_dir.path("certs"); // created by the command
    let serial = platform_serial(&served);

    let out = certificates(&served, &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = &listed[0];
    let path = format!("{dir}/wechatpay_{serial}.pem");
    assert_eq!(entry["serial"], serial.as_str());
    assert_eq!(entry["path"], path.as_str());
    assert_eq!(entry["saved"], "written");

    // The file is the certificate the sandbox serves (the one its config names), and the
    // printed validity is that certificate's.
    let saved = Certificate::from_pem_file(&path).unwrap();
    let config = served.config();
    let served_path = config["certificates"][&serial].as_str().unwrap();
    let expected = Certificate::from_pem_file(served_path).unwrap();
    assert_eq!(saved.serial(), serial);
    assert_eq!(saved.public_key(), expected.public_key());
    assert_eq!(entry["not_before"], expected.not_before());
    assert_eq!(entry["not_after"], expected.not_after());
    assert_eq!(
        files(&dir),
        vec![format!("wechatpay_{serial}.pem")],
        "no temp file left"
    );

    // Again: the same certificate is already there, nothing is rewritten.
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let out = certificates(&served, &dir, &["--format", "pretty"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["saved"], "unchanged");
    assert!(
        String::from_utf8_lossy(&out.stdout).lines().count() > 1,
        "pretty"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn a_different_file_in_the_way_is_exit_6_and_kept_unless_force() {
    let served = Served::start("certs-clash");
    let out_dir = TempDir::new("certs-clash-out");
    let serial = platform_serial(&served);
    let dir = out_dir.0.to_str().unwrap().to_string();
    let name = format!("wechatpay_{serial}.pem");
    let path = out_dir.write(&name, "my own notes\n");

    let out = certificates(&served, &dir, &[]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let last = last_line(&out);
    assert!(
        last.starts_with("wxpay: downloaded and verified 1 certificate(s)"),
        "{last}"
    );
    assert!(last.contains("--force") && last.contains(&name), "{last}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "my own notes\n");
    assert!(out.stdout.is_empty());

    let out = certificates(&served, &dir, &["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(Certificate::from_pem_file(&path).unwrap().serial(), serial);
    assert_eq!(files(&dir), vec![name], "no temp file left");
}

#[test]
fn an_unwritable_folder_is_exit_6_after_the_download() {
    let served = Served::start("certs-unwritable");
    let out_dir = TempDir::new("certs-unwritable-out");
    // A regular file where the folder should be: nothing can be created under it (also as root).
    let blocker = out_dir.write("not-a-folder", "x");
    let dir = format!("{blocker}/certs");

    let out = certificates(&served, &dir, &[]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let last = last_line(&out);
    assert!(
        last.starts_with("wxpay: downloaded and verified") && last.contains("cannot create"),
        "{last}"
    );
    assert!(!Path::new(&dir).exists());
}

#[test]
fn no_apiv3_key_is_exit_2_naming_what_to_set() {
    let served = Served::start("certs-nokey");
    // The served config without its apiv3_key line (same folder: its relative paths hold).
    let toml = std::fs::read_to_string(served.toml()).unwrap();
    let without: String = toml
        .lines()
        .filter(|l| !l.starts_with("apiv3_key"))
        .map(|l| format!("{l}\n"))
        .collect();
    let config = served.dir.write("no-apiv3.toml", without);
    let out_dir = TempDir::new("certs-nokey-out");
    let dir = out_dir.path("certs");

    let out = run(&["certificates", "-c", &config, "-o", &dir]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let last = last_line(&out);
    assert!(
        last.starts_with("wxpay: no APIv3 key configured")
            && last.contains("apiv3_key")
            && last.contains("--apiv3-key")
            && last.contains("WECHATPAY_APIV3_KEY"),
        "{last}"
    );
    assert!(!Path::new(&dir).exists());
}

#[test]
fn a_wrong_apiv3_key_is_exit_2_and_not_shown() {
    let served = Served::start("certs-wrongkey");
    let out_dir = TempDir::new("certs-wrongkey-out");
    let dir = out_dir.path("certs");
    let wrong = "WrongApiV3Key0123456789abcdefXYZ";
    let out = certificates(&served, &dir, &["--apiv3-key", wrong]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let last = last_line(&out);
    assert!(
        last.contains("did not decrypt") && last.contains("APIv3 key"),
        "{last}"
    );
    assert!(!text(&out).contains(wrong));
    assert!(!Path::new(&dir).exists());
}

#[test]
fn a_public_key_only_merchant_is_told_to_configure_the_public_key() {
    let served = Served::start("certs-pubkey-only");
    let out_dir = TempDir::new("certs-pubkey-only-out");
    let dir = out_dir.path("certs");
    // What the platform answers a merchant that has only a WeChat Pay public key.
    fault(&served, r#"{"fault":"status","status":404}"#);
    let out = certificates(&served, &dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let last = last_line(&out);
    assert!(
        last.contains("no platform certificates")
            && last.contains("RESOURCE_NOT_EXISTS")
            && last.contains("--public-key"),
        "{last}"
    );
    assert!(!Path::new(&dir).exists());
}

#[test]
fn failures_of_the_download_have_their_exit_status_and_write_nothing() {
    let served = Served::start("certs-faults");
    let out_dir = TempDir::new("certs-faults-out");
    let dir = out_dir.path("certs");
    for (queued, code, needle) in [
        (r#"{"fault":"drop"}"#, 3, ""),
        (r#"{"fault":"status","status":500}"#, 4, "SYSTEM_ERROR"),
        (r#"{"fault":"wrong_signature"}"#, 5, "signature"),
        (r#"{"fault":"missing_signature_headers"}"#, 5, "Wechatpay-"),
    ] {
        fault(&served, queued);
        let out = certificates(&served, &dir, &[]);
        assert_eq!(out.status.code(), Some(code), "{queued}: {}", text(&out));
        let last = last_line(&out);
        assert!(
            last.starts_with("wxpay: ") && last.contains(needle),
            "{queued}: {last}"
        );
        if code == 4 {
            // An API error's JSON body is on stdout, for scripts.
            let body: Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert_eq!(body["status"], 500, "{body}");
        } else {
            assert!(out.stdout.is_empty(), "{queued}: no answer printed");
        }
        assert!(!Path::new(&dir).exists(), "{queued}: nothing saved");
    }
    // The sandbox is fine afterwards: the same command saves.
    let out = certificates(&served, &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
