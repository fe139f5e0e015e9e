//! Pay signs against the `pay_sign` vectors of `tests/data/vectors.json` (computed with the
//! reference SDK): message and signature byte for byte (RSASSA-PKCS1-v1_5 SHA-256 is
//! deterministic), the JSON names a front end reads, and input checks.

mod support;

use serde_json::Value;
use wechatpay_chain::{AppPaySign, CryptoError, ErrorKind, FixedNonce, JsapiPaySign, Sign};

use support::str_field;

fn case(name: &str) -> Value {
    let case = support::vectors()["pay_sign"][name].clone();
    assert!(case.is_object(), "no pay_sign.{name} vector");
    case
}

fn timestamp(case: &Value, name: &str) -> i64 {
    str_field(case, name).parse().expect("numeric timestamp")
}

/// The vector without its `message` (not a field of the set): what the front end receives.
fn front_end_fields(case: &Value) -> Value {
    let mut fields = case.clone();
    fields.as_object_mut().unwrap().remove("message");
    fields
}

#[test]
fn jsapi_vector_is_byte_exact_with_the_front_end_names() {
    let v = case("jsapi");
    let key = support::merchant_key();
    let prepay_id = str_field(&v, "package").strip_prefix("prepay_id=").unwrap();
    let set = JsapiPaySign::new(
        str_field(&v, "appId"),
        prepay_id,
        timestamp(&v, "timeStamp"),
        str_field(&v, "nonceStr"),
        &key,
    )
    .unwrap();
    assert_eq!(set.message(), str_field(&v, "message"));
    assert_eq!(set.pay_sign(), str_field(&v, "paySign"));
    assert_eq!(serde_json::to_value(&set).unwrap(), front_end_fields(&v));
    assert!(set.verify(&key.public_key()));

    // The package form (`prepay_id=…`) is accepted as well and gives the same set.
    let again = JsapiPaySign::new(
        set.app_id(),
        set.package(),
        timestamp(&v, "timeStamp"),
        set.nonce_str(),
        &key,
    )
    .unwrap();
    assert_eq!(again, set);
}

#[test]
fn app_vector_is_byte_exact_with_the_front_end_names() {
    let v = case("app");
    let key = support::merchant_key();
    let set = AppPaySign::new(
        str_field(&v, "appid"),
        str_field(&v, "partnerid"),
        str_field(&v, "prepayid"),
        timestamp(&v, "timestamp"),
        str_field(&v, "noncestr"),
        &key,
    )
    .unwrap();
    assert_eq!(set.message(), str_field(&v, "message"));
    assert_eq!(set.sign(), str_field(&v, "sign"));
    assert_eq!(serde_json::to_value(&set).unwrap(), front_end_fields(&v));
    assert!(set.verify(&key.public_key()));
}

#[test]
fn the_client_signs_with_its_signer_clock_and_nonce_source() {
    let (jsapi, app) = (case("jsapi"), case("app"));
    let wxpay = support::builder_at(timestamp(&jsapi, "timeStamp"))
        .nonce_source(FixedNonce(str_field(&jsapi, "nonceStr").into()))
        .build()
        .unwrap();
    let prepay_id = str_field(&jsapi, "package")
        .strip_prefix("prepay_id=")
        .unwrap();
    let set = wxpay
        .jsapi_pay_sign(str_field(&jsapi, "appId"), prepay_id)
        .unwrap();
    assert_eq!(
        serde_json::to_value(&set).unwrap(),
        front_end_fields(&jsapi)
    );

    assert_eq!(str_field(&app, "partnerid"), wxpay.mchid());
    let set = wxpay
        .app_pay_sign(str_field(&app, "appid"), str_field(&app, "prepayid"))
        .unwrap();
    assert_eq!(serde_json::to_value(&set).unwrap(), front_end_fields(&app));
}

#[test]
fn a_fresh_nonce_per_call_from_the_default_source() {
    let wxpay = support::client();
    let a = wxpay
        .jsapi_pay_sign("wxd678efh567hg6787", "wx2014")
        .unwrap();
    let b = wxpay
        .jsapi_pay_sign("wxd678efh567hg6787", "wx2014")
        .unwrap();
    assert_ne!(a.nonce_str(), b.nonce_str());
    assert_eq!(a.nonce_str().len(), 32);
    assert_eq!(a.time_stamp(), support::VECTOR_EPOCH.to_string());
    assert!(a.verify(&support::merchant_key().public_key()));
    assert!(
        !a.verify(&support::public_key()),
        "another key does not verify it"
    );
}

