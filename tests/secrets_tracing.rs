//! No secret is ever shown: every `tracing` event and span (fields included) at TRACE, through
//! a full sandbox flow (the four seed endpoints and a query) and every error path reachable
//! from here, and the `Debug` and `Display` of every public type, hold no 24-character window
//! of a private key's PEM body, of the APIv3 key, or of any request signature (taken from the
//! `Authorization` headers the sandbox recorded). Every error's `Display` is one line. This
//! binary installs a global subscriber (replacing the former `tests/secrets.rs`).
#![cfg(feature = "sandbox")]

#[path = "support/capture.rs"]
mod capture;
mod support;

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wechatpay_chain::sandbox::{Fault, Sandbox, SandboxHandle};
use wechatpay_chain::signer::{sign_request, SigningParams};
use wechatpay_chain::{
    crypto, ApiV3Key, Certificate, Error, KeyStore, Method, Options, PrivateKey, PublicKey,
    Response, Sign, Wechatpay,
};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
/// The private keys the sandbox and the client use (the embedded fixtures).
const PRIVATE_PEMS: [&str; 4] = [
    "apiclient_key.pem",
    "apiclient_key.pkcs1.pem",
    "platform_key.pem",
    "pub_key_private.pem",
];
const SERVICE_ID: &str = "2002000000000558128851361561536";
const SUB_MCHID: &str = "1900000109";

/// Everything shown during the test, `Debug` and `Display` alike, checked at the end.
#[derive(Default)]
struct Shown(String);

impl Shown {
    fn debug(&mut self, what: &str, value: &dyn std::fmt::Debug) {
        let _ = writeln!(self.0, "{what}: {value:?}");
    }

    fn both(&mut self, what: &str, value: &(impl std::fmt::Debug + std::fmt::Display)) {
        let _ = writeln!(self.0, "{what}: {value}\n{what}: {value:?}");
    }

    fn error(&mut self, what: &str, e: &Error) {
        assert_eq!(e.to_string().lines().count(), 1, "{what}: one line: {e}");
        let _ = writeln!(self.0, "{what}: {}", capture::error_text(e));
    }

    fn result(&mut self, what: &str, result: &wechatpay_chain::Result<Response>) {
        match result {
            Ok(response) => self.debug(what, response),
            Err(e) => self.error(what, e),
        }
    }
}

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("bounded at 20 s")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIX}{name}")).unwrap()
}

fn order(no: &str) -> Value {
    json!({"json": {
        "out_order_no": no, "appid": "wxd678efh567hg6787", "sub_mchid": SUB_MCHID,
        "service_id": SERVICE_ID, "service_introduction": "就餐服务",
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "time_range": {"start_time": "OnAccept"}, "notify_url": "https://example.invalid/notify",
        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "need_user_confirm": false,
    }})
}

fn message(no: &str) -> Value {
    json!({"out_order_no": no, "json": {
        "service_id": SERVICE_ID, "sub_mchid": SUB_MCHID,
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "total_amount": 40000,
    }})
}

/// The four seed endpoints, the query, and the refused second pending message.
async fn seed_flow(wxpay: &Wechatpay, shown: &mut Shown) {
    let no = "SECRETS0001";
    let order_chain = wxpay.v3().payscore().partner().servicepayondeliveryorder();
    shown.debug("typed node", &order_chain);
    let created = bounded(order_chain.post(order(no))).await;
    shown.result("create", &created);
    created.expect("create");
    let pending =
        wxpay.chain("v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage");
    let sent = bounded(pending.post(message(no))).await;
    shown.result("pending", &sent);
    sent.expect("pending");
    let prepaid = bounded(
        wxpay
            .chain("v3/payscore/partner/serviceorder/{out_order_no}/send-prepaidmessage")
            .post(message(no)),
    )
    .await;
    shown.result("prepaid", &prepaid);
    prepaid.expect("prepaid");
    let paid = bounded(
        wxpay["v3/payscore/partner/serviceorder/{out_order_no}/pay"].post(json!({
            "out_order_no": no, "json": {"service_id": SERVICE_ID, "sub_mchid": SUB_MCHID},
        })),
    )
    .await;
    shown.result("pay", &paid);
    paid.expect("pay");
    let queried = bounded(
        wxpay
            .chain("v3/payscore/partner/serviceorder")
            .get(json!({"query": {
                "out_order_no": no, "service_id": SERVICE_ID, "sub_mchid": SUB_MCHID,
            }})),
    )
    .await;
    shown.result("query", &queried);
    let queried = queried.expect("query");
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        no_such_field: u64,
    }
    shown.error(
        "decode",
        &queried.json::<Wrong>().expect_err("decode error"),
    );
    let again = bounded(pending.post(message(no))).await;
    let e = again.expect_err("a second pending message is refused");
    assert!(e.api().is_some(), "{e}");
    shown.error("api 4xx", &e);
}

