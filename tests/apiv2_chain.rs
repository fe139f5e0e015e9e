//! APIv2 through the chain, prepared (nothing sent): the PHP reference's request vectors
//! (`tests/data/apiv2-requests.json`, wechatpay-php.md §7.2) byte for byte, the forms that
//! route to APIv2, and every refusal as a typed error before anything is signed.

mod support;

use serde_json::{json, Value};
use wechatpay_chain::{
    ChainError, ConfigError, ErrorKind, FixedNonce, Method, Options, PreparedRequest, PrivateKey,
    Wechatpay,
};

/// The vectors' merchant and APIv2 key.
const MCHID: &str = "1900000109";
const KEY: &str = "exposed_your_key_here_have_risks";

/// An APIv2-only client (merchant id + APIv2 key) with the fixture merchant certificate for
/// mutual TLS and a fixed nonce.
fn v2_client() -> Wechatpay {
    Wechatpay::builder()
        .mchid(MCHID)
        .apiv2_key(KEY)
        .merchant_api_certificate(
            support::read("tests/fixtures/apiclient_cert.pem"),
            support::read("tests/fixtures/apiclient_key.pem"),
        )
        .nonce_source(FixedNonce("0123456789abcdefghijABCDEFGHIJ01".into()))
        .build()
        .expect("an APIv2-only client builds")
}

/// The same without a merchant certificate.
fn v2_client_without_certificate() -> Wechatpay {
    Wechatpay::builder()
        .mchid(MCHID)
        .apiv2_key(KEY)
        .build()
        .unwrap()
}

/// An APIv3-only client (no APIv2 key).
fn v3_client() -> Wechatpay {
    Wechatpay::builder()
        .mchid(MCHID)
        .serial("3775B6A45ACD588826D15E583A95F5DD2A4B1A16")
        .private_key(
            PrivateKey::from_pem_file(support::path("tests/fixtures/apiclient_key.pem")).unwrap(),
        )
        .build()
        .unwrap()
}

