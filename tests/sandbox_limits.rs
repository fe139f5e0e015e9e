//! The sandbox's bounds, in process: the recorder keeps only signed bodies and stays within
//! its byte bound; request bodies being read share a byte budget; the listing pages; silent,
//! half-sent and idle connections (HTTP/1 and HTTP/2) are closed; the connection cap makes
//! room for a real client. (`tests/sandbox_process.rs` drives a `wxpay sandbox` process.)

#![cfg(feature = "sandbox")]

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wechatpay_chain::sandbox::Sandbox;

#[path = "support/raw_http.rs"]
mod raw;

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the test took longer than 30 s")
}

/// An unsigned POST with a body of `len` bytes, as raw HTTP/1.1 (connection closed after).
fn unsigned_post(len: usize) -> Vec<u8> {
    let mut request = format!(
        "POST /v3/pay/transactions/native HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nUser-Agent: t\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {len}\r\n\r\n"
    )
    .into_bytes();
    request.resize(request.len() + len, b'u');
    request
}

/// Whether the server closes `stream` within `limit` (reads until EOF or an error).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut sink = [0u8; 4096];
    let wait = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, wait).await.is_ok()
}

#[tokio::test]
async fn unsigned_bodies_are_not_kept_and_the_recorder_stays_within_its_byte_bound() {
    bounded(async {
        const BOUND: usize = 256 * 1024;
        let sandbox = Sandbox::builder()
            .max_recorded_bytes(BOUND)
            .start()
            .await
            .unwrap();
        let addr = sandbox.addr();

        let (status, _, _) = raw::raw_http(addr, &unsigned_post(100_000)).await;
        assert_eq!(status, 401, "unsigned: SIGN_ERROR");
        let recorded = sandbox.requests();
        assert_eq!(recorded.len(), 1, "the unsigned request is recorded");
        assert!(!recorded[0].authenticated);
        assert!(!recorded[0].body_kept, "without its body");
        assert!(recorded[0].body.is_empty());
        assert_eq!(recorded[0].body_len, 100_000, "but with its length");

        let wxpay = sandbox.client().unwrap();
        let native = || wxpay.v3().pay().transactions().native();
        let mut sent = 0;
        for i in 0..12 {
            let pad = "p".repeat(20_000 + i * 3_000);
            let body = json!({"appid": "wx1", "pad": pad});
            let response = native().post(json!({ "json": body })).await.unwrap();
            assert_eq!(response.status(), 200);
            sent += 1;
            let recorded = sandbox.requests();
            let bodies: usize = recorded.iter().map(|r| r.body.len()).sum();
            assert!(
                sandbox.recorded_bytes() <= BOUND && bodies <= BOUND,
                "{} recorded bytes, {bodies} body bytes, bound {BOUND}",
                sandbox.recorded_bytes()
            );
            let last = recorded.last().unwrap();
            assert!(
                last.authenticated && last.body_kept,
                "a signed body is kept"
            );
            assert_eq!(
                serde_json::from_slice::<Value>(&last.body).unwrap()["pad"],
                body["pad"]
            );
        }
        let recorded = sandbox.requests();
        assert!(
            recorded.len() < sent,
            "the oldest were forgotten: {} of {sent}",
            recorded.len()
        );
        assert!(recorded.iter().all(|r| r.authenticated));
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn bodies_beyond_the_in_flight_budget_are_refused_with_503() {
    bounded(async {
        let sandbox = Sandbox::builder()
            .max_body_bytes_in_flight(1024 * 1024)
            .start()
            .await
            .unwrap();
        let addr = sandbox.addr();
        // The first upload declares 800 000 bytes and sends half: its bytes are reserved.
        let first = unsigned_post(800_000);
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(&first[..first.len() - 400_000])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;

        // Refused from its declared length, before its body is sent (so the answer is read
        // before a reset could lose it).
        let second = unsigned_post(800_000);
        let (status, _, body) = raw::raw_http(addr, &second[..second.len() - 800_000]).await;
        assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("too many request bodies"));
        let (status, _, _) = raw::raw_http(addr, &unsigned_post(100_000)).await;
        assert_eq!(status, 401, "a body within the remaining budget is read");

        slow.write_all(&first[first.len() - 400_000..])
            .await
            .unwrap();
        let mut answer = Vec::new();
        slow.read_to_end(&mut answer).await.unwrap();
        assert!(
            answer.starts_with(b"HTTP/1.1 401"),
            "the first upload completes"
        );
        let (status, _, _) = raw::raw_http(addr, &unsigned_post(800_000)).await;
        assert_eq!(status, 401, "its bytes were given back");
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn the_listing_pages_and_marks_bodies_not_kept() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let addr = sandbox.addr();
        let wxpay = sandbox.client().unwrap();
        wxpay.v3().certificates().get(()).await.unwrap();
        raw::raw_http(addr, &unsigned_post(10)).await;
        let body = json!({"appid": "wx1", "text": "中文"});
        wxpay
            .v3()
            .pay()
            .transactions()
            .native()
            .post(json!({ "json": body }))
            .await
            .unwrap();

        let list = |query: &str| {
            format!(
                "GET /_sandbox/requests{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .into_bytes()
        };
        let (status, _, all) = raw::raw_http(addr, &list("")).await;
        assert_eq!(status, 200);
        let all: Value = serde_json::from_slice(&all).unwrap();
        let all = all.as_array().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1]["body_kept"], false);
        assert_eq!(all[1]["authenticated"], false);
        assert_eq!(all[1]["body"], Value::Null);
        assert_eq!(all[1]["body_len"], 10);
        assert_eq!(all[2]["body_kept"], true);
        let text: Value = serde_json::from_str(all[2]["body"].as_str().unwrap()).unwrap();
        assert_eq!(text, body, "UTF-8 bodies are listed as text");
        assert!(
            all[2].get("body_base64").is_none(),
            "base64 only when not UTF-8"
        );

        let (status, _, page) = raw::raw_http(addr, &list("?offset=1&limit=1")).await;
        assert_eq!(status, 200);
        let page: Value = serde_json::from_slice(&page).unwrap();
        assert_eq!(page.as_array().unwrap().len(), 1);
        assert_eq!(page[0], all[1]);
        let (status, _, _) = raw::raw_http(addr, &list("?limit=x")).await;
        assert_eq!(status, 400);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn silent_half_sent_and_idle_connections_are_closed() {
    bounded(async {
        let header_read = Duration::from_millis(400);
        let idle = Duration::from_millis(1500);
        let sandbox = Sandbox::builder()
            .header_read_timeout(header_read)
            .idle_timeout(idle)
            .start()
            .await
            .unwrap();
        let addr = sandbox.addr();
        let limit = Duration::from_secs(10);

        // Sends nothing: closed after the header-read timeout, not the idle one.
        let started = Instant::now();
        let mut silent = TcpStream::connect(addr).await.unwrap();
        assert!(
            closed_within(&mut silent, limit).await,
            "a silent connection is closed"
        );
        assert!(started.elapsed() < idle, "{:?}", started.elapsed());

        // Half a request head (slowloris), and half an HTTP/2 preface.
        for partial in [
            &b"GET /v3/certificates HTTP/1.1\r\nHost: x\r\n"[..],
            b"PRI * HTTP/2.0\r\n",
        ] {
            let started = Instant::now();
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(partial).await.unwrap();
            assert!(closed_within(&mut stream, limit).await, "{partial:?}");
            assert!(
                started.elapsed() < idle,
                "{partial:?}: closed by the header-read timeout, not the idle one ({:?})",
                started.elapsed()
            );
        }

        // HTTP/1 keep-alive: answered, then closed once idle.
        let mut kept = TcpStream::connect(addr).await.unwrap();
        kept.write_all(b"GET /_sandbox/faults HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        kept.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        // Still open past the header-read timeout: a keep-alive wait is not a slow head.
        tokio::time::sleep(header_read * 2).await;
        kept.write_all(b"GET /_sandbox/faults HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = vec![0u8; 4096];
        let mut seen = Vec::new();
        while !seen.windows(12).any(|w| w == b"HTTP/1.1 200") {
            let n = kept.read(&mut answer).await.unwrap();
            assert!(
                n > 0,
                "the keep-alive connection was closed before its second request"
            );
            seen.extend_from_slice(&answer[..n]);
        }
        let answered = Instant::now();
        assert!(
            closed_within(&mut kept, limit).await,
            "an idle keep-alive connection is closed"
        );
        assert!(
            answered.elapsed() + Duration::from_millis(200) >= idle,
            "closed after the idle timeout, not sooner ({:?})",
            answered.elapsed()
        );

        // HTTP/2: the preface, then nothing. Not closed by the header-read timeout (a request
        // after it still works), closed by the idle timeout.
        let wxpay = sandbox.client().unwrap();
        let prepared = wxpay
            .v3()
            .certificates()
            .prepare(http::Method::GET, ())
            .unwrap();
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        let connection = tokio::spawn(connection);
        tokio::time::sleep(header_read * 2).await;
        let mut request = http::Request::get(prepared.url())
            .body(Full::new(Bytes::new()))
            .unwrap();
        request.headers_mut().extend(prepared.headers().clone());
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        drop(response);
        let idle_since = Instant::now();
        tokio::time::timeout(limit, connection)
            .await
            .expect("an HTTP/2 connection with no stream open is closed after the idle timeout")
            .unwrap()
            .ok();
        assert!(
            idle_since.elapsed() + Duration::from_millis(200) >= idle,
            "not before the idle timeout: {:?}",
            idle_since.elapsed()
        );
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn past_the_connection_cap_the_longest_idle_make_room_for_a_real_client() {
    bounded(async {
        const CAP: usize = 32;
        // Long timeouts: only the cap can make room here.
        let sandbox = Sandbox::builder()
            .max_connections(CAP)
            .header_read_timeout(Duration::from_secs(60))
            .idle_timeout(Duration::from_secs(60))
            .start()
            .await
            .unwrap();
        let addr = sandbox.addr();
        let mut idle = Vec::new();
        for i in 0..100 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            if i % 2 == 1 {
                stream
                    .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                    .await
                    .unwrap();
            }
            idle.push(stream);
        }
        let wxpay = sandbox.client().unwrap();
        let response =
            tokio::time::timeout(Duration::from_secs(10), wxpay.v3().certificates().get(()))
                .await
                .expect("the real client is served within 10 s")
                .unwrap();
        assert_eq!(response.status(), 200);

        // The oldest idle connections were closed to stay within the cap.
        let mut closed = 0;
        for stream in &mut idle {
            if closed_within(stream, Duration::from_millis(50)).await {
                closed += 1;
            }
        }
        assert!(
            closed >= 100 - CAP,
            "only {closed} of 100 idle connections were closed"
        );
        assert!(
            closed_within(&mut idle[0], Duration::from_millis(10)).await,
            "the oldest first"
        );
        sandbox.shutdown();
    })
    .await;
}
