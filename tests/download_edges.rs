//! Review round for streaming downloads, bills and uploads: where a bill's `download_url` may
//! send the signed request (never a foreign host, never http when https is configured); the
//! idle timeout between chunks; the total timeout on a body read whole to be verified; the
//! file variant on a failing rename; an upper-case `hash_value`; and bills and uploads from
//! blocking code.

#![cfg(all(feature = "sandbox", feature = "blocking"))]

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use hyper::body::Frame;
use serde_json::json;
use wechatpay_chain::bill::{BillApply, BillRequest};
use wechatpay_chain::sandbox::Sandbox;
use wechatpay_chain::transport::{BoxFuture, Route, Transport};
use wechatpay_chain::{
    blocking, ChainError, ErrorKind, Media, Options, Response, Result, StreamingResponse,
    TransportKind,
};

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("finished in time")
}

fn apply_to(url: &str) -> BillApply {
    BillApply::from_json(&json!({
        "hash_type": "SHA1",
        "hash_value": "0000000000000000000000000000000000000000",
        "download_url": url,
    }))
    .unwrap()
}

/// Answers every request; counts them, so a test can tell that nothing was sent.
#[derive(Debug, Default)]
struct Counting(std::sync::atomic::AtomicUsize);

impl Transport for Counting {
    fn send<'a>(
        &'a self,
        _request: http::Request<Bytes>,
        _route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async {
            Ok(Response::new(
                StatusCode::OK,
                HeaderMap::new(),
                Bytes::new(),
            ))
        })
    }
}

#[tokio::test]
async fn a_download_url_never_leaves_the_configured_host_nor_its_scheme() {
    let transport = Arc::new(Counting::default());
    // https on the default host: an http URL, a foreign host, a look-alike and another port.
    let wxpay = support::builder_at(support::VECTOR_EPOCH)
        .transport(transport.clone())
        .build()
        .unwrap();
    for url in [
        "https://evil.example/v3/billdownload/file?token=t",
        "https://api.mch.weixin.qq.com.evil.example/v3/billdownload/file?token=t",
        "https://api.mch.weixin.qq.com:8443/v3/billdownload/file?token=t",
    ] {
        let e = BillRequest::from_apply(&wxpay, apply_to(url))
            .download_to(&mut Vec::new())
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Chain(ChainError::HostNotAllowed(_))),
            "{url}: {e:?}"
        );
    }
    let e = BillRequest::from_apply(
        &wxpay,
        apply_to("http://api.mch.weixin.qq.com/v3/billdownload/file?token=t"),
    )
    .download_to(&mut Vec::new())
    .await
    .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Chain(_)), "{e:?}");

    // https on loopback: the same host over http is another origin.
    let loopback = support::builder_at(support::VECTOR_EPOCH)
        .base_uri("https://127.0.0.1:9443/")
        .transport(transport.clone())
        .build()
        .unwrap();
    let e = BillRequest::from_apply(
        &loopback,
        apply_to("http://127.0.0.1:9443/v3/billdownload/file?token=t"),
    )
    .download_to(&mut Vec::new())
    .await
    .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Chain(ChainError::HostNotAllowed(_))),
        "{e:?}"
    );
    assert_eq!(
        transport.0.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing was sent"
    );
}

/// A body that yields `chunks` chunks, `gap` apart, then ends; `stall_after` chunks, it
/// stalls forever instead.
struct Dribble {
    chunks: usize,
    gap: Duration,
    stall_after: Option<usize>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for Dribble {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, std::io::Error>>> {
        if self.stall_after == Some(0) {
            return Poll::Pending;
        }
        if self.chunks == 0 {
            return Poll::Ready(None);
        }
        let gap = self.gap;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(gap)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        self.chunks -= 1;
        if let Some(n) = self.stall_after.as_mut() {
            *n -= 1;
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"row\r\n")))))
    }
}

/// Streams a `Dribble` for every request (unsigned: only exempt paths pass).
#[derive(Debug)]
struct Dribbling {
    chunks: usize,
    gap: Duration,
    stall_after: Option<usize>,
}

impl Transport for Dribbling {
    fn send<'a>(
        &'a self,
        _request: http::Request<Bytes>,
        _route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>> {
        Box::pin(async { unreachable!("downloads use send_streaming") })
    }

    fn send_streaming<'a>(
        &'a self,
        _request: http::Request<Bytes>,
        _route: &'a Route,
    ) -> BoxFuture<'a, Result<StreamingResponse>> {
        let body = Dribble {
            chunks: self.chunks,
            gap: self.gap,
            stall_after: self.stall_after,
            sleep: None,
        };
        Box::pin(async move {
            Ok(StreamingResponse::new(
                StatusCode::OK,
                HeaderMap::new(),
                body,
            ))
        })
    }
}

