//! A blocking call made inside a current-thread runtime, after an async call on the same client,
//! completes promptly: blocking calls have their own connection pool, driven by the background
//! runtime, so they never wait on a connection whose task lives on the (now blocked) caller.
#![cfg(all(feature = "sandbox", feature = "blocking"))]

use std::time::{Duration, Instant};

use wechatpay_chain::blocking;
use wechatpay_chain::sandbox::Sandbox;

/// The client's total timeout: a stalled blocking call would take this long to fail.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Well under the client timeout: a call that completes is far faster than this.
const PROMPT: Duration = Duration::from_secs(3);

#[test]
fn blocking_after_async_in_a_current_thread_runtime_completes_promptly() {
    let started = Instant::now();
    // The sandbox runs on the background runtime: the caller's runtime is blocked below, and a
    // server on it could not answer.
    let sandbox = blocking::wait(Sandbox::builder().start()).expect("sandbox starts");
    let wxpay = sandbox
        .client_builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("current-thread runtime");

    runtime.block_on(async {
        let certificates = wxpay.v3().certificates();
        // The async call pools a connection whose task runs on this runtime.
        let first = certificates.get(()).await.expect("async call");
        assert_eq!(first.status(), 200);

        // This thread now blocks: the async pool's connection cannot make progress.
        let call = Instant::now();
        let second = certificates.blocking().get(()).expect("blocking verb");
        assert_eq!(second.status(), 200);
        assert!(
            call.elapsed() < PROMPT,
            "the blocking verb took {:?}",
            call.elapsed()
        );

        // The same holds for any client future handed to `wait`.
        let call = Instant::now();
        let third = blocking::wait(certificates.get(())).expect("wait(future)");
        assert_eq!(third.status(), 200);
        assert!(
            call.elapsed() < PROMPT,
            "wait(future) took {:?}",
            call.elapsed()
        );
    });
    drop(runtime);
    sandbox.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the whole test took {:?}",
        started.elapsed()
    );
}
