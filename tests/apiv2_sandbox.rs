//! The sandbox's APIv2 endpoints over real TCP: XML requests signed with the fixtures'
//! test-only APIv2 key, checked like the platform, answered in signed XML.
#![cfg(feature = "sandbox")]

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use serde_json::{Map, Value};
use wechatpay_chain::sandbox::{Sandbox, SandboxHandle};
use wechatpay_chain::v2::notification;
use wechatpay_chain::v2::sign::{sign, verify, ApiV2Key, SignType};
use wechatpay_chain::v2::xml::{from_xml, to_xml};

#[path = "support/raw_http.rs"]
mod raw;

/// `tests/fixtures/fixtures.json`'s `apiv2_key`.
const APIV2_KEY: &str = "TestOnlyApiV2Key0123456789abcdef";
const MCHID: &str = "1900000109";
const APPID: &str = "wxd678efh567hg6787";
/// 18 digits: a payer's payment code.
const AUTH_CODE: &str = "134567890123456789";

fn key() -> ApiV2Key {
    ApiV2Key::new(APIV2_KEY).unwrap()
}

/// A field map from pairs.
fn fields(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect()
}

/// A fresh `nonce_str`.
fn nonce() -> String {
    wechatpay_chain::signer::nonce().unwrap()
}

/// Signs `data` (adding `nonce_str` unless present) under `sign_type`, as a merchant would.
fn signed(mut data: Map<String, Value>, sign_type: SignType) -> Map<String, Value> {
    if !data.contains_key("nonce_str") {
        data.insert("nonce_str".into(), nonce().into());
    }
    if sign_type == SignType::HmacSha256 {
        data.insert("sign_type".into(), "HMAC-SHA256".into());
    }
    let s = sign(sign_type, &data, &key()).unwrap();
    data.insert("sign".into(), s.into());
    data
}

/// POSTs an XML body over plain HTTP/1.1; returns the status and the body.
async fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, Vec<u8>) {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, _, body) = raw::raw_http(addr, request.as_bytes()).await;
    (status, body)
}

