//! `wxpay bill` run as a binary against a served sandbox: the file holds exactly the bill the
//! sandbox generates (compared with the library's own download of the same bill from an
//! in-process sandbox) and its SHA-1 is the apply's digest; a corrupt or cut bill is exit 5
//! and leaves no file (an earlier one stays); every exit status.
#![cfg(feature = "cli")]

mod cli_util;

use std::path::Path;

use cli_util::{inject, last_line, recorded, run, text, Served};
use ring::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY};
use serde_json::Value;
use wechatpay_chain::sandbox::Sandbox;
use wechatpay_chain::Options;

fn sha1_hex(bytes: &[u8]) -> String {
    digest(&SHA1_FOR_LEGACY_USE_ONLY, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The same bill through the library, from an in-process sandbox (bills are generated from
/// their date and kind alone).
fn library_bill(fund_flow: bool, gzip: bool) -> Vec<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = sandbox.client().unwrap();
        let mut query = Options::new().query("bill_date", "2026-11-30");
        if gzip {
            query = query.query("tar_type", "GZIP");
        }
        let request = if fund_flow {
            wxpay.fund_flow_bill(query)
        } else {
            wxpay.trade_bill(query)
        };
        let mut out = Vec::new();
        request.download_to(&mut out).await.unwrap();
        sandbox.shutdown();
        out
    })
}

/// Files in `dir` (names), sorted: no temporary file may stay behind.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv") || n.ends_with(".part"))
        .collect();
    names.sort();
    names
}

fn bill_requests(served: &Served) -> usize {
    recorded(served)
        .iter()
        .filter(|r| {
            r["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("/v3/bill"))
        })
        .count()
}

#[test]
fn trade_and_fund_flow_bills_land_in_the_file_with_their_digest_checked() {
    let served = Served::start("bill-ok");
    let toml = served.toml();
    for (kind, fund_flow, gzip) in [("trade", false, true), ("fundflow", true, false)] {
        let path = served.dir.path(&format!("{kind}.csv"));
        let mut args = vec![
            "bill",
            kind,
            "-q",
            "bill_date=2026-11-30",
            "-o",
            &path,
            "-c",
            &toml,
        ];
        if gzip {
            args.extend(["-q", "tar_type=GZIP"]);
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{kind}: {}", text(&out));
        let summary: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        let saved = std::fs::read(&path).unwrap();
        assert_eq!(
            saved,
            library_bill(fund_flow, gzip),
            "{kind}: the bill as served"
        );
        assert_eq!(summary["hash_type"], "SHA1", "{summary}");
        assert_eq!(summary["hash_value"], sha1_hex(&saved), "{summary}");
        assert_eq!(summary["bytes"], saved.len(), "{summary}");
        assert_eq!(summary["gzip"], gzip, "{summary}");
        assert_eq!(summary["path"], path.as_str(), "{summary}");
        // Header, 100 rows, summary header and summary.
        assert_eq!(String::from_utf8(saved).unwrap().lines().count(), 103);
    }
    assert_eq!(names(&served.dir.0), ["fundflow.csv", "trade.csv"]);
    // Apply and download, both signed.
    let requests = recorded(&served);
    let downloads: Vec<_> = requests
        .iter()
        .filter(|r| {
            r["target"]
                .as_str()
                .unwrap()
                .starts_with("/v3/billdownload/file?token=")
        })
        .collect();
    assert_eq!(downloads.len(), 2);
    assert!(downloads.iter().all(|r| r["authenticated"] == true));
}

#[test]
fn a_corrupt_or_cut_bill_is_exit_5_and_leaves_no_file() {
    let served = Served::start("bill-corrupt");
    let toml = served.toml();
    let fresh = served.dir.path("fresh.csv");
    let kept = served.dir.write("kept.csv", "the earlier bill");
    for (output, extra) in [
        (&fresh, ["-q", "sandbox_fault=corrupt"]),
        (&kept, ["-q", "sandbox_fault=corrupt"]),
        (&fresh, ["-q", "sandbox_fault=truncate"]),
    ] {
        for gzip in [&["-q", "tar_type=GZIP"][..], &[]] {
            let mut args = vec!["bill", "trade", "-q", "bill_date=2026-11-30"];
            args.extend(gzip);
            args.extend(extra);
            args.extend(["-o", output.as_str(), "-c", &toml]);
            let out = run(&args);
            assert_eq!(out.status.code(), Some(5), "{args:?}: {}", text(&out));
            assert!(out.stdout.is_empty(), "{args:?}: no summary");
            assert!(
                last_line(&out).contains("discard"),
                "{args:?}: {}",
                text(&out)
            );
        }
    }
    assert!(
        !Path::new(&fresh).exists(),
        "no file for a bill that failed"
    );
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "the earlier bill");
    assert_eq!(names(&served.dir.0), ["kept.csv"], "no temporary file left");
}

#[test]
fn bad_input_is_exit_2_and_nothing_is_sent() {
    let served = Served::start("bill-bad");
    let toml = served.toml();
    let out_file = served.dir.path("b.csv");
    let folder = served.dir.0.to_str().unwrap().to_string();
    let no_folder = served.dir.path("no/such/b.csv");
    let date = "bill_date=2026-11-30";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["trade", "-q", date, "-o", "-"], "-o -"),
        (vec!["trade", "-o", &out_file], "bill_date"),
        (
            vec!["trade", "-q", "bill_date", "-o", &out_file],
            "NAME=VALUE",
        ),
        (vec!["trade", "-q", date, "-o", &folder], "folder"),
        (
            vec!["trade", "-q", date, "-o", &no_folder],
            "does not exist",
        ),
        (vec!["weekly", "-q", date, "-o", &out_file], "invalid value"),
        (vec!["trade", "-q", date], "--output"),
    ];
    for (args, needle) in cases {
        let mut call = vec!["bill"];
        call.extend(&args);
        call.extend(["-c", toml.as_str()]);
        let out = run(&call);
        assert_eq!(out.status.code(), Some(2), "{call:?}: {}", text(&out));
        assert!(text(&out).contains(needle), "{call:?}: {}", text(&out));
    }
    let out = run(&["bill", "trade", "-q", date, "-o", &out_file]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(last_line(&out).contains("no private key"), "{}", text(&out));
    assert_eq!(bill_requests(&served), 0, "nothing was sent");
    assert!(!Path::new(&out_file).exists());
}

