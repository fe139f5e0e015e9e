//! The sandbox over real TCP, driven by this crate's client and by raw HTTP.
#![cfg(feature = "sandbox")]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wechatpay_chain::crypto::aes_gcm_decrypt;
use wechatpay_chain::sandbox::{Fault, Sandbox, SandboxHandle};

#[path = "support/raw_http.rs"]
mod raw;
use wechatpay_chain::{
    verifier, Certificate, Chain, ChainError, ErrorKind, FixedClock, Method, Options, PrivateKey,
    StatusCode, TransportKind, VerifyError, Wechatpay,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
const SERVICE_ID: &str = "2002000000000558128851361561536";
const SUB_MCHID: &str = "1900000109";
const PLATFORM_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0119000001092025112200000000000001";
const APIV3_KEY: &[u8; 32] = b"TestOnlyApiV3Key0123456789abcdef";

/// Every test body is bounded: a hang is a failure, not a stuck CI job.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the test took longer than 30 s")
}

async fn sandbox() -> SandboxHandle {
    Sandbox::builder().start().await.expect("sandbox starts")
}

fn now() -> i64 {
    use wechatpay_chain::Clock as _;
    wechatpay_chain::SystemClock.now()
}

/// The seed endpoints written in one chain form.
struct Seeds {
    create: Chain,
    query: Chain,
    pending: Chain,
    prepaid: Chain,
    pay: Chain,
}

fn method_form(w: &Wechatpay) -> Seeds {
    let order = || w.v3().payscore().partner().serviceorder()._out_order_no_();
    Seeds {
        create: w
            .v3()
            .payscore()
            .partner()
            .servicepayondeliveryorder()
            .into(),
        query: w.v3().payscore().partner().serviceorder().into(),
        pending: order().send_pendingmessage().into(),
        prepaid: order().send_prepaidmessage().into(),
        pay: order().pay().into(),
    }
}

fn declarative_form(w: &Wechatpay) -> Seeds {
    Seeds {
        create: w.chain("v3/payscore/partner/servicepayondeliveryorder"),
        query: w.chain("v3/payscore/partner/serviceorder"),
        pending: w.chain("v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage"),
        prepaid: w.chain("v3/payscore/partner/serviceorder/{out_order_no}/send-prepaidmessage"),
        pay: w.chain("v3/payscore/partner/serviceorder/{out_order_no}/pay"),
    }
}

fn indexed_form(w: &Wechatpay) -> Seeds {
    Seeds {
        create: w["v3/payscore/partner/servicepayondeliveryorder"].clone(),
        query: w["v3/payscore/partner/serviceorder"].clone(),
        pending: w["v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage"].clone(),
        prepaid: w["v3/payscore/partner/serviceorder/{out_order_no}/send-prepaidmessage"].clone(),
        pay: w["v3/payscore/partner/serviceorder/{out_order_no}/pay"].clone(),
    }
}

fn order_body(out_order_no: &str, notify_url: Option<&str>) -> Value {
    json!({
        "out_order_no": out_order_no,
        "appid": "wxd678efh567hg6787",
        "sub_mchid": SUB_MCHID,
        "service_id": SERVICE_ID,
        "service_introduction": "sandbox pay-on-delivery",
        "post_payments": [{"name": "delivery", "amount": 4000, "description": "fee"}],
        "post_discounts": [{"name": "coupon", "amount": 500, "description": "new user"}],
        "time_range": {"start_time": "OnAccept"},
        "notify_url": notify_url,
    })
}

/// `{"out_order_no": …, "json": {service_id, sub_mchid}}`, PHP style.
fn order_action(out_order_no: &str) -> Value {
    json!({"out_order_no": out_order_no, "json": {"service_id": SERVICE_ID, "sub_mchid": SUB_MCHID}})
}

fn order_query(out_order_no: &str) -> Options {
    Options::new()
        .query("service_id", SERVICE_ID)
        .query("out_order_no", out_order_no)
        .query("sub_mchid", SUB_MCHID)
}

fn api_code(e: &wechatpay_chain::Error) -> Option<&str> {
    e.api().and_then(|a| a.code.as_deref())
}