fn field_error(result: wechatpay_chain::Result<impl std::fmt::Debug>) -> &'static str {
    let e = result.unwrap_err();
    match e.kind() {
        ErrorKind::Crypto(CryptoError::PaySignField(name)) => name,
        other => panic!("not a pay-sign field error: {other:?} ({e})"),
    }
}

#[test]
fn line_feeds_and_empty_fields_are_refused_by_name() {
    let key = support::merchant_key();
    let (t, n) = (1_763_780_300, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS");
    assert_eq!(
        field_error(JsapiPaySign::new("wx1\nwx2", "p", t, n, &key)),
        "appId"
    );
    assert_eq!(
        field_error(JsapiPaySign::new("wx1", "p\n", t, n, &key)),
        "package"
    );
    assert_eq!(
        field_error(JsapiPaySign::new("wx1", "p", t, "a\rb", &key)),
        "nonceStr"
    );
    assert_eq!(field_error(JsapiPaySign::new("", "p", t, n, &key)), "appId");
    assert_eq!(
        field_error(JsapiPaySign::new("wx1", "prepay_id=", t, n, &key)),
        "package"
    );
    assert_eq!(
        field_error(AppPaySign::new("wx1", "19\n00", "p", t, n, &key)),
        "partnerid"
    );
    assert_eq!(
        field_error(AppPaySign::new("wx1", "1900", "", t, n, &key)),
        "prepayid"
    );
    assert_eq!(
        field_error(AppPaySign::new("wx1", "1900", "p", t, "", &key)),
        "noncestr"
    );
    let wxpay = support::client();
    assert_eq!(field_error(wxpay.app_pay_sign("wx\n1", "p")), "appid");
    let e = wxpay.jsapi_pay_sign("wx1", "p\nq").unwrap_err();
    assert!(e.to_string().contains("`package`"), "{e}");
}

/// A signer that fails: its error comes back unchanged, nothing half-signed.
#[derive(Debug)]
struct Broken;

impl Sign for Broken {
    fn sign(&self, _message: &[u8]) -> wechatpay_chain::Result<Vec<u8>> {
        Err(wechatpay_chain::Error::signing("HSM offline"))
    }
}

#[test]
fn a_signer_failure_is_the_error() {
    let e = JsapiPaySign::new("wx1", "p", 1, "n", &Broken).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Crypto(CryptoError::Sign));
}

#[test]
fn an_app_prepay_id_in_package_form_signs_the_bare_id() {
    // A JSAPI habit (`prepay_id=…`) carried over to APP must not sign a value the platform
    // never issued: the bare id is what the APP SDK's `PayReq.prepayId` takes.
    let v = case("app");
    let key = support::merchant_key();
    let bare = str_field(&v, "prepayid");
    let t = timestamp(&v, "timestamp");
    let (app, mch, nonce) = (
        str_field(&v, "appid"),
        str_field(&v, "partnerid"),
        str_field(&v, "noncestr"),
    );
    let from_package = AppPaySign::new(app, mch, &format!("prepay_id={bare}"), t, nonce, &key);
    let expected = AppPaySign::new(app, mch, bare, t, nonce, &key).unwrap();
    assert_eq!(from_package.unwrap(), expected);
    assert_eq!(expected.sign(), str_field(&v, "sign"));
}