#[test]
fn transport_api_and_verification_failures_are_3_4_and_5() {
    let served = Served::start("bill-faults");
    let toml = served.toml();
    let path = served.dir.path("b.csv");
    for (fault, code) in [
        (r#"{"fault":"drop"}"#, 3),
        (r#"{"fault":"status","status":400}"#, 4),
        (r#"{"fault":"wrong_signature"}"#, 5),
        (r#"{"fault":"malformed_body"}"#, 5),
    ] {
        inject(&served, fault);
        let args = [
            "bill",
            "trade",
            "-q",
            "bill_date=2026-11-30",
            "-o",
            &path,
            "-c",
            &toml,
        ];
        let out = run(&args);
        cli_util::assert_failed_quietly(&out, &served, code, 400, fault);
        assert!(!Path::new(&path).exists(), "{fault}: no file");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_summary_that_cannot_be_written_is_exit_6_and_the_bill_is_kept() {
    let served = Served::start("bill-full");
    let path = served.dir.path("b.csv");
    let out = cli_util::run_stdout_full(&[
        "bill",
        "trade",
        "-q",
        "bill_date=2026-11-30",
        "-o",
        &path,
        "-c",
        &served.toml(),
    ]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(last_line(&out).contains("was saved"), "{}", text(&out));
    assert_eq!(std::fs::read(&path).unwrap(), library_bill(false, false));
}

#[test]
fn an_in_process_sandbox_serves_a_bill() {
    let dir = cli_util::TempDir::new("bill-inproc");
    let path = dir.path("f.csv");
    let args = [
        "bill",
        "fundflow",
        "-q",
        "bill_date=2026-11-30",
        "-o",
        &path,
        "--sandbox",
    ];
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read(&path).unwrap(), library_bill(true, false));
}
