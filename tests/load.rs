//! Loss-free load (issue 7): 20,000 requests at concurrency 256 through one client, each with
//! its own `out_order_no`, against `wxpay sandbox` running as a separate process (so this
//! process's memory is the client's alone).
//!
//! The endpoint is the payscore partner order creation (`POST
//! v3/payscore/partner/servicepayondeliveryorder`), whose sandbox answer echoes the request's
//! `out_order_no`: every response is matched to its request. The requests go in waves of
//! 1,000 (256 in flight within a wave); after each wave the sandbox's record of received
//! requests is read (`GET /_sandbox/requests`) and cleared (`DELETE`, whose `cleared` count
//! must be the wave's size), so the sandbox's own counts show each `out_order_no` arrived
//! exactly once, whatever bound its recorder has. The client's resident memory is sampled
//! after the first 5,000 and after all 20,000 requests; it must stay flat.
//!
//! Run it alone, with its figures: `cargo test --all-features --test load -- --nocapture`.
//! A debug build on 2 shared cores took 129–154 s: 20,000 matched, 0 lost, 0 duplicated,
//! client RSS about 29.5 MiB after 5,000 and 32 MiB after 20,000 requests (+2–3 MiB).
#![cfg(feature = "cli")]
// The figures are the point of a run with --nocapture.
#![allow(clippy::print_stderr)]

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wechatpay_chain::{SystemClock, Wechatpay};

const REQUESTS: usize = 20_000;
const CONCURRENCY: usize = 256;
const WAVE: usize = 1_000;
/// Requests after which the first memory sample is taken.
const FIRST_SAMPLE_AT: usize = 5_000;
/// The most the client's resident memory may grow between the samples (runs grew 2–3 MiB; a
/// leak of 600 bytes per request exceeds it).
const MAX_RSS_GROWTH_KIB: u64 = 8 * 1024;
/// The whole test, hard limit.
const LIMIT: Duration = Duration::from_secs(600);
const CREATE: &str = "v3/payscore/partner/servicepayondeliveryorder";
const SUB_MCHID: &str = "1900000109";

