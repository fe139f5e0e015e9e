//! Every exit status of the request command (`wxpay <URI>`), each against a real sandbox or a
//! real closed port: 0 verified, 2 bad input, 3 transport, 4 API error, 5 verification
//! failure, 6 not written. Also: `-P` values and `-d` strings arrive exactly as given.

#![cfg(feature = "cli")]

mod cli_util;

use cli_util::{last_line, run, text, Served, TempDir};
use serde_json::Value;

const CREATE: &str = "v3/payscore/partner/servicepayondeliveryorder";
const PENDING: &str = "v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage";

fn order(out_order_no: &str) -> String {
    format!(
        r#"{{"out_order_no":"{out_order_no}","appid":"wxd678efh567hg6787","sub_mchid":"1900000109","service_id":"500001","service_introduction":"x","post_payments":[{{"name":"x","amount":1}}]}}"#
    )
}

/// Runs `wxpay -c <served config> args`, expects exit `want` and a one-line `wxpay: ` message
/// for a failure.
fn expect(served: &Served, want: i32, args: &[&str]) -> std::process::Output {
    let toml = served.toml();
    let mut call = vec!["-c", toml.as_str()];
    call.extend(args);
    let out = run(&call);
    assert_eq!(out.status.code(), Some(want), "{call:?}: {}", text(&out));
    if want != 0 {
        assert!(last_line(&out).starts_with("wxpay: "), "{}", text(&out));
    }
    out
}

/// The requests the sandbox recorded.
fn recorded(served: &Served) -> Vec<Value> {
    let (status, body) = served.control("GET", "/_sandbox/requests", "");
    assert_eq!(status, 200, "{body}");
    let listing: Value = serde_json::from_str(&body).unwrap();
    match listing {
        Value::Array(a) => a,
        other => other["requests"].as_array().cloned().unwrap_or_default(),
    }
}

#[test]
fn each_exit_status_of_the_request_command() {
    let served = Served::start("exit-all");
    // 0: a verified 2xx.
    expect(&served, 0, &["v3/certificates"]);
    // 2: bad input, nothing sent.
    let before = recorded(&served).len();
    expect(&served, 2, &["v3/certificates", "-X", "TRACE"]);
    expect(&served, 2, &[CREATE, "-d", "{not json"]);
    expect(&served, 2, &[PENDING, "-d", "{}"]);
    assert_eq!(recorded(&served).len(), before, "nothing was sent");
    // 3: transport failure, a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let out = expect(&served, 3, &["--base-uri", &base, "v3/certificates"]);
    assert!(out.stdout.is_empty(), "{}", text(&out));
    // 4: an API error (the sandbox's 400 for a body without its required fields).
    let out = expect(&served, 4, &[CREATE, "-d", r#"{"out_order_no":"E4"}"#]);
    assert!(last_line(&out).contains("PARAM_ERROR"), "{}", text(&out));
    // 5: the response's signature is wrong.
    let (status, body) =
        served.control("POST", "/_sandbox/faults", r#"{"fault":"wrong_signature"}"#);
    assert_eq!(status, 200, "{body}");
    let out = expect(&served, 5, &["v3/certificates"]);
    assert!(
        out.stdout.is_empty(),
        "nothing unverified printed: {}",
        text(&out)
    );
    // 6: the request went through, the body has nowhere to go.
    let out = expect(
        &served,
        6,
        &[
            "v3/certificates",
            "-o",
            "/nonexistent-wxpay-dir/certificates.json",
        ],
    );
    assert!(
        last_line(&out).contains("the request went through (HTTP 200"),
        "{}",
        text(&out)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], 200, "the answer is not lost: {summary}");
    // A device is written in place, never replaced by a renamed file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        expect(&served, 6, &["v3/certificates", "-o", "/dev/full"]);
        let kind = std::fs::symlink_metadata("/dev/full").unwrap().file_type();
        assert!(kind.is_char_device(), "/dev/full is still the device");
        expect(&served, 0, &["v3/certificates", "-o", "/dev/null"]);
        let kind = std::fs::symlink_metadata("/dev/null").unwrap().file_type();
        assert!(kind.is_char_device(), "/dev/null is still the device");
    }
    // A folder as -o is caught before sending (2).
    let dir = TempDir::new("exit-folder");
    let before = recorded(&served).len();
    expect(
        &served,
        2,
        &["v3/certificates", "-o", dir.0.to_str().unwrap()],
    );
    assert_eq!(recorded(&served).len(), before);
}

#[test]
fn the_in_process_sandbox_exits_0_4_and_2() {
    assert_eq!(
        run(&["--sandbox", "v3/certificates"]).status.code(),
        Some(0)
    );
    let out = run(&["--sandbox", CREATE, "-d", "{}"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let out = run(&["--sandbox"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_placeholder_value_with_capitals_and_dots_arrives_intact() {
    let served = Served::start("exit-placeholder");
    expect(&served, 0, &[CREATE, "-d", &order("AbC.1.x")]);
    let out = expect(
        &served,
        0,
        &[
            PENDING,
            "-P",
            "out_order_no=AbC.1.x",
            "-d",
            r#"{"service_id":"500001","sub_mchid":"1900000109"}"#,
        ],
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], 204, "the sandbox found order AbC.1.x");
    let targets: Vec<String> = recorded(&served)
        .iter()
        .filter_map(|r| r["target"].as_str().map(str::to_string))
        .collect();
    assert!(
        targets
            .iter()
            .any(|t| t == "/v3/payscore/partner/serviceorder/AbC.1.x/send-pendingmessage"),
        "{targets:?}"
    );
}

#[test]
fn a_json_string_in_d_stays_a_string() {
    let body = r#"{"mchid":"1900000109"}"#;
    let out = run(&["v3/certificates", "-X", "POST", "-d", body, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dry: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dry["body"], body, "{dry}");
    assert!(dry["message"]
        .as_str()
        .unwrap()
        .ends_with(&format!("{body}\n")));
    // And on the wire: the sandbox records the bytes it received.
    let served = Served::start("exit-string");
    let body = order("0012345678");
    expect(&served, 0, &[CREATE, "-d", &body]);
    let bodies: Vec<String> = recorded(&served)
        .iter()
        .filter_map(|r| r["body"].as_str().map(str::to_string))
        .collect();
    assert!(bodies.contains(&body), "{bodies:?}");
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sent["out_order_no"], "0012345678");
}
