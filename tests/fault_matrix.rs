//! The fault matrix (issue 7): every way the server side can fail, against the in-process
//! sandbox (its [`Fault`]s) and a hostile loopback server (`support/hostile.rs`, exact bytes and
//! timing). One row per case: where the client sends, how it is configured, the typed outcome
//! expected, how many requests the server may have seen, and how long the call may take. Each
//! row is its own test (named after the case), runs in a task (a panic is a failure, not a
//! crash) under a hard limit, and checks that the client never contacted a third host.
//!
//! Non-idempotent requests: every POST row has `get_retries(3)` set and asserts that the server
//! saw exactly one request, whatever went wrong after it may have arrived.
#![cfg(feature = "sandbox")]

#[path = "support/hostile.rs"]
mod hostile;
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::net::TcpListener;
use wechatpay_chain::sandbox::{Fault, Sandbox};
use wechatpay_chain::{
    Builder, Clock as _, DecodeError, ErrorKind, Method, Response, SystemClock, TransportKind,
    VerifyError,
};

use hostile::{Answer, Behaviour, Hostile};

/// The client's total timeout in most rows: small, so slow answers fail fast.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Slack over the timeout allowed for a row's call (scheduling on a loaded 2-core machine).
const SLACK: Duration = Duration::from_millis(1500);
/// Hard limit of a whole row (set-up included): past it the row fails as hung.
const ROW_LIMIT: Duration = Duration::from_secs(20);
/// The POST endpoint: the sandbox creates an order (so *processed* faults change state).
const CREATE: &str = "v3/payscore/partner/servicepayondeliveryorder";
/// The GET endpoint.
const CERTIFICATES: &str = "v3/certificates";

type Outcome = wechatpay_chain::Result<Response>;

/// The expected outcome: a predicate and its source text for the failure message.
#[derive(Clone, Copy)]
struct Expect {
    check: fn(&Outcome) -> bool,
    text: &'static str,
}

/// `outcome!(pattern)`: an [`Expect`] matching the call's `Result<Response>` against it.
macro_rules! outcome {
    ($($pattern:tt)+) => {
        Expect {
            check: |outcome: &Outcome| matches!(outcome, $($pattern)+),
            text: stringify!($($pattern)+),
        }
    };
}

/// What a hostile row's answer may depend on.
struct Env {
    /// The client's (fixed) clock, and the timestamp of signed answers.
    now: i64,
    /// Base URI of a second server standing for a foreign host: no row may reach it.
    foreign: String,
}

/// Where the client sends.
enum Server {
    /// A loopback port nothing listens on.
    Refused,
    /// A fresh sandbox with these faults queued.
    Sandbox(Vec<Fault>),
    /// The hostile server answering every request as built from the [`Env`].
    Hostile(fn(&Env) -> Behaviour),
}

/// One row of the matrix.
struct Case {
    server: Server,
    method: Method,
    get_retries: u32,
    timeout: Duration,
    body_limit: Option<usize>,
    expect: Expect,
    /// Requests the server must have received (the sandbox's record, the hostile count).
    sends: Option<usize>,
    /// The longest the call may take (default: the timeout plus [`SLACK`]).
    within: Option<Duration>,
}

fn case(server: Server, expect: Expect) -> Case {
    Case {
        server,
        method: Method::GET,
        get_retries: 0,
        timeout: TIMEOUT,
        body_limit: None,
        expect,
        sends: None,
        within: None,
    }
}

fn sandbox(faults: impl Into<Vec<Fault>>, expect: Expect) -> Case {
    case(Server::Sandbox(faults.into()), expect)
}

fn hostile(answer: fn(&Env) -> Behaviour, expect: Expect) -> Case {
    case(Server::Hostile(answer), expect)
}

impl Case {
    /// A POST (never re-sent) with `get_retries(3)` set, seen exactly once by the server.
    fn post_once(mut self) -> Self {
        self.method = Method::POST;
        self.get_retries = 3;
        self.sends = Some(1);
        self
    }

    fn retries(mut self, n: u32) -> Self {
        self.get_retries = n;
        self
    }

    fn sends(mut self, n: usize) -> Self {
        self.sends = Some(n);
        self
    }

    fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    fn within(mut self, limit: Duration) -> Self {
        self.within = Some(limit);
        self
    }
}

/// What a row observed.
struct Observed {
    outcome: Outcome,
    elapsed: Duration,
    sends: usize,
    foreign_connections: usize,
}

/// Sets the row's server up, makes the one call, and counts what the servers saw.
async fn exchange(
    server: Server,
    method: Method,
    configure: impl FnOnce(Builder) -> Builder,
) -> Observed {
    let foreign = Hostile::start(Behaviour::Send(Answer::new(500, "{}").bytes())).await;
    let now = SystemClock.now();
    let env = Env {
        now,
        foreign: foreign.base_uri(),
    };
    let fixture_client = |base: String| support::builder_at(now).base_uri(base).no_backup();
    let order = format!("FM{now}{}", std::process::id());
    let call = |client: wechatpay_chain::Wechatpay| async move {
        let started = Instant::now();
        let outcome = if method == Method::POST {
            let body = json!({"json": order_body(&order)});
            client.chain(CREATE).post(body).await
        } else {
            client.chain(CERTIFICATES).get(()).await
        };
        (outcome, started.elapsed())
    };
    let ((outcome, elapsed), sends) = match server {
        Server::Refused => {
            let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = closed.local_addr().expect("address");
            drop(closed);
            let client = configure(fixture_client(format!("http://{addr}/")))
                .build()
                .expect("client");
            (call(client).await, 0)
        }
        Server::Sandbox(faults) => {
            let sandbox = Sandbox::builder().start().await.expect("sandbox starts");
            for fault in faults {
                sandbox.inject(fault);
            }
            let client = configure(sandbox.client_builder()).build().expect("client");
            let result = call(client).await;
            let sends = sandbox.requests().len();
            sandbox.shutdown();
            (result, sends)
        }
        Server::Hostile(answer) => {
            let server = Hostile::start(answer(&env)).await;
            let client = configure(fixture_client(server.base_uri()))
                .build()
                .expect("client");
            (call(client).await, server.requests())
        }
    };
    Observed {
        outcome,
        elapsed,
        sends,
        foreign_connections: foreign.connections(),
    }
}

/// Runs one row and asserts everything it states, naming the row on failure.
async fn run(name: &str, case: Case) {
    let (timeout, retries, limit) = (case.timeout, case.get_retries, case.body_limit);
    let configure = move |b: Builder| {
        let b = b.timeout(timeout).get_retries(retries);
        match limit {
            Some(bytes) => b.body_limit(bytes),
            None => b,
        }
    };
    let task = tokio::spawn(exchange(case.server, case.method.clone(), configure));
    let observed = match tokio::time::timeout(ROW_LIMIT, task).await {
        Err(_) => panic!("{name}: hung: no outcome within {ROW_LIMIT:?}"),
        Ok(Err(join)) => panic!("{name}: panicked: {join}"),
        Ok(Ok(observed)) => observed,
    };
    let Observed {
        outcome,
        elapsed,
        sends,
        foreign_connections,
    } = observed;
    assert!(
        (case.expect.check)(&outcome),
        "{name}: expected {}, got {}",
        case.expect.text,
        describe(&outcome)
    );
    let within = case.within.unwrap_or(case.timeout + SLACK);
    assert!(
        elapsed <= within,
        "{name}: took {elapsed:?}, more than {within:?} (outcome {})",
        describe(&outcome)
    );
    if let Some(expected) = case.sends {
        assert_eq!(
            sends, expected,
            "{name}: the server received {sends} request(s), expected {expected}"
        );
    }
    assert_eq!(
        foreign_connections, 0,
        "{name}: the client connected to a host it was not sent to"
    );
}

/// The outcome in brief, for failure messages: the status and body size, or the error and its
/// kind (never the headers: they carry signatures).
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Ok(r) => format!("Ok(status {}, {} body bytes)", r.status(), r.bytes().len()),
        Err(e) => format!("Err({e}; kind {:?})", e.kind()),
    }
}