/// The `message` of the sandbox's error answer (its words, not this crate's).
fn api_message(e: &wechatpay_chain::Error) -> &str {
    e.api()
        .and_then(|a| a.message.as_deref())
        .unwrap_or_default()
}

#[tokio::test]
async fn seed_endpoints_work_in_all_three_chain_forms() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let forms = [
            ("method", method_form(&wxpay)),
            ("declarative", declarative_form(&wxpay)),
            ("indexed", indexed_form(&wxpay)),
        ];
        for (form, seeds) in &forms {
            let no = format!("SANDBOX-{form}");
            let created = seeds
                .create
                .post(json!({"json": order_body(&no, None)}))
                .await
                .unwrap();
            assert_eq!(created.status(), 200, "{form}");
            let created: Value = created.json().unwrap();
            assert_eq!(created["state"], "CREATED", "{form}");
            assert_eq!(created["out_order_no"], no.as_str());
            assert_eq!(created["total_amount"], 3500);
            assert!(created["order_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()));

            let pending = seeds.pending.post(order_action(&no)).await.unwrap();
            assert_eq!(pending.status(), 204, "{form}");
            assert!(pending.bytes().is_empty());
            let again = seeds.pending.post(order_action(&no)).await.unwrap_err();
            assert_eq!(again.status(), Some(StatusCode::BAD_REQUEST), "{form}");
            assert_eq!(api_code(&again), Some("INVALID_REQUEST"), "{form}: {again}");
            assert!(again
                .api()
                .unwrap()
                .message
                .as_deref()
                .unwrap()
                .contains("only once"));

            assert_eq!(
                seeds
                    .prepaid
                    .post(order_action(&no))
                    .await
                    .unwrap()
                    .status(),
                204
            );
            let again = seeds.prepaid.post(order_action(&no)).await.unwrap_err();
            assert_eq!(api_code(&again), Some("INVALID_REQUEST"), "{form}: {again}");

            let query = seeds.query.get(order_query(&no)).await.unwrap();
            let order: Value = query.json().unwrap();
            assert_eq!(
                (order["state"].as_str(), order["state_description"].as_str()),
                (Some("DOING"), Some("MCH_COMPLETE"))
            );

            assert_eq!(
                seeds.pay.post(order_action(&no)).await.unwrap().status(),
                204,
                "{form}"
            );
            let again = seeds.pay.post(order_action(&no)).await.unwrap_err();
            assert_eq!(api_code(&again), Some("INVALID_REQUEST"), "{form}: {again}");

            let order: Value = seeds
                .query
                .get(order_query(&no))
                .await
                .unwrap()
                .json()
                .unwrap();
            assert_eq!(order["state"], "DONE", "{form}");
            assert_eq!(order["collection"]["state"], "USER_PAID");
            assert_eq!(order["collection"]["paid_amount"], 3500);
        }
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn order_rules_and_parameter_errors() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let seeds = method_form(&wxpay);

        let e = seeds
            .pending
            .post(order_action("NO-SUCH-ORDER"))
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), api_code(&e)),
            (Some(StatusCode::NOT_FOUND), Some("ORDER_NOT_EXIST")),
            "{e}"
        );
        let e = seeds
            .query
            .get(order_query("NO-SUCH-ORDER"))
            .await
            .unwrap_err();
        assert_eq!(api_code(&e), Some("ORDER_NOT_EXIST"), "{e}");

        seeds
            .create
            .post(json!({"json": order_body("RULES-1", None)}))
            .await
            .unwrap();
        let e = seeds
            .create
            .post(json!({"json": order_body("RULES-1", None)}))
            .await
            .unwrap_err();
        assert_eq!(api_code(&e), Some("INVALID_REQUEST"), "duplicate: {e}");
        let e = seeds.pay.post(order_action("RULES-1")).await.unwrap_err();
        assert_eq!(
            api_code(&e),
            Some("INVALID_REQUEST"),
            "pay before any message: {e}"
        );
        assert!(api_message(&e).contains("not awaiting payment"), "{e}");
        // Another service id does not see the order.
        let other =
            json!({"out_order_no": "RULES-1", "json": {"service_id": "1", "sub_mchid": SUB_MCHID}});
        let e = seeds.pending.post(other).await.unwrap_err();
        assert_eq!(api_code(&e), Some("ORDER_NOT_EXIST"), "{e}");

        for field in [
            "out_order_no",
            "appid",
            "sub_mchid",
            "service_id",
            "service_introduction",
            "post_payments",
        ] {
            let mut body = order_body("RULES-2", None);
            body.as_object_mut().unwrap().remove(field);
            let e = seeds.create.post(json!({"json": body})).await.unwrap_err();
            assert_eq!(
                (e.status(), api_code(&e)),
                (Some(StatusCode::BAD_REQUEST), Some("PARAM_ERROR")),
                "{field}: {e}"
            );
            assert_eq!(e.api().unwrap().detail.as_ref().unwrap()["field"], field);
        }
        let e = seeds
            .pending
            .post(json!({"out_order_no": "RULES-1", "json": {"service_id": SERVICE_ID}}))
            .await
            .unwrap_err();
        assert_eq!(api_code(&e), Some("PARAM_ERROR"), "{e}");
        let e = seeds
            .pending
            .post(json!({"out_order_no": "RULES-1"}))
            .await
            .unwrap_err();
        assert_eq!(api_code(&e), Some("PARAM_ERROR"), "no body: {e}");
        let e = seeds
            .query
            .get(Options::new().query("service_id", SERVICE_ID))
            .await
            .unwrap_err();
        assert_eq!(api_code(&e), Some("PARAM_ERROR"), "{e}");
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn catalog_unknown_paths_and_wrong_verbs() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let e = wxpay
            .chain("v3/no/such/endpoint")
            .get(())
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), api_code(&e)),
            (Some(StatusCode::NOT_FOUND), Some("RESOURCE_NOT_EXISTS")),
            "{e}"
        );
        let e = wxpay
            .v3()
            .payscore()
            .partner()
            .servicepayondeliveryorder()
            .get(())
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::METHOD_NOT_ALLOWED), "{e}");
        assert_eq!(e.response().unwrap().headers()["allow"], "POST");
        // Any other catalog endpoint: a signed, verified generic answer.
        let ok = wxpay
            .v3()
            .pay()
            .transactions()
            .native()
            .post(json!({"json": {}}))
            .await
            .unwrap();
        assert_eq!((ok.status().as_u16(), ok.text().unwrap()), (200, "{}"));
        let empty = wxpay
            .chain("v3/payscore/partner/serviceorder/{out_order_no}/cancel")
            .post(json!({"out_order_no": "X", "json": {}}))
            .await
            .unwrap();
        assert_eq!(empty.status(), 204);
        sandbox.shutdown();
    })
    .await;
}

