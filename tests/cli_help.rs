//! `wxpay --help`: examples from the seed endpoints (each one runs as written against the
//! built-in sandbox), the config file format and the exit statuses.

#![cfg(feature = "cli")]

mod cli_util;

use cli_util::{run, text};

fn long_help() -> String {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Splits a shell line into words: whitespace outside quotes separates, '…' and "…" quote
/// (no escapes are used in the help's examples).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unbalanced quote in {line}");
    if in_word {
        words.push(word);
    }
    words
}

/// The `$ wxpay …` lines of the help, as argument lists (without `wxpay`).
fn examples(help: &str) -> Vec<Vec<String>> {
    help.lines()
        .filter_map(|l| l.trim_start().strip_prefix("$ "))
        .map(|l| {
            let mut words = shell_words(l);
            assert_eq!(words.remove(0), "wxpay", "{l}");
            words
        })
        .collect()
}

#[test]
fn help_shows_the_seed_examples_the_config_format_and_exit_statuses() {
    let help = long_help();
    let examples = examples(&help);
    assert!(examples.len() >= 4, "{help}");
    let has = |pred: &dyn Fn(&[String]) -> bool| examples.iter().any(|e| pred(e));
    let arg = |e: &[String], a: &str| e.iter().any(|w| w == a);
    assert!(
        has(&|e| e[0] == "v3/payscore/partner/servicepayondeliveryorder" && arg(e, "-d")),
        "create with -d: {help}"
    );
    assert!(
        has(&|e| e[0].ends_with("/send-pendingmessage")
            && e.iter().any(|w| w.starts_with("out_order_no="))
            && arg(e, "-P")),
        "send-pendingmessage with -P out_order_no=…: {help}"
    );
    assert!(has(&|e| arg(e, "-q")), "a query with -q: {help}");
    assert!(has(&|e| arg(e, "--sandbox")), "{help}");
    assert!(has(&|e| arg(e, "--dry-run")), "{help}");
    for text in [
        "Config file",
        "mchid = ",
        "serial = ",
        "private_key = ",
        "apiv3_key = ",
        "[public_keys]",
        "[certificates]",
        "Exit status:",
        "  3  transport failure",
        "  6  the request went through",
    ] {
        assert!(help.contains(text), "{text:?} missing: {help}");
    }
    // Short help keeps the exit statuses but not the examples.
    let short = run(&["-h"]);
    let short = String::from_utf8_lossy(&short.stdout);
    assert!(
        short.contains("Exit status:") && !short.contains("$ wxpay"),
        "{short}"
    );
}

#[test]
fn every_example_in_the_help_runs() {
    for example in examples(&long_help()) {
        let args: Vec<&str> = example.iter().map(String::as_str).collect();
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "wxpay {args:?}: {}", text(&out));
        let value: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", text(&out)));
        if !args.contains(&"--dry-run") {
            assert_eq!(
                value["status"].as_u64().map(|s| s / 100),
                Some(2),
                "{value}"
            );
        }
    }
}
