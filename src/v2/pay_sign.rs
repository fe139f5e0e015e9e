//! Signs made with the APIv2 key for front ends: the v2 JSAPI `paySign`, the busifavor
//! (商家券) coupon-sending signs, and the WeChat Pay Score (支付分) invocation parameters.
//!
//! All are APIv2 signs ([`sign`]) of a flat map; timestamps and nonces are parameters
//! (pass [`Wechatpay::now`](crate::Wechatpay::now) and a fresh 32-character nonce), so results
//! are deterministic. Every field is checked like the v3 pay signs
//! ([`CryptoError::PaySignField`] naming it): 1 to 32 printable ASCII characters without
//! spaces (128 for a `package`), and no `&`, which would change the set of signed fields.
//!
//! **Pay Score** (支付分) invocation parameters, `wxpayScoreUse` and `wxpayScoreDetail`:
//! [`ScoreUse`] and [`ScoreDetail`] (merchant and partner modes; details on those types).
//!
//! ```
//! use wechatpay_chain::v2::pay_sign::{ScoreDetail, V2JsapiPaySign};
//! use wechatpay_chain::v2::{ApiV2Key, SignType};
//!
//! let key = ApiV2Key::new("TestOnlyApiV2Key0123456789abcdef")?;
//! let detail = ScoreDetail::new("1230000109", "88888888000011", "1234323JKHDFE1243252",
//!                               1530097563, "zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2", &key)?;
//! assert_eq!(detail.business_type(), "wxpayScoreDetail");
//! assert!(detail.query_string().ends_with(&format!("&sign_type=HMAC-SHA256&sign={}", detail.sign())));
//!
//! let jsapi = V2JsapiPaySign::new("wxd930ea5d5a258f4f", "prepay_id=wx2017033010242291fcfe0db70013231072",
//!                                 SignType::HmacSha256, 1490840662, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", &key)?;
//! assert_eq!(serde_json::to_value(&jsapi).unwrap()["timeStamp"], "1490840662");
//! # Ok::<(), wechatpay_chain::Error>(())
//! ```

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use serde_json::{Map, Value};

use super::sign::{sign, ApiV2Key, SignType};
use crate::error::{ChainError, CryptoError, Result};
use crate::pay_sign::seconds;

mod payscore;

pub use payscore::{ScoreDetail, ScoreUse};

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A front-end field as the v3 pay signs check it ([`crate::pay_sign`]: present, printable
/// ASCII, within `max`), and without `&`, which would split the query-string form.
fn field(name: &'static str, value: &str, max: usize) -> Result<String> {
    let value = crate::pay_sign::field(name, value, max)?;
    if value.contains('&') {
        return Err(CryptoError::PaySignField(name).into());
    }
    Ok(value.to_owned())
}

fn to_map<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        // Only structs of strings are passed here: they always serialize to an object.
        _ => Map::new(),
    }
}

fn query_string(map: &Map<String, Value>) -> String {
    let mut out = String::new();
    for (k, v) in map {
        if let Some(v) = v.as_str() {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(k);
            out.push('=');
            out.extend(utf8_percent_encode(v, QUERY_VALUE));
        }
    }
    out
}

/// The v2 JSAPI / mini-program pay parameters (`wx.requestPayment`, `WeixinJSBridge`) for an
/// order placed with APIv2 `pay/unifiedorder`, signed with the APIv2 key over `appId`,
/// `timeStamp`, `nonceStr`, `package` and `signType`. Serializes with exactly those names
/// plus `paySign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct V2JsapiPaySign {
    app_id: String,
    time_stamp: String,
    nonce_str: String,
    package: String,
    sign_type: &'static str,
    pay_sign: String,
}

