//! Did-you-mean end to end: a typo'd chain reaches the sandbox (nothing is blocked before
//! sending), gets a 404, and the error suggests the nearest catalog endpoints, as does the
//! sandbox's own message. A 404 from an endpoint the catalog knows suggests nothing.
#![cfg(feature = "sandbox")]

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use wechatpay_chain::sandbox::{Fault, Sandbox};
use wechatpay_chain::Options;

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("the test took longer than 30 s")
}

#[tokio::test]
async fn a_typo_gets_a_404_with_the_nearest_catalog_endpoints() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.expect("sandbox starts");
        let wxpay = sandbox.client().unwrap();

        // `transaction` for `transactions`: off the typed tree, so written dynamically.
        let typo = wxpay.v3().pay().seg("transaction").seg("native");
        let e = typo
            .post(Options::new().json(json!({"appid": "wxd678efh567hg6787"})))
            .await
            .expect_err("no such endpoint");
        let api = e.api().expect("an API error");
        assert_eq!(api.status, 404, "{e}");
        assert_eq!(api.code.as_deref(), Some("RESOURCE_NOT_EXISTS"), "{e}");
        assert_eq!(
            api.nearest.first().map(String::as_str),
            Some("POST v3/pay/transactions/native"),
            "{:?}",
            api.nearest
        );
        assert_eq!(api.nearest.len(), 3, "{:?}", api.nearest);
        // The sandbox already suggests endpoints in its message: the error says it once.
        let shown = e.to_string();
        assert_eq!(
            shown.matches("nearest catalog endpoints: ").count(),
            1,
            "{shown}"
        );
        // The sandbox says it too, in wire paths.
        let message = api.message.as_deref().unwrap_or_default();
        assert!(
            message.contains("nearest catalog endpoints: POST /v3/pay/transactions/native"),
            "{message}"
        );

        // A wrong verb on a real path is a 405 with its Allow header, not a did-you-mean.
        let e = wxpay
            .v3()
            .pay()
            .transactions()
            .native()
            .get(())
            .await
            .expect_err("native is POST only");
        assert_eq!(
            e.api().map(|a| a.status),
            Some(wechatpay_chain::StatusCode::METHOD_NOT_ALLOWED),
            "{e}"
        );
        assert!(e.api().unwrap().nearest.is_empty(), "{e}");

        // A 404 from a catalogued endpoint (an unknown order) suggests nothing.
        let e = wxpay
            .v3()
            .payscore()
            .partner()
            .serviceorder()
            .get(
                Options::new()
                    .query("service_id", "2002000000000558128851361561536")
                    .query("out_order_no", "NO-SUCH-ORDER")
                    .query("sub_mchid", "1900000109"),
            )
            .await
            .expect_err("unknown order");
        let api = e.api().expect("an API error");
        assert_eq!(api.status, 404, "{e}");
        assert!(api.nearest.is_empty(), "{:?}", api.nearest);
        assert!(!e.to_string().contains("nearest catalog"), "{e}");
        sandbox.shutdown();
    })
    .await;
}

#[tokio::test]
async fn a_plain_404_for_an_unknown_template_gets_the_clients_suggestions() {
    bounded(async {
        let sandbox = Sandbox::builder().start().await.expect("sandbox starts");
        let wxpay = sandbox.client().unwrap();
        // A 404 whose message suggests nothing, as WeChat Pay's own would.
        sandbox.inject(Fault::Status(404));
        let e = wxpay
            .chain("v3/refund/domestic/refund")
            .post(Options::new().json(json!({"out_refund_no": "R1"})))
            .await
            .expect_err("404");
        let api = e.api().expect("an API error");
        assert!(
            !api.message
                .as_deref()
                .unwrap_or_default()
                .contains("nearest"),
            "{e}"
        );
        assert_eq!(
            api.nearest.first().map(String::as_str),
            Some("POST v3/refund/domestic/refunds"),
            "{:?}",
            api.nearest
        );
        let shown = e.to_string();
        assert!(
            shown.contains("; nearest catalog endpoints: POST v3/refund/domestic/refunds"),
            "{shown}"
        );
        sandbox.shutdown();
    })
    .await;
}
