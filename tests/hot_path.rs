//! The request hot path against the sandbox: a typed body is serialized once and those bytes
//! are what was signed and sent; pooled connections are reused; a signer that may block signs
//! off the runtime, within the request's total timeout. The ignored
//! `signing_placement_experiment` measures where RSA signing should run (see `src/client.rs`).
#![cfg(feature = "sandbox")]

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::{Method, Options};

const SERVICE_ID: &str = "2002000000000558128851361561536";
const SUB_MCHID: &str = "1900000109";

/// Every test body is bounded: a hang is a failure, not a stuck CI job.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the test took longer than 60 s")
}

async fn sandbox() -> SandboxHandle {
    Sandbox::builder().start().await.expect("sandbox starts")
}

/// A pay-on-delivery order whose `Serialize` counts its calls, with its fields in an order no
/// sorted map would keep (`sub_mchid` before `appid`).
struct CountedOrder {
    calls: Arc<AtomicUsize>,
    out_order_no: String,
}

impl Serialize for CountedOrder {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut s = serializer.serialize_struct("CountedOrder", 8)?;
        s.serialize_field("out_order_no", &self.out_order_no)?;
        s.serialize_field("sub_mchid", SUB_MCHID)?;
        s.serialize_field("appid", "wxd678efh567hg6787")?;
        s.serialize_field("service_id", SERVICE_ID)?;
        s.serialize_field("service_introduction", "hot path")?;
        s.serialize_field(
            "post_payments",
            &[serde_json::json!({"name": "delivery", "amount": 4000, "description": "fee"})],
        )?;
        s.serialize_field("time_range", &serde_json::json!({"start_time": "OnAccept"}))?;
        s.end()
    }
}

#[tokio::test]
async fn a_typed_body_is_serialized_once_and_its_bytes_are_signed_and_sent() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let order = CountedOrder {
            calls: calls.clone(),
            out_order_no: "HOT-TYPED-1".into(),
        };
        let prepared = wxpay
            .chain("v3/payscore/partner/servicepayondeliveryorder")
            .prepare(Method::POST, Options::new().json(order))
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "serialized once");
        let body = prepared.body().clone();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(
            text.starts_with(r#"{"out_order_no":"HOT-TYPED-1","sub_mchid":"1900000109","appid""#),
            "the struct's own field order, straight to bytes: {text}"
        );
        let authorization = prepared.headers()["authorization"].clone();
        let message = prepared.message().to_vec();

        let response = wxpay.execute(prepared).await.unwrap();
        assert_eq!(response.status(), 200, "{response:?}");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "not serialized again to send"
        );

        let recorded = sandbox.requests();
        let sent = recorded
            .iter()
            .find(|r| r.target == "/v3/payscore/partner/servicepayondeliveryorder")
            .expect("the sandbox recorded the request");
        assert!(sent.authenticated, "the sandbox verified the signature");
        assert_eq!(sent.body, body, "the bytes sent are the bytes prepared");
        assert_eq!(sent.headers["authorization"], authorization);
        // The signed message ends with exactly those bytes.
        let mut tail = body.to_vec();
        tail.push(b'\n');
        assert!(message.ends_with(&tail));
        assert!(message.starts_with(b"POST\n/v3/payscore/partner/servicepayondeliveryorder\n"));
    })
    .await;
}

/// `requests` GETs of the certificate list at `concurrency` at a time.
async fn burst(wxpay: &wechatpay_chain::Wechatpay, requests: usize, concurrency: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (wxpay, next) = (wxpay.clone(), next.clone());
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < requests {
                let response = wxpay.v3().certificates().get(()).await.unwrap();
                assert_eq!(response.status(), 200);
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
}

/// A cold burst may open a few more than `concurrency` connections: hyper's pool starts a
/// connect when a checkout finds no idle connection and keeps the new one even if a busy
/// connection came back first (observed 16–19 at concurrency 16). A warm pool must then carry
/// every later burst at that concurrency without opening any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_connections_are_reused_over_http1() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let (requests, concurrency) = (200, 16);
        burst(&wxpay, requests, concurrency).await;
        let warm = sandbox.connections_accepted();
        assert!(
            (1..=2 * concurrency as u64).contains(&warm),
            "{requests} requests at concurrency {concurrency} opened {warm} connections"
        );
        burst(&wxpay, requests, concurrency).await;
        assert_eq!(sandbox.certificate_downloads(), 2 * requests);
        assert_eq!(
            sandbox.connections_accepted(),
            warm,
            "{requests} more requests at concurrency {concurrency} opened connections beside the {warm} pooled ones"
        );
    })
    .await;
}

/// Sequential requests use one connection.
#[tokio::test]
async fn sequential_requests_share_one_connection() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        burst(&wxpay, 50, 1).await;
        assert_eq!(sandbox.connections_accepted(), 1);
    })
    .await;
}

/// Where the experiment runs the RSA signing (inside `prepare`).
#[derive(Debug, Clone, Copy)]
enum Placement {
    Inline,
    BlockInPlace,
    SpawnBlocking,
}