/// POSTs `data` and parses the XML answer (always HTTP 200, like the platform).
async fn call(
    sandbox: &SandboxHandle,
    path: &str,
    data: &Map<String, Value>,
) -> Map<String, Value> {
    let (status, body) = post(sandbox.addr(), path, &to_xml(data)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    from_xml(&body).unwrap()
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn micropay(out_trade_no: &str, total_fee: &str) -> Map<String, Value> {
    fields(&[
        ("appid", APPID),
        ("mch_id", MCHID),
        ("body", "sandbox coffee"),
        ("out_trade_no", out_trade_no),
        ("total_fee", total_fee),
        ("spbill_create_ip", "127.0.0.1"),
        ("auth_code", AUTH_CODE),
    ])
}

async fn sandbox() -> SandboxHandle {
    Sandbox::builder().start().await.unwrap()
}

#[tokio::test]
async fn the_sandbox_exposes_the_test_only_apiv2_key() {
    let sandbox = sandbox().await;
    assert_eq!(sandbox.apiv2_key(), APIV2_KEY);
    let config: Value =
        serde_json::from_slice(&std::fs::read(sandbox.config_json_path()).unwrap()).unwrap();
    assert_eq!(config["apiv2_key"], APIV2_KEY);
    let generated = Sandbox::builder().generate_keys().start().await.unwrap();
    assert_eq!(generated.apiv2_key().len(), 32);
    assert_ne!(generated.apiv2_key(), APIV2_KEY);
}

#[tokio::test]
async fn micropay_signed_md5_is_paid_and_answered_with_an_md5_sign() {
    let sandbox = sandbox().await;
    let request = signed(micropay("V2MD5001", "101"), SignType::Md5);
    let answer = call(&sandbox, "/pay/micropay", &request).await;
    assert_eq!(text(&answer, "return_code"), "SUCCESS", "{answer:?}");
    assert_eq!(text(&answer, "result_code"), "SUCCESS", "{answer:?}");
    assert_eq!(text(&answer, "trade_type"), "MICROPAY");
    assert_eq!(text(&answer, "total_fee"), "101");
    assert_eq!(text(&answer, "out_trade_no"), "V2MD5001");
    assert!(!text(&answer, "transaction_id").is_empty());
    assert_eq!(text(&answer, "sign").len(), 32);
    verify(&answer, &key(), Some(SignType::Md5)).unwrap();
    assert!(verify(&answer, &key(), Some(SignType::HmacSha256)).is_err());

    let recorded = sandbox.requests();
    let last = recorded.last().unwrap();
    assert!(last.authenticated);
    assert_eq!(last.target, "/pay/micropay");
    let body = from_xml(&last.body).unwrap();
    assert_eq!(text(&body, "sign"), text(&request, "sign"));
}

#[tokio::test]
async fn micropay_signed_hmac_sha256_is_answered_with_a_64_character_sign() {
    let sandbox = sandbox().await;
    let request = signed(micropay("V2HMAC001", "2"), SignType::HmacSha256);
    assert_eq!(text(&request, "sign").len(), 64);
    let answer = call(&sandbox, "/pay/micropay", &request).await;
    assert_eq!(text(&answer, "result_code"), "SUCCESS", "{answer:?}");
    assert_eq!(text(&answer, "sign").len(), 64);
    verify(&answer, &key(), Some(SignType::HmacSha256)).unwrap();
    // By length, as a client without the request's sign type does.
    verify(&answer, &key(), None).unwrap();
}

#[tokio::test]
async fn micropay_business_errors_are_signed_fail_results() {
    let sandbox = sandbox().await;
    let mut bad_code = micropay("V2BIZ001", "5");
    bad_code.insert("auth_code".into(), "12345".into());
    let answer = call(&sandbox, "/pay/micropay", &signed(bad_code, SignType::Md5)).await;
    assert_eq!(text(&answer, "return_code"), "SUCCESS");
    assert_eq!(text(&answer, "result_code"), "FAIL");
    assert_eq!(text(&answer, "err_code"), "AUTH_CODE_INVALID");
    verify(&answer, &key(), Some(SignType::Md5)).unwrap();

    let first = call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2BIZ002", "5"), SignType::Md5),
    )
    .await;
    assert_eq!(text(&first, "result_code"), "SUCCESS");
    // The same order again is the same payment; another amount is refused.
    let again = call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2BIZ002", "5"), SignType::Md5),
    )
    .await;
    assert_eq!(
        text(&again, "transaction_id"),
        text(&first, "transaction_id")
    );
    let other = call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2BIZ002", "6"), SignType::Md5),
    )
    .await;
    assert_eq!(text(&other, "err_code"), "OUT_TRADE_NO_USED");

    let mut missing = micropay("V2BIZ003", "5");
    missing.remove("body");
    let answer = call(&sandbox, "/pay/micropay", &signed(missing, SignType::Md5)).await;
    assert_eq!(text(&answer, "err_code"), "PARAM_ERROR");
    assert!(text(&answer, "err_code_des").contains("body"), "{answer:?}");
}

#[tokio::test]
async fn orderquery_finds_paid_orders_and_names_unknown_ones() {
    let sandbox = sandbox().await;
    let paid = call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2Q001", "300"), SignType::Md5),
    )
    .await;
    let query = |by: &str, value: &str| {
        signed(
            fields(&[("appid", APPID), ("mch_id", MCHID), (by, value)]),
            SignType::HmacSha256,
        )
    };
    for request in [
        query("out_trade_no", "V2Q001"),
        query("transaction_id", text(&paid, "transaction_id")),
    ] {
        let answer = call(&sandbox, "/pay/orderquery", &request).await;
        assert_eq!(text(&answer, "result_code"), "SUCCESS", "{answer:?}");
        assert_eq!(text(&answer, "trade_state"), "SUCCESS");
        assert_eq!(text(&answer, "total_fee"), "300");
        assert_eq!(text(&answer, "out_trade_no"), "V2Q001");
        verify(&answer, &key(), Some(SignType::HmacSha256)).unwrap();
    }
    let unknown = call(
        &sandbox,
        "/pay/orderquery",
        &query("out_trade_no", "V2NOPE"),
    )
    .await;
    assert_eq!(text(&unknown, "return_code"), "SUCCESS");
    assert_eq!(text(&unknown, "result_code"), "FAIL");
    assert_eq!(text(&unknown, "err_code"), "ORDERNOTEXIST");
    verify(&unknown, &key(), None).unwrap();
}

