//! API errors as a caller sees them: `401 SIGN_ERROR` keeps the local canonical message beside
//! the server's, other error statuses keep code, message, detail and `Request-ID`.
#![cfg(feature = "sandbox")]

use std::time::Duration;

use wechatpay_chain::sandbox::Sandbox;
use wechatpay_chain::{json, ErrorKind, PrivateKey, StatusCode};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

#[tokio::test]
async fn sign_error_shows_both_messages() {
    let run = async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        // Signing with a key that is not the merchant's: the platform cannot verify it.
        let wrong = PrivateKey::from_pem_file(format!("{FIX}platform_key.pem")).unwrap();
        let wxpay = sandbox.client_builder().private_key(wrong).build().unwrap();
        let e = wxpay
            .chain("v3/payscore/partner/serviceorder/{out_order_no}/pay")
            .post(json!({"out_order_no": "A/B", "json": {"service_id": "1", "sub_mchid": "2"}}))
            .await
            .unwrap_err();
        let api = e.api().expect("an API error");
        assert_eq!(api.status, 401);
        assert_eq!(api.code.as_deref(), Some("SIGN_ERROR"));
        let local = api
            .local_message
            .as_deref()
            .expect("the local canonical message");
        assert!(
            local.starts_with("POST\n/v3/payscore/partner/serviceorder/A%2FB/pay\n"),
            "{local}"
        );
        let server = api
            .server_sign_message()
            .expect("the server's truncated message");
        assert!(
            local.starts_with(server) || server.starts_with(&local[..20]),
            "{server}"
        );
        assert!(api.request_id.is_some());
        // Display names the fields to compare; it does not dump the signed message.
        let shown = e.to_string();
        assert!(shown.contains("SIGN_ERROR"), "{shown}");
        assert!(shown.contains("ApiError::local_message"), "{shown}");
        assert!(!shown.contains("/v3/payscore"), "{shown}");
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
        assert!(e.response().is_some(), "the response is kept");

        // Any other error status: code, message and detail, no local message.
        let e = sandbox
            .client()
            .unwrap()
            .v3()
            .payscore()
            .partner()
            .servicepayondeliveryorder()
            .post(json!({"json": {}}))
            .await
            .unwrap_err();
        let ErrorKind::Api(api) = e.kind() else {
            panic!("{e:?}")
        };
        assert_eq!(
            (api.status, api.code.as_deref()),
            (StatusCode::BAD_REQUEST, Some("PARAM_ERROR"))
        );
        assert!(api.message.is_some() && api.local_message.is_none());
        sandbox.shutdown();
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap();
}

#[tokio::test]
async fn get_is_retried_re_signed_and_post_is_not() {
    use wechatpay_chain::sandbox::Fault;
    let run = async {
        let sandbox = Sandbox::builder().start().await.unwrap();
        let wxpay = sandbox.client_builder().get_retries(2).build().unwrap();
        sandbox.inject(Fault::Status(503));
        sandbox.inject(Fault::Status(429));
        let response = wxpay.v3().certificates().get(()).await.unwrap();
        assert_eq!(response.status(), 200);
        let sent = sandbox.requests();
        assert_eq!(sent.len(), 3, "two retries");
        let auth = |i: usize| {
            sent[i].headers["authorization"]
                .to_str()
                .unwrap()
                .to_string()
        };
        assert!(
            auth(0) != auth(1) && auth(1) != auth(2),
            "each attempt is signed anew"
        );

        for _ in 0..3 {
            sandbox.inject(Fault::Status(503));
        }
        let e = wxpay.v3().certificates().get(()).await.unwrap_err();
        assert_eq!(
            e.status(),
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "gives up after the allowed retries: {e}"
        );
        assert_eq!(sandbox.requests().len(), 6);

        sandbox.inject(Fault::Status(503));
        let e = wxpay
            .v3()
            .payscore()
            .partner()
            .servicepayondeliveryorder()
            .post(json!({"json": {}}))
            .await
            .unwrap_err();
        assert_eq!(
            e.api().unwrap().code.as_deref(),
            Some("SERVICE_UNAVAILABLE")
        );
        assert_eq!(sandbox.requests().len(), 7, "a POST is never retried");
        sandbox.shutdown();
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .unwrap();
}
