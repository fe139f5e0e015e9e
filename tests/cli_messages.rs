//! `wxpay` messages in command-line terms: a missing template variable names `-P`, an unknown
//! flag gets clap's suggestion only when it is close, and an endpoint the catalog does not
//! know is warned about (with the nearest ones) before it is sent anyway.

#![cfg(feature = "cli")]

mod cli_util;

use cli_util::{last_line, run, text, Served};

const PENDING: &str = "v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage";

#[test]
fn a_missing_template_variable_names_the_p_flag() {
    for extra in [&["--sandbox"][..], &["--dry-run"][..]] {
        let mut args = vec![PENDING, "-d", r#"{"service_id":"500001"}"#];
        args.extend(extra);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let line = last_line(&out);
        assert!(line.starts_with("wxpay: "), "{line}");
        assert!(line.contains("-P out_order_no=…"), "{line}");
        assert!(!line.contains("{\"out_order_no\""), "no map syntax: {line}");
    }
    // An empty value is named the same way.
    let out = run(&[PENDING, "-P", "out_order_no=", "-d", "{}", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        last_line(&out).contains("-P out_order_no="),
        "{}",
        text(&out)
    );
}

#[test]
fn a_far_unknown_flag_gets_no_suggestion() {
    let out = run(&["v3/certificates", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "clap's status: {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("'--frobnicate'"), "{stderr}");
    assert!(!stderr.contains("--certificate"), "{stderr}");
    assert!(!stderr.contains("similar"), "{stderr}");
    assert!(stderr.contains("Usage: wxpay [OPTIONS] [URI]"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_near_unknown_flag_keeps_its_suggestion() {
    for (typed, meant) in [("--dryrun", "--dry-run"), ("--formt", "--format")] {
        let out = run(&["v3/certificates", typed]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("a similar argument exists: '{meant}'")),
            "{typed}: {stderr}"
        );
        assert!(stderr.contains("Usage:"), "{stderr}");
    }
}

#[test]
fn an_uncatalogued_endpoint_is_warned_about_then_sent() {
    let served = Served::start("messages-catalog");
    let toml = served.toml();
    let out = run(&[
        "-c",
        &toml,
        "v3/payscore/partner/servicepayondeliverorder",
        "-d",
        r#"{"out_order_no":"W1"}"#,
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "the sandbox's 404: {}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("wxpay: warning: POST v3/payscore/partner/servicepayondeliverorder is not in the endpoint catalog"),
        "{stderr}"
    );
    assert!(
        lines[0].contains(
            "nearest catalog endpoints: POST v3/payscore/partner/servicepayondeliveryorder"
        ),
        "the right suggestion first: {stderr}"
    );
    assert!(lines[1].contains("HTTP 404"), "{stderr}");
    // It was sent: the sandbox recorded it.
    let (status, body) = served.control("GET", "/_sandbox/requests", "");
    assert_eq!(status, 200);
    assert!(body.contains("servicepayondeliverorder"), "{body}");

    // A catalog endpoint gets no warning, also when its answer is an error.
    for args in [
        vec!["-c", &toml, "v3/certificates"],
        vec![
            "-c",
            &toml,
            "v3/payscore/partner/servicepayondeliveryorder",
            "-d",
            r#"{"out_order_no":"W2"}"#,
        ],
        vec![
            "-c",
            &toml,
            PENDING,
            "-P",
            "out_order_no=W2",
            "-d",
            "{}",
            "--dry-run",
        ],
    ] {
        let out = run(&args);
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("warning"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn a_subcommand_keeps_its_own_usage_line() {
    let out = run(&["sandbox", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Usage: wxpay sandbox"), "{stderr}");
    let out = run(&["sandbox", "--lisen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a similar argument exists: '--listen'"),
        "{stderr}"
    );
}
