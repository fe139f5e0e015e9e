//! `wxpay` never shows a secret: no error path echoes a config value (TOML syntax, unknown
//! key, wrong type, duplicate key, key files, mchid, serial, APIv3 key, base URI, flags and
//! environment), and no exit status prints the private key, the APIv3 key or a request
//! signature. Every run is bounded in time.
#![cfg(feature = "cli")]

mod cli_util;

use cli_util::{assert_no_window, last_line, run, run_env, text, Served, TempDir};
use serde_json::Value;

/// A recognizable 32-character secret (a valid APIv3 key length).
const SECRET: &str = "Zq7XkP2mVb9LrT4wYc8NdF3hJs6GtA1e";
/// A secret made of digits, for the integer type errors (toml quotes the integer).
const DIGITS: &str = "918273645546372819";

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Runs `wxpay -c <config> v3/certificates --dry-run` (plus `extra`) on a config written from
/// `toml`; asserts exit 2, a `wxpay:` line naming `needle`, and no 8-character window of
/// `secret` on stdout or stderr.
fn config_case(dir: &TempDir, name: &str, toml: &str, secret: &str, needle: &str) {
    let config = dir.write(&format!("{name}.toml"), toml);
    let out = run(&["-c", &config, "v3/certificates", "--dry-run"]);
    let all = text(&out);
    assert_no_window(&all, secret, 8, name);
    assert_eq!(out.status.code(), Some(2), "{name}: {all}");
    assert!(out.stdout.is_empty(), "{name}: {all}");
    let last = last_line(&out);
    assert!(
        last.starts_with("wxpay: ") && last.contains(needle),
        "{name}: expected {needle:?} in {last:?}"
    );
}