/// The `per_mille`-th per-mille of a sorted, non-empty list.
fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    sorted[(sorted.len() - 1) * per_mille / 1000]
}

/// One run: 64 workers send `total` signed POSTs with signing placed as asked, while a probe
/// task measures how late a 1 ms timer fires (what any cheap task on the runtime waits).
async fn run_placement(
    wxpay: wechatpay_chain::Wechatpay,
    placement: Placement,
    total: usize,
) -> String {
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(total)));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut late = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let t = std::time::Instant::now();
                tokio::time::sleep(Duration::from_millis(1)).await;
                late.push(t.elapsed().saturating_sub(Duration::from_millis(1)));
            }
            late
        })
    };
    let started = std::time::Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let (wxpay, next, latencies) = (wxpay.clone(), next.clone(), latencies.clone());
        workers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= total {
                    break;
                }
                let t = std::time::Instant::now();
                let chain = wxpay
                    .chain("v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage");
                let options = serde_json::json!({"out_order_no": format!("NO-{n}"),
                    "json": {"service_id": SERVICE_ID, "sub_mchid": SUB_MCHID}});
                let prepared = match placement {
                    Placement::Inline => chain.prepare(Method::POST, options),
                    Placement::BlockInPlace => {
                        tokio::task::block_in_place(|| chain.prepare(Method::POST, options))
                    }
                    Placement::SpawnBlocking => {
                        tokio::task::spawn_blocking(move || chain.prepare(Method::POST, options))
                            .await
                            .unwrap()
                    }
                }
                .unwrap();
                // An unknown order: a signed 404 from the sandbox, still a full exchange.
                let _ = wxpay.execute(prepared).await;
                latencies.lock().unwrap().push(t.elapsed());
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let mut late = probe.await.unwrap();
    late.sort();
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort();
    format!(
        "{placement:?}: {:.0} req/s; request p50 {:?} p99 {:?}; 1 ms timer lateness p50 {:?} p99 {:?} max {:?}",
        total as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 500),
        percentile(&latencies, 990),
        percentile(&late, 500),
        percentile(&late, 990),
        late.last().copied().unwrap_or_default(),
    )
}

/// Where signing should run, measured (run with `--release -- --ignored --nocapture`). The
/// sandbox runs on its own runtime thread; the client on a 2-worker multi-thread runtime and
/// on a current-thread runtime (where `block_in_place` is not allowed).
#[test]
#[ignore = "an experiment: prints figures, run it by hand in release"]
#[allow(clippy::print_stdout)] // the figures are its output
fn signing_placement_experiment() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let sandbox = sandbox().await;
            tx.send(sandbox.clone()).unwrap();
            // Serve until the handle's other clone says stop.
            while !sandbox.requests().iter().any(|r| r.target == "/stop") {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    });
    let sandbox: SandboxHandle = rx.recv().unwrap();
    let total = 1000;
    for flavor in ["multi_thread(2)", "current_thread"] {
        let rt = match flavor {
            "current_thread" => tokio::runtime::Builder::new_current_thread(),
            _ => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(2);
                b
            }
        }
        .enable_all()
        .build()
        .unwrap();
        let wxpay = sandbox.client().unwrap();
        rt.block_on(run_placement(wxpay.clone(), Placement::Inline, 200)); // warm-up
        for round in 0..2 {
            for placement in [
                Placement::Inline,
                Placement::BlockInPlace,
                Placement::SpawnBlocking,
            ] {
                if flavor == "current_thread" && matches!(placement, Placement::BlockInPlace) {
                    continue;
                }
                let line = rt.block_on(run_placement(wxpay.clone(), placement, total));
                println!("{flavor} round {round} {line}");
            }
        }
    }
    let stop = sandbox.client().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rt.block_on(stop.chain("stop").get(()));
    server.join().unwrap();
}

/// A signer over the fixture merchant key that records the thread each signature ran on.
#[derive(Debug)]
struct ThreadRecordingSigner {
    key: wechatpay_chain::PrivateKey,
    blocks: bool,
    threads: std::sync::Mutex<Vec<std::thread::ThreadId>>,
}

impl wechatpay_chain::Sign for ThreadRecordingSigner {
    fn sign(&self, message: &[u8]) -> wechatpay_chain::Result<Vec<u8>> {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        self.key.sign_sha256(message)
    }

    fn may_block(&self) -> bool {
        self.blocks
    }
}

async fn signing_thread(sandbox: &SandboxHandle, blocks: bool) -> std::thread::ThreadId {
    let signer = Arc::new(ThreadRecordingSigner {
        key: support::merchant_key(),
        blocks,
        threads: std::sync::Mutex::default(),
    });
    let wxpay = sandbox
        .client_builder()
        .signer(signer.clone())
        .build()
        .unwrap();
    let response = wxpay
        .v3()
        .certificates()
        .get(Options::new())
        .await
        .expect("a verified answer");
    assert_eq!(response.status(), 200);
    let threads = signer.threads.lock().unwrap();
    assert_eq!(threads.len(), 1, "one signature per request");
    threads[0]
}

