//! The silent traps of porting PHP/JS call sites (issue 6, items 2–4 and 12): each one is now a
//! typed error before signing, or the corrected request. Every test asserts the typed error or
//! the exact target, never message text alone.

mod support;

use serde_json::json;
use wechatpay_chain::{ChainError, ConfigError, Error, ErrorKind, Method, Options};

fn chain_error(result: wechatpay_chain::Result<impl std::fmt::Debug>) -> (ChainError, Error) {
    let error = result.expect_err("prepared a request that should have been refused");
    assert!(error.response().is_none(), "nothing was sent: {error:?}");
    let chain = error
        .chain()
        .unwrap_or_else(|| panic!("not a chain error: {error:?}"))
        .clone();
    (chain, error)
}

// Item 2: no option key silently dropped.

#[test]
fn js_style_post_data_is_refused_with_the_json_hint() {
    let wxpay = support::client();
    let native = wxpay.v3().pay().transactions().native();
    let data = json!({"appid": "wxd678efh567hg6787", "mchid": "1900000109"});
    let (e, error) = chain_error(native.prepare(Method::POST, data.clone()));
    assert_eq!(
        e,
        ChainError::UnusedOptions {
            keys: vec!["appid".into(), "mchid".into()],
            body_hint: true
        }
    );
    assert!(error.to_string().contains("`json`"), "{error}");
    // Put under `json`, the same data is the body.
    let prepared = native.prepare(Method::POST, json!({"json": data})).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(prepared.body()).unwrap(),
        data
    );
}

#[test]
fn an_unused_key_is_named_without_the_hint_when_a_body_is_there_or_on_get() {
    let wxpay = support::client();
    let by_id = wxpay.chain("v3/pay/transactions/id/{transaction_id}");
    // A misspelt variable is named as unused (rather than reported as the missing one).
    for options in [
        json!({"transaction_id": "42", "transacton_id": "typo"}),
        json!({"transacton_id": "typo"}),
    ] {
        let (e, _) = chain_error(by_id.prepare(Method::GET, options));
        assert_eq!(
            e,
            ChainError::UnusedOptions {
                keys: vec!["transacton_id".into()],
                body_hint: false
            }
        );
    }
    let native = wxpay.v3().pay().transactions().native();
    let (e, _) = chain_error(native.prepare(
        Method::POST,
        Options::new().json(json!({})).param("stray", 1),
    ));
    assert_eq!(
        e,
        ChainError::UnusedOptions {
            keys: vec!["stray".into()],
            body_hint: false
        }
    );
}

#[test]
fn params_is_the_axios_spelling_of_query() {
    let wxpay = support::client();
    let complaints = wxpay.v3().merchant_service().complaints_v2();
    let with_params = complaints
        .prepare(Method::GET, json!({"params": {"limit": 5, "offset": 0}}))
        .unwrap();
    assert_eq!(
        with_params.target(),
        "/v3/merchant-service/complaints-v2?limit=5&offset=0"
    );
    let with_query = complaints
        .prepare(Method::GET, json!({"query": {"limit": 5, "offset": 0}}))
        .unwrap();
    assert_eq!(with_params.target(), with_query.target());
}

#[test]
fn params_and_query_together_are_refused() {
    let wxpay = support::client();
    let (e, _) = chain_error(wxpay.v3().merchant_service().complaints_v2().prepare(
        Method::GET,
        json!({"query": {"limit": 5}, "params": {"offset": 0}}),
    ));
    assert_eq!(
        e,
        ChainError::ConflictingOptions {
            first: "query",
            second: "params"
        }
    );
}

#[test]
fn bad_timeouts_are_refused() {
    let wxpay = support::client();
    let certificates = wxpay.v3().certificates();
    for bad in [json!(0), json!(-2), json!("5"), json!([1])] {
        let (e, _) = chain_error(certificates.prepare(Method::GET, json!({"timeout": bad})));
        assert!(matches!(e, ChainError::InvalidTimeout(_)), "{bad}: {e:?}");
    }
    // A valid one is a timeout, not a template variable.
    assert!(certificates
        .prepare(Method::GET, json!({"timeout": 2.5}))
        .is_ok());
}