fn order_body(out_order_no: &str) -> Value {
    json!({
        "out_order_no": out_order_no,
        "appid": "wxd678efh567hg6787",
        "sub_mchid": "1900000109",
        "service_id": "2002000000000558128851361561536",
        "service_introduction": "fault matrix",
        "post_payments": [{"name": "delivery", "amount": 4000, "description": "fee"}],
        "time_range": {"start_time": "OnAccept"},
    })
}

// ---- hostile answers ----

const OK_BODY: &str = r#"{"data":[]}"#;

/// A correctly signed `200`.
fn signed_ok(env: &Env) -> Answer {
    Answer::signed(200, OK_BODY, env.now)
}

fn send(answer: Answer) -> Behaviour {
    Behaviour::Send(answer.bytes())
}

/// A correctly signed `200` with one more header `name: value` after the valid one.
fn duplicated(env: &Env, name: &str, value: &str) -> Behaviour {
    send(signed_ok(env).header(name, value))
}

/// A `200` signed at `now + offset` seconds (the client's clock stays at `now`).
fn signed_at_offset(env: &Env, offset: i64) -> Behaviour {
    send(Answer::signed(200, OK_BODY, env.now + offset))
}

/// Is the outcome an error of this transport kind?
fn transport(outcome: &Outcome, kind: TransportKind) -> bool {
    matches!(outcome, Err(e) if e.transport_kind() == Some(kind))
}

fn api(outcome: &Outcome, status: u16, code: &str) -> bool {
    matches!(outcome, Err(e) if e.api().is_some_and(|a| a.status.as_u16() == status && a.code.as_deref() == Some(code)))
}

/// One `#[tokio::test]` per row, named after it.
macro_rules! matrix {
    ($($name:ident: $case:expr;)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                run(stringify!($name), $case).await;
            }
        )+
    };
}

