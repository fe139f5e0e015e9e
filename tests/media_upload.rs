//! Media uploads: the `media_upload` vector byte for byte through `Options::upload`, and end to
//! end against the sandbox (a real hyper server on loopback) — the signature covers the meta
//! part, the digest is checked against the file part, and the answer is a `media_id`.
#![cfg(feature = "sandbox")]

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http_body_util::{BodyExt as _, Full};
use ring::digest::{digest, SHA256};
use serde_json::Value;
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::signer::{authorization, canonical_request, sign_base64};
use wechatpay_chain::{
    Chain, ChainError, Error, ErrorKind, FixedNonce, Media, Method, Options, PreparedRequest,
};

#[path = "support/raw_http.rs"]
mod raw;

use support::str_field;

/// Every network test is bounded: a hang is a failure.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the test took longer than 30 s")
}

async fn sandbox() -> SandboxHandle {
    Sandbox::builder().start().await.expect("sandbox starts")
}

fn vector() -> Value {
    support::vectors()["media_upload"].clone()
}

fn pixel() -> Vec<u8> {
    BASE64
        .decode(str_field(&vector(), "file_base64"))
        .expect("file_base64")
}

/// The media id the sandbox derives: upper hex of the digest's first 16 bytes + extension.
fn expected_media_id(file: &[u8], ext: &str) -> String {
    let d = digest(&SHA256, file);
    let hex: String = d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    format!("{hex}.{ext}")
}

/// The parts of a multipart body, parsed with multer: (name, filename, content type, bytes).
async fn parts(content_type: &str, body: Bytes) -> Vec<(String, Option<String>, String, Bytes)> {
    let boundary = multer::parse_boundary(content_type).expect("a boundary");
    let mut multipart = multer::Multipart::new(Full::new(body).into_data_stream(), boundary);
    let mut out = Vec::new();
    while let Some(field) = multipart.next_field().await.expect("well-formed multipart") {
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let ct = field
            .content_type()
            .map(ToString::to_string)
            .unwrap_or_default();
        out.push((name, filename, ct, field.bytes().await.unwrap()));
    }
    out
}

fn api_code(e: &Error) -> (Option<u16>, Option<String>, String) {
    let api = e.api();
    (
        api.map(|a| a.status.as_u16()),
        api.and_then(|a| a.code.clone()),
        api.and_then(|a| a.message.clone()).unwrap_or_default(),
    )
}

/// A prepared request as raw HTTP/1.1 with `body` in place of what it would send.
fn raw_request(prepared: &PreparedRequest, addr: SocketAddr, body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        prepared.method(),
        prepared.target()
    );
    for (name, value) in prepared.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A hand-built multipart (boundary `HANDMADE`) of the given (headers, content) parts.