#[test]
fn a_body_on_get_is_refused_and_delete_keeps_its_body() {
    let wxpay = support::client();
    let (e, _) = chain_error(
        wxpay
            .v3()
            .certificates()
            .prepare(Method::GET, json!({"json": {"a": 1}})),
    );
    assert_eq!(
        e,
        ChainError::BodyNotAllowed {
            method: "GET".into()
        }
    );
    let store = wxpay.chain("v3/brand/partner/store/brandstores/{store_id}");
    let prepared = store
        .prepare(
            Method::DELETE,
            json!({"store_id": "1001", "json": {"brand_id": "1002"}}),
        )
        .unwrap();
    assert_eq!(
        prepared.target(),
        "/v3/brand/partner/store/brandstores/1001"
    );
    assert_eq!(&prepared.body()[..], br#"{"brand_id":"1002"}"#);
    let signed_body = prepared.message().split(|&b| b == b'\n').nth(4).unwrap();
    assert_eq!(signed_body, &prepared.body()[..]);
}

// Item 3: targets that cannot be sent fail in prepare().

#[test]
fn a_megabyte_path_value_fails_before_signing() {
    let wxpay = support::client();
    let huge = "A".repeat(1 << 20);
    let (e, _) = chain_error(
        wxpay
            .chain("v3/pay/transactions/id/{transaction_id}")
            .prepare(Method::GET, json!({"transaction_id": huge})),
    );
    assert!(
        matches!(e, ChainError::TargetTooLong { length, limit } if length > limit),
        "{e:?}"
    );
}

#[test]
fn a_query_string_with_quotes_and_angle_brackets_fails_before_signing() {
    let wxpay = support::client();
    let certificates = wxpay.v3().certificates();
    for query in [r#"a="<x>""#, "a=b c", "a=中", "a={b}", "a=b#c"] {
        let (e, _) = chain_error(certificates.prepare(Method::GET, json!({"query": query})));
        assert!(matches!(e, ChainError::InvalidQuery(_)), "{query}: {e:?}");
    }
    let (e, _) = chain_error(
        wxpay
            .chain(r#"v3/certificates?a="<>""#)
            .prepare(Method::GET, ()),
    );
    assert!(matches!(e, ChainError::InvalidQuery(_)), "{e:?}");
    // As an object the same characters are encoded, not refused.
    let prepared = certificates
        .prepare(Method::GET, json!({"query": {"a": "\"<x>\""}}))
        .unwrap();
    assert_eq!(prepared.target(), "/v3/certificates?a=%22%3Cx%3E%22");
}

// Item 4: absolute URLs and base URIs.

const BILL: &str =
    "v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO";

#[test]
fn download_url_through_a_reserved_variable_resolves_as_an_absolute_url() {
    let wxpay = support::client();
    let download = wxpay.chain("{+download_url}");
    for host in [
        "https://api.mch.weixin.qq.com",
        "https://api2.mch.weixin.qq.com",
    ] {
        let url = format!("{host}/{BILL}");
        let prepared = download
            .prepare(Method::GET, json!({ "download_url": url }))
            .unwrap();
        assert_eq!(prepared.url(), url);
        assert_eq!(prepared.target(), format!("/{BILL}"));
        let direct = wxpay.chain(&url).prepare(Method::GET, ()).unwrap();
        assert_eq!(prepared.url(), direct.url(), "like chain(url)");
    }
    let foreign = format!("https://evil.example.com/{BILL}");
    let (e, _) = chain_error(download.prepare(Method::GET, json!({ "download_url": foreign })));
    assert_eq!(e, ChainError::HostNotAllowed("evil.example.com".into()));
}

#[test]
fn userinfo_is_refused_and_never_echoed() {
    let wxpay = support::client();
    let with_password = "https://merchant:hunter2secret@api.mch.weixin.qq.com/";
    let results = [
        wxpay
            .v3()
            .certificates()
            .prepare(Method::GET, Options::new().base_uri(with_password)),
        wxpay
            .chain(&format!("{with_password}v3/certificates"))
            .prepare(Method::GET, ()),
        wxpay.chain("{+u}").prepare(
            Method::GET,
            json!({"u": format!("{with_password}v3/certificates")}),
        ),
    ];
    for result in results {
        let (e, error) = chain_error(result);
        assert!(matches!(e, ChainError::UserInfo(_)), "{e:?}");
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("hunter2"), "the password leaked: {text}");
        }
    }
    let built = support::builder_at(support::VECTOR_EPOCH)
        .base_uri(with_password)
        .build();
    let error = built.expect_err("a base URI with userinfo is refused");
    assert!(
        matches!(error.chain(), Some(ChainError::UserInfo(_))),
        "{error:?}"
    );
    assert!(!error.to_string().contains("hunter2"));
}

