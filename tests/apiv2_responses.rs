//! The checks of APIv2 answers (apiv2.md §4, PHP reference §7.3), each outcome typed, against
//! a tiny HTTP/1.1 server on 127.0.0.1 that answers every request with one canned body and
//! records the request lines it saw.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wechatpay_chain::v2::sign::{sign, ApiV2Key, SignType};
use wechatpay_chain::{
    ApiV2Error, ConfigError, DecodeError, ErrorKind, Response, VerifyError, Wechatpay,
};

const MCHID: &str = "1900000109";
const KEY: &str = "exposed_your_key_here_have_risks";

/// A loopback server answering `status` + `body` to every request; the request lines seen.
async fn serve(status: u16, body: Vec<u8>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as many body bytes as Content-Length says.
            let head_end = loop {
                let n = stream.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                request.extend_from_slice(&buf[..n]);
                if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while request.len() < head_end + length {
                let n = stream.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let line = String::from_utf8_lossy(&request[..head_end]);
            log.lock()
                .unwrap()
                .push(line.lines().next().unwrap_or("").to_string());
            let answer_head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(answer_head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
    });
    (addr, seen)
}

/// An APIv2-only client towards `base` (a loopback `http://` URI).
fn client(base: &str) -> Wechatpay {
    Wechatpay::builder()
        .mchid(MCHID)
        .apiv2_key(KEY)
        .base_uri(base)
        .build()
        .unwrap()
}

/// `<xml>` of `fields` (all strings), signed with the vectors' key when `sign_type` is given.
fn answer(fields: Value, sign_type: Option<SignType>) -> Vec<u8> {
    let mut map: Map<String, Value> = fields.as_object().unwrap().clone();
    if let Some(t) = sign_type {
        let key = ApiV2Key::new(KEY).unwrap();
        map.insert("sign".into(), Value::String(sign(t, &map, &key).unwrap()));
    }
    wechatpay_chain::v2::xml::to_xml(&map).into_bytes()
}

/// POSTs `v2/pay/orderquery` (sign type `sign_type`) to a server answering `body`.
async fn orderquery(body: Vec<u8>, sign_type: &str) -> wechatpay_chain::Result<Response> {
    let (addr, _) = serve(200, body).await;
    client(&format!("http://{addr}/"))
        .chain("v2/pay/orderquery")
        .post(json!({"xml": {"mch_id": MCHID, "out_trade_no": "T1", "sign_type": sign_type}}))
        .await
}

fn success() -> Value {
    json!({"return_code": "SUCCESS", "return_msg": "OK", "mch_id": MCHID, "nonce_str": "n1"})
}

#[tokio::test]
async fn a_failed_return_code_is_a_typed_error_keeping_the_response() {
    let body = answer(
        json!({"return_code": "FAIL", "return_msg": "签名错误"}),
        None,
    );
    let e = orderquery(body.clone(), "MD5").await.unwrap_err();
    assert!(
        matches!(e.api_v2(), Some(ApiV2Error::Return { return_code, return_msg: Some(m), .. }) if return_code == "FAIL" && m == "签名错误"),
        "{e:?}"
    );
    assert_eq!(e.api_v2().unwrap().fields()["return_msg"], "签名错误");
    assert_eq!(e.response().unwrap().bytes().as_ref(), &body[..]);
    assert!(e.to_string().contains("签名错误"), "{e}");
}

#[tokio::test]
async fn a_failed_result_code_is_a_business_error_once_its_sign_verifies() {
    let mut fields = success();
    fields["result_code"] = json!("FAIL");
    fields["err_code"] = json!("ORDERNOTEXIST");
    fields["err_code_des"] = json!("此交易订单号不存在");
    let e = orderquery(answer(fields.clone(), Some(SignType::Md5)), "MD5")
        .await
        .unwrap_err();
    assert!(
        matches!(e.api_v2(), Some(ApiV2Error::Business { result_code, err_code: Some(c), err_code_des: Some(_), .. }) if result_code == "FAIL" && c == "ORDERNOTEXIST"),
        "{e:?}"
    );
    assert!(e.response().is_some());
    // The same answer with a forged sign is not believed, not even as a failure.
    let mut forged = fields;
    forged["sign"] = json!("0123456789ABCDEF0123456789ABCDEF");
    let e = orderquery(answer(forged, None), "MD5").await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Verify(VerifyError::BadSignature));
}

