//! `wxpay endpoints` run as a binary: filters (path, template, dotted chain, any case, -X),
//! both formats, the empty result, exit statuses; and the CLI's `endpoint_fields.tsv` in step
//! with the library catalog (the same (method, path) pairs, each once).
#![cfg(feature = "cli")]

mod cli_util;

use std::collections::BTreeSet;

use cli_util::{last_line, run, text};
use serde_json::Value;
use wechatpay_chain::catalog::ENDPOINTS;

const FIELDS: &str = include_str!("../src/bin/wxpay/endpoint_fields.tsv");

/// `wxpay endpoints args…` in json: the array.
fn listing(args: &[&str]) -> Vec<Value> {
    let mut call = vec!["endpoints"];
    call.extend(args);
    let out = run(&call);
    assert_eq!(out.status.code(), Some(0), "{call:?}: {}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line of JSON");
    serde_json::from_str::<Value>(&stdout)
        .unwrap()
        .as_array()
        .expect("a JSON array")
        .clone()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn the_field_list_has_exactly_the_catalog_endpoints_each_once() {
    let mut listed = BTreeSet::new();
    for line in FIELDS.lines().filter(|l| !l.starts_with('#')) {
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(columns.len(), 4, "method, path, query, body: {line:?}");
        assert!(
            listed.insert((columns[0], columns[1])),
            "listed twice: {line:?}"
        );
    }
    let catalog: BTreeSet<(&str, &str)> = ENDPOINTS.iter().map(|e| (e.method, e.path)).collect();
    assert_eq!(
        catalog.len(),
        ENDPOINTS.len(),
        "the catalog has no duplicates"
    );
    let missing: Vec<_> = catalog.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&catalog).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "regenerate endpoint_fields.tsv (see its header): not listed {missing:?}, not in the catalog {extra:?}"
    );
}

#[test]
fn a_seed_endpoint_shows_its_variables_body_fields_content_type_and_base_uri() {
    let found = listing(&["payscore/partner/serviceorder/{out_order_no}/send-pendingmessage"]);
    assert_eq!(found.len(), 1, "{found:?}");
    let e = &found[0];
    assert_eq!(e["method"], "POST");
    assert_eq!(
        e["path"],
        "/v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage"
    );
    assert_eq!(strings(&e["variables"]), ["out_order_no"]);
    assert!(strings(&e["body"]).contains(&"service_id"), "{e}");
    assert!(strings(&e["query"]).is_empty(), "{e}");
    assert_eq!(e["content_type"], "application/json");
    assert_eq!(e["base_uri"], "https://api.mch.weixin.qq.com/");
    assert_eq!(
        e["chain"],
        "v3.payscore.partner.serviceorder._out_order_no_.sendPendingmessage"
    );
}

#[test]
fn the_filter_matches_any_case_and_the_dotted_chain_and_x_keeps_one_method() {
    let found = listing(&["V3.BILL.TRADEBILL"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["path"], "/v3/bill/tradebill");
    assert!(strings(&found[0]["query"]).contains(&"bill_date"));
    assert_eq!(found[0]["body"], Value::Null, "a GET takes no body");

    let all = listing(&["payscore/partner"]);
    let gets = listing(&["payscore/partner", "-X", "get"]);
    assert!(
        !gets.is_empty() && gets.len() < all.len(),
        "{} of {}",
        gets.len(),
        all.len()
    );
    assert!(gets.iter().all(|e| e["method"] == "GET"));
    assert!(all
        .iter()
        .all(|e| e["path"].as_str().unwrap().contains("payscore/partner")));

    assert_eq!(
        listing(&[]).len(),
        ENDPOINTS.len(),
        "no filter: every endpoint"
    );
}

#[test]
fn no_match_is_an_empty_listing_exit_0_with_a_note() {
    let out = run(&["endpoints", "no-such-endpoint-anywhere"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
    assert!(last_line(&out).starts_with("wxpay: no endpoint matches"));

    let out = run(&[
        "endpoints",
        "no-such-endpoint-anywhere",
        "--format",
        "pretty",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn pretty_is_a_readable_listing() {
    let out = run(&[
        "endpoints",
        "partner/servicepayondeliveryorder",
        "--format",
        "pretty",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(serde_json::from_str::<Value>(&listing).is_err(), "not JSON");
    assert!(
        listing.starts_with("POST /v3/payscore/partner/servicepayondeliveryorder\n"),
        "{listing}"
    );
    for row in [
        "  variables",
        "  query",
        "  body",
        "  content type  application/json",
        "  base URI",
    ] {
        assert!(listing.contains(row), "{row}: {listing}");
    }
}

#[test]
fn a_bad_method_or_an_unwritable_stdout_is_exit_2() {
    let out = run(&["endpoints", "-X", "TRACE"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(last_line(&out).contains("-X TRACE"), "{}", text(&out));
    #[cfg(target_os = "linux")]
    {
        let out = cli_util::run_stdout_full(&["endpoints", "v3/bill"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(last_line(&out).contains("cannot write"), "{}", text(&out));
    }
}