#[test]
fn invalid_ports_are_refused() {
    let wxpay = support::client();
    for port in ["0", "65536", "99999", "abc", ""] {
        let base = format!("https://api.mch.weixin.qq.com:{port}/");
        let (e, _) = chain_error(
            wxpay
                .v3()
                .certificates()
                .prepare(Method::GET, Options::new().base_uri(&base)),
        );
        assert!(matches!(e, ChainError::InvalidPort(_)), "{base}: {e:?}");
        let (e, _) = chain_error(
            wxpay
                .chain(&format!("{base}v3/certificates"))
                .prepare(Method::GET, ()),
        );
        assert!(matches!(e, ChainError::InvalidPort(_)), "{base}: {e:?}");
    }
    // An explicit valid port is fine.
    let prepared = wxpay
        .v3()
        .certificates()
        .prepare(
            Method::GET,
            Options::new().base_uri("https://api.mch.weixin.qq.com:443/"),
        )
        .unwrap();
    assert_eq!(prepared.target(), "/v3/certificates");
}

/// Every spelling of a leading `v2` segment is APIv2, however it arrives: this v3-only client
/// refuses each for want of the APIv2 key, so none is ever signed and sent as APIv3. A `v2` in
/// a base path is refused (it would be sent).
#[test]
fn every_spelling_of_v2_routes_to_apiv2() {
    let wxpay = support::client();
    let apiv2 = |result: wechatpay_chain::Result<wechatpay_chain::PreparedRequest>, what: &str| {
        let error = result.expect_err(what);
        assert!(
            matches!(
                error.kind(),
                ErrorKind::Config(ConfigError::MissingApiV2Key(_))
            ),
            "{what}: {error:?}"
        );
    };
    let base_refused = |result: wechatpay_chain::Result<wechatpay_chain::PreparedRequest>,
                        what: &str| {
        let error = result.expect_err(what);
        assert!(
            matches!(error.kind(), ErrorKind::Chain(ChainError::InvalidUri(m)) if m.contains("v2")),
            "{what}: {error:?}"
        );
    };
    apiv2(
        wxpay.chain("v2/pay/micropay").prepare(Method::POST, ()),
        "v2/",
    );
    apiv2(
        wxpay.chain("V2/pay/micropay").prepare(Method::POST, ()),
        "V2/",
    );
    apiv2(
        wxpay.chain("%76%32/pay/micropay").prepare(Method::POST, ()),
        "%76%32/",
    );
    apiv2(
        wxpay.seg("V2").seg("pay").prepare(Method::POST, ()),
        ".seg(V2)",
    );
    base_refused(
        wxpay.chain("pay/micropay").prepare(
            Method::POST,
            Options::new().base_uri("https://api.mch.weixin.qq.com/v2/"),
        ),
        "a base path /v2/",
    );
    apiv2(
        wxpay
            .chain("https://api.mch.weixin.qq.com/v2/pay/micropay")
            .prepare(Method::POST, ()),
        "an absolute URL under /v2/",
    );
    apiv2(
        wxpay
            .chain("{+x}")
            .prepare(Method::POST, json!({"x": "v2/pay/micropay"})),
        "{+x} = v2/…",
    );
    apiv2(
        wxpay.chain("{+x}").prepare(
            Method::POST,
            json!({"x": "https://api.mch.weixin.qq.com/%56%32/pay"}),
        ),
        "{+x} = an absolute URL under /%56%32/",
    );
    let error = support::builder_at(support::VECTOR_EPOCH)
        .base_uri("https://api.mch.weixin.qq.com/V2/")
        .build()
        .expect_err("a v2 base URI is refused");
    assert!(
        matches!(error.kind(), ErrorKind::Chain(ChainError::InvalidUri(_))),
        "{error:?}"
    );
    // A value that merely contains "v2" is data, not the protocol.
    let prepared = wxpay
        .chain("v3/pay/transactions/id/{transaction_id}")
        .prepare(Method::GET, json!({"transaction_id": "v2"}))
        .unwrap();
    assert_eq!(prepared.target(), "/v3/pay/transactions/id/v2");
    // And on a client with the APIv2 key, each spelling prepares as APIv2 to the stripped path.
    let v2 = wechatpay_chain::Wechatpay::builder()
        .mchid("1900000109")
        .apiv2_key("exposed_your_key_here_have_risks")
        .build()
        .unwrap();
    for (what, chain) in [
        ("V2/", v2.chain("V2/pay/micropay")),
        ("%76%32/", v2.chain("%76%32/pay/micropay")),
        ("/v2/", v2.chain("/v2/pay/micropay")),
        (".seg(V2)", v2.seg("V2").seg("pay").seg("micropay")),
        (
            "absolute",
            v2.chain("https://api.mch.weixin.qq.com/v2/pay/micropay"),
        ),
    ] {
        let prepared = chain
            .prepare(Method::POST, json!({"xml": {"mch_id": "1900000109"}}))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(prepared.is_apiv2(), "{what}");
        assert_eq!(prepared.path(), "/pay/micropay", "{what}");
    }
}