#[tokio::test]
async fn signed_successes_pass_and_parse() {
    // No result_code, a valid MD5 sign.
    let response = orderquery(answer(success(), Some(SignType::Md5)), "MD5")
        .await
        .unwrap();
    let map = response.xml_map().unwrap();
    assert_eq!(map["return_code"], "SUCCESS");
    // SUCCESS/SUCCESS with an HMAC-SHA256 sign, for an HMAC-SHA256 request.
    let mut fields = success();
    fields["result_code"] = json!("SUCCESS");
    fields["trade_state"] = json!("SUCCESS");
    let response = orderquery(answer(fields, Some(SignType::HmacSha256)), "HMAC-SHA256")
        .await
        .unwrap();
    assert_eq!(response.xml_map().unwrap()["trade_state"], "SUCCESS");
}

#[tokio::test]
async fn bad_missing_and_mistyped_signs_are_refused() {
    let mut tampered = success();
    tampered["sign"] = json!("0123456789ABCDEF0123456789ABCDEF");
    let e = orderquery(answer(tampered, None), "MD5").await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Verify(VerifyError::BadSignature));
    assert!(e.response().is_some());

    let e = orderquery(answer(success(), None), "MD5")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Verify(VerifyError::MissingSign));

    // Signed with MD5 while the request asked for HMAC-SHA256: checked by the request's type.
    let e = orderquery(answer(success(), Some(SignType::Md5)), "HMAC-SHA256")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Verify(VerifyError::BadSignature));
}

#[tokio::test]
async fn a_non_xml_answer_is_a_decode_error_keeping_the_response() {
    let e = orderquery(b"{\"code\":\"SYSTEMERROR\"}".to_vec(), "MD5")
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Decode(DecodeError::Xml { .. })),
        "{e:?}"
    );
    assert_eq!(
        e.response().unwrap().bytes().as_ref(),
        b"{\"code\":\"SYSTEMERROR\"}"
    );
}

#[tokio::test]
async fn an_error_status_stays_an_api_error() {
    let (addr, _) = serve(503, b"busy".to_vec()).await;
    let e = client(&format!("http://{addr}/"))
        .chain("v2/pay/orderquery")
        .post(json!({"xml": {"mch_id": MCHID}}))
        .await
        .unwrap_err();
    assert_eq!(e.api().map(|a| a.status.as_u16()), Some(503), "{e:?}");
}

/// A v2 GET carries its nonce inside the signed query: a retry would replay it, so even a
/// client that retries GETs sends an APIv2 GET once.
#[tokio::test]
async fn an_apiv2_get_is_never_retried() {
    let (addr, seen) = serve(503, b"busy".to_vec()).await;
    let wxpay = Wechatpay::builder()
        .mchid(MCHID)
        .apiv2_key(KEY)
        .base_uri(format!("http://{addr}/"))
        .get_retries(3)
        .build()
        .unwrap();
    let e = wxpay
        .chain("v2/papay/entrustweb")
        .get(json!({"query": {"mch_id": MCHID, "appid": "wx1"}}))
        .await
        .unwrap_err();
    assert_eq!(e.api().map(|a| a.status.as_u16()), Some(503), "{e:?}");
    let lines = seen.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("GET /papay/entrustweb?mch_id=1900000109&appid=wx1&nonce_str="),
        "{lines:?}"
    );
}

const BILL: &[u8] =
    "交易时间,公众账号ID,商户号\r\n`2026-11-30 10:00:00,`wx1,`1900000109\r\n".as_bytes();

/// The simulation environment's chain form, `v2/sandboxnew/pay/downloadbill` (the PHP SDK
/// parses its CSV as XML and rejects it), is unsigned like `pay/downloadbill`.
#[tokio::test]
async fn an_unsigned_bill_passes_untouched_under_the_sandboxnew_chain() {
    let (addr, seen) = serve(200, BILL.to_vec()).await;
    let data = json!({"xml": {"mch_id": MCHID, "bill_date": "20261130", "bill_type": "ALL"}});
    let response = client(&format!("http://{addr}/"))
        .chain("v2/sandboxnew/pay/downloadbill")
        .post(data)
        .await
        .unwrap();
    assert_eq!(response.bytes().as_ref(), BILL);
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec!["POST /sandboxnew/pay/downloadbill HTTP/1.1".to_string()]
    );
}

