//! APIv2 core against `tests/data/apiv2-vectors.json`: every deterministic v2 vector of the
//! wechatpay-php reference (hashes, ksort + queryStringLike, request signs and bodies, the
//! Transformer's XML cases, AES-256-ECB both ways, the ack), the axios-plugin ones that fit
//! our rules, and vectors computed independently with Python (Pay Score, v2 JSAPI, busifavor,
//! notifications). Plus properties: the XML round trip and a reader that never panics.

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{Map, Value};
use wechatpay_chain::v2::notification::{ack, open, V2Notification, ACK};
use wechatpay_chain::v2::pay_sign::{
    busifavor_h5_sign, busifavor_miniprogram_sign, jsapi_pay_sign, ScoreDetail, ScoreUse,
    V2JsapiPaySign,
};
use wechatpay_chain::v2::sign::{
    hash_sign, hmac_sha256_hex, md5_hex, sign, string_to_sign, verify,
};
use wechatpay_chain::v2::xml::{from_xml, to_xml};
use wechatpay_chain::v2::{ecb, ApiV2Key, SignType};
use wechatpay_chain::{ChainError, DecodeError, ErrorKind, VerifyError};

static VECTORS: LazyLock<Value> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/apiv2-vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors file")).expect("JSON")
});

fn s<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name} in {v}"))
}

fn obj(v: &Value) -> &Map<String, Value> {
    v.as_object()
        .unwrap_or_else(|| panic!("object expected: {v}"))
}

fn list(name: &str) -> &'static Vec<Value> {
    VECTORS[name]
        .as_array()
        .unwrap_or_else(|| panic!("no {name}"))
}

fn key(v: &Value) -> ApiV2Key {
    ApiV2Key::new(s(v, "key")).unwrap()
}

#[test]
fn hash_vectors() {
    for case in list("hash") {
        let got = match s(case, "fn") {
            "sign" => hash_sign(
                s(case, "type").parse().unwrap(),
                s(case, "thing"),
                s(case, "key").as_bytes(),
            ),
            "md5" => md5_hex(s(case, "thing"), s(case, "key"), case["agency"] == true),
            "hmac" => hmac_sha256_hex(s(case, "thing"), s(case, "key")),
            other => panic!("unknown fn {other}"),
        };
        assert_eq!(got, s(case, "expected"), "{case}");
    }
}

#[test]
fn unknown_sign_types_are_refused() {
    for value in VECTORS["unknown_sign_types"]["values"].as_array().unwrap() {
        let value = value.as_str().unwrap();
        let e = value.parse::<SignType>().unwrap_err();
        assert_eq!(
            e.chain(),
            Some(&ChainError::UnknownSignType(value.to_owned()))
        );
    }
}

#[test]
fn ksort_query_string_like_vector() {
    for case in list("string_to_sign") {
        assert_eq!(
            string_to_sign(obj(&case["data"])).unwrap(),
            s(case, "expected")
        );
    }
}

/// The PHP request vectors: the sign of the data, and (where given) the whole body as the
/// data in caller order with `sign` appended, written by `to_xml`.
#[test]
fn request_sign_and_body_vectors() {
    for case in list("requests") {
        let data = obj(&case["data"]);
        let key = key(case);
        if let Some(signed) = case["signed"].as_str() {
            assert_eq!(string_to_sign(data).unwrap(), signed);
        }
        let sign_type: SignType = s(case, "type").parse().unwrap();
        let signature = sign(sign_type, data, &key).unwrap();
        let mut body = data.clone();
        body.insert("sign".into(), signature.clone().into());
        if let Some(xml) = case["xml"].as_str() {
            assert_eq!(to_xml(&body), xml, "{}", case["src"]);
        } else {
            assert_eq!(signature, s(case, "sign"), "{}", case["src"]);
        }
        // What was signed verifies, by the named type and by the sign's length.
        verify(&body, &key, Some(sign_type)).unwrap();
        verify(&body, &key, None).unwrap();
    }
}

