//! `wxpay` as a user runs it: dry runs over the catalog, configuration, bad input.
#![cfg(feature = "cli")]

mod support;

use std::process::{Command, Output};

use percent_encoding::percent_decode_str;
use serde_json::Value;
use wechatpay_chain::catalog::ENDPOINTS;
use wechatpay_chain::Certificate;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn wxpay(args: &[&str]) -> Output {
    support::wxpay(args)
}

fn dry_run_json(args: &[&str]) -> Value {
    let out = wxpay(args);
    assert!(
        out.status.success(),
        "wxpay {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// Values no endpoint should ever be confused by.
const NASTY: &[&str] = &[
    "1234323JKHDFE1243252",
    "A/B C中",
    "../../v3/refund/domestic/refunds",
    "%2F%",
    "a?b#c&d=e",
    "{x}",
    "😀 \t ~-._",
    "+",
];

fn merchant_cert() -> Certificate {
    Certificate::from_pem_file(format!("{FIXTURES}/apiclient_cert.pem")).unwrap()
}

fn check_signed(out: &Value) {
    let auth = out["headers"]["authorization"].as_str().unwrap();
    let signature = auth
        .split("signature=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .unwrap();
    let message = out["message"].as_str().unwrap();
    assert!(merchant_cert()
        .public_key()
        .verify_sha256(message.as_bytes(), &signature));
}

/// A dry run signed with a configured key: the signature is redacted (a signed request that
/// was never sent is replayable), the other Authorization fields match the signed message.
fn check_redacted(out: &Value, mchid: &str, serial: &str) {
    let auth = out["headers"]["authorization"].as_str().unwrap();
    let field = |name: &str| {
        auth.split(&format!("{name}=\"")[..])
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{name} in {auth}"))
            .to_string()
    };
    assert_eq!(field("signature"), "(redacted)", "{auth}");
    assert_eq!(field("mchid"), mchid);
    assert_eq!(field("serial_no"), serial);
    let message: Vec<&str> = out["message"].as_str().unwrap().split('\n').collect();
    assert_eq!(message[2], field("timestamp"));
    assert_eq!(message[3], field("nonce_str"));
}

#[test]
fn dry_run_covers_the_catalog_dotted_and_slashed() {
    // Every third endpoint keeps the test quick; WXPAY_FULL_CATALOG=1 runs them all.
    let step = if std::env::var_os("WXPAY_FULL_CATALOG").is_some() {
        1
    } else {
        3
    };
    let mut checked = 0;
    for (i, endpoint) in ENDPOINTS.iter().enumerate() {
        let (Some(segments), Some(php)) = (endpoint.segments, endpoint.php_chain) else {
            continue;
        };
        if segments.starts_with("v2/") || i % step != 0 {
            continue; // v2 is covered below
        }
        let value = NASTY[i % NASTY.len()];
        let mut args: Vec<String> = vec![
            "--dry-run".into(),
            "--base-uri".into(),
            endpoint.base_uri.into(),
        ];
        args.extend(["-X".into(), endpoint.method.into()]);
        let mut names = Vec::new();
        for name in wechatpay_chain::template::variables(segments).unwrap() {
            args.extend(["-P".into(), format!("{name}={value}")]);
            names.push(name);
        }
        let dotted = php.join(".");
        for uri in [segments, dotted.as_str()] {
            let mut call: Vec<&str> = args.iter().map(String::as_str).collect();
            // The dotted form spells a trailing `/` as the PHP/JS `_empty_` placeholder, a
            // variable that must be given empty; the slashed form writes the `/` itself (and an
            // unused -P would be an error).
            if uri == dotted && php.contains(&"_empty_") {
                call.extend(["-P", "empty="]);
            }
            call.push(uri);
            let out = dry_run_json(&call);
            let target = out["target"].as_str().unwrap();
            assert!(!target.contains('{'), "{uri}: {target}");
            assert_eq!(out["method"], endpoint.method);
            // The wire path is the catalog's, with each value inside one segment.
            let want: Vec<&str> = endpoint.path.split('/').collect();
            let got: Vec<&str> = target.split('/').collect();
            assert_eq!(want.len(), got.len(), "{uri}: {target}");
            for (w, g) in want.iter().zip(&got) {
                if w.starts_with('{') {
                    assert_eq!(percent_decode_str(g).decode_utf8().unwrap(), value, "{uri}");
                } else {
                    assert_eq!(w, g, "{uri}");
                }
            }
            let message = out["message"].as_str().unwrap();
            assert_eq!(message.lines().nth(1), Some(target));
            check_signed(&out);
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} dry runs");
}

#[test]
fn an_unused_param_is_an_error_naming_it() {
    let out = wxpay(&[
        "--dry-run",
        "-P",
        "out_trade_no=P123",
        "-P",
        "mchid=1900000109",
        "v3/pay/transactions/out-trade-no/{out_trade_no}",
    ]);
    assert!(out.stdout.is_empty(), "nothing printed as a request");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let last = stderr.lines().last().unwrap();
    assert!(last.contains("-P mchid"), "{stderr}");
    assert!(!last.contains("-P out_trade_no"), "{stderr}");
}

#[test]
fn the_slashed_form_keeps_ids_as_written_and_the_dotted_form_normalizes() {
    let slashed = dry_run_json(&["--dry-run", "v3/pay/transactions/out-trade-no/P123abcXYZ"]);
    assert_eq!(
        slashed["target"],
        "/v3/pay/transactions/out-trade-no/P123abcXYZ"
    );
    let dotted = dry_run_json(&["--dry-run", "v3.merchantService.complaintsV2"]);
    assert_eq!(dotted["target"], "/v3/merchant-service/complaints-v2");
}

#[test]
fn v2_chains_without_the_apiv2_key_are_refused_with_one_line() {
    // Only a dry run signs with the throw-away test key (tests/cli_apiv2.rs); a real call
    // without the APIv2 key is refused before sending.
    let out = wxpay(&["v2/pay/micropay", "--mchid", "1900000109", "-d", "{}"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.lines().last().unwrap().contains("APIv2 key"),
        "{stderr}"
    );
}

#[test]
fn bad_input_exits_non_zero_with_one_line() {
    for (args, needle) in [
        (vec!["v3//pay", "--dry-run"], "empty path segment"),
        (
            vec!["v3/pay/transactions/id/{transaction_id}", "--dry-run"],
            "missing template variable transaction_id",
        ),
        (
            vec!["v3/pay/transactions/native", "-d", "{not json", "--dry-run"],
            "not valid JSON",
        ),
        (
            vec!["v3/pay/transactions/native", "-P", "novalue", "--dry-run"],
            "expected NAME=VALUE",
        ),
        (
            vec!["v3/pay/transactions/native", "-X", "TRACE", "--dry-run"],
            "-X TRACE",
        ),
        (
            vec!["https://evil.example.com/v3/billdownload/file", "--dry-run"],
            "host not allowed",
        ),
        (
            vec!["v3/pay/transactions/native"],
            "no private key configured",
        ),
    ] {
        let out = wxpay(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("wxpay: ") && last.contains(needle),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn config_file_keys_body_and_headers() {
    let dir = std::env::temp_dir().join(format!("wxpay-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "apiclient_key.pem",
        "pub_key.pem",
        "wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem",
    ] {
        std::fs::copy(format!("{FIXTURES}/{f}"), dir.join(f)).unwrap();
    }
    let config = dir.join("wxpay.toml");
    std::fs::write(
        &config,
        r#"mchid = "1900000109"
serial = "3775B6A45ACD588826D15E583A95F5DD2A4B1A16"
private_key = "apiclient_key.pem"
base_uri = "https://apihk.mch.weixin.qq.com/"
[public_keys]
PUB_KEY_ID_0119000001092025112200000000000001 = "pub_key.pem"
[certificates]
5157F09EFDC096DE15EBE81A47057A7232F1B8E1 = "wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem"
"#,
    )
    .unwrap();
    let body = r#"{"amount":{"total":1.10},"description":"中文"}"#;
    let out = wxpay(&[
        "-c",
        config.to_str().unwrap(),
        "--dry-run",
        "v3.pay.transactions.native",
        "-d",
        body,
        "-q",
        "a=1 2",
        "-H",
        "X-Trace: t1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "no throw-away notice with a configured key"
    );
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out["method"], "POST");
    assert_eq!(
        out["url"],
        "https://apihk.mch.weixin.qq.com/v3/pay/transactions/native?a=1%202"
    );
    assert_eq!(out["body"], body, "the body is sent exactly as given");
    assert_eq!(out["headers"]["x-trace"], "t1");
    assert_eq!(
        out["headers"]["wechatpay-serial"],
        "PUB_KEY_ID_0119000001092025112200000000000001"
    );
    check_redacted(
        &out,
        "1900000109",
        "3775B6A45ACD588826D15E583A95F5DD2A4B1A16",
    );

    std::fs::write(&config, "mchid = 1900000109\n").unwrap();
    let out = wxpay(&[
        "-c",
        config.to_str().unwrap(),
        "--dry-run",
        "v3/certificates",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wxpay.toml"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sandbox_request_exit_codes() {
    let out = wxpay(&["--sandbox", "v3/certificates"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["status"], 200);
    assert!(body["body"]["data"][0]["serial_no"].is_string(), "{body}");

    let out = wxpay(&[
        "--sandbox",
        "v3/payscore/partner/servicepayondeliveryorder",
        "-d",
        r#"{"out_order_no":"X1"}"#,
    ]);
    assert_eq!(out.status.code(), Some(4), "an API error exits 4");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.lines().last().unwrap().contains("PARAM_ERROR"),
        "{stderr}"
    );

    let out = wxpay(&["--sandbox", "v3/no/such/endpoint"]);
    assert_eq!(out.status.code(), Some(4));
}

/// A `wxpay sandbox` process, killed when dropped (also when a test fails).
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves `wxpay sandbox` writing its config into `dir`, then runs a separate
/// `wxpay -c dir/wxpay.toml v3/certificates`: (first stdout line, that run's output).
fn served_sandbox_and_client(extra: &[&str], dir: &std::path::Path) -> (String, Output) {
    use std::io::{BufRead, BufReader};
    let mut args = vec![
        "sandbox",
        "--listen",
        "127.0.0.1:0",
        "--config-dir",
        dir.to_str().unwrap(),
    ];
    args.extend(extra);
    let mut server = Served(
        Command::new(env!("CARGO_BIN_EXE_wxpay"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = server.0.stdout.take().unwrap();
    let base = BufReader::new(stdout).lines().next().unwrap().unwrap();
    let toml = dir.join("wxpay.toml");
    let out = wxpay(&["-c", toml.to_str().unwrap(), "v3/certificates"]);
    drop(server);
    (base, out)
}

#[test]
fn served_sandbox_config_works_for_a_separate_client() {
    let dir = std::env::temp_dir().join(format!("wxpay-served-{}", std::process::id()));
    let (base, out) = served_sandbox_and_client(&[], &dir);
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with('/'),
        "{base}"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["status"], 200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn served_sandbox_generates_keys_into_its_config_dir() {
    let out = wxpay(&["sandbox", "--generate-keys", "--keys", FIXTURES]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--keys and --generate-keys conflict"
    );

    let dir = std::env::temp_dir().join(format!("wxpay-generated-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (base, out) = served_sandbox_and_client(&["--generate-keys"], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert!(out.status.success(), "{stderr}");
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("fixtures.json")).unwrap()).unwrap();
    assert_eq!(
        body["body"]["data"][0]["serial_no"],
        manifest["platform_serial"]
    );
    assert_ne!(
        manifest["platform_serial"],
        "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