/// Every fault the sandbox can inject, on a GET and on a POST.
async fn faults(sandbox: &SandboxHandle, shown: &mut Shown) {
    let wxpay = sandbox
        .client_builder()
        .timeout(Duration::from_millis(1500))
        .body_limit(64 * 1024)
        .get_retries(2)
        .build()
        .unwrap();
    let all = [
        Fault::Drop,
        Fault::Delay(Duration::from_secs(3)),
        Fault::Truncate,
        Fault::MalformedBody,
        Fault::MissingSignatureHeaders,
        Fault::WrongSignature,
        Fault::SignatureProbe,
        Fault::StaleTimestamp,
        Fault::UnknownSerial,
        Fault::Status(400),
        Fault::Status(401),
        Fault::Status(404),
        Fault::Status(429),
        Fault::Status(500),
        Fault::Status(503),
        Fault::Accepted,
        Fault::Oversized(256 * 1024),
    ];
    for fault in all {
        shown.debug("fault", &fault);
        let name = fault.name();
        sandbox.inject(fault.clone());
        let r = bounded(wxpay.v3().certificates().get(())).await;
        shown.result(&format!("GET under {name}"), &r);
        sandbox.inject(fault);
        let r = bounded(
            wxpay
                .v3()
                .payscore()
                .partner()
                .servicepayondeliveryorder()
                .post(order(&format!("F{name}"))),
        )
        .await;
        shown.result(&format!("POST under {name}"), &r);
    }
    // Let any delayed answer finish before the sandbox's records are read.
    tokio::time::sleep(Duration::from_millis(1600)).await;
}

/// A signer that cannot sign.
#[derive(Debug)]
struct Offline;

impl Sign for Offline {
    fn sign(&self, _message: &[u8]) -> wechatpay_chain::Result<Vec<u8>> {
        Err(Error::signing(std::io::Error::other("the HSM is offline")))
    }
}

/// Errors before or without the sandbox: config, keys, chains, crypto, transport.
async fn other_errors(sandbox: &SandboxHandle, apiv3: &[u8; 32], shown: &mut Shown) {
    let key = PrivateKey::from_pem(fixture("apiclient_key.pem")).unwrap();
    let base = || {
        Wechatpay::builder()
            .mchid("1900000109")
            .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
            .private_key(key.clone())
            .apiv3_key(apiv3)
    };
    for (what, builder) in [
        (
            "no mchid",
            Wechatpay::builder()
                .private_key(key.clone())
                .apiv3_key(apiv3),
        ),
        ("bad mchid", base().mchid("19x")),
        ("bad serial", base().serial("XYZ")),
        ("no key", Wechatpay::builder().mchid("1").serial("AB")),
        ("short apiv3 key", base().apiv3_key(&apiv3[..31])),
        ("bad base uri", base().base_uri("ftp://example.com/")),
        ("http base uri", base().base_uri("http://example.com/")),
        ("bad proxy", base().proxy("socks5://127.0.0.1:1")),
        (
            "own serial",
            base().certificate(Certificate::from_pem(fixture("apiclient_cert.pem")).unwrap()),
        ),
    ] {
        shown.debug(what, &builder);
        shown.error(what, &builder.build().expect_err(what));
    }
    for (what, result) in [
        (
            "garbage key",
            PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        ),
        ("no pem", PrivateKey::from_pem("not a key")),
        (
            "public as private",
            PrivateKey::from_pem(fixture("pub_key.pem")),
        ),
        (
            "missing file",
            PrivateKey::from_pem_file(format!("{FIX}nope.pem")),
        ),
    ] {
        shown.error(what, &result.expect_err(what));
    }
    shown.error(
        "private as public",
        &PublicKey::from_pem(fixture("apiclient_key.pem")).expect_err("not a public key"),
    );
    shown.error(
        "private as certificate",
        &Certificate::from_pem(fixture("platform_key.pem")).expect_err("not a certificate"),
    );

    let wxpay = sandbox.client().unwrap();
    for (what, result) in [
        (
            "missing variable",
            wxpay.chain("v3/{id}").prepare(Method::GET, ()),
        ),
        (
            "unused options",
            wxpay
                .v3()
                .certificates()
                .prepare(Method::POST, json!({"appid": "x"})),
        ),
        (
            "foreign host",
            wxpay
                .chain("https://evil.example/v3/x")
                .prepare(Method::GET, ()),
        ),
        (
            "apiv2",
            wxpay
                .chain("v2/pay/micropay")
                .prepare(Method::POST, json!({"xml": {"mch_id": "1"}})),
        ),
        (
            "body on GET",
            wxpay
                .v3()
                .certificates()
                .prepare(Method::GET, json!({"json": {}})),
        ),
    ] {
        shown.error(what, &result.expect_err(what));
    }

    let offline = sandbox
        .client_builder()
        .signer(Arc::new(Offline))
        .build()
        .unwrap();
    let e = bounded(offline.v3().certificates().get(()))
        .await
        .expect_err("cannot sign");
    shown.error("signer", &e);

    shown.error(
        "decrypt",
        &crypto::aes_gcm_decrypt(
            &[7; 32],
            b"0123456789ab",
            b"aad",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .expect_err("wrong key"),
    );

    // SIGN_ERROR: signed with another key than the sandbox knows.
    let wrong = PrivateKey::from_pem(fixture("platform_key.pem")).unwrap();
    let mismatch = sandbox.client_builder().private_key(wrong).build().unwrap();
    let e = bounded(
        mismatch
            .v3()
            .payscore()
            .partner()
            .servicepayondeliveryorder()
            .post(order("SIGNERR")),
    )
    .await
    .expect_err("SIGN_ERROR");
    assert_eq!(e.api().unwrap().code.as_deref(), Some("SIGN_ERROR"), "{e}");
    shown.error("sign error", &e);
    shown.debug("sign error api", e.api().unwrap());

    // Connection refused, and a timeout against a listener that never answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let e = bounded(
        wxpay
            .v3()
            .certificates()
            .get(Options::new().base_uri(format!("http://127.0.0.1:{port}/"))),
    )
    .await
    .expect_err("refused");
    assert!(e.is_connect(), "{e}");
    shown.error("connection refused", &e);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let e = bounded(
        wxpay.v3().certificates().get(
            Options::new()
                .base_uri(format!("http://{silent_addr}/"))
                .timeout(Duration::from_millis(300)),
        ),
    )
    .await
    .expect_err("timeout");
    assert!(e.is_timeout(), "{e}");
    shown.error("timeout", &e);
    drop(silent);

    // Blocking calls go through the background runtime.
    let blocking = wxpay.clone();
    let r = tokio::task::spawn_blocking(move || blocking.v3().certificates().blocking().get(()))
        .await
        .unwrap();
    shown.result("blocking", &r);
}