impl V2JsapiPaySign {
    /// Signs the parameters; `package` is `prepay_id=…` (a bare prepay id gets the prefix).
    pub fn new(
        app_id: &str,
        package: &str,
        sign_type: SignType,
        timestamp: i64,
        nonce: &str,
        key: &ApiV2Key,
    ) -> Result<Self> {
        let package = if package.starts_with("prepay_id=") {
            package.to_owned()
        } else {
            format!("prepay_id={package}")
        };
        let mut out = Self {
            app_id: field("appId", app_id, 32)?,
            time_stamp: seconds("timeStamp", timestamp)?,
            nonce_str: field("nonceStr", nonce, 32)?,
            package: field("package", &package, 128)?,
            sign_type: sign_type.as_str(),
            pay_sign: String::new(),
        };
        out.pay_sign = sign(sign_type, &to_map(&out), key)?;
        Ok(out)
    }

    /// `paySign`.
    pub fn pay_sign(&self) -> &str {
        &self.pay_sign
    }

    /// The fields as a JSON map, in the order the front end documents.
    pub fn to_map(&self) -> Map<String, Value> {
        to_map(self)
    }
}

/// The v2 JSAPI pay parameters: [`V2JsapiPaySign::new`] as a map (`appId`, `timeStamp`,
/// `nonceStr`, `package`, `signType`, `paySign`).
pub fn jsapi_pay_sign(
    app_id: &str,
    package: &str,
    sign_type: SignType,
    key: &ApiV2Key,
    timestamp: i64,
    nonce: &str,
) -> Result<Map<String, Value>> {
    Ok(V2JsapiPaySign::new(app_id, package, sign_type, timestamp, nonce, key)?.to_map())
}

/// The busifavor mini-program coupon-sending sign (`sign` of the `send-coupon` plugin):
/// `data` holds `send_coupon_merchant` and `send_coupon_params`, an array of objects
/// (`out_request_no`, `stock_id`, …); entry `i`'s field `k` is signed as `{k}{i}` beside the
/// other top-level fields, with HMAC-SHA256.
pub fn busifavor_miniprogram_sign(data: &Map<String, Value>, key: &ApiV2Key) -> Result<String> {
    let mut flat = Map::new();
    for (k, v) in data {
        if k != "send_coupon_params" {
            flat.insert(k.clone(), v.clone());
            continue;
        }
        let Value::Array(entries) = v else {
            return Err(not_a_list());
        };
        for (i, entry) in entries.iter().enumerate() {
            let Value::Object(entry) = entry else {
                return Err(not_a_list());
            };
            for (field, value) in entry {
                flat.insert(format!("{field}{i}"), value.clone());
            }
        }
    }
    sign(SignType::HmacSha256, &flat, key)
}

fn not_a_list() -> crate::Error {
    ChainError::InvalidOptions(
        "`send_coupon_params` must be an array of objects (one per coupon to send)".into(),
    )
    .into()
}

/// The busifavor H5 coupon-sending sign: HMAC-SHA256 over the page's parameters
/// (`stock_id`, `out_request_no`, `send_coupon_merchant`, `open_id`, …).
pub fn busifavor_h5_sign(params: &Map<String, Value>, key: &ApiV2Key) -> Result<String> {
    sign(SignType::HmacSha256, params, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked_by_name() {
        let key = ApiV2Key::new("TestOnlyApiV2Key0123456789abcdef").unwrap();
        let cases = [
            (ScoreUse::new("", "p", 1, "n", &key).unwrap_err(), "mch_id"),
            (
                ScoreUse::new("1", "a&b", 1, "n", &key).unwrap_err(),
                "package",
            ),
            (
                ScoreUse::new("1", "p", 1_700_000_000_000, "n", &key).unwrap_err(),
                "timestamp",
            ),
            (
                ScoreUse::new("1", "p", 1, "has space", &key).unwrap_err(),
                "nonce_str",
            ),
        ];
        for (e, name) in cases {
            assert_eq!(
                e.kind(),
                &crate::ErrorKind::Crypto(CryptoError::PaySignField(name))
            );
        }
    }
}
