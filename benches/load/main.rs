//! End-to-end load benchmark: N signed POSTs at concurrency C through the real client against
//! a bench-mode sandbox ([`SandboxBuilder::bench_mode`]) running in a separate process, and the
//! client's cost per request against the RSA floor (one sign + one verify).
//!
//! ```text
//! cargo bench --features sandbox --bench load -- --requests 20000 --concurrency 64 --threads 1 --sandbox-threads 1 --pin
//! ```
//!
//! Options: `--requests N` (10000), `--concurrency C` (64), `--body-bytes B` (1000),
//! `--threads T` (client runtime workers, 2), `--sandbox-threads T` (2), `--in-flight N` (256;
//! 0 skips), `--pin` (client on CPUs `0..T`, sandbox on the others: the client's CPU time then
//! excludes cache and core sharing with the sandbox), `--no-sweep`, `--no-openssl`.
//!
//! Prints the backend, requests/s, client CPU per request, p50/p99 latency, peak RSS,
//! allocations per request, connections the sandbox accepted, in-process sign and verify
//! times (before the run, and metered during it: the signer's every signature, a verification
//! probed every few requests on the client's workers), `overhead = (CPU per request − sign −
//! verify) ÷ (sign + verify)` (target 0.15), `openssl speed rsa2048`'s sign time and the
//! ratio to ours timed in turn with it (target ≤ 1.15 with aws-lc-rs), the peak RSS with 256
//! requests in flight (target < 32 MB) and a body-size sweep.
//!
//! The main run's body is a typed struct (`Options::json`), as a Rust service has it; a second
//! run sends the same JSON as a `serde_json::Value` (a call site ported from PHP or JS, which
//! clones and fills a `Value` per request) and prints its CPU and overhead beside.
//! CPU and RSS figures are Linux-only (`CLOCK_PROCESS_CPUTIME_ID`, `/proc/self/status`).
//!
//! Run without `--bench` (`cargo test --features sandbox --bench load`), it does a small smoke
//! run and fails unless every answer was a verified 2xx.
//!
//! [`SandboxBuilder::bench_mode`]: wechatpay_chain::sandbox::SandboxBuilder::bench_mode

// A benchmark reports on stdout.
#![allow(missing_docs, clippy::print_stdout, clippy::print_stderr)]

mod body;
mod child;
mod meter;
mod probe;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use wechatpay_chain::{Certificate, PrivateKey, PublicKey, Wechatpay};

use body::Body;
use meter::{MeteredKey, VerifyProbe};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
/// A catalog endpoint the bench-mode sandbox answers (any would do).
/// The system allocator, counting: allocations per request are one of the figures.
#[global_allocator]
static ALLOCATOR: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

/// Allocations (reallocations included) and bytes asked for so far.
fn allocation_counts() -> (u64, u64) {
    let stats = ALLOCATOR.stats();
    let grown = usize::try_from(stats.bytes_reallocated).unwrap_or(0);
    let wide = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    (
        wide(stats.allocations + stats.reallocations),
        wide(stats.bytes_allocated + grown),
    )
}

const ENDPOINT: &str = "v3/pay/transactions/native";
const MB: f64 = 1_000_000.0;

#[derive(Debug, Clone)]
struct Args {
    requests: usize,
    concurrency: usize,
    body_bytes: usize,
    threads: usize,
    sandbox_threads: usize,
    in_flight: usize,
    /// Pin the client to CPUs `0..threads` and the sandbox to the CPUs after them.
    pin: bool,
    sweep: bool,
    openssl: bool,
    /// Not run by `cargo bench`: a quick check that everything works.
    smoke: bool,
}

fn parse_args() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let smoke = !argv.iter().any(|a| a == "--bench");
    let mut args = Args {
        requests: 10_000,
        concurrency: 64,
        body_bytes: 1000,
        threads: 2,
        sandbox_threads: 2,
        in_flight: 256,
        pin: false,
        sweep: true,
        openssl: true,
        smoke,
    };
    if smoke {
        args.requests = 50;
        args.concurrency = 8;
        args.in_flight = 32;
        args.openssl = false;
    }
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--requests" => args.requests = number(arg)?.max(1),
            "--concurrency" => args.concurrency = number(arg)?.max(1),
            "--body-bytes" => args.body_bytes = number(arg)?,
            "--threads" => args.threads = number(arg)?.max(1),
            "--sandbox-threads" => args.sandbox_threads = number(arg)?.max(1),
            "--in-flight" => args.in_flight = number(arg)?,
            "--pin" => args.pin = true,
            "--no-sweep" => args.sweep = false,
            "--no-openssl" => args.openssl = false,
            // cargo's own: `--bench` (cargo bench); test-harness flags under `cargo test`.
            "--bench" | "--nocapture" | "--quiet" | "-q" => {}
            other if smoke => eprintln!("load: ignoring {other} in the smoke run"),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