fn header<'a>(request: &'a PreparedRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn every_php_request_vector_is_prepared_byte_for_byte() {
    let data = support::json("tests/data/apiv2-requests.json");
    assert_eq!(
        (data["mchid"].as_str(), data["apiv2_key"].as_str()),
        (Some(MCHID), Some(KEY))
    );
    let wxpay = v2_client();
    let rows = data["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "every row of the reference table");
    for row in rows {
        let name = row["name"].as_str().unwrap();
        let method: Method = row["method"].as_str().unwrap().parse().unwrap();
        let chain = row["chain"].as_str().unwrap();
        let request = wxpay
            .chain(chain)
            .prepare(method.clone(), row["options"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(request.is_apiv2(), "{name}");
        assert_eq!(request.url(), row["url"].as_str().unwrap(), "{name}");
        let body = row["body"].as_str().unwrap();
        assert_eq!(std::str::from_utf8(request.body()).unwrap(), body, "{name}");
        assert_eq!(request.sent_body(), request.body(), "{name}");
        assert_eq!(
            request.message(),
            row["message"].as_str().unwrap().as_bytes(),
            "{name}"
        );
        assert!(
            !String::from_utf8_lossy(request.message()).contains(KEY),
            "{name}: the key"
        );
        assert_eq!(
            request.is_mutual_tls(),
            row["mutual_tls"].as_bool().unwrap(),
            "{name}"
        );
        let content_type = (method == Method::POST).then_some("text/xml; charset=utf-8");
        assert_eq!(header(&request, "content-type"), content_type, "{name}");
        assert_eq!(
            header(&request, "accept"),
            Some("text/xml, text/plain, application/json, application/x-gzip"),
            "{name}"
        );
        assert!(header(&request, "user-agent")
            .unwrap()
            .starts_with("wechatpay-chain/"));
        for absent in ["authorization", "wechatpay-serial"] {
            assert_eq!(header(&request, absent), None, "{name}: {absent}");
        }
    }
}

#[test]
fn a_nonce_is_appended_from_the_nonce_source_before_the_sign() {
    let request = v2_client()
        .chain("v2/pay/orderquery")
        .prepare(
            Method::POST,
            json!({"xml": {"mch_id": 1_900_000_109_u64, "out_trade_no": "T1"}}),
        )
        .unwrap();
    let body = std::str::from_utf8(request.body()).unwrap();
    assert!(
        body.starts_with("<xml><mch_id>1900000109</mch_id><out_trade_no>T1</out_trade_no><nonce_str>0123456789abcdefghijABCDEFGHIJ01</nonce_str><sign>"),
        "{body}"
    );
    assert_eq!(
        request.message(),
        b"mch_id=1900000109&nonce_str=0123456789abcdefghijABCDEFGHIJ01&out_trade_no=T1"
    );
}

#[test]
fn every_form_of_the_chain_prepares_the_same_request() {
    let wxpay = v2_client();
    let xml = json!({"mch_id": MCHID, "body": "test", "nonce_str": "n"});
    let options = || Options::new().xml(&xml);
    let prepare = |chain: &wechatpay_chain::Chain, options: Options| {
        let r = chain.prepare(Method::POST, options).unwrap();
        (r.url(), r.body().clone(), r.is_apiv2())
    };
    let expected = prepare(&wxpay.chain("v2/pay/micropay"), options());
    assert_eq!(expected.0, "https://api.mch.weixin.qq.com/pay/micropay");
    assert!(expected.2);
    let forms = [
        (
            "leading slash",
            prepare(&wxpay.chain("/v2/pay/micropay"), options()),
        ),
        ("indexed", prepare(&wxpay["v2/pay/micropay"], options())),
        ("typed", prepare(&wxpay.v2().pay().micropay(), options())),
        (
            "upper case",
            prepare(&wxpay.chain("V2/pay/micropay"), options()),
        ),
        (
            "{+u}",
            prepare(
                &wxpay.chain("{+u}"),
                options().param("u", "v2/pay/micropay"),
            ),
        ),
    ];
    for (form, prepared) in forms {
        assert_eq!(prepared, expected, "{form}");
    }
}

/// `prepare` of `chain` with `options` on `wxpay`, expected to fail: its kind.
fn refused(wxpay: &Wechatpay, method: Method, chain: &str, options: Value) -> ErrorKind {
    match wxpay.chain(chain).prepare(method, options) {
        Ok(request) => panic!("{chain}: prepared {request:?}"),
        Err(e) => e.kind().clone(),
    }
}

#[test]
fn bad_apiv2_calls_are_refused_before_signing() {
    let wxpay = v2_client();
    let post = |chain: &str, options: Value| refused(&wxpay, Method::POST, chain, options);
    let micropay = "v2/pay/micropay";

    let mismatch = post(micropay, json!({"xml": {"mch_id": "1900000110"}}));
    assert!(
        matches!(&mismatch, ErrorKind::Chain(ChainError::InvalidOptions(m)) if m.contains("mch_id") && m.contains("1900000110") && m.contains("mchid (1900000109)")),
        "{mismatch:?}"
    );
    let combined = post(
        micropay,
        json!({"xml": {"combine_mch_id": 1_900_000_110_u64}}),
    );
    assert!(
        matches!(&combined, ErrorKind::Chain(ChainError::InvalidOptions(m)) if m.contains("combine_mch_id")),
        "{combined:?}"
    );
    assert_eq!(
        post(
            micropay,
            json!({"xml": {"mch_id": MCHID, "sign_type": "SHA256"}})
        ),
        ErrorKind::Chain(ChainError::UnknownSignType("SHA256".into()))
    );
    assert_eq!(
        post(
            micropay,
            json!({"xml": {"mch_id": MCHID, "sign_type": "md5"}})
        ),
        ErrorKind::Chain(ChainError::UnknownSignType("md5".into())),
        "case-sensitive"
    );
    for (bare, options) in [
        ("v2", json!({"xml": {}})),
        ("/v2/", json!({"xml": {}})),
        ("{+u}", json!({"u": "v2", "xml": {}})),
    ] {
        let kind = refused(&wxpay, Method::POST, bare, options);
        assert!(
            matches!(&kind, ErrorKind::Chain(ChainError::InvalidTarget(m)) if m.contains("v2")),
            "{bare}: {kind:?}"
        );
    }
    let json_body = post(micropay, json!({"json": {"mch_id": MCHID}}));
    assert!(
        matches!(&json_body, ErrorKind::Chain(ChainError::InvalidOptions(m)) if m.contains("`json`") && m.contains("`xml`")),
        "{json_body:?}"
    );
    let raw_body = post(micropay, json!({"body": "<xml/>"}));
    assert!(
        matches!(&raw_body, ErrorKind::Chain(ChainError::InvalidOptions(m)) if m.contains("`body`"))
    );
    let both = refused(
        &wxpay,
        Method::GET,
        "v2/papay/entrustweb",
        json!({"xml": {"a": "b"}, "query": {"c": "d"}}),
    );
    assert!(
        matches!(both, ErrorKind::Chain(ChainError::InvalidOptions(_))),
        "{both:?}"
    );
    let post_query = post(micropay, json!({"xml": {"a": "b"}, "query": {"c": "d"}}));
    assert!(matches!(
        post_query,
        ErrorKind::Chain(ChainError::InvalidOptions(_))
    ));
    let own_sign = post(micropay, json!({"xml": {"mch_id": MCHID, "sign": "X"}}));
    assert!(
        matches!(&own_sign, ErrorKind::Chain(ChainError::InvalidOptions(m)) if m.contains("`sign`"))
    );
    let typo = post(micropay, json!({"xml": {}, "nonceles": true}));
    assert!(
        matches!(typo, ErrorKind::Chain(ChainError::UnusedOptions { .. })),
        "{typo:?}"
    );
}

#[test]
fn a_v2_segment_in_the_base_uri_is_refused() {
    let e = Wechatpay::builder()
        .mchid(MCHID)
        .apiv2_key(KEY)
        .base_uri("https://api.mch.weixin.qq.com/v2/")
        .build()
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Chain(ChainError::InvalidUri(m)) if m.contains("v2")),
        "{e}"
    );
    let per_request = refused(
        &v2_client(),
        Method::POST,
        "v2/pay/micropay",
        json!({"xml": {}, "base_uri": "https://api.mch.weixin.qq.com/V2/"}),
    );
    assert!(
        matches!(per_request, ErrorKind::Chain(ChainError::InvalidUri(_))),
        "{per_request:?}"
    );
}

#[test]
fn xml_nonceless_and_security_are_refused_on_apiv3_chains() {
    let wxpay = v3_client();
    for (key, options) in [
        ("xml", json!({"xml": {"a": "b"}})),
        ("nonceless", json!({"nonceless": true})),
        ("security", json!({"security": false})),
    ] {
        let kind = refused(&wxpay, Method::POST, "v3/pay/transactions/native", options);
        assert!(
            matches!(&kind, ErrorKind::Chain(ChainError::InvalidOptions(m)) if m.contains(&format!("`{key}` is an APIv2 option")) && m.contains("json")),
            "{key}: {kind:?}"
        );
    }
}

#[test]
fn mutual_tls_needs_a_certificate_and_https() {
    let refund = json!({"xml": {"mch_id": MCHID, "out_refund_no": "R1"}});
    let no_certificate = v2_client_without_certificate();
    for (chain, options) in [
        ("v2/secapi/pay/refund", refund.clone()),
        (
            "v2/pay/micropay",
            json!({"xml": {"mch_id": MCHID}, "security": true}),
        ),
    ] {
        let kind = refused(&no_certificate, Method::POST, chain, options);
        assert!(
            matches!(&kind, ErrorKind::Config(ConfigError::MissingMerchantCertificate(what)) if what.contains("POST /")),
            "{chain}: {kind:?}"
        );
    }
    let refund_request = v2_client()
        .chain("v2/secapi/pay/refund")
        .prepare(Method::POST, refund.clone())
        .unwrap();
    assert!(
        refund_request.is_mutual_tls(),
        "the catalog marks secapi/pay/refund"
    );
    let loopback = Wechatpay::builder()
        .mchid(MCHID)
        .apiv2_key(KEY)
        .merchant_api_certificate(
            support::read("tests/fixtures/apiclient_cert.pem"),
            support::read("tests/fixtures/apiclient_key.pem"),
        )
        .base_uri("http://127.0.0.1:9/")
        .build()
        .unwrap();
    let kind = refused(&loopback, Method::POST, "v2/secapi/pay/refund", refund);
    assert!(
        matches!(&kind, ErrorKind::Chain(ChainError::InvalidUri(m)) if m.contains("needs https") && m.contains("tls")),
        "{kind:?}"
    );
    let plain = loopback
        .chain("v2/pay/micropay")
        .prepare(Method::POST, json!({"xml": {"mch_id": MCHID}}))
        .unwrap();
    assert!(!plain.is_mutual_tls());
}

#[test]
fn each_protocol_needs_only_its_own_credentials() {
    let v2_only = v2_client_without_certificate();
    for (chain, options) in [
        ("v3/certificates", json!({})),
        (
            "v3/pay/transactions/id/{transaction_id}",
            json!({"transaction_id": "1"}),
        ),
    ] {
        let kind = refused(&v2_only, Method::GET, chain, options);
        assert!(
            matches!(
                kind,
                ErrorKind::Config(ConfigError::MissingV3Credentials(_))
            ),
            "{chain}: {kind:?}"
        );
    }
    let sign = v2_only
        .jsapi_pay_sign("wx8888888888888888", "wx201410272009395522657a690389285100")
        .unwrap_err();
    assert!(
        matches!(
            sign.kind(),
            ErrorKind::Config(ConfigError::MissingV3Credentials(_))
        ),
        "{sign}"
    );
    let v3_only = v3_client();
    assert!(v3_only.apiv2_key().is_none() && v2_only.apiv2_key().is_some());
    let kind = refused(
        &v3_only,
        Method::POST,
        "v2/pay/micropay",
        json!({"xml": {"mch_id": MCHID}}),
    );
    assert!(
        matches!(kind, ErrorKind::Config(ConfigError::MissingApiV2Key(_))),
        "{kind:?}"
    );
    let short = Wechatpay::builder()
        .mchid(MCHID)
        .apiv2_key("short")
        .build()
        .unwrap_err();
    assert_eq!(
        short.kind(),
        &ErrorKind::Config(ConfigError::ApiV2KeyLength(5))
    );
    assert!(
        !format!("{v2_only:?}").contains(KEY),
        "the key is never printed"
    );
}