#[test]
fn to_xml_vectors() {
    for case in list("to_xml") {
        assert_eq!(
            to_xml(obj(&case["input"])),
            s(case, "expected"),
            "{}",
            case["src"]
        );
    }
}

#[test]
fn from_xml_vectors() {
    for case in list("from_xml") {
        let got = from_xml(s(case, "input").as_bytes());
        match case["error"].as_str() {
            None => assert_eq!(
                Value::Object(got.unwrap()),
                case["expected"],
                "{}",
                case["src"]
            ),
            Some(needle) => {
                let e = got.expect_err(s(case, "src"));
                match e.kind() {
                    ErrorKind::Decode(DecodeError::Xml(why)) => {
                        assert!(why.contains(needle), "{}: {why}", case["src"]);
                    }
                    other => panic!("{}: {other:?}", case["src"]),
                }
            }
        }
    }
}

#[test]
fn aes_ecb_vectors_both_ways() {
    for case in list("aes_ecb") {
        let key: [u8; 32] = s(case, "key").as_bytes().try_into().unwrap();
        assert_eq!(
            ecb::encrypt(s(case, "plain").as_bytes(), &key),
            s(case, "cipher")
        );
        assert_eq!(
            ecb::decrypt(s(case, "cipher"), &key).unwrap(),
            s(case, "plain").as_bytes()
        );
    }
    let v = &VECTORS["req_info_key"];
    let apiv2 = ApiV2Key::new(s(v, "apiv2_key")).unwrap();
    assert_eq!(&ecb::req_info_key(&apiv2), s(v, "expected").as_bytes());
}

#[test]
fn ack_vector() {
    assert_eq!(ack(), s(&VECTORS["ack"], "expected"));
    assert_eq!(ACK, ack());
}

/// Partner mode without a `sub_mch_id` gives exactly what merchant mode gives.
fn merchant_mode_is_partner_mode<T: PartialEq + std::fmt::Debug>(
    sub: Option<&str>,
    partner: &T,
    merchant: impl FnOnce() -> T,
) {
    if sub.is_none() {
        assert_eq!(
            &merchant(),
            partner,
            "merchant mode is partner mode without sub_mch_id"
        );
    }
}

#[test]
fn payscore_vectors() {
    for case in list("payscore") {
        let key = key(case);
        let f = &case["fields"];
        let ts: i64 = s(f, "timestamp").parse().unwrap();
        let (business_type, sign, query, map) = match s(case, "kind") {
            kind @ ("use" | "use_partner") => {
                let sub = (kind == "use_partner").then(|| s(f, "sub_mch_id"));
                let p = ScoreUse::partner(
                    s(f, "mch_id"),
                    sub,
                    s(f, "package"),
                    ts,
                    s(f, "nonce_str"),
                    &key,
                )
                .unwrap();
                merchant_mode_is_partner_mode(sub, &p, || {
                    ScoreUse::new(s(f, "mch_id"), s(f, "package"), ts, s(f, "nonce_str"), &key)
                        .unwrap()
                });
                let b = p.business_type();
                (b, p.sign().to_owned(), p.query_string(), p.to_map())
            }
            kind @ ("detail" | "detail_partner") => {
                let sub = (kind == "detail_partner").then(|| s(f, "sub_mch_id"));
                let p = ScoreDetail::partner(
                    s(f, "mch_id"),
                    sub,
                    s(f, "service_id"),
                    s(f, "out_order_no"),
                    ts,
                    s(f, "nonce_str"),
                    &key,
                )
                .unwrap();
                merchant_mode_is_partner_mode(sub, &p, || {
                    ScoreDetail::new(
                        s(f, "mch_id"),
                        s(f, "service_id"),
                        s(f, "out_order_no"),
                        ts,
                        s(f, "nonce_str"),
                        &key,
                    )
                    .unwrap()
                });
                let b = p.business_type();
                (b, p.sign().to_owned(), p.query_string(), p.to_map())
            }
            other => panic!("{other}"),
        };
        let expected_type = if s(case, "kind").starts_with("use") {
            "wxpayScoreUse"
        } else {
            "wxpayScoreDetail"
        };
        assert_eq!(business_type, expected_type, "{}", case["kind"]);
        assert_eq!(sign, s(case, "sign"), "{}", case["kind"]);
        assert_eq!(query, s(case, "query_string"), "{}", case["kind"]);
        // extraData: exactly the documented fields, in order, plus the sign.
        let mut expected = obj(f).clone();
        expected.insert("sign".into(), sign.into());
        assert_eq!(map, expected);
        assert_eq!(
            map.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
    }
}

#[test]
fn jsapi_v2_vectors() {
    for case in list("jsapi_v2") {
        let key = key(case);
        let f = &case["fields"];
        let sign_type: SignType = s(f, "signType").parse().unwrap();
        let ts: i64 = s(f, "timeStamp").parse().unwrap();
        let p = V2JsapiPaySign::new(
            s(f, "appId"),
            s(f, "package"),
            sign_type,
            ts,
            s(f, "nonceStr"),
            &key,
        )
        .unwrap();
        assert_eq!(p.pay_sign(), s(case, "paySign"));
        let mut expected = obj(f).clone();
        expected.insert("paySign".into(), s(case, "paySign").into());
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            Value::Object(expected.clone())
        );
        // The free function, and a bare prepay id getting its `prepay_id=` prefix.
        let bare = s(f, "package").strip_prefix("prepay_id=").unwrap();
        let map =
            jsapi_pay_sign(s(f, "appId"), bare, sign_type, &key, ts, s(f, "nonceStr")).unwrap();
        assert_eq!(map, expected);
    }
}