/// The active crypto backend (`ring`, or `aws-lc-rs` with that feature).
fn backend() -> &'static str {
    wechatpay_chain::crypto::BACKEND
}

/// The client, configured like the sandbox's embedded test keys.
fn client(base_uri: &str, signer: Arc<MeteredKey>) -> Wechatpay {
    let fixtures: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIX}fixtures.json")).expect("fixtures.json"),
    )
    .expect("fixtures.json is JSON");
    let text = |k: &str| fixtures[k].as_str().expect(k).to_string();
    Wechatpay::builder()
        .mchid(text("mchid"))
        .serial(text("merchant_serial"))
        .signer(signer)
        .certificate(
            Certificate::from_pem_file(format!("{FIX}{}", text("platform_certificate_file")))
                .expect("platform certificate"),
        )
        .public_key(
            text("public_key_id"),
            PublicKey::from_pem_file(format!("{FIX}pub_key.pem")).expect("public key"),
        )
        .apiv3_key(text("apiv3_key"))
        .base_uri(base_uri)
        .no_backup()
        .build()
        .expect("client")
}

fn merchant_key() -> PrivateKey {
    PrivateKey::from_pem_file(format!("{FIX}apiclient_key.pem")).expect("merchant key")
}

/// What one scenario measured.
#[derive(Debug)]
struct Run {
    ok: usize,
    failed: usize,
    first_failures: Vec<String>,
    wall: Duration,
    /// The process's CPU time, less the verify probes' metered time.
    cpu: Duration,
    /// Per request, sorted.
    latencies: Vec<Duration>,
    peak_rss_kib: Option<u64>,
    /// Allocations and bytes allocated, by the whole process (the harness's few included).
    allocations: (u64, u64),
}

impl Run {
    fn per_request(&self, d: Duration) -> Duration {
        d / u32::try_from(self.ok + self.failed)
            .unwrap_or(u32::MAX)
            .max(1)
    }

    /// Allocations and bytes allocated per request.
    fn allocations_per_request(&self) -> (u64, u64) {
        let n = u64::try_from(self.ok + self.failed).unwrap_or(1).max(1);
        (self.allocations.0 / n, self.allocations.1 / n)
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let last = self.latencies.len() - 1;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let at = ((last as f64) * p).round() as usize;
        self.latencies[at.min(last)]
    }
}

/// Sends `requests` POSTs with `body` at `concurrency`, each answer checked to be a verified
/// 2xx (the client verifies every answer's signature before returning it); `verify_probe`, if
/// given, times a verification every few requests on the same workers.
async fn drive(
    client: &Wechatpay,
    body: &Body,
    requests: usize,
    concurrency: usize,
    verify_probe: Option<&Arc<VerifyProbe>>,
) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new((0usize, Vec::new())));
    if let Some(verify_probe) = verify_probe {
        verify_probe.meter.reset();
    }
    let rss_reset = probe::reset_peak_rss();
    let (cpu0, start) = (probe::process_cpu(), Instant::now());
    let allocations0 = allocation_counts();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(requests) {
        let (client, next, failures, body, verify_probe) = (
            client.clone(),
            next.clone(),
            failures.clone(),
            body.clone(),
            verify_probe.cloned(),
        );
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break latencies;
                }
                if let Some(verify_probe) = &verify_probe {
                    verify_probe.maybe_probe(i);
                }
                let options = body.options(i);
                let sent = Instant::now();
                let answer = client.chain(ENDPOINT).post(options).await;
                latencies.push(sent.elapsed());
                let problem = match answer {
                    Ok(r) if r.status().is_success() => continue,
                    Ok(r) => format!("status {}", r.status()),
                    Err(e) => e.to_string(),
                };
                let mut f = failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                f.0 += 1;
                if f.1.len() < 5 {
                    f.1.push(problem);
                }
            }
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    while let Some(done) = workers.join_next().await {
        latencies.extend(done.expect("a worker panicked"));
    }
    let probed = verify_probe.map_or(Duration::ZERO, |p| p.meter.total());
    let (wall, cpu) = (
        start.elapsed(),
        probe::process_cpu()
            .saturating_sub(cpu0)
            .saturating_sub(probed),
    );
    let allocations = allocation_counts();
    let allocations = (
        allocations.0 - allocations0.0,
        allocations.1 - allocations0.1,
    );
    latencies.sort_unstable();
    let (failed, first_failures) = std::mem::take(&mut *failures.lock().expect("failures"));
    Run {
        ok: requests - failed,
        failed,
        first_failures,
        wall,
        cpu,
        latencies,
        peak_rss_kib: probe::status_kib("VmHWM").filter(|_| rss_reset),
        allocations,
    }
}