/// A prepared request as raw HTTP/1.1, with `body` in place of the signed one.
fn raw_request(
    prepared: &wechatpay_chain::PreparedRequest,
    addr: SocketAddr,
    body: &[u8],
) -> Vec<u8> {
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

#[tokio::test]
async fn a_body_altered_after_signing_is_a_sign_error() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let chain = wxpay.v3().payscore().partner().servicepayondeliveryorder();
        let prepared = chain
            .prepare(Method::POST, json!({"json": order_body("TAMPER-1", None)}))
            .unwrap();
        let altered: Vec<u8> = String::from_utf8(prepared.body().to_vec())
            .unwrap()
            .replace("TAMPER-1", "TAMPER-2")
            .into_bytes();
        assert_ne!(&altered[..], &prepared.body()[..]);

        let (status, _, body) = raw::raw_http(
            sandbox.addr(),
            &raw_request(&prepared, sandbox.addr(), &altered),
        )
        .await;
        assert_eq!(status, 401);
        let error: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["code"], "SIGN_ERROR");
        let info = &error["detail"]["sign_information"];
        assert_eq!(info["method"], "POST");
        assert_eq!(info["url"], prepared.target());
        let server_message = info["truncated_sign_message"].as_str().unwrap();
        let local = String::from_utf8_lossy(prepared.message());
        // The server quotes what it received: equal to the local message up to the alteration.
        let (before, _) = server_message
            .split_once("TAMPER-2")
            .expect("the altered body is quoted");
        assert!(local.starts_with(before) && local[before.len()..].starts_with("TAMPER-1"));
        assert!(
            server_message.starts_with("POST\n/v3/payscore/partner/servicepayondeliveryorder\n")
        );
        assert_eq!(info["sign_message_length"], prepared.message().len());

        // The bytes as signed pass, once: the same nonce again is a replay.
        let (status, _, _) = raw::raw_http(
            sandbox.addr(),
            &raw_request(&prepared, sandbox.addr(), prepared.body()),
        )
        .await;
        assert_eq!(status, 200);
        let e = wxpay.execute(prepared).await.unwrap_err();
        assert_eq!(api_code(&e), Some("SIGN_ERROR"), "{e}");
        assert!(api_message(&e).contains("already used"), "{e}");
        assert!(e.api().unwrap().local_message.is_some());
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn requests_are_checked_like_the_platform() {
    bounded(async {
        let sandbox = sandbox().await;
        let merchant = PrivateKey::from_pem_file(format!("{FIXTURES}apiclient_key.pem")).unwrap();
        let other_key = PrivateKey::from_pem_file(format!("{FIXTURES}platform_key.pem")).unwrap();
        let cases: [(&str, wechatpay_chain::Builder, &str); 4] = [
            ("mchid", sandbox.client_builder().mchid("1900000001"), "mchid"),
            ("serial", sandbox.client_builder().serial("ABCDEF"), "serial_no"),
            ("key", sandbox.client_builder().private_key(other_key), "does not match"),
            ("clock", sandbox.client_builder().clock(FixedClock(now() - 301)), "timestamp"),
        ];
        for (what, builder, words) in cases {
            let e = builder.build().unwrap().v3().certificates().get(()).await.unwrap_err();
            assert_eq!((e.status(), api_code(&e)), (Some(StatusCode::UNAUTHORIZED), Some("SIGN_ERROR")), "{what}: {e}");
            assert!(api_message(&e).contains(words), "{what}: {e}");
            assert!(e.api().unwrap().server_sign_message().unwrap().starts_with("GET\n/v3/certificates\n"));
        }
        let ok = sandbox.client_builder().private_key(merchant).build().unwrap();
        assert_eq!(ok.v3().certificates().get(()).await.unwrap().status(), 200);

        // Raw requests: no Authorization, bad syntax, no Accept / User-Agent, garbage.
        let addr = sandbox.addr();
        let get = |extra: &str| format!("GET /v3/certificates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n").into_bytes();
        let (status, _, body) = raw::raw_http(addr, &get("Accept: application/json\r\nUser-Agent: t\r\n")).await;
        assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
        let bad = "Accept: */*\r\nUser-Agent: t\r\nAuthorization: WECHATPAY2-SHA256-RSA2048 serial_no=\"1\",mchid=\"2\"\r\n";
        let (status, _, body) = raw::raw_http(addr, &get(bad)).await;
        assert_eq!(status, 401);
        assert!(String::from_utf8_lossy(&body).contains("order"), "{}", String::from_utf8_lossy(&body));
        let (status, _, body) = raw::raw_http(addr, &get("User-Agent: t\r\n")).await;
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("Accept"));
        let (status, _, body) = raw::raw_http(addr, &get("Accept: application/json\r\n")).await;
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("User-Agent"));
        let (status, _, _) = raw::raw_http(addr, b"NOT HTTP AT ALL\r\n\r\n").await;
        assert_eq!(status, 400);
        // Still serving.
        assert_eq!(ok.v3().certificates().get(()).await.unwrap().status(), 200);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn every_fault_is_a_distinct_client_error() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let certificates = || wxpay.v3().certificates().get(());

        sandbox.inject(Fault::Drop);
        let e = certificates().await.unwrap_err();
        assert_eq!(e.transport_kind(), Some(TransportKind::Io), "drop: {e}");
        assert!(!e.to_string().contains("reading the body"), "drop: {e}");

        let impatient = sandbox
            .client_builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        sandbox.inject(Fault::Delay(Duration::from_secs(2)));
        let e = impatient.v3().certificates().get(()).await.unwrap_err();
        assert!(e.is_timeout(), "delay: {e}");
        sandbox.inject(Fault::Delay(Duration::from_millis(50)));
        assert_eq!(
            certificates().await.unwrap().status(),
            200,
            "a short delay is only late"
        );

        sandbox.inject(Fault::Truncate);
        let e = certificates().await.unwrap_err();
        assert_eq!(e.transport_kind(), Some(TransportKind::Io), "truncate: {e}");
        // hyper's body error is the source, and the early end of the stream its cause.
        let hyper_error =
            std::error::Error::source(&e).and_then(|s| s.downcast_ref::<hyper::Error>());
        let eof = hyper_error
            .and_then(std::error::Error::source)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind);
        assert_eq!(
            eof,
            Some(std::io::ErrorKind::UnexpectedEof),
            "truncate: {e:?}"
        );

        sandbox.inject(Fault::MalformedBody);
        let response = certificates()
            .await
            .expect("a malformed body is still signed");
        let e = response.json::<Value>().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Decode(_)), "malformed: {e}");

        let verify_cases = [
            (Fault::MissingSignatureHeaders, "missing"),
            (Fault::WrongSignature, "wrong"),
            (Fault::SignatureProbe, "probe"),
            (Fault::StaleTimestamp, "stale"),
            (Fault::UnknownSerial, "serial"),
        ];
        for (fault, name) in verify_cases {
            sandbox.inject(fault);
            let e = certificates().await.unwrap_err();
            assert_eq!(
                e.status(),
                Some(StatusCode::OK),
                "{name}: the error keeps the response"
            );
            let v = e.verify().unwrap_or_else(|| panic!("{name}: {e}"));
            let expected = match name {
                "missing" => matches!(v, VerifyError::MissingHeader("Wechatpay-Timestamp")),
                "wrong" => *v == VerifyError::BadSignature,
                "probe" => *v == VerifyError::SignatureProbe,
                "stale" => matches!(v, VerifyError::Clock { .. }),
                _ => matches!(v, VerifyError::UnknownSerial { known, .. } if known.len() == 2),
            };
            assert!(expected, "{name}: {v:?}");
        }

        for (status, code) in [
            (429, "RATELIMIT_EXCEEDED"),
            (500, "SYSTEM_ERROR"),
            (503, "SERVICE_UNAVAILABLE"),
        ] {
            sandbox.inject(Fault::Status(status));
            let e = certificates().await.unwrap_err();
            assert_eq!(
                (e.status().map(|s| s.as_u16()), api_code(&e)),
                (Some(status), Some(code)),
                "{e}"
            );
            assert!(e.api().unwrap().request_id.is_some());
        }

        sandbox.inject(Fault::Accepted);
        let accepted = certificates().await.expect("a signed 202 verifies");
        assert_eq!(accepted.status(), 202);
        assert!(accepted.bytes().is_empty());

        let small = sandbox.client_builder().body_limit(1024).build().unwrap();
        sandbox.inject(Fault::Oversized(4096));
        let e = small.v3().certificates().get(()).await.unwrap_err();
        assert_eq!(
            e.transport_kind(),
            Some(TransportKind::BodyTooLarge),
            "oversized: {e}"
        );
        sandbox.inject(Fault::Oversized(4096));
        assert_eq!(
            certificates().await.unwrap().bytes().len(),
            4096,
            "a large enough limit passes"
        );

        // Faults are consumed: the next request is served normally.
        assert_eq!(certificates().await.unwrap().status(), 200);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn faults_are_fifo_and_do_not_undo_processing() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let seeds = method_form(&wxpay);
        seeds
            .create
            .post(json!({"json": order_body("FIFO-1", None)}))
            .await
            .unwrap();
        sandbox.inject(Fault::WrongSignature);
        sandbox.inject(Fault::Status(500));
        // Processed, then spoiled: the message counts as sent.
        let e = seeds
            .pending
            .post(order_action("FIFO-1"))
            .await
            .unwrap_err();
        assert_eq!(e.verify(), Some(&VerifyError::BadSignature));
        // Not processed: the prepaid message is still available afterwards.
        let e = seeds
            .prepaid
            .post(order_action("FIFO-1"))
            .await
            .unwrap_err();
        assert_eq!(api_code(&e), Some("SYSTEM_ERROR"));
        let e = seeds
            .pending
            .post(order_action("FIFO-1"))
            .await
            .unwrap_err();
        assert_eq!(api_code(&e), Some("INVALID_REQUEST"), "{e}");
        assert_eq!(
            seeds
                .prepaid
                .post(order_action("FIFO-1"))
                .await
                .unwrap()
                .status(),
            204
        );
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn control_endpoints_queue_faults_and_list_requests() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let addr = sandbox.addr();
        let post = |path: &str, body: &str| {
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
        };
        let (status, _, body) = raw::raw_http(addr, &post("/_sandbox/faults", r#"{"fault":"status","status":503,"count":2}"#)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["pending"], 2);
        for _ in 0..2 {
            let e = wxpay.v3().certificates().get(()).await.unwrap_err();
            assert_eq!(api_code(&e), Some("SERVICE_UNAVAILABLE"));
        }
        let (status, _, _) = raw::raw_http(addr, &post("/_sandbox/faults", r#"{"fault":"signature-probe"}"#)).await;
        assert_eq!(status, 200);
        let e = wxpay.v3().certificates().get(()).await.unwrap_err();
        assert_eq!(e.verify(), Some(&VerifyError::SignatureProbe));
        let (status, _, body) = raw::raw_http(addr, &post("/_sandbox/faults", r#"{"fault":"nope"}"#)).await;
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("wrong_signature"));

        let get = b"GET /_sandbox/requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let (status, _, body) = raw::raw_http(addr, get).await;
        assert_eq!(status, 200);
        let listed: Value = serde_json::from_slice(&body).unwrap();
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), 3, "control requests are not recorded");
        assert_eq!(listed[0]["target"], "/v3/certificates");
        assert!(listed[0]["headers"]["authorization"].as_str().unwrap().starts_with("WECHATPAY2-SHA256-RSA2048 "));

        let (status, _, body) = raw::raw_http(addr, b"GET /_sandbox/config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert_eq!(status, 200);
        let config: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(config["config"]["base_uri"], sandbox.base_uri());
        assert_eq!(config["config"]["mchid"], "1900000109");
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn recorded_requests_equal_what_was_sent() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let chain = wxpay.v3().payscore().partner().servicepayondeliveryorder();
        let prepared = chain
            .prepare(Method::POST, json!({"json": order_body("REC-1", None)}))
            .unwrap();
        wxpay.execute(prepared.clone()).await.unwrap();
        let query = wxpay
            .v3()
            .payscore()
            .partner()
            .serviceorder()
            .prepare(Method::GET, order_query("REC-1"))
            .unwrap();
        wxpay.execute(query.clone()).await.unwrap();

        let recorded = sandbox.requests();
        assert_eq!(recorded.len(), 2);
        for (sent, got) in [&prepared, &query].into_iter().zip(&recorded) {
            assert_eq!(&got.method, sent.method());
            assert_eq!(got.target, sent.target());
            assert_eq!(&got.body, sent.body());
            for (name, value) in sent.headers() {
                assert_eq!(got.headers.get(name), Some(value), "{name}");
            }
        }
        assert!(recorded[1].target.contains("?service_id="));
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn failover_reaches_the_backup_sandbox() {
    bounded(async {
        let closed = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let first = sandbox().await;
        let backup = sandbox().await;
        let wxpay = first
            .client_builder()
            .base_uri(format!("http://127.0.0.1:{closed}/"))
            .backup_base_uri(backup.base_uri())
            .build()
            .unwrap();
        let response = wxpay.v3().certificates().get(()).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(backup.requests().len(), 1);
        assert!(first.requests().is_empty());

        let no_backup = first
            .client_builder()
            .base_uri(format!("http://127.0.0.1:{closed}/"))
            .build()
            .unwrap();
        let e = no_backup.v3().certificates().get(()).await.unwrap_err();
        assert!(e.is_connect(), "{e}");
        first.shutdown();
        backup.shutdown();
    })
    .await;
}

/// A one-shot notification listener: every request's (headers, body) goes to the channel.
async fn listener() -> (String, mpsc::UnboundedReceiver<(http::HeaderMap, Bytes)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let tx = tx.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body.collect().await?.to_bytes();
                    let _ = tx.send((parts.headers, body));
                    let mut answer = http::Response::new(Full::new(Bytes::new()));
                    *answer.status_mut() = StatusCode::NO_CONTENT;
                    Ok::<_, hyper::Error>(answer)
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

/// Verifies a notification like a merchant would and returns (event, decrypted resource).
fn open_notification(wxpay: &Wechatpay, headers: &http::HeaderMap, body: &[u8]) -> (Value, Value) {
    verifier::verify_signed(headers, body, now(), wxpay.key_store())
        .expect("the notification verifies");
    let event: Value = serde_json::from_slice(body).unwrap();
    let resource = &event["resource"];
    assert_eq!(resource["algorithm"], "AEAD_AES_256_GCM");
    let s = |name: &str| resource[name].as_str().unwrap().to_string();
    let plain = aes_gcm_decrypt(
        wxpay.apiv3_key().unwrap().as_bytes(),
        s("nonce").as_bytes(),
        s("associated_data").as_bytes(),
        &s("ciphertext"),
    )
    .unwrap();
    (event.clone(), serde_json::from_slice(&plain).unwrap())
}

#[tokio::test]
async fn notifications_are_signed_encrypted_and_loopback_only() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let (url, mut received) = listener().await;
        let resource =
            json!({"out_trade_no": "N-1", "trade_state": "SUCCESS", "amount": {"total": 100}});
        let status = sandbox
            .deliver_notification(&url, "TRANSACTION.SUCCESS", resource.clone())
            .await
            .unwrap();
        assert_eq!(status, 204);
        let (headers, body) = received.recv().await.unwrap();
        assert_eq!(headers["wechatpay-serial"], PUBLIC_KEY_ID);
        let (event, plain) = open_notification(&wxpay, &headers, &body);
        assert_eq!(event["event_type"], "TRANSACTION.SUCCESS");
        assert_eq!(event["resource_type"], "encrypt-resource");
        assert_eq!(event["resource"]["associated_data"], "transaction");
        assert_eq!(plain, resource);

        let e = sandbox
            .deliver_notification(
                "http://example.com/notify",
                "TRANSACTION.SUCCESS",
                json!({}),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e.chain(), Some(ChainError::HostNotAllowed(_))),
            "{e}"
        );

        // A paid order notifies its loopback notify_url.
        let seeds = method_form(&wxpay);
        seeds
            .create
            .post(json!({"json": order_body("NOTIFY-1", Some(&url))}))
            .await
            .unwrap();
        seeds.pending.post(order_action("NOTIFY-1")).await.unwrap();
        seeds.pay.post(order_action("NOTIFY-1")).await.unwrap();
        let (headers, body) = received.recv().await.unwrap();
        let (event, order) = open_notification(&wxpay, &headers, &body);
        assert_eq!(event["event_type"], "PAYSCORE.USER_PAID");
        assert_eq!(
            (order["out_order_no"].as_str(), order["state"].as_str()),
            (Some("NOTIFY-1"), Some("DONE"))
        );
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn certificates_decrypt_to_the_fixture_and_the_serial_picks_the_key() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let response = wxpay.v3().certificates().get(()).await.unwrap();
        assert_eq!(
            response.headers()["wechatpay-serial"],
            PUBLIC_KEY_ID,
            "public-key mode by default"
        );
        let body: Value = response.json().unwrap();
        let item = &body["data"][0];
        assert_eq!(item["serial_no"], PLATFORM_SERIAL);
        assert_eq!(
            item["effective_time"].as_str().unwrap().len(),
            "2025-11-22T00:00:00+08:00".len()
        );
        let enc = &item["encrypt_certificate"];
        let s = |name: &str| enc[name].as_str().unwrap().to_string();
        let pem = aes_gcm_decrypt(
            APIV3_KEY,
            s("nonce").as_bytes(),
            s("associated_data").as_bytes(),
            &s("ciphertext"),
        )
        .unwrap();
        let fixture = std::fs::read(format!("{FIXTURES}wechatpay_{PLATFORM_SERIAL}.pem")).unwrap();
        assert_eq!(pem, fixture);
        assert_eq!(
            Certificate::from_pem(&pem).unwrap().serial(),
            PLATFORM_SERIAL
        );

        // Certificate mode: the request's Wechatpay-Serial names the certificate.
        let response = wxpay
            .v3()
            .certificates()
            .get(Options::new().header("Wechatpay-Serial", PLATFORM_SERIAL))
            .await
            .unwrap();
        assert_eq!(response.headers()["wechatpay-serial"], PLATFORM_SERIAL);
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served_and_checked() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox.client().unwrap();
        let prepared = wxpay.v3().certificates().prepare(Method::GET, ()).unwrap();
        let stream = TcpStream::connect(sandbox.addr()).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let mut request = http::Request::get(prepared.url())
            .body(Full::new(Bytes::new()))
            .unwrap();
        request.headers_mut().extend(prepared.headers().clone());
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let recorded = sandbox.requests();
        assert_eq!(recorded[0].version, http::Version::HTTP_2);
        assert_eq!(recorded[0].target, "/v3/certificates");
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn config_files_build_a_working_client_and_keys_load_from_a_folder() {
    bounded(async {
        let dir =
            std::env::temp_dir().join(format!("wechatpay-sandbox-test-{}", std::process::id()));
        let sandbox = Sandbox::builder()
            .keys_dir(FIXTURES)
            .config_dir(&dir)
            .start()
            .await
            .unwrap();
        assert_eq!(sandbox.config_toml_path(), dir.join("wxpay.toml"));
        let toml = std::fs::read_to_string(sandbox.config_toml_path()).unwrap();
        assert!(toml.contains("mchid = \"1900000109\""), "{toml}");
        assert!(
            toml.contains(&format!("base_uri = \"{}\"", sandbox.base_uri())),
            "{toml}"
        );
        assert!(
            toml.contains(&format!(
                "[public_keys]\n\"{PUBLIC_KEY_ID}\" = \"pub_key.pem\""
            )),
            "{toml}"
        );
        assert!(!toml.contains("PRIVATE KEY"));

        let config: Value =
            serde_json::from_slice(&std::fs::read(sandbox.config_json_path()).unwrap()).unwrap();
        let path = |v: &Value| v.as_str().unwrap().to_string();
        let wxpay = Wechatpay::builder()
            .mchid(path(&config["mchid"]))
            .serial(path(&config["serial"]))
            .private_key(PrivateKey::from_pem_file(path(&config["private_key"])).unwrap())
            .public_key(
                PUBLIC_KEY_ID,
                wechatpay_chain::PublicKey::from_pem_file(path(
                    &config["public_keys"][PUBLIC_KEY_ID],
                ))
                .unwrap(),
            )
            .certificate(
                Certificate::from_pem_file(path(&config["certificates"][PLATFORM_SERIAL])).unwrap(),
            )
            .apiv3_key(path(&config["apiv3_key"]))
            .base_uri(path(&config["base_uri"]))
            .build()
            .unwrap();
        assert_eq!(
            wxpay.v3().certificates().get(()).await.unwrap().status(),
            200
        );
        assert!(sandbox.base_uri().starts_with("http://127.0.0.1:"));
        assert!(sandbox
            .base_uri()
            .ends_with(&format!(":{}/", sandbox.addr().port())));
        sandbox.shutdown();
        // A folder the caller chose is left in place.
        assert!(dir.join("wxpay.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();

        let default = Sandbox::builder().start().await.unwrap();
        let owned = default.config_json_path();
        assert!(owned.exists());
        default.shutdown();
        assert!(!owned.exists(), "the sandbox removes the folder it created");
    })
    .await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    bounded(async {
        let sandbox = sandbox().await;
        let wxpay = sandbox
            .client_builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        assert_eq!(
            wxpay.v3().certificates().get(()).await.unwrap().status(),
            200
        );
        sandbox.shutdown();
        sandbox.shutdown();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let fresh = sandbox.client_builder().build().unwrap();
        let e = fresh.v3().certificates().get(()).await.unwrap_err();
        assert!(e.transport_kind().is_some(), "{e}");
    })
    .await;
}