// Through the sandbox: the timeout option and the JSON-body strictness (item 12).

#[cfg(feature = "sandbox")]
mod sandbox {
    use super::*;
    use std::time::{Duration, Instant};
    use wechatpay_chain::sandbox::{Fault, Sandbox};

    async fn bounded<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(30), f)
            .await
            .expect("the test took longer than 30 s")
    }

    #[tokio::test]
    async fn the_timeout_option_is_honoured() {
        bounded(async {
            let sandbox = Sandbox::builder().start().await.unwrap();
            let wxpay = sandbox.client().unwrap();
            sandbox.inject(Fault::Delay(Duration::from_secs(5)));
            let started = Instant::now();
            let error = wxpay
                .v3()
                .certificates()
                .get(json!({"timeout": 0.3}))
                .await
                .expect_err("the answer comes after the timeout");
            assert!(error.is_timeout(), "{error:?}");
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "took {:?}",
                started.elapsed()
            );
            sandbox.shutdown();
        })
        .await;
    }

    fn param_error(error: &Error) -> bool {
        error
            .api()
            .is_some_and(|a| a.status == 400 && a.code.as_deref() == Some("PARAM_ERROR"))
    }

    #[tokio::test]
    async fn a_json_endpoint_refuses_an_empty_or_non_json_body() {
        bounded(async {
            let sandbox = Sandbox::builder().start().await.unwrap();
            let wxpay = sandbox.client().unwrap();
            // Not a seed endpoint: the check runs for every JSON endpoint of the catalog.
            let native = wxpay.v3().pay().transactions().native();
            let empty = native.post(()).await.expect_err("an empty body");
            assert!(param_error(&empty), "{empty:?}");
            let not_json = native
                .post(Options::new().body("appid=wx1&mchid=1900000109"))
                .await
                .expect_err("a form body");
            assert!(param_error(&not_json), "{not_json:?}");
            let refunds = wxpay.chain("v3/refund/domestic/refunds");
            let empty = refunds.post(()).await.expect_err("an empty refund");
            assert!(param_error(&empty), "{empty:?}");
            // A JSON body passes the check.
            native
                .post(json!({"json": {"appid": "wxd678efh567hg6787"}}))
                .await
                .expect("a JSON body is accepted");
            sandbox.shutdown();
        })
        .await;
    }

    #[tokio::test]
    async fn a_download_url_variable_is_sent_to_its_own_path_on_the_base_host() {
        bounded(async {
            let sandbox = Sandbox::builder().start().await.unwrap();
            let wxpay = sandbox.client().unwrap();
            let base = sandbox.base_uri();
            let url = format!("{}/v3/certificates", base.trim_end_matches('/'));
            let response = wxpay
                .chain("{+download_url}")
                .get(json!({ "download_url": url }))
                .await
                .expect("the absolute URL on the sandbox host is fetched and verified");
            assert_eq!(response.status(), 200);
            let recorded = sandbox.requests();
            assert_eq!(recorded.len(), 1);
            // Resolved as an absolute reference, not glued under the base path.
            assert_eq!(recorded[0].target, "/v3/certificates");
            sandbox.shutdown();
        })
        .await;
    }

    #[tokio::test]
    async fn js_style_post_never_reaches_the_server() {
        bounded(async {
            let sandbox = Sandbox::builder().start().await.unwrap();
            let wxpay = sandbox.client().unwrap();
            let error = wxpay
                .v3()
                .pay()
                .transactions()
                .native()
                .post(json!({"appid": "wxd678efh567hg6787"}))
                .await
                .expect_err("JS-style data is refused");
            assert!(
                matches!(
                    error.chain(),
                    Some(ChainError::UnusedOptions {
                        body_hint: true,
                        ..
                    })
                ),
                "{error:?}"
            );
            assert!(sandbox.requests().is_empty(), "nothing was sent");
            sandbox.shutdown();
        })
        .await;
    }
}