fn dribbling(
    chunks: usize,
    gap_ms: u64,
    stall_after: Option<usize>,
    timeout_ms: u64,
) -> wechatpay_chain::Wechatpay {
    support::builder_at(support::VECTOR_EPOCH)
        .transport(Arc::new(Dribbling {
            chunks,
            gap: Duration::from_millis(gap_ms),
            stall_after,
        }))
        .timeout(Duration::from_millis(timeout_ms))
        .build()
        .unwrap()
}

const BILL_URL: &str = "https://api.mch.weixin.qq.com/v3/billdownload/file?token=t";

#[tokio::test]
async fn the_idle_timeout_restarts_per_chunk_and_fails_a_stalled_download() {
    bounded(async {
        // 6 chunks 100 ms apart take longer than the 400 ms timeout: each gap is within it.
        let wxpay = dribbling(6, 100, None, 400);
        let mut download = wxpay.chain(BILL_URL).download(()).await.unwrap();
        let written = download.write_to(&mut tokio::io::sink()).await.unwrap();
        assert_eq!(written, 6 * 5);

        // Two chunks, then nothing: a timeout naming the idle wait and the bytes so far.
        let wxpay = dribbling(6, 10, Some(2), 300);
        let mut download = wxpay.chain(BILL_URL).download(()).await.unwrap();
        let e = download.write_to(&mut tokio::io::sink()).await.unwrap_err();
        assert_eq!(e.transport_kind(), Some(TransportKind::Timeout), "{e:?}");
        assert!(e.to_string().contains("after 10 bytes"), "{e}");
        assert_eq!(download.received(), 10);
    })
    .await;
}