/// A refusal: HTTP 200, `return_code` FAIL, the message, no sign.
fn assert_refused(answer: &Map<String, Value>, message: &str) {
    assert_eq!(text(answer, "return_code"), "FAIL", "{answer:?}");
    assert!(text(answer, "return_msg").contains(message), "{answer:?}");
    assert!(answer.get("sign").is_none(), "{answer:?}");
}

#[tokio::test]
async fn requests_failing_the_platform_checks_are_refused() {
    let sandbox = sandbox().await;
    let mut tampered = signed(micropay("V2T001", "1"), SignType::Md5);
    tampered.insert("total_fee".into(), "100000".into());
    assert_refused(
        &call(&sandbox, "/pay/micropay", &tampered).await,
        "签名错误",
    );
    assert!(!sandbox.requests().last().unwrap().authenticated);
    assert!(sandbox.requests().last().unwrap().body.is_empty());

    let mut other_merchant = micropay("V2T002", "1");
    other_merchant.insert("mch_id".into(), "1230000109".into());
    let answer = call(
        &sandbox,
        "/pay/micropay",
        &signed(other_merchant, SignType::Md5),
    )
    .await;
    assert_refused(&answer, "mch_id mismatch");

    let mut unsigned = micropay("V2T003", "1");
    unsigned.insert("nonce_str".into(), nonce().into());
    assert_refused(
        &call(&sandbox, "/pay/micropay", &unsigned).await,
        "sign is missing",
    );

    let mut no_nonce = micropay("V2T004", "1");
    let s = sign(SignType::Md5, &no_nonce, &key()).unwrap();
    no_nonce.insert("sign".into(), s.into());
    assert_refused(
        &call(&sandbox, "/pay/micropay", &no_nonce).await,
        "nonce_str",
    );

    let mut unknown_type = micropay("V2T005", "1");
    unknown_type.insert("sign_type".into(), "SHA1".into());
    let unknown_type = signed(unknown_type, SignType::Md5);
    assert_refused(
        &call(&sandbox, "/pay/micropay", &unknown_type).await,
        "sign_type",
    );

    let once = signed(micropay("V2T006", "1"), SignType::Md5);
    let first = call(&sandbox, "/pay/micropay", &once).await;
    assert_eq!(text(&first, "result_code"), "SUCCESS");
    assert_refused(
        &call(&sandbox, "/pay/micropay", &once).await,
        "nonce_str was already used",
    );

    let (status, body) = post(sandbox.addr(), "/pay/micropay", "not xml <").await;
    assert_eq!(status, 200);
    assert_refused(&from_xml(&body).unwrap(), "XML");
}

#[tokio::test]
async fn refund_over_plain_http_is_refused_for_want_of_the_client_certificate() {
    let sandbox = sandbox().await;
    call(
        &sandbox,
        "/pay/micropay",
        &signed(micropay("V2R001", "100"), SignType::Md5),
    )
    .await;
    let refund = signed(
        fields(&[
            ("appid", APPID),
            ("mch_id", MCHID),
            ("out_trade_no", "V2R001"),
            ("out_refund_no", "V2RF001"),
            ("total_fee", "100"),
            ("refund_fee", "40"),
        ]),
        SignType::Md5,
    );
    let answer = call(&sandbox, "/secapi/pay/refund", &refund).await;
    assert_refused(&answer, "merchant API certificate");
}

/// `pay/downloadbill` for today (China Standard Time).
fn bill_request(date: &str, tar_type: Option<&str>) -> Map<String, Value> {
    let mut data = fields(&[
        ("appid", APPID),
        ("mch_id", MCHID),
        ("bill_date", date),
        ("bill_type", "ALL"),
    ]);
    if let Some(tar_type) = tar_type {
        data.insert("tar_type".into(), tar_type.into());
    }
    signed(data, SignType::Md5)
}

/// Today as `yyyyMMdd` in China Standard Time.
fn today_cst() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let days = i64::try_from((now + 8 * 3600) / 86_400).unwrap();
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}")
}