#[test]
fn busifavor_vectors() {
    let mini = &VECTORS["busifavor_miniprogram"];
    let got = busifavor_miniprogram_sign(obj(&mini["data"]), &key(mini)).unwrap();
    assert_eq!(got, s(mini, "sign"));
    // Same as signing the flattened map directly.
    assert_eq!(
        sign(SignType::HmacSha256, obj(&mini["flattened"]), &key(mini)).unwrap(),
        got
    );
    let h5 = &VECTORS["busifavor_h5"];
    assert_eq!(
        busifavor_h5_sign(obj(&h5["params"]), &key(h5)).unwrap(),
        s(h5, "sign")
    );
    // A malformed send_coupon_params is refused, not signed as something else.
    let bad = serde_json::json!({"send_coupon_merchant": "1", "send_coupon_params": {"a": "b"}});
    assert!(busifavor_miniprogram_sign(obj(&bad), &key(mini)).is_err());
}

fn signed_body(fields: &Map<String, Value>, signature: &str) -> String {
    let mut body = fields.clone();
    body.insert("sign".into(), signature.into());
    to_xml(&body)
}

#[test]
fn payment_notification_round_trip() {
    let n = &VECTORS["notifications"];
    let key = ApiV2Key::new(s(n, "key")).unwrap();
    for name in ["payment_md5", "payment_hmac"] {
        let case = &n[name];
        let fields = obj(&case["fields"]);
        let sign_type = match fields.get("sign_type") {
            Some(t) => t.as_str().unwrap().parse().unwrap(),
            None => SignType::Md5,
        };
        // Our sign equals Python's.
        assert_eq!(
            sign(sign_type, fields, &key).unwrap(),
            s(case, "sign"),
            "{name}"
        );
        let body = signed_body(fields, s(case, "sign"));
        let opened = open(body.as_bytes(), &key).unwrap();
        assert!(!opened.is_refund());
        assert_eq!(
            opened.get("transaction_id"),
            fields["transaction_id"].as_str()
        );
        let V2Notification::Payment(map) = opened else {
            panic!("not a payment")
        };
        assert_eq!(
            map.get("sign").and_then(Value::as_str),
            Some(s(case, "sign"))
        );

        // Tampered: another amount under the same sign.
        let mut tampered = fields.clone();
        tampered.insert("total_fee".into(), "100".into());
        let e = open(signed_body(&tampered, s(case, "sign")).as_bytes(), &key).unwrap_err();
        assert_eq!(e.verify(), Some(&VerifyError::BadSignature), "{name}");
        // Another key.
        let other = ApiV2Key::new("AnotherTestKey0123456789abcdefgh").unwrap();
        assert!(open(body.as_bytes(), &other).is_err());
        // The sign removed: fails closed.
        let e = open(to_xml(fields).as_bytes(), &key).unwrap_err();
        assert_eq!(e.verify(), Some(&VerifyError::MissingSign));
    }
}

