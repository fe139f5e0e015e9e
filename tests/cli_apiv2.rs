//! `wxpay` with APIv2 URIs, the real binary against the real sandbox: `-d` is the signed data
//! (MD5 or HMAC-SHA256 by its `sign_type`), the XML answer prints as JSON, an APIv2 error is
//! exit 4 with its codes, a refund goes over mutual TLS only with the merchant certificate, a
//! bill streams into `-o`, a dry run shows the XML with the sign redacted, a v2-only config
//! works for v2 and is refused for v3, and the APIv2 key never shows.
#![cfg(feature = "cli")]

mod cli_util;

use cli_util::{assert_no_window, last_line, recorded, run, run_env, text, Served, TempDir};
use serde_json::Value;

/// The sandbox's merchant id and its public test-only APIv2 key.
const MCHID: &str = "1900000109";
const SANDBOX_APIV2_KEY: &str = "TestOnlyApiV2Key0123456789abcdef";

/// A micropay order's data: `extra` fields are spliced in before the closing brace.
fn micropay(out_trade_no: &str, extra: &str) -> String {
    format!(
        r#"{{"appid":"wxd930ea5d5a258f4f","mch_id":"{MCHID}","body":"test","out_trade_no":"{out_trade_no}","total_fee":"101","spbill_create_ip":"127.0.0.1","auth_code":"134567890123456789"{extra}}}"#
    )
}

/// stdout as JSON.
fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", text(out)))
}

/// The signed fields of a recorded v2 request (its XML body), as `name → value`.
fn sent_field(request: &Value, name: &str) -> Option<String> {
    let body = request["body"].as_str()?;
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(body[start..end].to_string())
}