#[tokio::test]
async fn the_v2_bill_lists_the_days_orders_plain_and_gzip() {
    let sandbox = sandbox().await;
    let none = call(
        &sandbox,
        "/pay/downloadbill",
        &bill_request(&today_cst(), None),
    )
    .await;
    assert_refused(&none, "No Bill Exist");
    for (no, fee) in [("V2B001", "123"), ("V2B002", "4567")] {
        call(
            &sandbox,
            "/pay/micropay",
            &signed(micropay(no, fee), SignType::Md5),
        )
        .await;
    }
    // The day may have turned between the payments and now: ask for the day they were paid.
    let date = today_cst();
    let (status, plain) = post(
        sandbox.addr(),
        "/pay/downloadbill",
        &to_xml(&bill_request(&date, None)),
    )
    .await;
    assert_eq!(status, 200);
    let plain = String::from_utf8(plain).unwrap();
    assert!(plain.starts_with("交易时间,公众账号ID,商户号"), "{plain}");
    assert!(plain.contains(",`V2B001,"), "{plain}");
    assert!(plain.contains(",`V2B002,"), "{plain}");
    assert!(plain.contains("`1.23,"), "{plain}");
    assert!(
        plain.ends_with("`2,`46.90,`0.00,`0.00,`0.00000,`46.90,`0.00\r\n"),
        "{plain}"
    );

    let (status, gz) = post(
        sandbox.addr(),
        "/pay/downloadbill",
        &to_xml(&bill_request(&date, Some("GZIP"))),
    )
    .await;
    assert_eq!(status, 200);
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);

    let bad_date = call(
        &sandbox,
        "/pay/downloadbill",
        &bill_request("2026-1-1", None),
    )
    .await;
    assert_refused(&bad_date, "bill_date");
}

