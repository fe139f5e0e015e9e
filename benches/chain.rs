//! Chain building + template expansion (+ query), in every form of the chain.
//!
//! `cargo bench --bench chain`. Each id measures, per iteration, building the chain for the
//! six-segment, one-variable endpoint
//! `v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage` from the client and
//! expanding it with one variable through the public, unsigned path: [`Chain::template`] then
//! [`template::expand_path`] (what [`Chain::prepare`] does before it signs). The variables are
//! built once, outside the loop, as a caller holding its options would.
//! Target (issue 9): under 1 µs in every form, release build.

//!
//! After criterion's wall-clock figures it prints each form's **CPU** time per iteration (this
//! thread's user + system time from `/proc`, Linux only), which stays meaningful on a machine
//! shared with other work.

// criterion's macros generate undocumented public functions; a benchmark reports on stdout.
#![allow(missing_docs, clippy::print_stdout)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use serde_json::{Map, Value};
use wechatpay_chain::template::{expand_path, query_from_map};
use wechatpay_chain::{json, Chain, PrivateKey, Wechatpay};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
const PATH: &str = "v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage";
const EXPANDED: &str = "v3/payscore/partner/serviceorder/1234323JKHDFE1243252/send-pendingmessage";

fn client() -> Wechatpay {
    let key = PrivateKey::from_pem_file(format!("{FIX}apiclient_key.pem")).unwrap();
    Wechatpay::builder()
        .mchid("1900000109")
        .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
        .private_key(key)
        .build()
        .unwrap()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

/// Template + expansion of a built chain: the work `prepare` does on the path before signing.
fn expand(chain: &Chain, vars: &Map<String, Value>) -> String {
    let template = chain.template().unwrap();
    let mut out = String::with_capacity(template.len() + 32);
    expand_path(&template, vars, &mut out).unwrap();
    out
}

fn typed(wxpay: &Wechatpay, vars: &Map<String, Value>) -> String {
    let node = wxpay
        .v3()
        .payscore()
        .partner()
        .serviceorder()
        ._out_order_no_()
        .send_pendingmessage();
    expand(&node, vars)
}

fn dynamic(wxpay: &Wechatpay, vars: &Map<String, Value>) -> String {
    let chain = wxpay
        .seg("v3")
        .seg("payscore")
        .seg("partner")
        .seg("serviceorder")
        .seg("_out_order_no_")
        .seg("sendPendingmessage");
    expand(&chain, vars)
}

fn declarative(wxpay: &Wechatpay, vars: &Map<String, Value>) -> String {
    expand(&wxpay.chain(black_box(PATH)), vars)
}

fn indexed(wxpay: &Wechatpay, vars: &Map<String, Value>) -> String {
    expand(&wxpay[PATH], vars)
}

/// A GET with a query: `v3/pay/transactions/id/{transaction_id}?mchid=…`, the query given as
/// an object (the `query` option) and rendered as `prepare` does.
fn with_query(wxpay: &Wechatpay, vars: &Map<String, Value>, query: &Map<String, Value>) -> String {
    let chain = wxpay.v3().pay().transactions().id()._transaction_id_();
    let mut out = expand(&chain, vars);
    let query = query_from_map(query).unwrap();
    out.push('?');
    out.push_str(&query);
    out
}

fn benches(c: &mut Criterion) {
    let wxpay = client();
    let vars = object(json!({"out_order_no": "1234323JKHDFE1243252"}));
    let id_vars = object(json!({"transaction_id": "4200000000202401010000000001"}));
    let query = object(json!({"mchid": "1900000109"}));

    // Every form builds the same path: checked once here, so a bench never measures a wrong one.
    for form in [typed, dynamic, declarative, indexed] {
        assert_eq!(form(&wxpay, &vars), EXPANDED);
    }
    assert_eq!(
        with_query(&wxpay, &id_vars, &query),
        "v3/pay/transactions/id/4200000000202401010000000001?mchid=1900000109"
    );

    let mut group = c.benchmark_group("chain_build_expand");
    group.bench_function("typed_tree", |b| {
        b.iter(|| typed(black_box(&wxpay), black_box(&vars)));
    });
    group.bench_function("seg_dynamic", |b| {
        b.iter(|| dynamic(black_box(&wxpay), black_box(&vars)));
    });
    group.bench_function("chain_str", |b| {
        b.iter(|| declarative(black_box(&wxpay), black_box(&vars)));
    });
    group.bench_function("index", |b| {
        b.iter(|| indexed(black_box(&wxpay), black_box(&vars)));
    });
    group.bench_function("typed_get_with_query", |b| {
        b.iter(|| with_query(black_box(&wxpay), black_box(&id_vars), black_box(&query)));
    });
    group.finish();
}

/// This thread's CPU time (user + system) from `/proc/thread-self/stat`, in clock ticks of
/// 10 ms (USER_HZ = 100); `None` where there is no such file.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // After the `(comm)` field: state is field 3, utime field 14, stime field 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU nanoseconds per call of `f`, over at least one second of CPU time.
fn cpu_per_call(mut f: impl FnMut() -> String) -> Option<f64> {
    let start = thread_cpu()?;
    let mut calls = 0u64;
    loop {
        for _ in 0..10_000 {
            black_box(f());
        }
        calls += 10_000;
        let used = thread_cpu()? - start;
        if used >= Duration::from_secs(1) {
            return Some(used.as_secs_f64() * 1e9 / calls as f64);
        }
    }
}

fn cpu_report() {
    let wxpay = client();
    let vars = object(json!({"out_order_no": "1234323JKHDFE1243252"}));
    let id_vars = object(json!({"transaction_id": "4200000000202401010000000001"}));
    let query = object(json!({"mchid": "1900000109"}));
    let forms: [(&str, &dyn Fn() -> String); 5] = [
        ("typed_tree", &|| typed(&wxpay, &vars)),
        ("seg_dynamic", &|| dynamic(&wxpay, &vars)),
        ("chain_str", &|| declarative(&wxpay, &vars)),
        ("index", &|| indexed(&wxpay, &vars)),
        ("typed_get_with_query", &|| {
            with_query(&wxpay, &id_vars, &query)
        }),
    ];
    // A yardstick for the machine: one allocation and copy of the expanded path.
    let yardstick = cpu_per_call(|| String::from(black_box(EXPANDED)));
    println!(
        "CPU time per build + expand (target < 1 µs); one String::from of the path: {:.0} ns",
        yardstick.unwrap_or(f64::NAN)
    );
    for (name, f) in forms {
        match cpu_per_call(f) {
            Some(ns) => println!("  {name:<22} {ns:>7.0} ns"),
            None => println!("  {name:<22} (no /proc/thread-self/stat)"),
        }
    }
}

criterion_group!(group, benches);

fn main() {
    group();
    // `cargo test --benches` runs each bench once, without `--bench`: no report then.
    if std::env::args().any(|a| a == "--bench") {
        cpu_report();
    }
    Criterion::default().configure_from_args().final_summary();
}