#[test]
fn micropay_signed_md5_by_default_prints_the_xml_answer_as_json() {
    let out = run(&[
        "v2/pay/micropay",
        "--sandbox",
        "-d",
        &micropay("CLIV2MD5", ""),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let reply = json(&out);
    assert_eq!(reply["status"], 200, "{reply}");
    let body = &reply["body"];
    assert_eq!(body["return_code"], "SUCCESS", "{reply}");
    assert_eq!(body["result_code"], "SUCCESS", "{reply}");
    assert_eq!(body["out_trade_no"], "CLIV2MD5", "{reply}");
    assert_eq!(body["total_fee"], "101", "{reply}");
    assert_eq!(body["trade_type"], "MICROPAY", "{reply}");
}

#[test]
fn micropay_dotted_with_hmac_sha256_is_sent_signed_so() {
    let served = Served::start("v2-hmac");
    let data = micropay("CLIV2HMAC", r#","sign_type":"HMAC-SHA256""#);
    let out = run(&["-c", &served.toml(), "v2.pay.micropay", "-d", &data]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["body"]["result_code"], "SUCCESS");
    let requests = recorded(&served);
    let sent = requests.last().expect("the micropay was recorded");
    assert_eq!(sent["target"], "/pay/micropay", "{sent}");
    assert_eq!(
        sent_field(sent, "sign_type").as_deref(),
        Some("HMAC-SHA256")
    );
    // HMAC-SHA256 signs are 64 hex digits, MD5 signs 32.
    assert_eq!(
        sent_field(sent, "sign").map(|s| s.len()),
        Some(64),
        "{sent}"
    );
    assert_eq!(sent_field(sent, "nonce_str").map(|s| s.len()), Some(32));

    // --nonceless sends no nonce_str of its own: the sandbox wants one, so -d carries it.
    let data = micropay("CLIV2NONCE", r#","nonce_str":"ibuaiVcKdpRxkhJA""#);
    let out = run(&[
        "-c",
        &served.toml(),
        "v2/pay/micropay",
        "--nonceless",
        "-d",
        &data,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let requests = recorded(&served);
    let sent = requests.last().unwrap();
    assert_eq!(
        sent_field(sent, "nonce_str").as_deref(),
        Some("ibuaiVcKdpRxkhJA")
    );
    assert_eq!(
        sent_field(sent, "sign").map(|s| s.len()),
        Some(32),
        "{sent}"
    );
}

#[test]
fn orderquery_of_an_unknown_order_is_exit_4_with_the_codes_on_stdout() {
    let out = run(&[
        "v2/pay/orderquery",
        "--sandbox",
        "-d",
        &format!(
            r#"{{"appid":"wxd930ea5d5a258f4f","mch_id":"{MCHID}","out_trade_no":"NOSUCHORDER"}}"#
        ),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let error = json(&out);
    assert_eq!(error["status"], 200, "{error}");
    assert_eq!(error["return_code"], "SUCCESS", "{error}");
    assert_eq!(error["result_code"], "FAIL", "{error}");
    assert_eq!(error["err_code"], "ORDERNOTEXIST", "{error}");
    assert!(error["err_code_des"].is_string(), "{error}");
    let last = last_line(&out);
    assert!(
        last.starts_with("wxpay: ") && last.contains("ORDERNOTEXIST"),
        "{last}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().count(),
        2,
        "{}",
        text(&out)
    );
}

#[test]
fn a_bill_streams_into_the_output_file() {
    let served = Served::start("v2-bill");
    let out = run(&[
        "-c",
        &served.toml(),
        "v2/pay/micropay",
        "-d",
        &micropay("CLIV2BILL", ""),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let time_end = json(&out)["body"]["time_end"].as_str().unwrap().to_string();
    let dir = TempDir::new("v2-bill-out");
    let file = dir.path("bill.csv");
    let data = format!(
        r#"{{"appid":"wxd930ea5d5a258f4f","mch_id":"{MCHID}","bill_date":"{}","bill_type":"ALL"}}"#,
        &time_end[..8]
    );
    let out = run(&[
        "-c",
        &served.toml(),
        "v2/pay/downloadbill",
        "-d",
        &data,
        "-o",
        &file,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = json(&out);
    assert_eq!(summary["path"], file.as_str(), "{summary}");
    let bill = std::fs::read_to_string(&file).unwrap();
    assert!(bill.contains("CLIV2BILL"), "{bill}");
    assert_eq!(summary["bytes"], bill.len(), "{summary}");
}

#[test]
fn a_dry_run_shows_the_xml_with_the_sign_redacted_unless_a_throwaway_key_made_it() {
    let data = r#"{"appid":"wxd930ea5d5a258f4f","mch_id":"1900000109","body":"test","device_info":"1000","nonce_str":"ibuaiVcKdpRxkhJA"}"#;
    // Without an APIv2 key, the sandbox's public test key signs; the sign is shown. The
    // expected sign is computed independently (Python's hashlib, MD5 of the sorted fields and
    // `&key=TestOnlyApiV2Key0123456789abcdef`, upper case).
    let out = run(&["v2/pay/micropay", "-d", data, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = json(&out);
    assert_eq!(shown["method"], "POST", "{shown}");
    assert_eq!(
        shown["url"], "https://api.mch.weixin.qq.com/pay/micropay",
        "{shown}"
    );
    assert_eq!(
        shown["body"],
        "<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>1900000109</mch_id><body>test</body><device_info>1000</device_info><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>20354D5324040508C187DCE49CB919B1</sign></xml>",
        "{shown}"
    );
    assert!(text(&out).contains("throw-away"), "{}", text(&out));

    // With a configured key the sign is redacted, and the key shows nowhere.
    let key = "exposed_your_key_here_have_risks";
    let out = run(&[
        "v2/pay/micropay",
        "--mchid",
        MCHID,
        "--apiv2-key",
        key,
        "-d",
        data,
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = json(&out);
    let body = shown["body"].as_str().unwrap();
    assert!(body.ends_with("<sign>(redacted)</sign></xml>"), "{body}");
    let all = text(&out);
    // The real sign (PHP reference §7.2) is not shown either.
    assert!(!all.contains("4492EE67D784887986F010EA82081305"), "{all}");
    assert_no_window(&all, key, 8, "dry run");
}

#[test]
fn a_v2_only_config_works_for_v2_and_is_refused_for_v3() {
    let served = Served::start("v2-only");
    let dir = TempDir::new("v2-only-config");
    let config = dir.write(
        "v2.toml",
        format!(
            "mchid = \"{MCHID}\"\napiv2_key = \"{SANDBOX_APIV2_KEY}\"\nbase_uri = \"{}\"\n",
            served.base
        ),
    );
    let out = run(&[
        "-c",
        &config,
        "v2/pay/micropay",
        "-d",
        &micropay("CLIV2ONLY", ""),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["body"]["result_code"], "SUCCESS");

    let before = recorded(&served).len();
    let out = run(&["-c", &config, "v3/certificates"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    let last = last_line(&out);
    assert!(
        last.contains("private key"),
        "the missing setting is named: {last}"
    );
    assert_eq!(recorded(&served).len(), before, "nothing was sent");
    assert_no_window(&text(&out), SANDBOX_APIV2_KEY, 8, "v3 refused");
}

#[test]
fn no_apiv2_key_and_v2_switches_on_v3_are_input_errors() {
    let out = run(&[
        "v2/pay/micropay",
        "--mchid",
        MCHID,
        "-d",
        &micropay("X", ""),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(last_line(&out).contains("apiv2_key"), "{}", text(&out));

    let out = run(&["v3/certificates", "--nonceless", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(last_line(&out).contains("--nonceless"), "{}", text(&out));

    let out = run(&["v2/pay/micropay", "-d", "[1]", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(last_line(&out).contains("JSON object"), "{}", text(&out));
}

#[test]
fn the_apiv2_key_never_shows_in_output_or_trace_logs() {
    let served = Served::start("v2-secret");
    let key = served.config()["apiv2_key"]
        .as_str()
        .expect("the sandbox's config carries apiv2_key")
        .to_string();
    // A successful call with the trace on.
    let out = run(&[
        "-c",
        &served.toml(),
        "v2/pay/micropay",
        "-vv",
        "-d",
        &micropay("CLIV2LOG", ""),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_window(&text(&out), &key, 8, "-vv");
    // A business error with the trace on.
    let query = format!(r#"{{"mch_id":"{MCHID}","out_trade_no":"NOSUCH"}}"#);
    let out = run(&[
        "-c",
        &served.toml(),
        "v2/pay/orderquery",
        "-vv",
        "-d",
        &query,
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_no_window(&text(&out), &key, 8, "exit 4");
    // A key of the wrong length, from the environment: named, never shown.
    let short = "Wq9XkP2mVb9LrT4wYc8NdF3hJs6GtA1";
    let out = run_env(
        &[
            "-c",
            &served.toml(),
            "v2/pay/micropay",
            "-d",
            &micropay("CLIV2BAD", ""),
        ],
        &[("WECHATPAY_APIV2_KEY", short)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        last_line(&out).contains("WECHATPAY_APIV2_KEY"),
        "{}",
        text(&out)
    );
    assert_no_window(&text(&out), short, 8, "wrong length");
    // A sign mismatch (the wrong key): the sandbox refuses, and the key is not echoed.
    let wrong = "Zq7XkP2mVb9LrT4wYc8NdF3hJs6GtA1e";
    let out = run(&[
        "-c",
        &served.toml(),
        "v2/pay/micropay",
        "--apiv2-key",
        wrong,
        "-d",
        &micropay("CLIV2WRONG", ""),
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_window(&text(&out), wrong, 8, "wrong key");
}

#[test]
fn endpoints_show_which_v2_calls_need_the_api_certificate() {
    let out = run(&["endpoints", "v2/secapi/pay/refund"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let list = json(&out);
    let refund = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/secapi/pay/refund")
        .expect("secapi/pay/refund is listed");
    assert_eq!(refund["api_cert_required"], true, "{refund}");
    let out = run(&["endpoints", "v2/pay/micropay"]);
    let list = json(&out);
    assert_eq!(list[0]["api_cert_required"], false, "{list}");
}

/// Serves one v2 answer on loopback: SUCCESS, but signed with some other key (a wrong sign of
/// the right length). Its base URI.
fn wrong_sign_server() -> String {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let mut length = 0;
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            line.clear();
        }
        // Read the body too: closing with unread bytes resets the connection, which could
        // lose the answer (a transport error instead of the sign check under test).
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let body = "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code><nonce_str>n</nonce_str><sign>0123456789ABCDEF0123456789ABCDEF</sign></xml>";
        let mut stream = reader.into_inner();
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.flush();
    });
    base
}

#[test]
fn an_answer_whose_sign_does_not_verify_is_exit_5() {
    let base = wrong_sign_server();
    let out = run(&[
        "v2/pay/micropay",
        "--mchid",
        MCHID,
        "--apiv2-key",
        SANDBOX_APIV2_KEY,
        "--base-uri",
        &base,
        "-d",
        &micropay("CLIV2SIGN", ""),
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        out.stdout.is_empty(),
        "nothing unverified is printed: {}",
        text(&out)
    );
    assert!(last_line(&out).starts_with("wxpay: "), "{}", text(&out));
    assert_no_window(&text(&out), SANDBOX_APIV2_KEY, 8, "exit 5");
}

#[test]
fn a_refund_goes_over_mutual_tls_with_the_merchant_certificate_only() {
    let served = Served::start_with("v2-tls", &["--tls"]);
    assert!(
        served.base.starts_with("https://127.0.0.1:"),
        "{}",
        served.base
    );
    let config = served.config();
    let field = |key: &str| {
        config[key]
            .as_str()
            .unwrap_or_else(|| panic!("wxpay.json names {key}: {config}"))
            .to_string()
    };
    let out = run(&[
        "-c",
        &served.toml(),
        "v2/pay/micropay",
        "-d",
        &micropay("CLIV2TLS", ""),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let refund = |fee: &str| {
        format!(
            r#"{{"appid":"wxd930ea5d5a258f4f","mch_id":"{MCHID}","out_trade_no":"CLIV2TLS","out_refund_no":"R-CLIV2TLS","total_fee":"101","refund_fee":"{fee}"}}"#
        )
    };
    // The CA trusted, no merchant certificate: refused before sending (exit 2), naming it.
    let dir = TempDir::new("v2-tls-nocert");
    let no_cert = dir.write(
        "nocert.toml",
        format!(
            "mchid = \"{MCHID}\"\napiv2_key = \"{}\"\nbase_uri = \"{}\"\ntls_test_root_ca = \"{}\"\n",
            field("apiv2_key"),
            served.base,
            field("tls_test_root_ca")
        ),
    );
    let out = run(&["-c", &no_cert, "v2/secapi/pay/refund", "-d", &refund("50")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    let last = last_line(&out);
    assert!(
        last.contains("merchant_cert"),
        "the setting is named: {last}"
    );
    // The same config reaches the sandbox over TLS for calls without mutual TLS.
    let query = format!(r#"{{"mch_id":"{MCHID}","out_trade_no":"CLIV2TLS"}}"#);
    let out = run(&["-c", &no_cert, "v2/pay/orderquery", "-d", &query]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["body"]["trade_state"], "SUCCESS");

    // With the certificate: refunded. Another refund_fee under the same out_refund_no would
    // be refused had the first attempt been processed.
    let out = run(&[
        "-c",
        &served.toml(),
        "v2/secapi/pay/refund",
        "-d",
        &refund("60"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let body = &json(&out)["body"];
    assert_eq!(body["result_code"], "SUCCESS", "{body}");
    assert_eq!(body["refund_fee"], "60", "{body}");
    assert_no_window(&text(&out), &field("apiv2_key"), 8, "refund");
}

#[test]
fn the_in_process_sandbox_serves_mutual_tls_calls() {
    // A fresh sandbox has no order: the refund passes the mutual-TLS check and the sign
    // check, and is answered ORDERNOTEXIST.
    let out = run(&[
        "v2/secapi/pay/refund",
        "--sandbox",
        "-d",
        &format!(
            r#"{{"appid":"wxd930ea5d5a258f4f","mch_id":"{MCHID}","out_trade_no":"NONE","out_refund_no":"R1","total_fee":"1","refund_fee":"1"}}"#
        ),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(json(&out)["err_code"], "ORDERNOTEXIST", "{}", text(&out));
}

#[test]
fn a_get_sends_the_q_fields_as_the_signed_query() {
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "v2/papay/entrustweb",
            "-X",
            "GET",
            "-q",
            "mch_id=1900000109",
            "-q",
            "appid=wx1",
            "-q",
            "contract_display_account=微信 代扣",
            "-q",
            "request_serial=1000",
            "--nonceless",
            "--dry-run",
        ];
        a.extend_from_slice(extra);
        a
    };
    let query = "mch_id=1900000109&appid=wx1&contract_display_account=%E5%BE%AE%E4%BF%A1%20%E4%BB%A3%E6%89%A3&request_serial=1000";
    // The throw-away key's sign, computed independently (Python's hashlib over
    // `appid=wx1&contract_display_account=微信 代扣&mch_id=1900000109&request_serial=1000&key=TestOnlyApiV2Key0123456789abcdef`).
    let out = run(&args(&[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = json(&out);
    assert_eq!(shown["method"], "GET", "{shown}");
    assert_eq!(
        shown["url"],
        format!("https://api.mch.weixin.qq.com/papay/entrustweb?{query}&sign=878F7824596868DB91E1C6673278D486"),
        "{shown}"
    );
    assert_eq!(shown["body"], "", "{shown}");
    // With a configured key, the sign (302795D9…, PHP reference §7.2) is redacted in the URL
    // and the target.
    let out = run(&args(&[
        "--mchid",
        MCHID,
        "--apiv2-key",
        "exposed_your_key_here_have_risks",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = json(&out);
    assert_eq!(
        shown["target"],
        format!("/papay/entrustweb?{query}&sign=(redacted)"),
        "{shown}"
    );
    assert!(
        !text(&out).contains("302795D9FB6332BF6B5E89021E5B73F8"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_served_tls_sandbox_prints_its_tls_files() {
    use std::io::{BufRead as _, BufReader};
    let dir = TempDir::new("v2-tls-print");
    let mut child = cli_util::command(
        &["sandbox", "--tls", "--config-dir", dir.0.to_str().unwrap()],
        &[],
    )
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("spawn wxpay sandbox --tls");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .take(6)
            .map_while(Result::ok)
            .collect();
        let _ = tx.send(lines);
    });
    let lines = rx.recv_timeout(cli_util::RUN_LIMIT);
    let _ = child.kill();
    let _ = child.wait();
    let lines = lines.expect("the sandbox printed its lines");
    assert!(lines[0].starts_with("https://127.0.0.1:"), "{lines:?}");
    let config: Value =
        serde_json::from_slice(&std::fs::read(dir.path("wxpay.json")).unwrap()).unwrap();
    for (label, key) in [
        ("ca", "tls_test_root_ca"),
        ("merchant_cert", "merchant_cert"),
        ("merchant_key", "merchant_key"),
    ] {
        let path = config[key].as_str().unwrap();
        assert!(
            lines.contains(&format!("{label}: {path}")),
            "{label}: {path} in {lines:?}"
        );
        assert!(std::path::Path::new(path).is_file(), "{path}");
    }
    let toml = std::fs::read_to_string(dir.path("wxpay.toml")).unwrap();
    assert!(toml.contains("apiv2_key = "), "{toml}");
}