/// POSTs an XML body over HTTPS to a TLS-mode sandbox with a raw rustls client trusting its
/// CA, presenting the sandbox's merchant API certificate when `identity`; returns the parsed
/// answer. (A raw client: this crate's refuses a mutual-TLS call without a certificate
/// before sending, and the point here is what the sandbox does.)
async fn tls_call(
    sandbox: &SandboxHandle,
    identity: bool,
    path: &str,
    data: &Map<String, Value>,
) -> Map<String, Value> {
    let ca = sandbox.ca_certificate_pem().expect("TLS mode");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if identity {
        let cert = sandbox.merchant_certificate_pem().unwrap();
        let key = sandbox.merchant_certificate_key_pem().unwrap();
        builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let tcp = TcpStream::connect(sandbox.addr()).await.unwrap();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::post(path)
        .header(http::header::HOST, "127.0.0.1")
        .header(http::header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .body(Full::new(Bytes::from(to_xml(data))))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    from_xml(&body).unwrap()
}

fn refund(out_trade_no: &str, out_refund_no: &str, total: &str, fee: &str) -> Map<String, Value> {
    signed(
        fields(&[
            ("appid", APPID),
            ("mch_id", MCHID),
            ("out_trade_no", out_trade_no),
            ("out_refund_no", out_refund_no),
            ("total_fee", total),
            ("refund_fee", fee),
        ]),
        SignType::HmacSha256,
    )
}

#[tokio::test]
async fn refund_over_mutual_tls_is_made_and_refused_without_the_certificate() {
    let sandbox = Sandbox::builder().tls(true).start().await.unwrap();
    let paid = tls_call(
        &sandbox,
        false,
        "/pay/micropay",
        &signed(micropay("V2TLS001", "100"), SignType::Md5),
    )
    .await;
    assert_eq!(text(&paid, "result_code"), "SUCCESS", "{paid:?}");

    let refused = tls_call(
        &sandbox,
        false,
        "/secapi/pay/refund",
        &refund("V2TLS001", "V2TLSR1", "100", "30"),
    )
    .await;
    assert_refused(&refused, "merchant API certificate");
    let last = sandbox.requests().pop().unwrap();
    assert!(!last.client_certificate && !last.authenticated);

    let made = tls_call(
        &sandbox,
        true,
        "/secapi/pay/refund",
        &refund("V2TLS001", "V2TLSR1", "100", "30"),
    )
    .await;
    assert_eq!(text(&made, "result_code"), "SUCCESS", "{made:?}");
    assert_eq!(text(&made, "refund_fee"), "30");
    assert_eq!(text(&made, "out_refund_no"), "V2TLSR1");
    assert_eq!(text(&made, "transaction_id"), text(&paid, "transaction_id"));
    assert!(!text(&made, "refund_id").is_empty());
    assert_eq!(text(&made, "sign").len(), 64);
    verify(&made, &key(), Some(SignType::HmacSha256)).unwrap();
    let last = sandbox.requests().pop().unwrap();
    assert!(last.client_certificate && last.authenticated);

    let too_much = tls_call(
        &sandbox,
        true,
        "/secapi/pay/refund",
        &refund("V2TLS001", "V2TLSR2", "100", "71"),
    )
    .await;
    assert_eq!(
        text(&too_much, "err_code"),
        "INVALID_REQUEST",
        "{too_much:?}"
    );
    let query = signed(
        fields(&[
            ("appid", APPID),
            ("mch_id", MCHID),
            ("out_trade_no", "V2TLS001"),
        ]),
        SignType::Md5,
    );
    let state = tls_call(&sandbox, false, "/pay/orderquery", &query).await;
    assert_eq!(text(&state, "trade_state"), "REFUND");
    sandbox.shutdown();
}

/// A loopback listener for v2 notifications: opens each with `v2::notification::open` and the
/// APIv2 key, answers the ack (or the fail XML), and reports the opened fields (or the error).
async fn v2_listener() -> (
    String,
    mpsc::UnboundedReceiver<Result<Map<String, Value>, String>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v2notify", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let service =
                hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let body = request.into_body().collect().await?.to_bytes();
                        let answer = match notification::open(&body, &key()) {
                            Ok(n) if n.is_refund() => {
                                let _ = tx.send(Ok(n.fields().clone()));
                                notification::ack().to_string()
                            }
                            Ok(_) => {
                                let _ = tx.send(Err("not a refund notification".to_string()));
                                notification::fail("not a refund notification")
                            }
                            Err(e) => {
                                let _ = tx.send(Err(e.to_string()));
                                notification::fail("cannot open")
                            }
                        };
                        Ok::<_, hyper::Error>(http::Response::new(Full::new(Bytes::from(answer))))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, rx)
}

#[tokio::test]
async fn a_v2_refund_notification_carries_the_refund_encrypted_in_req_info() {
    let sandbox = Sandbox::builder().tls(true).start().await.unwrap();
    let (url, mut opened) = v2_listener().await;
    let paid = tls_call(
        &sandbox,
        false,
        "/pay/micropay",
        &signed(micropay("V2N001", "500"), SignType::Md5),
    )
    .await;
    // The refund names the listener: the sandbox notifies it once, after answering.
    let mut request = refund("V2N001", "V2NR1", "500", "120");
    request.remove("sign");
    request.insert("notify_url".into(), url.clone().into());
    let request = signed(request, SignType::HmacSha256);
    let made = tls_call(&sandbox, true, "/secapi/pay/refund", &request).await;
    assert_eq!(text(&made, "result_code"), "SUCCESS", "{made:?}");
    let automatic = opened.recv().await.unwrap().unwrap();

    // And again on demand.
    let status = sandbox
        .deliver_v2_refund_notification(&url, "V2NR1")
        .await
        .unwrap();
    assert_eq!(status, 200);
    let info = opened.recv().await.unwrap().unwrap();
    for info in [&automatic, &info] {
        assert_eq!(text(info, "out_refund_no"), "V2NR1");
        assert_eq!(text(info, "refund_id"), text(&made, "refund_id"));
        assert_eq!(text(info, "transaction_id"), text(&paid, "transaction_id"));
        assert_eq!(text(info, "out_trade_no"), "V2N001");
        assert_eq!(text(info, "refund_fee"), "120");
        assert_eq!(text(info, "total_fee"), "500");
        assert_eq!(text(info, "refund_status"), "SUCCESS");
        assert_eq!(text(info, "success_time").len(), 19);
    }

    let unknown = sandbox.deliver_v2_refund_notification(&url, "V2NOPE").await;
    assert!(unknown.unwrap_err().to_string().contains("V2NOPE"));
    let remote = sandbox
        .deliver_v2_refund_notification("http://example.com/notify", "V2NR1")
        .await;
    assert!(remote.is_err());
    sandbox.shutdown();
}