/// Transfers, red packets and the like answer unsigned XML; a failed one (`result_code` FAIL,
/// e.g. NOTENOUGH) is a business error, never an `Ok` that reads like money sent. Those
/// endpoints need mutual TLS, so the rule is shown on `payitil/report`, also on the unsigned
/// list, with the same check.
#[tokio::test]
async fn an_unsigned_business_failure_is_a_typed_error() {
    let body = b"<xml><return_code>SUCCESS</return_code><result_code>FAIL</result_code><err_code>NOTENOUGH</err_code><err_code_des>balance</err_code_des></xml>";
    let (addr, _) = serve(200, body.to_vec()).await;
    let e = client(&format!("http://{addr}/"))
        .chain("v2/payitil/report")
        .post(json!({"xml": {"mch_id": MCHID, "interface_url": "x"}}))
        .await
        .unwrap_err();
    assert!(
        matches!(e.api_v2(), Some(ApiV2Error::Business { err_code: Some(c), .. }) if c == "NOTENOUGH"),
        "{e:?}"
    );
    assert!(e.response().is_some(), "the answer is kept");
}

#[tokio::test]
async fn an_unsigned_bill_passes_untouched_also_under_a_base_path() {
    for prefix in ["", "sandboxnew/"] {
        let (addr, seen) = serve(200, BILL.to_vec()).await;
        let wxpay = client(&format!("http://{addr}/{prefix}"));
        let data = json!({"xml": {"mch_id": MCHID, "bill_date": "20261130", "bill_type": "ALL"}});
        let response = wxpay
            .chain("v2/pay/downloadbill")
            .post(data.clone())
            .await
            .unwrap();
        assert_eq!(response.bytes().as_ref(), BILL, "{prefix}");
        let mut streamed = Vec::new();
        let mut download = wxpay
            .chain("v2/pay/downloadbill")
            .download(data)
            .await
            .unwrap();
        download.write_to(&mut streamed).await.unwrap();
        assert_eq!(streamed, BILL, "{prefix}: streamed");
        let lines = seen.lock().unwrap().clone();
        assert_eq!(
            lines,
            vec![format!("POST /{prefix}pay/downloadbill HTTP/1.1"); 2],
            "the v2 segment is never sent"
        );
    }
}

#[tokio::test]
async fn a_bill_that_answers_xml_failure_is_a_typed_error() {
    let body = answer(
        json!({"return_code": "FAIL", "return_msg": "No Bill Exist"}),
        None,
    );
    let (addr, _) = serve(200, body.clone()).await;
    let wxpay = client(&format!("http://{addr}/"));
    let data = json!({"xml": {"mch_id": MCHID, "bill_date": "20261130"}});
    let e = wxpay
        .chain("v2/pay/downloadbill")
        .post(data.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(e.api_v2(), Some(ApiV2Error::Return { return_msg: Some(m), .. }) if m == "No Bill Exist"),
        "{e:?}"
    );
    assert_eq!(e.response().unwrap().bytes().as_ref(), &body[..]);
    let e = wxpay
        .chain("v2/pay/downloadbill")
        .download(data)
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::ApiV2(ApiV2Error::Return { .. })),
        "{e:?}"
    );
}

#[tokio::test]
async fn nothing_is_sent_without_the_apiv2_key() {
    let (addr, seen) = serve(200, Vec::new()).await;
    let v3_only = Wechatpay::builder()
        .mchid(MCHID)
        .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
        .private_key(
            wechatpay_chain::PrivateKey::from_pem_file(support::path(
                "tests/fixtures/apiclient_key.pem",
            ))
            .unwrap(),
        )
        .base_uri(format!("http://{addr}/"))
        .build()
        .unwrap();
    let e = v3_only
        .chain("v2/pay/orderquery")
        .post(json!({"xml": {"mch_id": MCHID}}))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Config(ConfigError::MissingApiV2Key(_))),
        "{e:?}"
    );
    assert!(seen.lock().unwrap().is_empty());
}