fn handmade(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (headers, content) in parts {
        out.extend_from_slice(b"--HANDMADE\r\n");
        out.extend_from_slice(headers.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--HANDMADE--\r\n");
    out
}

const HANDMADE_TYPE: &str = "multipart/form-data; boundary=HANDMADE";
const META_HEADERS: &str =
    "Content-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json";
const FILE_HEADERS: &str =
    "Content-Disposition: form-data; name=\"file\"; filename=\"pixel.gif\"\r\nContent-Type: image/gif";

/// The vector through the upload path, in the three chain forms: meta, message, signature and
/// `Authorization` byte for byte; the bytes sent are a multipart whose meta part is the body.
#[tokio::test]
async fn media_upload_vector_is_byte_exact_through_the_upload_path() {
    let case = vector();
    let f = support::fixtures();
    // The signer alone over the vector's meta.
    let message = canonical_request(
        str_field(&case, "method"),
        str_field(&case, "target"),
        str_field(&case, "timestamp"),
        str_field(&case, "nonce"),
        str_field(&case, "meta").as_bytes(),
    );
    assert_eq!(message, str_field(&case, "message").as_bytes());
    let signature = sign_base64(&support::merchant_key(), &message).unwrap();
    assert_eq!(signature, str_field(&case, "signature"));
    assert_eq!(
        authorization(
            &f.mchid,
            &f.merchant_serial,
            str_field(&case, "timestamp"),
            str_field(&case, "nonce"),
            &signature
        ),
        str_field(&case, "authorization")
    );

    // The same bytes through Media + Options::upload.
    let wxpay = support::builder_at(str_field(&case, "timestamp").parse().unwrap())
        .nonce_source(FixedNonce(str_field(&case, "nonce").to_string()))
        .build()
        .unwrap();
    let media = Media::new("pixel.gif", pixel()).unwrap();
    assert_eq!(media.meta().as_ref(), str_field(&case, "meta").as_bytes());
    assert_eq!(str_field(&case, "meta"), str_field(&case, "body"));
    let chains = [
        wxpay.v3().merchant().media().upload().into(),
        wxpay.chain("v3/merchant/media/upload"),
        wxpay["v3/merchant/media/upload"].clone(),
    ];
    for chain in chains {
        let prepared = chain
            .prepare(Method::POST, Options::new().upload(media.clone()))
            .unwrap();
        assert_eq!(prepared.target(), str_field(&case, "target"));
        assert_eq!(
            prepared.body().as_ref(),
            str_field(&case, "meta").as_bytes()
        );
        assert_eq!(prepared.message(), str_field(&case, "message").as_bytes());
        assert_eq!(
            prepared.headers()[AUTHORIZATION],
            str_field(&case, "authorization")
        );
        let content_type = prepared.headers()[CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with("multipart/form-data; boundary="));
        let parts = parts(content_type, prepared.sent_body().clone()).await;
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].0, "meta");
        assert_eq!(parts[0].1, None);
        assert_eq!(parts[0].2, "application/json");
        assert_eq!(
            &parts[0].3,
            prepared.body(),
            "the meta part is the signed body"
        );
        assert_eq!(parts[1].0, "file");
        assert_eq!(parts[1].1.as_deref(), Some("pixel.gif"));
        assert_eq!(parts[1].2, "image/gif");
        assert_eq!(parts[1].3.as_ref(), &pixel()[..]);
    }
}

#[test]
fn upload_is_refused_with_a_body_or_on_get() {
    let wxpay = support::client();
    let media = || Media::new("pixel.gif", pixel()).unwrap();
    let chain = wxpay.chain("v3/merchant/media/upload");
    for options in [
        Options::new()
            .json(serde_json::json!({"a": 1}))
            .upload(media()),
        Options::new().upload(media()).body("x"),
    ] {
        let e = chain.prepare(Method::POST, options).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Chain(ChainError::ConflictingOptions { second, .. }) if ["upload", "body"].contains(second)
            ),
            "{e}"
        );
    }
    let e = chain
        .prepare(Method::GET, Options::new().upload(media()))
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Chain(ChainError::BodyNotAllowed { .. })
        ),
        "{e}"
    );
}

