//! Bills end to end against the sandbox: apply → signed, streamed download of an unsigned
//! answer → gunzip → SHA-1 checked as bytes pass; corrupted and truncated bills refused (the
//! file variant leaves no file); a 50 MB bill downloaded with a peak heap far below its size
//! (a counting global allocator: the sandbox in this process streams too). Also the streaming
//! API itself: signed endpoints verified before release, and custom transports through the
//! default `send_streaming`.

#![cfg(feature = "sandbox")]

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use peak_alloc::PeakAlloc;
use ring::digest;
use serde_json::json;
use wechatpay_chain::bill::{BillApply, BillRequest};
use wechatpay_chain::sandbox::{Fault, Sandbox, SandboxHandle};
use wechatpay_chain::transport::{BoxFuture, Route, Transport};
use wechatpay_chain::{
    DecodeError, ErrorKind, Options, Response, Result, TransportKind, VerifyError,
};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// The tests of this binary run one at a time: the peak-heap test must not count the others.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn bounded<F: Future>(seconds: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(seconds), f)
        .await
        .expect("finished in time")
}

async fn sandbox() -> SandboxHandle {
    Sandbox::builder().start().await.expect("sandbox starts")
}

fn sha1_hex(bytes: &[u8]) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn query(gzip: bool) -> Options {
    let options = Options::new().query("bill_date", "2026-11-30");
    if gzip {
        options.query("tar_type", "GZIP")
    } else {
        options
    }
}

#[tokio::test]
async fn trade_and_fund_flow_bills_plain_and_gzip_arrive_with_their_digest_checked() {
    let _serial = SERIAL.lock().await;
    bounded(30, async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        for fund_flow in [false, true] {
            for gzip in [false, true] {
                let apply: BillApply = wxpay
                    .chain(if fund_flow {
                        "v3/bill/fundflowbill"
                    } else {
                        "v3/bill/tradebill"
                    })
                    .get(query(gzip))
                    .await
                    .unwrap()
                    .json()
                    .unwrap();
                let request = if fund_flow {
                    wxpay.fund_flow_bill(query(gzip))
                } else {
                    wxpay.trade_bill(query(gzip))
                };
                let mut out = Vec::new();
                let summary = request.download_to(&mut out).await.unwrap();
                let case = format!("fund_flow={fund_flow} gzip={gzip}");
                assert_eq!(summary.gzip, gzip, "{case}");
                assert_eq!(summary.bytes, out.len() as u64, "{case}");
                assert_eq!(summary.sha1, sha1_hex(&out), "{case}");
                assert_eq!(summary.sha1, apply.hash_value, "{case}");
                let text = std::str::from_utf8(&out).unwrap();
                assert!(text.starts_with('\u{feff}'), "{case}: UTF-8 BOM");
                let header = if fund_flow {
                    "记账时间,"
                } else {
                    "交易时间,"
                };
                assert!(text[3..].starts_with(header), "{case}");
                // Header, 100 rows, summary header and summary.
                assert_eq!(text.lines().count(), 103, "{case}");
                assert_eq!(
                    text.lines()
                        .filter(|l| l.starts_with("`2026-11-30 "))
                        .count(),
                    100
                );
            }
        }
        // Every request was signed, the download included; its answer was not.
        let requests = sandbox.requests();
        let downloads: Vec<_> = requests
            .iter()
            .filter(|r| r.target.starts_with("/v3/billdownload/file?token="))
            .collect();
        assert_eq!(downloads.len(), 4);
        assert!(downloads.iter().all(|r| r.authenticated));
    })
    .await;
}