/// `wxpay sandbox`, killed when dropped (also when the test fails).
struct Served {
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `wxpay sandbox` on a free loopback port; returns it and its base URI.
fn serve() -> (Served, String) {
    let dir = std::env::temp_dir().join(format!("wxpay-load-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--config-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wxpay sandbox");
    let stdout = child.stdout.take().expect("piped stdout");
    let served = Served { child, dir };
    let mut lines = BufReader::new(stdout);
    let mut base = String::new();
    lines
        .read_line(&mut base)
        .expect("the sandbox prints its base URI");
    // Keep draining whatever else it prints, so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let base = base.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    (served, base)
}

/// This process's resident set size, in KiB.
fn rss_kib() -> u64 {
    let mut status = String::new();
    std::fs::File::open("/proc/self/status")
        .and_then(|mut f| f.read_to_string(&mut status))
        .expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// One unsigned control request over HTTP/1.0 (no chunking, closed at the end): the JSON body.
async fn control(base: &str, method: &str, path: &str) -> Value {
    let authority = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = TcpStream::connect(&authority).await.expect("connect");
    let request = format!("{method} {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    assert!(answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200"));
    serde_json::from_slice(&answer[at + 4..]).expect("a JSON body")
}

fn order_body(out_order_no: &str) -> Value {
    json!({
        "out_order_no": out_order_no,
        "appid": "wxd678efh567hg6787",
        "sub_mchid": SUB_MCHID,
        "service_id": "2002000000000558128851361561536",
        "service_introduction": "load",
        "post_payments": [{"name": "delivery", "amount": 4000, "description": "fee"}],
        "time_range": {"start_time": "OnAccept"},
    })
}

/// What the client saw.
#[derive(Default)]
struct Tally {
    matched: AtomicUsize,
    /// Errors and mismatches (the first few kept, all counted).
    failed: AtomicUsize,
    first_failures: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut first = self.first_failures.lock().unwrap();
        if first.len() < 10 {
            first.push(what);
        }
    }
}

/// Sends requests `start..end`, `CONCURRENCY` at a time, and checks each answer echoes its own
/// `out_order_no`.
async fn wave(client: &Wechatpay, prefix: &str, start: usize, end: usize, tally: &Arc<Tally>) {
    let next = Arc::new(AtomicUsize::new(start));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (client, next, tally, prefix) = (
            client.clone(),
            next.clone(),
            tally.clone(),
            prefix.to_string(),
        );
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= end {
                    break;
                }
                let no = format!("{prefix}{i:05}");
                let options = json!({"json": order_body(&no)});
                let answer = client.chain(CREATE).post(options).await;
                let echoed = answer.and_then(|r| r.json::<Value>());
                match echoed {
                    Ok(body) if body["out_order_no"] == no.as_str() => {
                        tally.matched.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(body) => tally.fail(format!("{no}: answered for {}", body["out_order_no"])),
                    Err(e) => tally.fail(format!("{no}: {e}")),
                }
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        joined.expect("a worker panicked");
    }
}

/// The sandbox's count of each `out_order_no` received since the last clear, then clears;
/// checks the clear removed exactly what was listed.
async fn received(base: &str, counts: &mut HashMap<String, usize>) -> usize {
    let listed = control(base, "GET", "/_sandbox/requests").await;
    let listed = listed.as_array().expect("a list of requests");
    for request in listed {
        let body: Value = request["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        let no = body["out_order_no"]
            .as_str()
            .unwrap_or("<none>")
            .to_string();
        *counts.entry(no).or_default() += 1;
    }
    let cleared = control(base, "DELETE", "/_sandbox/requests").await;
    assert_eq!(
        cleared["cleared"].as_u64(),
        Some(listed.len() as u64),
        "the sandbox listed fewer requests than it held"
    );
    listed.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_requests_lose_nothing_and_memory_stays_flat() {
    tokio::time::timeout(LIMIT, run())
        .await
        .expect("the load test took longer than its limit");
}

async fn run() {
    let (_served, base) = serve();
    let client = support::builder_at(0)
        .clock(SystemClock)
        .base_uri(&base)
        .no_backup()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let prefix = format!("LOAD{}T", std::process::id());
    let tally = Arc::new(Tally::default());
    let mut counts: HashMap<String, usize> = HashMap::with_capacity(REQUESTS);
    let mut recorded = 0;
    let mut rss_first = 0;
    let started = Instant::now();
    for start in (0..REQUESTS).step_by(WAVE) {
        let end = (start + WAVE).min(REQUESTS);
        wave(&client, &prefix, start, end, &tally).await;
        let got = received(&base, &mut counts).await;
        assert_eq!(
            got,
            end - start,
            "wave {start}..{end}: the sandbox recorded {got} requests"
        );
        recorded += got;
        if end == FIRST_SAMPLE_AT {
            rss_first = rss_kib();
        }
    }
    let elapsed = started.elapsed();
    let rss_last = rss_kib();

    let matched = tally.matched.load(Ordering::SeqCst);
    let failed = tally.failed.load(Ordering::SeqCst);
    let lost = (0..REQUESTS)
        .filter(|i| !counts.contains_key(&format!("{prefix}{i:05}")))
        .count();
    let duplicated: usize = counts.values().map(|n| n.saturating_sub(1)).sum();
    let strangers = counts.keys().filter(|no| !no.starts_with(&prefix)).count();
    eprintln!(
        "load: {REQUESTS} requests at concurrency {CONCURRENCY} in {:.1} s ({:.0}/s): \
         matched {matched}, failed {failed}; sandbox recorded {recorded}, lost {lost}, \
         duplicated {duplicated}; client RSS {rss_first} KiB after {FIRST_SAMPLE_AT}, \
         {rss_last} KiB after {REQUESTS} ({:+} KiB)",
        elapsed.as_secs_f64(),
        REQUESTS as f64 / elapsed.as_secs_f64(),
        i128::from(rss_last) - i128::from(rss_first),
    );
    assert_eq!(
        failed,
        0,
        "failures (first ones): {:?}",
        tally.first_failures.lock().unwrap()
    );
    assert_eq!(matched, REQUESTS, "every response matched to its request");
    assert_eq!(recorded, REQUESTS, "the sandbox received each request once");
    assert_eq!(lost, 0, "requests the sandbox never received");
    assert_eq!(
        duplicated, 0,
        "requests the sandbox received more than once"
    );
    assert_eq!(strangers, 0, "requests the test did not send");
    assert!(
        rss_last.saturating_sub(rss_first) < MAX_RSS_GROWTH_KIB,
        "client memory grew by {} KiB between {FIRST_SAMPLE_AT} and {REQUESTS} requests",
        rss_last - rss_first
    );
}