#[tokio::test]
async fn a_signed_answer_read_whole_is_bounded_by_the_total_timeout() {
    bounded(async {
        // Each chunk comes well within the idle timeout, but the whole takes 2 s: a signed
        // answer must be read whole before it is verified, so the total timeout applies.
        let wxpay = dribbling(20, 100, None, 400);
        let e = wxpay
            .chain("v3/certificates")
            .download(())
            .await
            .unwrap_err();
        assert_eq!(e.transport_kind(), Some(TransportKind::Timeout), "{e:?}");
        assert!(e.to_string().contains("answer to verify"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn bills_from_blocking_code_and_the_file_variant_on_a_failed_rename() {
    let sandbox = Sandbox::builder().start().await.expect("sandbox starts");
    let wxpay = sandbox.client().unwrap();
    let dir = std::env::temp_dir().join(format!("wxpay-download-edges-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let query = Options::new()
        .query("bill_date", "2026-11-30")
        .query("tar_type", "GZIP");

    // Blocking code: wait for the file variant; an upload takes the blocking verbs.
    let (summary, media_id) = {
        let (wxpay, dir, query) = (wxpay.clone(), dir.clone(), query.clone());
        tokio::task::spawn_blocking(move || {
            let summary = blocking::wait(
                wxpay
                    .trade_bill(query)
                    .download_to_file(dir.join("bill.csv")),
            )
            .unwrap();
            let media = Media::new("pixel.png", &b"\x89PNG\r\n\x1a\n"[..]).unwrap();
            let answer = wxpay
                .v3()
                .merchant()
                .media()
                .upload()
                .blocking()
                .post(Options::new().upload(media))
                .unwrap();
            (
                summary,
                answer.json::<serde_json::Value>().unwrap()["media_id"].clone(),
            )
        })
        .await
        .unwrap()
    };
    assert!(summary.gzip && summary.bytes > 0, "{summary:?}");
    let written = std::fs::read(dir.join("bill.csv")).unwrap();
    assert_eq!(written.len() as u64, summary.bytes);
    assert!(
        media_id.as_str().is_some_and(|id| id.ends_with(".png")),
        "{media_id}"
    );

    // An upper-case hash_value is the same digest.
    let mut apply: BillApply = wxpay
        .chain("v3/bill/tradebill")
        .get(query.clone())
        .await
        .unwrap()
        .json()
        .unwrap();
    apply.hash_value = apply.hash_value.to_ascii_uppercase();
    let mut out = Vec::new();
    bounded(BillRequest::from_apply(&wxpay, apply).download_to(&mut out))
        .await
        .unwrap();
    assert_eq!(out, written);

    // The rename fails (the target is a directory): an output error, and no temporary file.
    let target = dir.join("taken");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let e = bounded(wxpay.trade_bill(query).download_to_file(&target))
        .await
        .unwrap_err();
    assert_eq!(e.transport_kind(), Some(TransportKind::Output), "{e:?}");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["bill.csv", "taken"], "no .part file left");
    assert_eq!(std::fs::read(target.join("keep")).unwrap(), b"x");
    std::fs::remove_dir_all(&dir).unwrap();
    sandbox.shutdown();
}

/// A meta given whole (the fapiao upload's `{file_type, digest_alogrithm, digest}`) is signed
/// and sent as given; image endpoints still require `{filename, sha256}`.
#[tokio::test]
async fn an_upload_with_its_own_meta_is_signed_and_sent_as_given() {
    let sandbox = Sandbox::builder().start().await.expect("sandbox starts");
    let wxpay = sandbox.client().unwrap();
    let pdf = Bytes::from_static(b"%PDF-1.7 fapiao");
    // JS: wxpay.v3.newTaxControlFapiao.fapiaoApplications.uploadFapiaoFile.post(
    //       {meta: JSON.stringify(meta), file}, {meta, headers: {'Content-Type': 'multipart/form-data'}})
    let meta = json!({"sub_mchid": "1900000109", "file_type": "PDF", "digest_alogrithm": "SM3", "digest": "00"});
    let media = Media::with_meta("fapiao.pdf", pdf.clone(), meta).unwrap();
    let prepared = wxpay
        .chain("v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file")
        .prepare(http::Method::POST, Options::new().upload(media.clone()))
        .unwrap();
    assert_eq!(
        prepared.body().as_ref(),
        br#"{"sub_mchid":"1900000109","file_type":"PDF","digest_alogrithm":"SM3","digest":"00"}"#
    );
    let answer: serde_json::Value = bounded(
        wxpay
            .v3()
            .new_tax_control_fapiao()
            .fapiao_applications()
            .upload_fapiao_file()
            .post(Options::new().upload(media)),
    )
    .await
    .unwrap()
    .json()
    .unwrap();
    assert!(answer["media_id"].as_str().is_some(), "{answer}");

    // A sha256 in a meta given whole is still checked against the file.
    let wrong = Media::with_meta("f.pdf", pdf.clone(), json!({"sha256": "00"})).unwrap();
    let e = bounded(
        wxpay
            .chain("v3/taxi-invoice/cards/upload-file")
            .post(Options::new().upload(wrong)),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.api().and_then(|a| a.code.as_deref()),
        Some("PARAM_ERROR"),
        "{e:?}"
    );

    // An image endpoint without the filename and sha256 in its meta is refused.
    let bare = Media::with_meta("logo.png", &b"\x89PNG"[..], json!({})).unwrap();
    let e = bounded(
        wxpay
            .v3()
            .merchant()
            .media()
            .upload()
            .post(Options::new().upload(bare)),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.api().and_then(|a| a.code.as_deref()),
        Some("PARAM_ERROR"),
        "{e:?}"
    );
    sandbox.shutdown();
}

#[tokio::test]
async fn a_prepared_download_is_sent_as_prepared() {
    let sandbox = Sandbox::builder().start().await.expect("sandbox starts");
    let wxpay = sandbox.client().unwrap();
    let apply: serde_json::Value = bounded(
        wxpay
            .chain("v3/bill/tradebill")
            .get(Options::new().query("bill_date", "2026-11-30")),
    )
    .await
    .unwrap()
    .json()
    .unwrap();
    let url = apply["download_url"].as_str().expect("a download_url");
    let prepared = wxpay.chain(url).prepare(http::Method::GET, ()).unwrap();
    let authorization = prepared.headers()[http::header::AUTHORIZATION].clone();
    let before = sandbox.requests().len();

    let mut download = bounded(wxpay.execute_streaming(prepared)).await.unwrap();
    let mut streamed = Vec::new();
    bounded(download.write_to(&mut streamed)).await.unwrap();
    let whole = bounded(wxpay.chain(url).get(())).await.unwrap();
    assert_eq!(streamed, whole.bytes().as_ref(), "the same bill");

    // Exactly the prepared request went out: its signature, not a fresh one.
    let recorded = &sandbox.requests()[before..];
    assert_eq!(recorded.len(), 2, "the prepared download and the whole one");
    let sent = |i: usize| {
        recorded[i]
            .headers
            .get(http::header::AUTHORIZATION)
            .cloned()
    };
    assert_eq!(sent(0), Some(authorization.clone()), "sent as prepared");
    assert_ne!(sent(1), Some(authorization), "a new request is signed anew");
}