#[test]
fn refund_notification_decrypts_req_info() {
    let n = &VECTORS["notifications"];
    let key = ApiV2Key::new(s(n, "key")).unwrap();
    let case = &n["refund"];
    let aes_key = ecb::req_info_key(&key);
    assert_eq!(&aes_key, s(case, "req_info_key").as_bytes());
    // Python's ciphertext, both directions.
    assert_eq!(
        ecb::encrypt(s(case, "info_xml").as_bytes(), &aes_key),
        s(case, "req_info")
    );

    let mut outer = Map::new();
    for (k, v) in [
        ("return_code", "SUCCESS"),
        ("appid", "wx2421b1c4370ec43b"),
        ("mch_id", "10000100"),
        ("nonce_str", "TeqClE3i0mvn3DrK"),
        ("req_info", s(case, "req_info")),
    ] {
        outer.insert(k.into(), v.into());
    }
    let opened = open(to_xml(&outer).as_bytes(), &key).unwrap();
    assert!(opened.is_refund());
    assert_eq!(opened.outer(), &outer);
    let expected = from_xml(s(case, "info_xml").as_bytes()).unwrap();
    assert_eq!(opened.fields(), &expected);
    assert_eq!(opened.get("refund_status"), Some("SUCCESS"));
    assert_eq!(opened.get("settlement_refund_fee"), Some("3960"));

    // Under another APIv2 key the req_info does not open.
    let other = ApiV2Key::new("AnotherTestKey0123456789abcdefgh").unwrap();
    assert!(open(to_xml(&outer).as_bytes(), &other).is_err());
    // An altered req_info (first block changed) does not open either.
    let mut altered = outer.clone();
    let cipher = s(case, "req_info");
    let flipped = if cipher.starts_with('A') { "B" } else { "A" };
    altered.insert(
        "req_info".into(),
        format!("{flipped}{}", &cipher[1..]).into(),
    );
    assert!(open(to_xml(&altered).as_bytes(), &key).is_err());
    // A sign on the envelope must verify when present.
    let mut signed = outer.clone();
    signed.insert("sign".into(), "00000000000000000000000000000000".into());
    let e = open(to_xml(&signed).as_bytes(), &key).unwrap_err();
    assert_eq!(e.verify(), Some(&VerifyError::BadSignature));
}

/// Valid XML 1.0 characters, with the markup characters and `]]>` made likely.
fn xml_text() -> impl Strategy<Value = String> {
    let valid = any::<char>().prop_filter(
        "XML 1.0 character",
        |&c| matches!(c, '\t' | '\n' | '\r' | ' '..='\u{fffd}' | '\u{10000}'..),
    );
    let piece = prop_oneof![
        valid.prop_map(String::from),
        Just("]]>".to_owned()),
        Just("<".to_owned()),
        Just("&amp;".to_owned()),
        Just(" ".to_owned()),
        Just("中文".to_owned()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn xml_round_trips_flat_string_maps(
        entries in prop::collection::vec(("[A-Za-z_][A-Za-z0-9_.-]{0,8}", xml_text()), 0..8)
    ) {
        let map: Map<String, Value> =
            entries.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let xml = to_xml(&map);
        prop_assert_eq!(from_xml(xml.as_bytes()).unwrap(), map);
    }

    #[test]
    fn from_xml_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = from_xml(&bytes);
    }

    #[test]
    fn from_xml_never_panics_on_xmlish_text(
        text in "(<[a-z!?/]{0,3}[a-z]{0,3}( [a-z]=\"[a-z&;]{0,3}\")?/?>|&[a-z#0-9]{0,4};?|<!\\[CDATA\\[|\\]\\]>|[a-z ]){0,40}"
    ) {
        let _ = from_xml(text.as_bytes());
    }
}