#[test]
fn toml_errors_name_position_and_key_never_the_value() {
    let dir = TempDir::new("cfg-toml");
    for (name, toml, secret, needle) in [
        // An unterminated string: toml's message quotes the whole line.
        (
            "syntax",
            format!("mchid = \"1900000109\"\napiv3_key = \"{SECRET}\n"),
            SECRET,
            "line 2, column",
        ),
        (
            "unquoted",
            format!("apiv3_key = {SECRET}\n"),
            SECRET,
            "line 1, column",
        ),
        (
            "unknown_key",
            format!("mchid = \"1900000109\"\napiv3_kye = \"{SECRET}\"\n"),
            SECRET,
            "did you mean `apiv3_key`",
        ),
        // A secret pasted as a key: named by position only.
        (
            "secret_as_key",
            format!("{SECRET} = \"x\"\n"),
            SECRET,
            "line 1, column 1: unknown key",
        ),
        (
            "wrong_type_array",
            format!("apiv3_key = [\"{SECRET}\"]\n"),
            SECRET,
            "wrong type for `apiv3_key`, expected a string",
        ),
        // serde's message quotes the integer: `invalid type: integer `918…`, expected a string`.
        (
            "wrong_type_integer",
            format!("mchid = {DIGITS}\n"),
            DIGITS,
            "line 1, column 9: wrong type for `mchid`",
        ),
        (
            "wrong_type_table",
            format!("[public_keys]\nPUB_KEY_ID_1 = {DIGITS}\n"),
            DIGITS,
            "wrong type for an entry of [public_keys]",
        ),
        (
            "duplicate",
            format!("apiv3_key = \"{SECRET}\"\napiv3_key = \"{SECRET}\"\n"),
            SECRET,
            "line 2",
        ),
        (
            "bad_table",
            format!("[apiv3_key]\nvalue = \"{SECRET}\"\n"),
            SECRET,
            "apiv3_key",
        ),
    ] {
        config_case(&dir, name, &toml, secret, needle);
    }
    // Not UTF-8: position only.
    let mut bytes = format!("apiv3_key = \"{SECRET}").into_bytes();
    bytes.extend([0xff, b'"', b'\n']);
    let config = dir.write("not_utf8.toml", bytes);
    let out = run(&["-c", &config, "v3/certificates", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(last_line(&out).contains("not UTF-8"), "{}", text(&out));
    assert_no_window(&text(&out), SECRET, 8, "not_utf8");
}

#[test]
fn value_errors_name_the_key_or_flag_never_the_value() {
    let dir = TempDir::new("cfg-values");
    // A PEM block whose label and body are a secret.
    dir.write(
        "label.pem",
        format!("-----BEGIN {SECRET}-----\nAAAA\n-----END {SECRET}-----\n"),
    );
    dir.write(
        "body.pem",
        format!("-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n"),
    );
    let long = format!("{SECRET}{SECRET}");
    for (name, toml, secret, needle) in [
        (
            "key_path",
            format!("private_key = \"{SECRET}\"\n"),
            SECRET,
            "`private_key`: cannot read the private key file",
        ),
        (
            "key_label",
            "private_key = \"label.pem\"\n".to_string(),
            SECRET,
            "found BEGIN (a label of an unknown kind)",
        ),
        (
            "key_body",
            "private_key = \"body.pem\"\n".to_string(),
            SECRET,
            "`private_key`",
        ),
        (
            "public_key_path",
            format!("[public_keys]\nPUB_KEY_ID_1 = \"{SECRET}\"\n"),
            SECRET,
            "[public_keys] PUB_KEY_ID_1: cannot read the public key file",
        ),
        (
            "certificate_path",
            format!("[certificates]\nABCDEF = \"{SECRET}\"\n"),
            SECRET,
            "[certificates] ABCDEF: cannot read the certificate file",
        ),
        (
            "apiv3_length",
            format!("apiv3_key = \"{long}\"\n"),
            long.as_str(),
            "`apiv3_key`: the APIv3 key must be 32 bytes, got 64",
        ),
        (
            "mchid",
            format!("mchid = \"{SECRET}\"\n"),
            SECRET,
            "`mchid`: the merchant id must be digits",
        ),
        (
            "serial",
            format!("mchid = \"1900000109\"\nserial = \"{SECRET}\"\n"),
            SECRET,
            "`serial`: the merchant certificate serial must be hexadecimal",
        ),
        (
            "base_uri_password",
            format!("base_uri = \"https://merchant:{SECRET}@api.mch.weixin.qq.com/\"\n"),
            SECRET,
            "`base_uri`",
        ),
        (
            "base_uri_invalid",
            format!("base_uri = \"https://api.mch.weixin.qq.com:{DIGITS}/{SECRET}\"\n"),
            SECRET,
            "`base_uri`",
        ),
    ] {
        config_case(&dir, name, &toml, secret, needle);
    }
}

#[test]
fn flags_and_environment_carrying_secrets_are_never_echoed() {
    let long = format!("{SECRET}x");
    for (args, env, needle) in [
        (
            vec!["--apiv3-key", long.as_str()],
            vec![],
            "--apiv3-key (or WECHATPAY_APIV3_KEY): the APIv3 key must be 32 bytes, got 33",
        ),
        (
            vec![],
            vec![("WECHATPAY_APIV3_KEY", long.as_str())],
            "the APIv3 key must be 32 bytes, got 33",
        ),
        (
            vec!["--mchid", SECRET],
            vec![],
            "--mchid (or WECHATPAY_MCHID): the merchant id must be digits",
        ),
        (
            vec![],
            vec![("WECHATPAY_SERIAL", SECRET)],
            "WECHATPAY_SERIAL): the merchant certificate serial must be hexadecimal",
        ),
        (
            vec!["--private-key", SECRET],
            vec![],
            "--private-key (or WECHATPAY_PRIVATE_KEY): cannot read the private key file",
        ),
        (
            vec!["--certificate", SECRET],
            vec![],
            "--certificate #0: cannot read the certificate file",
        ),
    ] {
        let mut call = args.clone();
        call.extend(["v3/certificates", "--dry-run"]);
        let out = run_env(&call, &env);
        assert_no_window(&text(&out), SECRET, 8, &format!("{call:?} {env:?}"));
        assert_eq!(out.status.code(), Some(2), "{call:?}: {}", text(&out));
        assert!(last_line(&out).contains(needle), "{call:?}: {}", text(&out));
    }
    // A valid APIv3 key on the command line stays out of a later error, and so does the bad
    // base URI's own text (a different secret, so each protection is checked on its own).
    let in_uri = "UriPathSecret0123456789";
    let out = run(&[
        "--apiv3-key",
        SECRET,
        "--base-uri",
        &format!("https://api.mch.weixin.qq.com/{in_uri}?x"),
        "v3/certificates",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_no_window(&text(&out), SECRET, 8, "valid key, bad base URI");
    assert_no_window(&text(&out), in_uri, 8, "bad base URI's own text");
    // --help shows no environment value.
    let out = run_env(&["--help"], &[("WECHATPAY_APIV3_KEY", SECRET)]);
    assert!(out.status.success());
    assert_no_window(&text(&out), SECRET, 8, "--help");
}

/// The signatures of every request the sandbox received (`signature="…"` of Authorization).
fn recorded_signatures(served: &Served) -> Vec<String> {
    let (status, body) = served.control("GET", "/_sandbox/requests", "");
    assert_eq!(status, 200, "{body}");
    let listing: Value = serde_json::from_str(&body).expect("requests listing is JSON");
    let requests = match &listing {
        Value::Array(a) => a.clone(),
        other => other["requests"].as_array().cloned().unwrap_or_default(),
    };
    requests
        .iter()
        .filter_map(|r| r["headers"]["authorization"].as_str())
        .filter_map(|auth| auth.split("signature=\"").nth(1))
        .map(|s| s.split('"').next().unwrap_or_default().to_string())
        .collect()
}

/// The base64 body of a PEM, on one line.
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[test]
fn no_exit_status_prints_a_key_or_a_signature() {
    let served = Served::start("secrets-exit");
    let toml = served.toml();
    let config = served.config();
    let apiv3_key = config["apiv3_key"].as_str().unwrap().to_string();
    let private_key = pem_body(&served.private_key_pem());
    let full = served.dir.path("full");
    let _ = std::fs::write(&full, "");
    let mut outputs = Vec::new();
    let mut run_case = |want: i32, args: &[&str], fault: Option<&str>| {
        if let Some(fault) = fault {
            let (status, body) = served.control("POST", "/_sandbox/faults", fault);
            assert_eq!(status, 200, "{body}");
        }
        let mut call = vec!["-c", toml.as_str()];
        call.extend(args);
        let out = run(&call);
        assert_eq!(out.status.code(), Some(want), "{call:?}: {}", text(&out));
        outputs.push((call.join(" "), text(&out)));
    };
    run_case(0, &["v3/certificates"], None);
    run_case(0, &["v3/certificates", "--format", "pretty"], None);
    run_case(0, &["v3/certificates", "--dry-run"], None);
    run_case(2, &["v3/certificates", "-X", "TRACE"], None);
    run_case(2, &[""], None);
    run_case(
        2,
        &["v3/certificates", "--apiv3-key", &apiv3_key[..31]],
        None,
    );
    run_case(3, &["v3/certificates"], Some(r#"{"fault":"drop"}"#));
    run_case(
        3,
        &["v3/certificates", "--base-uri", "http://127.0.0.1:1/"],
        None,
    );
    run_case(4, &["v3/no/such/endpoint"], None);
    run_case(
        4,
        &[
            "v3/payscore/partner/servicepayondeliveryorder",
            "-d",
            r#"{"out_order_no":"X1"}"#,
        ],
        None,
    );
    run_case(
        5,
        &["v3/certificates"],
        Some(r#"{"fault":"wrong_signature"}"#),
    );
    run_case(
        5,
        &["v3/certificates"],
        Some(r#"{"fault":"signature_probe"}"#),
    );
    run_case(6, &["v3/certificates", "-o", "/dev/full"], None);
    let signatures = recorded_signatures(&served);
    assert!(signatures.len() >= 8, "recorded: {signatures:?}");
    for (call, output) in &outputs {
        assert_no_window(output, &private_key, 24, &format!("private key in {call}"));
        assert_no_window(output, &apiv3_key, 24, &format!("APIv3 key in {call}"));
        for signature in &signatures {
            assert_no_window(output, signature, 24, &format!("a signature in {call}"));
        }
    }
    // The dry run printed its Authorization header, signature redacted, other fields kept.
    let (_, dry) = outputs
        .iter()
        .find(|(c, _)| c.ends_with("--dry-run"))
        .unwrap();
    let dry: Value = serde_json::from_str(dry.lines().next().unwrap()).unwrap();
    let auth = dry["headers"]["authorization"].as_str().unwrap();
    assert!(
        auth.starts_with("WECHATPAY2-SHA256-RSA2048 ") && auth.contains("signature=\"(redacted)\""),
        "{auth}"
    );
    for field in ["mchid=\"", "nonce_str=\"", "timestamp=\"", "serial_no=\""] {
        assert!(auth.contains(field), "{field} kept: {auth}");
    }
}

#[test]
fn the_throwaway_key_signature_is_shown_a_configured_one_is_not() {
    let throwaway = run(&["v3/certificates", "--dry-run"]);
    assert!(throwaway.status.success(), "{}", text(&throwaway));
    let out: Value = serde_json::from_slice(&throwaway.stdout).unwrap();
    let auth = out["headers"]["authorization"].as_str().unwrap();
    assert!(!auth.contains("(redacted)"), "{auth}");

    let key = format!("{FIXTURES}/apiclient_key.pem");
    let configured = run(&[
        "--private-key",
        &key,
        "--mchid",
        "1900000109",
        "--serial",
        "3775B6A45ACD588826D15E583A95F5DD2A4B1A16",
        "v3/certificates",
        "--dry-run",
    ]);
    assert!(configured.status.success(), "{}", text(&configured));
    let out: Value = serde_json::from_slice(&configured.stdout).unwrap();
    let auth = out["headers"]["authorization"].as_str().unwrap();
    assert!(auth.contains("signature=\"(redacted)\""), "{auth}");
}
