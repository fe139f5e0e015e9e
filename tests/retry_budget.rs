//! GET retries and their waits fit inside the request's total timeout: a `Retry-After` (or a
//! backoff) that does not fit is not waited for, the last answer comes back at once as an API
//! error, and each retry gets only what is left of the budget.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use wechatpay_chain::transport::{BoxFuture, Route, Transport};
use wechatpay_chain::{Options, Response, Result, Wechatpay};

/// A generous bound on every test: a hang fails instead of stalling the run.
const BOUND: Duration = Duration::from_secs(10);

/// Answers `429 RATELIMIT_EXCEEDED` with `Retry-After: {retry_after}` to the first `answers`
/// requests, then never answers; records the route of each call.
#[derive(Debug)]
struct RateLimited {
    retry_after: &'static str,
    answers: usize,
    calls: AtomicUsize,
    routes: Mutex<Vec<Route>>,
}

impl RateLimited {
    fn new(retry_after: &'static str, answers: usize) -> Arc<Self> {
        Arc::new(Self {
            retry_after,
            answers,
            calls: AtomicUsize::new(0),
            routes: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Transport for RateLimited {
    fn send<'a>(
        &'a self,
        _request: http::Request<Bytes>,
        route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>> {
        self.routes.lock().unwrap().push(route.clone());
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if call >= self.answers {
                std::future::pending::<()>().await;
            }
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", HeaderValue::from_static(self.retry_after));
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            Ok(Response::new(
                StatusCode::TOO_MANY_REQUESTS,
                headers,
                Bytes::from_static(br#"{"code":"RATELIMIT_EXCEEDED","message":"slow down"}"#),
            ))
        })
    }
}

/// A client on `transport` with `get_retries(3)` and a total timeout of `timeout`.
fn client(transport: Arc<dyn Transport>, timeout: Duration) -> Wechatpay {
    support::builder_at(support::VECTOR_EPOCH)
        .timeout(timeout)
        .get_retries(3)
        .transport(transport)
        .build()
        .expect("client")
}

async fn get(wxpay: &Wechatpay, options: Options) -> (Result<Response>, Duration) {
    let started = Instant::now();
    let result = tokio::time::timeout(BOUND, wxpay.v3().certificates().get(options))
        .await
        .expect("the call must end within its total timeout");
    (result, started.elapsed())
}

#[tokio::test]
async fn a_retry_after_beyond_the_total_timeout_returns_the_429_at_once() {
    let transport = RateLimited::new("30", usize::MAX);
    let wxpay = client(transport.clone(), Duration::from_secs(3));
    let (result, elapsed) = get(&wxpay, Options::new()).await;
    let e = result.expect_err("429");
    let api = e.api().unwrap_or_else(|| panic!("an API error: {e}"));
    assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(api.code.as_deref(), Some("RATELIMIT_EXCEEDED"));
    assert_eq!(transport.calls(), 1, "no retry: its wait does not fit");
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
}

#[tokio::test]
async fn the_per_request_timeout_is_the_budget_too() {
    // The client allows 60 s, the request 3 s: the request's own timeout bounds the retries.
    let transport = RateLimited::new("30", usize::MAX);
    let wxpay = client(transport.clone(), Duration::from_secs(60));
    let (result, elapsed) = get(&wxpay, Options::new().timeout(Duration::from_secs(3))).await;
    let e = result.expect_err("429");
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS), "{e}");
    assert!(e.api().is_some(), "{e}");
    assert_eq!(transport.calls(), 1);
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
}

#[tokio::test]
async fn retries_that_fit_are_made_and_the_last_answer_is_returned() {
    let transport = RateLimited::new("0", usize::MAX);
    let wxpay = client(transport.clone(), Duration::from_secs(5));
    let (result, _) = get(&wxpay, Options::new()).await;
    let e = result.expect_err("429 after the retries");
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS), "{e}");
    assert_eq!(transport.calls(), 4, "the first attempt and get_retries(3)");
}

#[tokio::test]
async fn a_retry_gets_only_what_is_left_of_the_total_timeout() {
    // One 429 with Retry-After: 1, then the server hangs: the retry has about 2 s left of 3 s,
    // not a fresh 3 s.
    let transport = RateLimited::new("1", 1);
    let wxpay = client(transport.clone(), Duration::from_secs(3));
    let (result, elapsed) = get(&wxpay, Options::new()).await;
    let e = result.expect_err("timeout");
    assert!(e.is_timeout(), "{e}");
    assert_eq!(transport.calls(), 2);
    assert!(
        elapsed < Duration::from_secs(3) + Duration::from_millis(800),
        "took {elapsed:?}"
    );
    let routes = transport.routes.lock().unwrap().clone();
    assert_eq!(routes[0].timeout, Duration::from_secs(3));
    assert!(
        routes[1].timeout <= Duration::from_secs(2),
        "the retry's route carries the remaining budget: {:?}",
        routes[1].timeout
    );
}