#[test]
fn swapped_spaced_or_non_ascii_fields_are_refused_by_name() {
    let key = support::merchant_key();
    let (t, n) = (1_763_780_300, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS");
    let (app_id, prepay_id) = ("wxd678efh567hg6787", "wx201410272009395522657a690389285100");
    assert!(JsapiPaySign::new(app_id, prepay_id, t, n, &key).is_ok());
    // The prepay id (36 characters) where the app id (at most 32) goes.
    assert_eq!(
        field_error(JsapiPaySign::new(prepay_id, app_id, t, n, &key)),
        "appId"
    );
    assert_eq!(
        field_error(AppPaySign::new(prepay_id, "1900000109", app_id, t, n, &key)),
        "appid"
    );
    // A stray space, a tab, a quoted paste, full-width text: none is an id WeChat Pay issued.
    assert_eq!(
        field_error(JsapiPaySign::new(
            " wxd678efh567hg6787",
            prepay_id,
            t,
            n,
            &key
        )),
        "appId"
    );
    assert_eq!(
        field_error(JsapiPaySign::new(app_id, "wx2014\t1027", t, n, &key)),
        "package"
    );
    assert_eq!(
        field_error(JsapiPaySign::new(app_id, prepay_id, t, "随机串", &key)),
        "nonceStr"
    );
    assert_eq!(
        field_error(JsapiPaySign::new(
            app_id,
            prepay_id,
            t,
            &"n".repeat(33),
            &key
        )),
        "nonceStr"
    );
    assert_eq!(
        field_error(AppPaySign::new(
            app_id,
            "1900 000109",
            prepay_id,
            t,
            n,
            &key
        )),
        "partnerid"
    );
    assert_eq!(
        field_error(AppPaySign::new(
            app_id,
            "1900000109",
            &"p".repeat(65),
            t,
            n,
            &key
        )),
        "prepayid"
    );
}

#[test]
fn a_timestamp_in_milliseconds_or_negative_is_refused_by_name() {
    let key = support::merchant_key();
    let n = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    let (app_id, prepay_id) = ("wxd678efh567hg6787", "wx201410272009395522657a690389285100");
    // JS habit: Date.now() is milliseconds; the front end wants seconds.
    let millis = 1_763_780_300_123;
    assert_eq!(
        field_error(JsapiPaySign::new(app_id, prepay_id, millis, n, &key)),
        "timeStamp"
    );
    assert_eq!(
        field_error(AppPaySign::new(
            app_id,
            "1900000109",
            prepay_id,
            -1,
            n,
            &key
        )),
        "timestamp"
    );
    let last = JsapiPaySign::new(app_id, prepay_id, 9_999_999_999, n, &key).unwrap();
    assert_eq!(last.time_stamp(), "9999999999");
    assert!(JsapiPaySign::new(app_id, prepay_id, 10_000_000_000, n, &key).is_err());
}

/// A newcomer's port of the PHP JSAPI recipe, end to end against the sandbox: order → prepay
/// id → the front end's parameters, checked the way `WeixinJSBridge` checks them.
#[cfg(feature = "sandbox")]
#[tokio::test]
async fn a_sandbox_jsapi_order_gives_front_end_parameters_that_verify() {
    use wechatpay_chain::sandbox::Sandbox;
    let run = async {
        let sandbox = Sandbox::builder().start().await.expect("sandbox starts");
        let wxpay = sandbox.client().unwrap();
        // PHP: $resp = $instance->v3->pay->transactions->jsapi->post(['json' => [...]]);
        //      $prepayId = json_decode((string) $resp->getBody(), true)['prepay_id'];
        let order = serde_json::json!({"json": {
            "appid": "wxd678efh567hg6787", "mchid": "1900000109", "description": "Image",
            "out_trade_no": "1217752501201407033233368018", "notify_url": "https://example.com/n",
            "amount": {"total": 100, "currency": "CNY"}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        }});
        let response = wxpay
            .v3()
            .pay()
            .transactions()
            .jsapi()
            .post(order)
            .await
            .unwrap();
        let answer: Value = response.json().unwrap();
        let prepay_id = answer["prepay_id"]
            .as_str()
            .expect("a prepay id")
            .to_string();
        assert_eq!(prepay_id.len(), 36, "{prepay_id}");

        // PHP: $params = ['appId' => $appId, 'timeStamp' => (string)Formatter::timestamp(),
        //          'nonceStr' => Formatter::nonce(), 'package' => 'prepay_id=' . $prepayId];
        //      $params += ['paySign' => Rsa::sign(Formatter::joinedByLineFeed(...array_values($params)),
        //          $merchantPrivateKeyInstance), 'signType' => 'RSA'];
        let params = wxpay
            .jsapi_pay_sign("wxd678efh567hg6787", &prepay_id)
            .unwrap();
        let front = serde_json::to_value(&params).unwrap();
        let mut names: Vec<&str> = front
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "appId",
                "nonceStr",
                "package",
                "paySign",
                "signType",
                "timeStamp"
            ]
        );
        assert!(front["timeStamp"].is_string(), "timeStamp must be a string");
        assert_eq!(front["package"], format!("prepay_id={prepay_id}"));
        assert_eq!(front["signType"], "RSA");
        // The message rebuilt from the JSON alone, as the platform does.
        let message = ["appId", "timeStamp", "nonceStr", "package"]
            .iter()
            .map(|k| format!("{}\n", front[*k].as_str().unwrap()))
            .collect::<String>();
        assert_eq!(message, params.message());
        assert!(params.verify(&support::merchant_key().public_key()));

        // And the APP form of the same order: the bare id, `Sign=WXPay`.
        let app = wxpay
            .app_pay_sign("wxd678efh567hg6787", &prepay_id)
            .unwrap();
        assert_eq!(app.prepayid(), prepay_id);
        assert_eq!(app.package(), "Sign=WXPay");
        assert!(app.verify(&support::merchant_key().public_key()));
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("the test took longer than 30 s");
}