/// The median of `rounds` timings of `batch` calls of `f`, per call, in this thread's CPU
/// time (a loaded machine stretches wall time, not the work done).
fn median_time(rounds: usize, batch: u32, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = probe::thread_cpu();
            for _ in 0..batch {
                f();
            }
            probe::thread_cpu().saturating_sub(start) / batch
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

/// The median thread CPU per signature of `message` with `key`, over `rounds` batches.
fn sign_time(key: &PrivateKey, message: &[u8], rounds: usize, batch: u32) -> Duration {
    median_time(rounds, batch, || {
        std::hint::black_box(key.sign_sha256(std::hint::black_box(message)).ok());
    })
}

/// Our sign time and `openssl speed rsa2048`'s, timed in turn (ours, theirs, ours, theirs,
/// ours, theirs, ours) so that both are measured at the same moments: on a shared machine RSA
/// speed drifts by ±20 % within minutes. Each is the median of its timings; `None` without
/// `openssl`.
fn openssl_comparison(key: &PrivateKey, message: &[u8]) -> Option<(Duration, Duration)> {
    let mut ours = vec![sign_time(key, message, 5, 40)];
    let mut theirs = Vec::new();
    for _ in 0..3 {
        theirs.push(probe::openssl_sign()?);
        ours.push(sign_time(key, message, 5, 40));
    }
    ours.sort_unstable();
    theirs.sort_unstable();
    // Four of ours: the mean of the middle two.
    Some(((ours[1] + ours[2]) / 2, theirs[1]))
}

/// `(CPU per request − floor) ÷ floor`: what a request costs beyond its RSA work.
fn overhead_of(per_request: Duration, floor: Duration) -> f64 {
    (per_request.as_secs_f64() - floor.as_secs_f64()) / floor.as_secs_f64()
}

/// Prints a scenario's failures (the first few); their count.
fn failures(scenario: &str, run: &Run) -> usize {
    for f in &run.first_failures {
        println!("  failure ({scenario}): {f}");
    }
    run.failed
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn mib(kib: Option<u64>) -> String {
    #[allow(clippy::cast_precision_loss)]
    kib.map_or("n/a (no /proc/self/clear_refs)".into(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}

fn main() {
    if let Ok(threads) = std::env::var(child::CHILD_ENV) {
        if let Err(e) = child::serve(&threads) {
            eprintln!("load sandbox: {e}");
            std::process::exit(2);
        }
        return;
    }
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let failed = run(&args);
    if failed > 0 {
        eprintln!("load: {failed} requests failed");
        std::process::exit(1);
    }
}

/// Runs every scenario and prints the figures; returns the number of failed requests.
fn run(args: &Args) -> usize {
    if args.smoke {
        probe::check_parser();
        body::check_forms_agree();
    }
    let sandbox_cpus = if args.pin {
        match child::pin_client(args.threads) {
            Ok(cpus) => Some(cpus),
            Err(e) => {
                eprintln!("load: --pin: {e}");
                std::process::exit(2);
            }
        }
    } else {
        None
    };
    // Sign and verify in this process, on the fixture key, before the client starts.
    let key = merchant_key();
    let public = key.public_key();
    let message = vec![b'm'; 200];
    let signature = key.sign_sha256(&message).expect("sign");
    let (rounds, sign_batch, verify_batch) = if args.smoke {
        (3, 5, 20)
    } else {
        (15, 40, 400)
    };
    // The sign and verify floors on the calling thread.
    let rsa_floor = || {
        let sign = sign_time(&key, &message, rounds, sign_batch);
        let verify = median_time(rounds, verify_batch, || {
            assert!(public.verify_sha256(std::hint::black_box(&message), &signature));
        });
        (sign, verify)
    };
    let (sign, verify) = rsa_floor();
    // The same on every client worker thread at once: the floor at the parallelism of the
    // main run, where both cores are busy (on SMT siblings, RSA slows when both run it).
    let (sign_loaded, verify_loaded) = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..args.threads.max(1))
            .map(|_| scope.spawn(rsa_floor))
            .collect();
        let all: Vec<(Duration, Duration)> = threads
            .into_iter()
            .map(|t| t.join().expect("a timing thread panicked"))
            .collect();
        let n = u32::try_from(all.len()).unwrap_or(1);
        (
            all.iter().map(|t| t.0).sum::<Duration>() / n,
            all.iter().map(|t| t.1).sum::<Duration>() / n,
        )
    });

    let mut sandbox = child::SandboxProcess::start(args.sandbox_threads, sandbox_cpus.as_deref())
        .expect("sandbox process");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .expect("client runtime");
    let metered = Arc::new(MeteredKey::new(merchant_key()));
    let verify_probe = Arc::new(VerifyProbe::new(public, message.clone(), signature));
    let client = client(&sandbox.base_uri, metered.clone());
    let body = Body::typed(args.body_bytes);
    // Warm up: connections, caches, allocator.
    let warm = runtime.block_on(drive(
        &client,
        &body,
        args.concurrency.min(64) * 2,
        args.concurrency,
        None,
    ));
    let mut failed = failures("warm-up", &warm);
    let connections_before = sandbox.connections().ok();
    // A run at the full concurrency, with the sign and verify times metered during it.
    let metered_run = |body: &Body| {
        metered.meter.reset();
        let run = runtime.block_on(drive(
            &client,
            body,
            args.requests,
            args.concurrency,
            Some(&verify_probe),
        ));
        (run, metered.meter.mean().zip(verify_probe.meter.mean()))
    };
    let (main, rsa_in_run) = metered_run(&body);
    failed += failures("main run", &main);
    let connections = sandbox.connections().ok();
    // The same with the body as a call site ported from PHP or JS writes it.
    let ported_body = Body::value(args.body_bytes);
    let (ported, ported_rsa_in_run) = metered_run(&ported_body);
    failed += failures("serde_json::Value run", &ported);

    let per_request = main.per_request(main.cpu);
    let (overhead, overhead_loaded) = (
        overhead_of(per_request, sign + verify),
        overhead_of(per_request, sign_loaded + verify_loaded),
    );
    println!(
        "load benchmark ({} build)",
        if args.smoke { "smoke" } else { "full" }
    );
    println!("  backend                 {}", backend());
    println!(
        "  requests                {} ({} failed)",
        main.ok + main.failed,
        main.failed
    );
    println!("  concurrency             {}", args.concurrency);
    println!(
        "  body                    {} bytes JSON ({}), POST /{ENDPOINT}",
        body.json_len(),
        body.form()
    );
    println!("  client runtime          {} worker threads", args.threads);
    if let Some(cpus) = &sandbox_cpus {
        println!(
            "  pinned                  client on CPUs 0..{}, sandbox on CPUs {cpus}",
            args.threads
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = (main.ok + main.failed) as f64 / main.wall.as_secs_f64();
    println!("  requests/s              {rate:.0}");
    println!("  client CPU per request  {}", us(per_request));
    println!(
        "  latency p50 / p99       {} / {}",
        us(main.percentile(0.5)),
        us(main.percentile(0.99))
    );
    println!("  peak RSS                {}", mib(main.peak_rss_kib));
    let (allocations, allocated) = main.allocations_per_request();
    println!("  allocations per request {allocations} ({allocated} bytes; the harness's included)");
    match (connections_before, connections) {
        (Some(before), Some(after)) => println!(
            "  connections accepted    {after} in all ({} during the run; concurrency {})",
            after - before,
            args.concurrency
        ),
        _ => println!("  connections accepted    n/a"),
    }
    println!(
        "  sign (in-process)       {} (thread CPU, median)",
        us(sign)
    );
    println!(
        "  verify (in-process)     {} (thread CPU, median)",
        us(verify)
    );
    println!(
        "  sign / verify, {} threads at once {} / {} (thread CPU, median; the floor under load)",
        args.threads,
        us(sign_loaded),
        us(verify_loaded)
    );
    println!(
        "  overhead                {overhead:.3} (target ≤ 0.15; against the one-thread floor)"
    );
    println!("  overhead under load     {overhead_loaded:.3} (against the floor with every worker signing)");
    if let Some((sign_in_run, verify_in_run)) = rsa_in_run {
        println!(
            "  sign during the run     {} (thread CPU, mean over the run's signatures)",
            us(sign_in_run)
        );
        println!(
            "  verify during the run   {} (thread CPU, mean of a probe every {} requests on the client's workers)",
            us(verify_in_run),
            VerifyProbe::EVERY
        );
        println!(
            "  overhead in the run     {:.3} (target ≤ 0.15; against the sign and verify times metered during the run)",
            overhead_of(per_request, sign_in_run + verify_in_run)
        );
    }
    if let Some((sign_in_run, verify_in_run)) = ported_rsa_in_run {
        let per_request = ported.per_request(ported.cpu);
        println!(
            "  {} body  {} bytes JSON: client CPU per request {}, {} allocations, overhead in the run {:.3}",
            ported_body.form(),
            ported_body.json_len(),
            us(per_request),
            ported.allocations_per_request().0,
            overhead_of(per_request, sign_in_run + verify_in_run)
        );
    }
    if args.openssl {
        match openssl_comparison(&key, &message) {
            Some((ours, theirs)) => println!(
                "  openssl speed rsa2048   sign {}; ours, timed between its runs, {}; ours ÷ openssl = {:.2} (target ≤ 1.15 with aws-lc-rs)",
                us(theirs),
                us(ours),
                ours.as_secs_f64() / theirs.as_secs_f64()
            ),
            None => println!("  openssl speed rsa2048   n/a (no openssl on PATH)"),
        }
    }

    if args.in_flight > 0 {
        let requests = args.in_flight * 4;
        let run = runtime.block_on(drive(&client, &body, requests, args.in_flight, None));
        failed += failures("in flight", &run);
        println!(
            "  {:<24}peak RSS {} (target < 32 MB), {requests} requests, p99 {}",
            format!("{} in flight", args.in_flight),
            mib(run.peak_rss_kib),
            us(run.percentile(0.99)),
        );
    }

    if args.sweep {
        println!("  body-size sweep (concurrency 1):");
        println!(
            "    {:>9}  {:>8}  {:>14}  {:>14}  {:>12}",
            "body", "requests", "wall/request", "CPU/request", "extra CPU/MB"
        );
        let sizes: &[usize] = if args.smoke {
            &[1_000, 64_000]
        } else {
            &[1_000, 64_000, 256_000, 1_000_000]
        };
        // The CPU per MB beyond the smallest body's: constant when time is linear in size.
        let mut base: Option<(usize, Duration)> = None;
        for &size in sizes {
            let body = Body::typed(size);
            let count = if args.smoke {
                4
            } else {
                (40_000_000 / size).clamp(20, 200)
            };
            let run = runtime.block_on(drive(&client, &body, count, 1, None));
            failed += failures("sweep", &run);
            let cpu = run.per_request(run.cpu);
            #[allow(clippy::cast_precision_loss)]
            let per_mb = match base {
                Some((small, small_cpu)) => format!(
                    "{:.2} ms",
                    (cpu.as_secs_f64() - small_cpu.as_secs_f64()) * 1e3
                        / ((size - small) as f64 / MB)
                ),
                None => {
                    base = Some((size, cpu));
                    "-".into()
                }
            };
            println!(
                "    {:>7}kB  {count:>8}  {:>14}  {:>14}  {per_mb:>12}",
                size / 1000,
                us(run.per_request(run.wall)),
                us(cpu)
            );
        }
    }
    drop(client);
    drop(runtime);
    drop(sandbox);
    if args.smoke {
        assert_eq!(failed, 0, "every answer must be a verified 2xx");
        assert!(
            main.ok == args.requests,
            "{} of {} answered",
            main.ok,
            args.requests
        );
    }
    failed
}