#[tokio::test]
async fn a_signer_that_may_block_signs_off_the_runtime_and_the_key_signs_inline() {
    bounded(async {
        let sandbox = sandbox().await;
        let here = std::thread::current().id();
        // A current-thread runtime: only the blocking pool can run the signature elsewhere.
        assert_ne!(signing_thread(&sandbox, true).await, here);
        assert_eq!(signing_thread(&sandbox, false).await, here);
    })
    .await;
}

/// A signer that may block and takes `delay` per signature: a slow HSM or remote signer.
#[derive(Debug)]
struct SlowSigner {
    key: wechatpay_chain::PrivateKey,
    delay: Duration,
    signed: AtomicUsize,
}

impl SlowSigner {
    fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            key: support::merchant_key(),
            delay,
            signed: AtomicUsize::new(0),
        })
    }
}

impl wechatpay_chain::Sign for SlowSigner {
    fn sign(&self, message: &[u8]) -> wechatpay_chain::Result<Vec<u8>> {
        std::thread::sleep(self.delay);
        self.signed.fetch_add(1, Ordering::SeqCst);
        self.key.sign_sha256(message)
    }

    fn may_block(&self) -> bool {
        true
    }
}

/// A client of `sandbox` whose signer takes `sign_delay` per signature, with a total timeout.
fn slow_signing_client(
    sandbox: &SandboxHandle,
    sign_delay: Duration,
    timeout: Duration,
) -> (wechatpay_chain::Wechatpay, Arc<SlowSigner>) {
    let signer = SlowSigner::new(sign_delay);
    let wxpay = sandbox
        .client_builder()
        .signer(signer.clone())
        .timeout(timeout)
        .build()
        .unwrap();
    (wxpay, signer)
}

#[tokio::test]
async fn a_signer_slower_than_the_total_timeout_times_out_and_nothing_is_sent() {
    bounded(async {
        let sandbox = sandbox().await;
        let (wxpay, signer) = slow_signing_client(
            &sandbox,
            Duration::from_millis(1500),
            Duration::from_millis(400),
        );
        let started = std::time::Instant::now();
        let e = wxpay.v3().certificates().get(()).await.unwrap_err();
        assert!(e.is_timeout(), "{e}");
        assert!(e.to_string().contains("signer"), "{e}");
        assert!(
            started.elapsed() < Duration::from_millis(1200),
            "the caller waited for the signer: {:?}",
            started.elapsed()
        );
        // The signature finishes on its thread; its request is dropped, never sent.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(signer.signed.load(Ordering::SeqCst), 1);
        assert!(sandbox.requests().is_empty(), "{:?}", sandbox.requests());
    })
    .await;
}

/// The wait for a signing slot (one per CPU) counts too: with one request more than there are
/// slots, each signature taking 1 s and a total timeout of 1.6 s, the last one in line times
/// out (it would have its slot at ≈ 1 s and its signature at ≈ 2 s) and the others answer.
#[tokio::test]
async fn the_wait_for_a_signing_slot_counts_against_the_total_timeout() {
    bounded(async {
        let sandbox = sandbox().await;
        let slots = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let (wxpay, signer) = slow_signing_client(
            &sandbox,
            Duration::from_millis(1000),
            Duration::from_millis(1600),
        );
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..=slots {
            let wxpay = wxpay.clone();
            calls.spawn(async move { wxpay.v3().certificates().get(()).await });
        }
        let (mut answered, mut timed_out) = (0, 0);
        while let Some(done) = calls.join_next().await {
            match done.unwrap() {
                Ok(response) => {
                    assert_eq!(response.status(), 200);
                    answered += 1;
                }
                Err(e) if e.is_timeout() => {
                    assert!(e.to_string().contains("signer"), "{e}");
                    timed_out += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((answered, timed_out), (slots, 1));
        assert!(signer.signed.load(Ordering::SeqCst) >= slots);
        assert_eq!(sandbox.requests().len(), slots);
    })
    .await;
}

/// The exchange gets only what the signature left of the total: a 0.8 s signature and a 1 s
/// late answer do not fit in 1.5 s (a timeout restarted after signing would take the answer).
#[tokio::test]
async fn the_exchange_gets_what_the_signature_left_of_the_total_timeout() {
    bounded(async {
        let sandbox = sandbox().await;
        let (wxpay, signer) = slow_signing_client(
            &sandbox,
            Duration::from_millis(800),
            Duration::from_millis(1500),
        );
        sandbox.inject(wechatpay_chain::sandbox::Fault::Delay(Duration::from_secs(
            1,
        )));
        let started = std::time::Instant::now();
        let e = wxpay.v3().certificates().get(()).await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(e.is_timeout(), "{e}");
        assert!(!e.to_string().contains("signer"), "{e}");
        assert!(elapsed < Duration::from_millis(1750), "{elapsed:?}");
        assert_eq!(signer.signed.load(Ordering::SeqCst), 1);
        assert_eq!(sandbox.requests().len(), 1);
    })
    .await;
}