#[test]
fn media_files_and_names_are_checked() {
    for bad in ["a\"b.gif", "a\r\nX-Injected: 1.gif", "../a.gif", ""] {
        let e = Media::new(bad, pixel()).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Chain(ChainError::InvalidMedia(_))),
            "{bad:?}"
        );
    }
    let e = Media::new("empty.gif", Vec::new()).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");

    let dir = std::env::temp_dir().join(format!("wechatpay-media-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pixel.gif");
    std::fs::write(&path, pixel()).unwrap();
    let media = Media::from_file(&path).unwrap();
    assert_eq!(media, Media::new("pixel.gif", pixel()).unwrap());

    let big = dir.join("big.mp4");
    std::fs::write(&big, vec![0u8; wechatpay_chain::media::MAX_MEDIA_LEN + 1]).unwrap();
    let e = Media::from_file(&big).unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::Chain(ChainError::InvalidMedia(_))
    ));
    assert!(e.to_string().contains("larger than"), "{e}");

    let e = Media::from_file(dir.join("missing.png")).unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::Chain(ChainError::InvalidMedia(_))
    ));
    assert!(
        std::error::Error::source(&e).is_some(),
        "the I/O error is the source"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn media_id(chain: Chain, media: Media) -> Value {
    let response = chain.post(Options::new().upload(media)).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().unwrap()
}

/// An image upload is answered with a `media_id`, in the method form, `chain()` and indexing;
/// the recorded request is a multipart whose meta part is exactly the signed bytes.
#[tokio::test]
async fn image_upload_answers_a_media_id_in_every_form() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let media = Media::new("pixel.gif", pixel()).unwrap();
        let want = expected_media_id(&pixel(), "gif");
        for chain in [
            wxpay.v3().merchant().media().upload().into(),
            wxpay.chain("v3/merchant/media/upload"),
            wxpay["v3/merchant/media/upload"].clone(),
            wxpay.v3().merchant_service().images().upload().into(),
        ] {
            let answer = media_id(chain, media.clone()).await;
            assert_eq!(answer["media_id"], want.as_str());
        }
        let answer = media_id(
            wxpay.v3().marketing().favor().media().image_upload().into(),
            media.clone(),
        )
        .await;
        assert!(answer["media_url"].as_str().unwrap().contains(&want));

        let recorded = sandbox.requests().pop().unwrap();
        assert!(recorded.authenticated && recorded.body_kept);
        let content_type = recorded.headers[CONTENT_TYPE].to_str().unwrap();
        let parts = parts(content_type, recorded.body.clone()).await;
        assert_eq!(parts[0].0, "meta");
        assert_eq!(
            &parts[0].3,
            media.meta(),
            "the meta part is what was signed"
        );
        assert_eq!(parts[1].3.as_ref(), &pixel()[..]);

        // A non-ASCII name: kept in the meta, percent-encoded in the part header.
        let named = Media::new("像素 图.gif", pixel()).unwrap();
        let answer = media_id(wxpay.chain("v3/merchant/media/upload"), named).await;
        assert_eq!(answer["media_id"], want.as_str());
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn video_upload_and_extensions_per_endpoint() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let clip = b"\x00\x00\x00\x18ftypmp42 not really a video".to_vec();
        let video = Media::new("clip.mp4", clip.clone()).unwrap();
        assert_eq!(video.content_type(), "video/mp4");
        let answer = media_id(
            wxpay.v3().merchant().media().video_upload().into(),
            video.clone(),
        )
        .await;
        assert_eq!(answer["media_id"], expected_media_id(&clip, "mp4").as_str());

        let image = Media::new("pixel.gif", pixel()).unwrap();
        for (chain, media) in [
            (wxpay.v3().merchant().media().video_upload().into(), image),
            (wxpay.v3().merchant().media().upload().into(), video),
        ] {
            let chain: Chain = chain;
            let e = chain.post(Options::new().upload(media)).await.unwrap_err();
            let (status, code, message) = api_code(&e);
            assert_eq!(
                (status, code.as_deref()),
                (Some(400), Some("PARAM_ERROR")),
                "{e}"
            );
            assert!(
                message.contains("filename") && message.contains("extension"),
                "{message}"
            );
        }
        sandbox.shutdown();
    })
    .await;
}

/// A meta signed correctly whose sha256 is not the file's: `400 PARAM_ERROR` naming sha256.
/// Missing parts: `400 PARAM_ERROR` naming them.
#[tokio::test]
async fn digest_mismatch_and_missing_parts_are_param_errors() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let chain = wxpay.chain("v3/merchant/media/upload");
        let meta = Media::new("pixel.gif", pixel()).unwrap().meta().clone();
        let mut other = pixel();
        *other.last_mut().unwrap() ^= 1;

        let cases: [(Vec<u8>, &str); 2] = [
            (
                handmade(&[(META_HEADERS, &meta), (FILE_HEADERS, &other)]),
                "sha256",
            ),
            (handmade(&[(META_HEADERS, &meta)]), "file"),
        ];
        for (body, field) in cases {
            // Signed over the meta (as the protocol wants), sent as the crafted multipart.
            let prepared = chain
                .prepare(
                    Method::POST,
                    Options::new()
                        .body(meta.clone())
                        .header("Content-Type", HANDMADE_TYPE),
                )
                .unwrap();
            let (status, _, answer) = raw::raw_http(
                sandbox.addr(),
                &raw_request(&prepared, sandbox.addr(), &body),
            )
            .await;
            let answer: Value = serde_json::from_slice(&answer).unwrap();
            assert_eq!(status, 400, "{answer}");
            assert_eq!(answer["code"], "PARAM_ERROR");
            assert_eq!(answer["detail"]["field"], field, "{answer}");
        }
        assert!(sandbox.requests().iter().all(|r| r.authenticated));

        // No meta part: the whole body is what is signed, then the meta is missing.
        let body = handmade(&[(FILE_HEADERS, &pixel())]);
        let e = chain
            .post(
                Options::new()
                    .body(body)
                    .header("Content-Type", HANDMADE_TYPE),
            )
            .await
            .unwrap_err();
        let (status, code, message) = api_code(&e);
        assert_eq!(
            (status, code.as_deref()),
            (Some(400), Some("PARAM_ERROR")),
            "{e}"
        );
        assert!(message.starts_with("meta"), "{message}");
        sandbox.shutdown();
    })
    .await;
}

