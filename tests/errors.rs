//! Error design as a caller sees it: typed kinds instead of message text, causes reachable
//! through `source()` and not repeated in `Display`, and a custom `Sign` that fails with its
//! own error type before anything is sent.

mod support;

use std::error::Error as _;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use wechatpay_chain::{
    CryptoError, DecodeError, Error, ErrorKind, KeyError, KeyMaterial, Method, PrivateKey,
    Response, Sign, StatusCode, TransportError, TransportKind,
};

/// What an HSM client library might return.
#[derive(Debug, PartialEq, Eq)]
struct HsmError {
    slot: u32,
}

impl fmt::Display for HsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HSM slot {} is offline", self.slot)
    }
}

impl std::error::Error for HsmError {}

/// A signer outside the crate whose device is unreachable.
#[derive(Debug)]
struct OfflineHsm;

impl Sign for OfflineHsm {
    fn sign(&self, _message: &[u8]) -> wechatpay_chain::Result<Vec<u8>> {
        Err(Error::signing(HsmError { slot: 7 }))
    }
}

fn assert_hsm_failure(e: &Error) {
    assert_eq!(e.kind(), &ErrorKind::Crypto(CryptoError::Sign), "{e:?}");
    let cause = e.source().expect("the signer's error is the source");
    assert_eq!(
        cause.downcast_ref::<HsmError>(),
        Some(&HsmError { slot: 7 })
    );
    assert!(!e.to_string().contains("offline"), "not repeated: {e}");
    assert!(e.response().is_none(), "nothing was sent");
}

#[test]
fn a_failing_custom_signer_fails_prepare_with_its_own_cause() {
    let wxpay = support::builder_at(support::VECTOR_EPOCH)
        .signer(Arc::new(OfflineHsm))
        .build()
        .unwrap();
    let e = wxpay
        .chain("v3/certificates")
        .prepare(Method::GET, ())
        .unwrap_err();
    assert_hsm_failure(&e);
}

#[cfg(feature = "sandbox")]
#[tokio::test]
async fn a_failing_custom_signer_sends_nothing() {
    let run = async {
        let sandbox = wechatpay_chain::sandbox::Sandbox::builder()
            .start()
            .await
            .unwrap();
        let wxpay = sandbox
            .client_builder()
            .signer(Arc::new(OfflineHsm))
            .build()
            .unwrap();
        let e = wxpay
            .chain("v3/pay/transactions/native")
            .post(wechatpay_chain::json!({"json": {"appid": "wxd678efh567hg6787"}}))
            .await
            .unwrap_err();
        assert_hsm_failure(&e);
        assert!(sandbox.requests().is_empty(), "{:?}", sandbox.requests());
        sandbox.shutdown();
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("bounded");
}

#[tokio::test]
async fn a_connect_failure_keeps_the_transport_cause_as_source() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let wxpay = support::builder_at(support::VECTOR_EPOCH)
        .base_uri(format!("http://127.0.0.1:{closed}/"))
        .no_backup()
        .no_proxy()
        .build()
        .unwrap();
    let e = tokio::time::timeout(
        Duration::from_secs(20),
        wxpay.chain("v3/certificates").get(()),
    )
    .await
    .expect("bounded")
    .unwrap_err();
    assert!(e.is_connect(), "{e}");
    let source = e.source().expect("hyper's error is the source");
    let mut causes = vec![source.to_string()];
    let mut next = source.source();
    while let Some(s) = next {
        causes.push(s.to_string());
        next = s.source();
    }
    let shown = e.to_string();
    assert_eq!(shown.lines().count(), 1, "{shown}");
    for cause in &causes {
        assert!(
            !shown.contains(cause.as_str()),
            "{cause:?} flattened into {shown:?}"
        );
    }
}

#[test]
fn a_json_decode_failure_keeps_the_serde_error() {
    let response = Response::new(
        StatusCode::OK,
        HeaderMap::new(),
        Bytes::from_static(b"{\"a\":"),
    );
    let e = response.json::<serde_json::Value>().unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Decode(DecodeError::Json));
    let serde = e
        .source()
        .and_then(|s| s.downcast_ref::<serde_json::Error>())
        .expect("the serde_json::Error is the source");
    assert!(serde.is_eof(), "{serde}");

    let response = Response::new(
        StatusCode::OK,
        HeaderMap::new(),
        Bytes::from_static(b"\xff"),
    );
    let e = response.text().unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Decode(DecodeError::NotUtf8));
    assert!(e.source().is_some());
}

#[test]
fn an_unreadable_key_file_keeps_the_io_error() {
    let path = support::path("tests/fixtures/no-such-key.pem");
    let e = PrivateKey::from_pem_file(&path).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Key(KeyError::Read {
            material: KeyMaterial::PrivateKey,
            path: path.clone(),
        })
    );
    let io = e
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("the io::Error is the source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_custom_transport_can_build_its_errors() {
    let e = Error::from(TransportError::new(
        TransportKind::Timeout,
        "no answer in 5 s",
    ));
    assert!(e.is_timeout());
    assert_eq!(
        e.to_string(),
        "transport error: timed out: no answer in 5 s"
    );

    let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    let e = Error::transport_with_source(TransportKind::Connect, "api.example:443", cause);
    assert!(e.is_connect());
    let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
    assert_eq!(
        io.map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    match e.kind() {
        ErrorKind::Transport(t) => assert_eq!(
            (t.kind, t.message.as_str()),
            (TransportKind::Connect, "api.example:443")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_travel_across_threads_and_into_boxed_errors() {
    fn is<T: Send + Sync + 'static + std::error::Error>() {}
    is::<Error>();
    let boxed: Box<dyn std::error::Error + Send + Sync> =
        Error::signing(HsmError { slot: 1 }).into();
    assert!(boxed.source().is_some());
}