/// A notification delivered by the sandbox to a loopback listener, then verified here.
async fn notification(sandbox: &SandboxHandle, keys: &KeyStore, shown: &mut Shown) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = vec![0; 8192];
        loop {
            let n = socket.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length || n == 0 {
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return (head.to_string(), body.to_string());
                }
            }
        }
    });
    let status = bounded(sandbox.deliver_notification(
        &format!("http://{addr}/notify"),
        "TRANSACTION.SUCCESS",
        json!({"out_trade_no": "N1", "trade_state": "SUCCESS"}),
    ))
    .await
    .expect("delivered");
    assert_eq!(status, 200);
    let (head, body) = bounded(received).await.unwrap();
    let mut headers = http::HeaderMap::new();
    for line in head.lines().skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            headers.append(
                http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                http::HeaderValue::from_str(value.trim()).unwrap(),
            );
        }
    }
    let now = {
        use wechatpay_chain::Clock as _;
        wechatpay_chain::SystemClock.now()
    };
    wechatpay_chain::verifier::verify_signed(&headers, body.as_bytes(), now, keys)
        .expect("the notification verifies");
    let tampered = body.replace("TRANSACTION", "TRANSACTIOX");
    let e = wechatpay_chain::verifier::verify_signed(&headers, tampered.as_bytes(), now, keys)
        .expect_err("tampered");
    shown.both("notification verify error", &e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_window_of_a_secret_is_ever_shown() {
    capture::install();
    let mut shown = Shown::default();
    let fixtures = support::fixtures();
    let apiv3: [u8; 32] = fixtures.apiv3_key.as_bytes().try_into().expect("32 bytes");

    let sandbox_builder = Sandbox::builder();
    shown.debug("SandboxBuilder", &sandbox_builder);
    shown.debug("Sandbox", &Sandbox);
    let sandbox = bounded(sandbox_builder.start()).await.expect("sandbox");
    shown.debug("SandboxHandle", &sandbox);
    let builder = sandbox.client_builder().timeout(Duration::from_secs(5));
    shown.debug("Builder", &builder);
    let wxpay = builder.build().unwrap();
    shown.debug("Wechatpay", &wxpay);
    assert!(
        format!("{wxpay:?}").contains("1900000109"),
        "Debug still says something useful"
    );
    shown.debug("KeyStore", &**wxpay.key_store());
    shown.debug("ApiV3Key", wxpay.apiv3_key().unwrap());
    shown.debug("ApiV3Key::new", &ApiV3Key::new(apiv3).unwrap());
    for pem in [
        "apiclient_key.pem",
        "apiclient_key.pkcs1.pem",
        "platform_key.pem",
        "pub_key_private.pem",
    ] {
        let key = PrivateKey::from_pem(fixture(pem)).unwrap();
        shown.debug("PrivateKey", &key);
        shown.debug("PublicKey", &key.public_key());
    }
    let cert = Certificate::from_pem(fixture("apiclient_cert.pem")).unwrap();
    shown.debug("Certificate", &cert);

    // Public signing API.
    let key = PrivateKey::from_pem(fixture("apiclient_key.pem")).unwrap();
    let params = SigningParams::new(
        "1900000109",
        "3775B6A45ACD588826D15E583A95F5DD2A4B1A16",
        &key,
        1_763_780_000,
        "G1TbFv8kX0eNqQ2aHzY5rWc3uJm7sLpD",
    );
    shown.debug("SigningParams", &params);
    let signed = sign_request("POST", "/v3/x", b"{}", &params).unwrap();
    shown.debug("RequestSignature", &signed);
    let mut signatures = vec![signature_of(&signed.authorization)];

    let chain = wxpay.v3().pay().transactions().native();
    shown.debug("typed node", &chain);
    shown.both("Chain", &wxpay.chain("v3/pay/transactions/native"));
    let options: Options =
        json!({"json": {"a": 1}, "query": {"b": 2}, "headers": {"X-A": "b"}}).into();
    shown.debug("Options", &options);
    let prepared = chain.prepare(Method::POST, options).unwrap();
    shown.debug("PreparedRequest", &prepared);
    assert!(prepared.headers()["authorization"].is_sensitive());
    signatures.push(signature_of(
        prepared.headers()["authorization"].to_str().unwrap(),
    ));
    shown.debug("Blocking", &chain.blocking());

    seed_flow(&wxpay, &mut shown).await;
    faults(&sandbox, &mut shown).await;
    other_errors(&sandbox, &apiv3, &mut shown).await;
    notification(&sandbox, wxpay.key_store(), &mut shown).await;

    let recorded = sandbox.requests();
    for request in &recorded {
        shown.debug("RecordedRequest", request);
        if let Some(auth) = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        {
            signatures.push(signature_of(auth));
        }
    }
    sandbox.shutdown();
    assert!(
        signatures.len() > 20,
        "signatures from the flow: {}",
        signatures.len()
    );

    let mut secrets = capture::Secrets::default();
    for pem in [
        "apiclient_key.pem",
        "apiclient_key.pkcs1.pem",
        "platform_key.pem",
        "pub_key_private.pem",
    ] {
        secrets.add_pem(&fixture(pem));
    }
    secrets.add(&fixtures.apiv3_key);
    for signature in &signatures {
        secrets.add(signature);
    }
    // Public material (certificates, public keys) shares the modulus with the private keys.
    let public: Vec<String> = std::fs::read_dir(FIX)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pem") && !PRIVATE_PEMS.contains(&n.as_str()))
        .collect();
    assert!(public.len() >= 4, "{public:?}");
    let before = secrets.len();
    for name in &public {
        secrets.except_public_pem(&fixture(name));
    }
    assert!(secrets.len() * 10 > before * 8, "most windows stay secret");
    // The check can fail: a key's own text, a signature and the APIv3 key are caught.
    assert!(secrets.find(&fixture("apiclient_key.pem")).is_some());
    assert!(secrets.find(&format!("x{}x", signatures[2])).is_some());
    assert!(secrets
        .find(&format!("key={}", fixtures.apiv3_key))
        .is_some());

    let captured = capture::text();
    if let Ok(path) = std::env::var("SECRETS_TRACING_DUMP") {
        std::fs::write(path, &captured).unwrap();
    }
    assert!(captured.contains("wechatpay.request"), "spans are captured");
    assert!(
        captured.contains("elapsed_ms="),
        "recorded span fields are captured"
    );
    assert!(
        captured.contains("hyper_util"),
        "hyper-util's events are captured"
    );
    secrets.assert_absent("Debug/Display", &shown.0);
    secrets.assert_absent("the captured trace", &captured);
}

/// The base64 signature inside an `Authorization` header value.
fn signature_of(authorization: &str) -> String {
    authorization
        .split("signature=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a signature")
        .to_string()
}