matrix! {
    // Controls: the harness itself works (a signed answer verifies, the sandbox answers).
    control_hostile_signed_answer_verifies: hostile(|env| send(signed_ok(env)),
        outcome!(Ok(r) if r.status() == 200 && r.bytes() == OK_BODY.as_bytes())).sends(1);
    control_sandbox_post_answers: sandbox([], outcome!(Ok(r) if r.status() == 200)).post_once();

    // Connection level.
    connection_refused: case(Server::Refused, outcome!(Err(e) if e.is_connect())).post_once().sends(0);
    reset_mid_body: hostile(
        |env| Behaviour::Reset(signed_ok(env).lying(4096)),
        outcome!(o if transport(o, TransportKind::Io))).post_once();
    sandbox_drop_after_receiving_post: sandbox([Fault::Drop],
        outcome!(o if transport(o, TransportKind::Io))).post_once();
    sandbox_truncate_post: sandbox([Fault::Truncate],
        outcome!(o if transport(o, TransportKind::Io))).post_once();
    truncated_body: hostile(|env| Behaviour::Send(signed_ok(env).lying(1000)),
        outcome!(o if transport(o, TransportKind::Io))).retries(3).sends(1);
    slow_headers: hostile(
        |_| Behaviour::Trickle {
            head: b"HTTP/1.1 200 OK\r\n".to_vec(),
            tail: [b"X-Slow: ".as_slice(), &[b'a'; 200]].concat(),
            every: Duration::from_millis(50),
        },
        outcome!(Err(e) if e.is_timeout())).post_once();
    slow_body: hostile(
        |env| {
            let answer = Answer::signed(200, format!(r#"{{"pad":"{}"}}"#, "b".repeat(200)), env.now);
            Behaviour::Trickle {
                head: answer.head(answer.body().len()),
                tail: answer.body().to_vec(),
                every: Duration::from_millis(50),
            }
        },
        outcome!(Err(e) if e.is_timeout())).retries(3).sends(1);
    sandbox_delay_times_out_post: sandbox([Fault::Delay(Duration::from_secs(4))],
        outcome!(Err(e) if e.is_timeout())).post_once();

    // Bodies.
    malformed_json_validly_signed: hostile(|env| send(Answer::signed(200, r#"{"code_url":"#, env.now)),
        outcome!(Ok(r) if r.json::<Value>().is_err_and(|e| matches!(e.kind(), ErrorKind::Decode(DecodeError::Json))))).sends(1);
    sandbox_malformed_body: sandbox([Fault::MalformedBody],
        outcome!(Ok(r) if r.json::<Value>().is_err_and(|e| matches!(e.kind(), ErrorKind::Decode(DecodeError::Json))))).post_once();
    sandbox_oversized_body: sandbox([Fault::Oversized(1024 * 1024)],
        outcome!(o if transport(o, TransportKind::BodyTooLarge))).body_limit(64 * 1024).post_once();
    oversized_announced_body_is_not_read_to_the_end: hostile(
        |env| Behaviour::Send(Answer::signed(200, vec![b' '; 128 * 1024], env.now).lying(1 << 30)),
        outcome!(o if transport(o, TransportKind::BodyTooLarge))).body_limit(64 * 1024).sends(1);

    // Signature headers: missing.
    sandbox_missing_signature_headers: sandbox([Fault::MissingSignatureHeaders],
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::MissingHeader(_))))).post_once();
    missing_timestamp: hostile(|env| send(signed_ok(env).without("Wechatpay-Timestamp")),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::MissingHeader(h)) if h.eq_ignore_ascii_case("Wechatpay-Timestamp"))));
    missing_nonce: hostile(|env| send(signed_ok(env).without("Wechatpay-Nonce")),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::MissingHeader(h)) if h.eq_ignore_ascii_case("Wechatpay-Nonce"))));
    missing_signature: hostile(|env| send(signed_ok(env).without("Wechatpay-Signature")),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::MissingHeader(h)) if h.eq_ignore_ascii_case("Wechatpay-Signature"))));
    missing_serial: hostile(|env| send(signed_ok(env).without("Wechatpay-Serial")),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::MissingHeader(h)) if h.eq_ignore_ascii_case("Wechatpay-Serial"))));

    // Signature headers: duplicated (the valid value first). Fail closed.
    duplicated_signature: hostile(|env| duplicated(env, "Wechatpay-Signature", "AAAA"),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::DuplicateHeader(h)) if h.eq_ignore_ascii_case("Wechatpay-Signature"))));
    duplicated_serial: hostile(|env| duplicated(env, "Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000000000000000001"),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::DuplicateHeader(h)) if h.eq_ignore_ascii_case("Wechatpay-Serial"))));
    duplicated_timestamp: hostile(|env| duplicated(env, "Wechatpay-Timestamp", "1"),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::DuplicateHeader(h)) if h.eq_ignore_ascii_case("Wechatpay-Timestamp"))));
    duplicated_nonce: hostile(|env| duplicated(env, "Wechatpay-Nonce", "other"),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::DuplicateHeader(h)) if h.eq_ignore_ascii_case("Wechatpay-Nonce"))));

    // Signature headers: malformed.
    signature_not_base64: hostile(|env| send(signed_ok(env).set("Wechatpay-Signature", "!!not base64!!")),
        outcome!(Err(e) if e.verify() == Some(&VerifyError::BadSignature)));
    signature_over_another_body: hostile(
        |env| send(signed_ok(env).set("Wechatpay-Signature", hostile::sign(&env.now.to_string(), hostile::NONCE, b"{}"))),
        outcome!(Err(e) if e.verify() == Some(&VerifyError::BadSignature)));
    timestamp_not_digits: hostile(|env| send(signed_ok(env).set("Wechatpay-Timestamp", "17637800OO")),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::Clock { .. }))));
    signature_type_unsupported: hostile(|env| send(signed_ok(env).set("Wechatpay-Signature-Type", "HMAC-SHA256")),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::SignatureType(t)) if t == "HMAC-SHA256")));
    nonce_not_utf8_is_not_missing: hostile(|env| send(signed_ok(env).set("Wechatpay-Nonce", b"\xff\xfe nonce".to_vec())),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::InvalidHeader(h)) if h.eq_ignore_ascii_case("Wechatpay-Nonce"))));
    sandbox_wrong_signature: sandbox([Fault::WrongSignature],
        outcome!(Err(e) if e.verify() == Some(&VerifyError::BadSignature))).post_once();

    // The probe signature.
    sandbox_signature_probe: sandbox([Fault::SignatureProbe],
        outcome!(Err(e) if e.verify() == Some(&VerifyError::SignatureProbe))).post_once();
    signature_probe: hostile(
        |env| {
            let answer = signed_ok(env);
            let probe = format!("WECHATPAY/SIGNTEST/{}", answer.get("Wechatpay-Signature").unwrap_or_default());
            send(answer.set("Wechatpay-Signature", probe))
        },
        outcome!(Err(e) if e.verify() == Some(&VerifyError::SignatureProbe)));

    // Timestamps more than 5 minutes away, and the edge that is still accepted.
    sandbox_stale_timestamp: sandbox([Fault::StaleTimestamp],
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::Clock { .. })))).post_once();
    stale_timestamp_301_s: hostile(|env| signed_at_offset(env, -301),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::Clock { .. }))));
    future_timestamp_301_s: hostile(|env| signed_at_offset(env, 301),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::Clock { .. }))));
    future_timestamp_600_s: hostile(|env| signed_at_offset(env, 600),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::Clock { .. }))));
    timestamp_300_s_away_is_accepted: hostile(|env| signed_at_offset(env, -300),
        outcome!(Ok(r) if r.status() == 200));

    // Keys.
    // The POST once, then one GET /v3/certificates (refresh on unknown serial) that does not
    // bring the serial: still the error.
    sandbox_unknown_serial: sandbox([Fault::UnknownSerial],
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::UnknownSerial { .. })))).post_once().sends(2);
    unknown_serial: hostile(|env| send(signed_ok(env).set("Wechatpay-Serial", "PUB_KEY_ID_0000000000000000000000000000000000000009")),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::UnknownSerial { serial, .. }) if serial.ends_with("0009"))));

    // Statuses.
    sandbox_202_accepted: sandbox([Fault::Accepted],
        outcome!(Ok(r) if r.status() == 202 && r.bytes().is_empty())).post_once();
    redirect_to_foreign_host_unsigned_not_followed: hostile(
        |env| send(Answer::new(302, "").header("Location", format!("{}{CERTIFICATES}", env.foreign))),
        outcome!(Err(e) if matches!(e.verify(), Some(VerifyError::MissingHeader(_))) && e.status().map(|s| s.as_u16()) == Some(302))).retries(3).sends(1);
    redirect_to_foreign_host_signed_not_followed: hostile(
        |env| send(Answer::signed(307, "", env.now).header("Location", format!("{}{CREATE}", env.foreign))),
        outcome!(Ok(r) if r.status() == 307)).post_once();
    retry_after_longer_than_the_timeout_returns_the_429: hostile(
        |_| send(Answer::new(429, r#"{"code":"RATELIMIT_EXCEEDED","message":"slow down"}"#).header("Retry-After", "30")),
        outcome!(o if api(o, 429, "RATELIMIT_EXCEEDED"))).retries(3).within(TIMEOUT + Duration::from_millis(500));
    retry_after_post_is_not_resent: hostile(
        |_| send(Answer::new(429, r#"{"code":"RATELIMIT_EXCEEDED","message":"slow down"}"#).header("Retry-After", "1")),
        outcome!(o if api(o, 429, "RATELIMIT_EXCEEDED"))).post_once();
    sandbox_429_post: sandbox([Fault::Status(429)],
        outcome!(o if api(o, 429, "RATELIMIT_EXCEEDED"))).post_once();
    sandbox_500_post: sandbox([Fault::Status(500)],
        outcome!(o if api(o, 500, "SYSTEM_ERROR"))).post_once();
    sandbox_503_post: sandbox([Fault::Status(503)],
        outcome!(o if api(o, 503, "SERVICE_UNAVAILABLE"))).post_once();
    sandbox_500_get_without_retries: sandbox([Fault::Status(500)],
        outcome!(o if api(o, 500, "SYSTEM_ERROR"))).sends(1);
    sandbox_get_retried_within_budget_succeeds: sandbox([Fault::Status(500), Fault::Status(503)],
        outcome!(Ok(r) if r.status() == 200)).retries(3).sends(3).timeout(Duration::from_secs(5));
    sandbox_get_retries_exhausted: sandbox([Fault::Status(503), Fault::Status(429), Fault::Status(500), Fault::Status(503)],
        outcome!(o if api(o, 503, "SERVICE_UNAVAILABLE"))).retries(3).sends(4).timeout(Duration::from_secs(5));
}