#[tokio::test]
async fn a_corrupted_bill_is_a_digest_error_and_the_file_variant_leaves_no_file() {
    let _serial = SERIAL.lock().await;
    bounded(30, async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let dir = std::env::temp_dir().join(format!("wxpay-bills-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for gzip in [false, true] {
            let corrupt = || wxpay.trade_bill(query(gzip).query("sandbox_fault", "corrupt"));
            let e = corrupt().download_to(&mut Vec::new()).await.unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::Verify(VerifyError::BillDigest { expected, actual }) if expected != actual),
                "{e:?}"
            );
            assert!(e.to_string().contains("discard"), "{e}");

            let fresh = dir.join(format!("fresh-{gzip}.csv"));
            let e = corrupt().download_to_file(&fresh).await.unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Verify(VerifyError::BillDigest { .. })), "{e:?}");
            assert!(!fresh.exists(), "no file for a bill that failed");

            // An earlier good file at the target stays as it was.
            let kept = dir.join(format!("kept-{gzip}.csv"));
            std::fs::write(&kept, "the earlier bill").unwrap();
            corrupt().download_to_file(&kept).await.unwrap_err();
            assert_eq!(std::fs::read_to_string(&kept).unwrap(), "the earlier bill");
        }
        // No temporary file is left behind; a good download lands in place.
        let good = dir.join("good.csv");
        let summary = wxpay.trade_bill(query(true)).download_to_file(&good).await.unwrap();
        assert_eq!(sha1_hex(&std::fs::read(&good).unwrap()), summary.sha1);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["good.csv", "kept-false.csv", "kept-true.csv"]);
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_truncated_bill_is_refused() {
    let _serial = SERIAL.lock().await;
    bounded(30, async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let truncated = |gzip| wxpay.trade_bill(query(gzip).query("sandbox_fault", "truncate"));
        let e = truncated(true)
            .download_to(&mut Vec::new())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Decode(DecodeError::Gzip), "{e:?}");
        assert!(
            std::error::Error::source(&e).is_some(),
            "the gunzip's error is kept"
        );
        let target =
            std::env::temp_dir().join(format!("wxpay-truncated-{}.csv", std::process::id()));
        truncated(true).download_to_file(&target).await.unwrap_err();
        assert!(!target.exists());
        // A plain bill cut short fails its digest.
        let e = truncated(false)
            .download_to(&mut Vec::new())
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Verify(VerifyError::BillDigest { .. })),
            "{e:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_50_mb_gzip_bill_downloads_with_a_peak_heap_far_below_its_size() {
    const BILL: u64 = 50 * 1024 * 1024;
    const PEAK: usize = 8 * 1024 * 1024;
    let _serial = SERIAL.lock().await;
    bounded(120, async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let request = wxpay.trade_bill(query(true).query("sandbox_rows", 215_000));
        let baseline = HEAP.current_usage();
        HEAP.reset_peak_usage();
        let summary = request.download_to(&mut tokio::io::sink()).await.unwrap();
        let peak = HEAP.peak_usage().saturating_sub(baseline);
        assert!(summary.gzip);
        assert!(summary.bytes > BILL, "the bill is {} bytes", summary.bytes);
        assert!(
            peak < PEAK,
            "peak heap {peak} bytes while downloading a {} byte bill (sandbox and client)",
            summary.bytes
        );
        // The allocator does see a bill held whole: the same measure over a 5 MB bill kept
        // in a Vec exceeds its size.
        let request = wxpay.trade_bill(query(true).query("sandbox_rows", 21_500));
        let mut whole = Vec::new();
        let baseline = HEAP.current_usage();
        HEAP.reset_peak_usage();
        let summary = request.download_to(&mut whole).await.unwrap();
        let peak = HEAP.peak_usage().saturating_sub(baseline);
        assert!(
            peak as u64 >= summary.bytes,
            "peak {peak} for {} bytes kept",
            summary.bytes
        );
    })
    .await;
}

#[tokio::test]
async fn a_streaming_download_of_a_signed_endpoint_is_verified_before_release() {
    let _serial = SERIAL.lock().await;
    bounded(30, async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let mut download = wxpay.chain("v3/certificates").download(()).await.unwrap();
        assert_eq!(download.status(), StatusCode::OK);
        assert!(download.request_id().is_some());
        assert!(
            !format!("{download:?}").contains("encrypt_certificate"),
            "Debug shows no body"
        );
        let mut body = Vec::new();
        while let Some(chunk) = download.chunk().await.unwrap() {
            body.extend_from_slice(&chunk);
        }
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(value["data"][0]["serial_no"].is_string());

        // A tampered answer releases nothing.
        sandbox.inject(Fault::WrongSignature);
        let e = wxpay
            .chain("v3/certificates")
            .download(())
            .await
            .unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::Verify(VerifyError::BadSignature),
            "{e:?}"
        );

        // An error status is the usual API error, for exempt downloads too.
        let url = format!("{}v3/billdownload/file?token=junk", sandbox.base_uri());
        let e = wxpay.chain(&url).download(()).await.unwrap_err();
        let api = e.api().expect("an API error");
        assert_eq!(api.status, StatusCode::BAD_REQUEST);
        assert_eq!(api.code.as_deref(), Some("PARAM_ERROR"));
    })
    .await;
}

/// A transport that implements only `send`: every answer is `BODY`, unsigned.
#[derive(Debug)]
struct SendOnly;