/// The old way (PHP's Guzzle `multipart`, or a hand-built body): the whole multipart is signed,
/// but the platform checks the signature over the meta part: `401 SIGN_ERROR`.
#[tokio::test]
async fn signing_the_whole_multipart_is_a_sign_error() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let meta = Media::new("pixel.gif", pixel()).unwrap().meta().clone();
        let body = handmade(&[(META_HEADERS, &meta), (FILE_HEADERS, &pixel())]);
        let e = wxpay
            .v3()
            .merchant()
            .media()
            .upload()
            .post(
                Options::new()
                    .body(body)
                    .header("Content-Type", HANDMADE_TYPE),
            )
            .await
            .unwrap_err();
        let (status, code, _) = api_code(&e);
        assert_eq!(
            (status, code.as_deref()),
            (Some(401), Some("SIGN_ERROR")),
            "{e}"
        );
        let recorded = sandbox.requests().pop().unwrap();
        assert!(!recorded.authenticated);
        sandbox.shutdown();
    })
    .await;
}

/// Every APIv3 `meta` + file endpoint of the catalog (endpoints.jsonl, content type
/// `multipart/form-data`), through `chain()` with its variables and its file part's name.
#[tokio::test]
async fn every_catalog_upload_endpoint_takes_an_upload() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let png = b"\x89PNG\r\n\x1a\n not really a png".to_vec();
        let image = || Media::new("logo.png", png.clone()).unwrap();
        let pdf = || Media::new("fapiao.pdf", &b"%PDF-1.7"[..]).unwrap();
        // (path, the one template variable and its value, what to upload)
        type Case = (&'static str, Option<(&'static str, &'static str)>, Media);
        let cases: Vec<Case> = vec![
            ("v3/merchant/media/upload", None, image()),
            (
                "v3/merchant/media/video_upload",
                None,
                Media::new("a.avi", &b"RIFF"[..]).unwrap(),
            ),
            ("v3/marketing/favor/media/image-upload", None, image()),
            ("v3/merchant-service/images/upload", None, image()),
            ("v3/global/merchant-service/images/upload", None, image()),
            ("v3/global/merchant-storage/file/upload", None, pdf()),
            (
                "v3/marketing/partner/product-coupon/media/upload-image",
                None,
                image(),
            ),
            (
                "v3/ecommerce/account/cancel-applications/media",
                None,
                image(),
            ),
            (
                "v3/marketing/bank/packages/{package_id}/tasks",
                Some(("package_id", "8888")),
                Media::new("ids.csv", &b"openid\n"[..]).unwrap(),
            ),
            (
                "v3/marketing/shopping-receipt/shoppingreceipts",
                None,
                image(),
            ),
            (
                "v3/new-tax-control-fapiao/fapiao-applications/upload-fapiao-file",
                None,
                pdf(),
            ),
            ("v3/taxi-invoice/cards/upload-file", None, pdf()),
            (
                "v3/mch-manage/submission-files/sub-mchid/{sub_mchid}/upload",
                Some(("sub_mchid", "1900000109")),
                pdf().file_field("submission_file").unwrap(),
            ),
            (
                "v3/mch-operation-manage/enhanced-due-diligence/{due_diligence_id}/upload",
                Some(("due_diligence_id", "DD0001")),
                pdf().file_field("due_diligence_file").unwrap(),
            ),
        ];
        for (template, param, media) in cases {
            let digest =
                expected_media_id(media.file(), media.filename().rsplit('.').next().unwrap());
            let mut options = Options::new().upload(media);
            if let Some((name, value)) = param {
                options = options.param(name, value);
            }
            let response = wxpay
                .chain(template)
                .post(options)
                .await
                .unwrap_or_else(|e| panic!("{template}: {e}"));
            let answer: Value = response.json().unwrap();
            let id = answer["media_id"]
                .as_str()
                .or_else(|| answer["media_url"].as_str())
                .unwrap_or_else(|| panic!("{template}: {answer}"));
            assert!(id.contains(&digest), "{template}: {answer}");
        }
        sandbox.shutdown();
    })
    .await;
}