const BODY: &[u8] = b"\xEF\xBB\xBFtrade bill\r\n`2026-11-30,`1.00\r\n";

impl Transport for SendOnly {
    fn send<'a>(
        &'a self,
        _request: http::Request<Bytes>,
        _route: &'a Route,
    ) -> BoxFuture<'a, Result<Response>> {
        Box::pin(async {
            Ok(Response::new(
                StatusCode::OK,
                HeaderMap::new(),
                Bytes::from_static(BODY),
            ))
        })
    }
}

#[tokio::test]
async fn a_custom_transport_streams_through_the_default_send_streaming() {
    let _serial = SERIAL.lock().await;
    let wxpay = support::builder_at(support::VECTOR_EPOCH)
        .transport(Arc::new(SendOnly))
        .build()
        .unwrap();
    let url = "https://api.mch.weixin.qq.com/v3/billdownload/file?token=t";
    let mut download = wxpay.chain(url).download(()).await.unwrap();
    assert_eq!(download.chunk().await.unwrap().as_deref(), Some(BODY));
    assert_eq!(download.chunk().await.unwrap(), None);

    // A signed endpoint through the same transport is still verified: fail closed.
    let e = wxpay
        .chain("v3/certificates")
        .download(())
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Verify(VerifyError::MissingHeader(_))),
        "{e:?}"
    );

    // A raw apply answer: the bill is checked against its hash_value.
    let apply = BillApply::from_json(&json!({
        "hash_type": "SHA1", "hash_value": sha1_hex(BODY), "download_url": url,
    }))
    .unwrap();
    let mut out = Vec::new();
    let summary = BillRequest::from_apply(&wxpay, apply.clone())
        .download_to(&mut out)
        .await
        .unwrap();
    assert_eq!((out.as_slice(), summary.gzip), (BODY, false));
    let wrong = BillApply::from_json(&json!({
        "hash_type": "SHA1", "hash_value": sha1_hex(b"other"), "download_url": url,
    }))
    .unwrap();
    let e = BillRequest::from_apply(&wxpay, wrong)
        .download_to(&mut Vec::new())
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Verify(VerifyError::BillDigest { .. })),
        "{e:?}"
    );
    // A download URL on a foreign host is refused before anything is signed.
    let foreign = BillApply::from_json(&json!({
        "hash_type": "SHA1", "hash_value": sha1_hex(BODY),
        "download_url": "https://evil.example/v3/billdownload/file?token=t",
    }))
    .unwrap();
    let e = BillRequest::from_apply(&wxpay, foreign)
        .download_to(&mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Chain(_)), "{e:?}");
    assert!(BillApply::from_json(&json!({"hash_type": "SHA1"})).is_err());
}

#[tokio::test]
async fn the_body_limit_points_at_download_which_streams_past_it() {
    let _serial = SERIAL.lock().await;
    bounded(30, async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client_builder().body_limit(1000).build().unwrap();
        let apply: BillApply = wxpay
            .chain("v3/bill/tradebill")
            .get(query(false))
            .await
            .unwrap()
            .json()
            .unwrap();
        let e = wxpay.chain(&apply.download_url).get(()).await.unwrap_err();
        assert_eq!(
            e.transport_kind(),
            Some(TransportKind::BodyTooLarge),
            "{e:?}"
        );
        assert!(e.to_string().contains("Chain::download"), "{e}");
        // The unsigned download streams whatever its size.
        let mut download = wxpay.chain(&apply.download_url).download(()).await.unwrap();
        let written = download.write_to(&mut tokio::io::sink()).await.unwrap();
        assert!(written > 1000, "{written}");
        assert_eq!(download.received(), written);
        // A signed answer must be read whole to be verified: beyond the limit, nothing.
        let e = wxpay
            .chain("v3/certificates")
            .download(())
            .await
            .unwrap_err();
        assert_eq!(
            e.transport_kind(),
            Some(TransportKind::BodyTooLarge),
            "{e:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_file_download_dropped_half_way_leaves_no_file() {
    let _serial = SERIAL.lock().await;
    bounded(60, async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let dir = std::env::temp_dir().join(format!("wxpay-bills-dropped-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A 50 MB bill takes seconds to apply for and download: 300 ms is half-way at most.
        let download = wxpay
            .trade_bill(query(true).query("sandbox_rows", 215_000))
            .download_to_file(dir.join("bill.csv"));
        let outcome = tokio::time::timeout(Duration::from_millis(300), download).await;
        assert!(outcome.is_err(), "still running when dropped");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "no file, no temporary file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}
