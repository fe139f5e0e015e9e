//! Client-side pay signs: the parameter sets a front end passes to WeChat to pay a
//! prepaid order — JSAPI / mini-program (`wx.requestPayment`, `WeixinJSBridge`) and APP
//! (OpenSDK `PayReq`) — signed RSASSA-PKCS1-v1_5 SHA-256 with the merchant key.
//!
//! Each set serializes with exactly the JSON names the front end expects (`appId`,
//! `timeStamp`, … for JSAPI; `appid`, `partnerid`, … for APP), so a handler can return it as
//! is. Build them from the client ([`Wechatpay::jsapi_pay_sign`], [`Wechatpay::app_pay_sign`]:
//! its signer, clock and nonce source) or, for fixed vectors, with the pure constructors
//! ([`JsapiPaySign::new`], [`AppPaySign::new`]).
//!
//! `timeStamp` / `timestamp` is a JSON **string** (the front end rejects a number), `signType`
//! is `RSA`, and `package` is `prepay_id=…` for JSAPI but `Sign=WXPay` for APP, whose
//! `prepayid` is the bare id (either form may be passed in; the right one is signed).
//!
//! ```
//! # fn main() -> wechatpay_chain::Result<()> {
//! use wechatpay_chain::pay_sign::{AppPaySign, JsapiPaySign};
//! # let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apiclient_key.pem")).unwrap();
//! # let merchant_key = wechatpay_chain::PrivateKey::from_pem(pem)?;
//! let (app_id, prepay_id) = ("wxd678efh567hg6787", "wx201410272009395522657a690389285100");
//!
//! // PHP: $params = ['appId' => $appId, 'timeStamp' => (string)Formatter::timestamp(),
//! //          'nonceStr' => Formatter::nonce(), 'package' => 'prepay_id=' . $prepayId];
//! //      $params += ['paySign' => Rsa::sign(Formatter::joinedByLineFeed(...array_values($params)),
//! //          $merchantPrivateKeyInstance), 'signType' => 'RSA'];
//! // JS:  const paySign = Rsa.sign(Formatter.joinedByLineFeed(appId, timeStamp, nonceStr,
//! //          `prepay_id=${prepayId}`), merchantPrivateKey);
//! // With a client: wxpay.jsapi_pay_sign(app_id, prepay_id)? (its clock and a fresh nonce).
//! let jsapi = JsapiPaySign::new(app_id, prepay_id, 1763780300, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", &merchant_key)?;
//! let json = serde_json::to_value(&jsapi).expect("strings serialize");
//! assert_eq!(json["timeStamp"], "1763780300");
//! assert_eq!(json["package"], "prepay_id=wx201410272009395522657a690389285100");
//! assert!(json["paySign"].is_string() && json["signType"] == "RSA");
//!
//! // PHP: Rsa::sign(Formatter::joinedByLineFeed($appId, $timestamp, $nonce, $prepayId), $key)
//! //      for the APP's PayReq (partnerid = mchid, package = 'Sign=WXPay').
//! // With a client: wxpay.app_pay_sign(app_id, prepay_id)?
//! let app = AppPaySign::new(app_id, "1900000109", prepay_id, 1763780300, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", &merchant_key)?;
//! assert_eq!(app.message(), format!("{app_id}\n1763780300\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n{prepay_id}\n"));
//! assert!(app.verify(&merchant_key.public_key()));
//! # Ok(()) }
//! ```

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Serialize;

use crate::error::{CryptoError, Result};
use crate::keys::PublicKey;
use crate::signer::Sign;
use crate::Wechatpay;

/// Each field must be 1 to `max` printable ASCII characters without spaces (every id and
/// nonce WeChat Pay issues is): the signed message is the fields joined by `\n`, so a line
/// feed inside one would sign a different set of fields, and a stray space or a value pasted
/// with its quotes signs something the platform never issued. The length limits are the
/// platform's (`appId` 32, `nonceStr` 32, `prepay_id` 64), which also catch an app id and a
/// prepay id passed in each other's place.
pub(crate) fn field<'a>(name: &'static str, value: &'a str, max: usize) -> Result<&'a str> {
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CryptoError::PaySignField(name).into());
    }
    Ok(value)
}

/// Unix **seconds** as the decimal string the front end takes: a value in milliseconds (13
/// digits, e.g. from JavaScript's `Date.now()`) or a negative one is refused by name.
pub(crate) fn seconds(name: &'static str, timestamp: i64) -> Result<String> {
    if !(0..10_000_000_000).contains(&timestamp) {
        return Err(CryptoError::PaySignField(name).into());
    }
    Ok(timestamp.to_string())
}

/// A prepay id, bare or in its JSAPI `package` form (`prepay_id=…`): the bare id.
fn bare_prepay_id(prepay_id: &str) -> &str {
    prepay_id.strip_prefix("prepay_id=").unwrap_or(prepay_id)
}

/// The longest app id, merchant id and nonce the platform issues or takes.
const MAX_ID_LEN: usize = 32;
/// The longest prepay id.
const MAX_PREPAY_ID_LEN: usize = 64;

/// `a\nb\nc\nd\n`: every piece followed by a line feed, the last one too.
fn joined_by_line_feed(pieces: &[&str]) -> String {
    pieces.iter().fold(String::new(), |mut out, piece| {
        out.push_str(piece);
        out.push('\n');
        out
    })
}

fn sign_base64(signer: &dyn Sign, message: &str) -> Result<String> {
    Ok(BASE64.encode(signer.sign(message.as_bytes())?))
}

fn verify_base64(key: &PublicKey, message: &str, signature: &str) -> bool {
    BASE64
        .decode(signature)
        .is_ok_and(|sig| key.verify_sha256(message.as_bytes(), &sig))
}

/// The JSAPI / mini-program parameter set for `wx.requestPayment` or
/// `WeixinJSBridge.invoke('getBrandWCPayRequest', …)`. Read-only once signed (a changed
/// field would no longer match `paySign`); serialize it for the front end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsapiPaySign {
    /// The app id the order was placed with (official account or mini-program).
    #[serde(rename = "appId")]
    app_id: String,
    /// Unix seconds, as a string.
    #[serde(rename = "timeStamp")]
    time_stamp: String,
    /// A random string.
    #[serde(rename = "nonceStr")]
    nonce_str: String,
    /// `prepay_id=…`.
    package: String,
    /// Always `RSA`.
    #[serde(rename = "signType")]
    sign_type: String,
    /// Base64 RSA SHA-256 signature of [`JsapiPaySign::message`].
    #[serde(rename = "paySign")]
    pay_sign: String,
}

impl JsapiPaySign {
    /// The app id the order was placed with (official account or mini-program).
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// Unix seconds, as a string.
    pub fn time_stamp(&self) -> &str {
        &self.time_stamp
    }

    /// A random string.
    pub fn nonce_str(&self) -> &str {
        &self.nonce_str
    }

    /// `prepay_id=…`.
    pub fn package(&self) -> &str {
        &self.package
    }

    /// Always `RSA`.
    pub fn sign_type(&self) -> &str {
        &self.sign_type
    }

    /// Base64 RSA SHA-256 signature of [`JsapiPaySign::message`].
    pub fn pay_sign(&self) -> &str {
        &self.pay_sign
    }

    /// Signs the set for `app_id` and `prepay_id` (bare, or already as `prepay_id=…`) at
    /// `timestamp` (Unix seconds) with `nonce`. Fails with [`CryptoError::PaySignField`] on a
    /// field that is empty, longer than the platform takes, or not printable ASCII without
    /// spaces, or on a timestamp that is not seconds (negative, or milliseconds), or with the
    /// signer's error.
    pub fn new(
        app_id: &str,
        prepay_id: &str,
        timestamp: i64,
        nonce: &str,
        signer: &dyn Sign,
    ) -> Result<Self> {
        let mut set = Self {
            app_id: field("appId", app_id, MAX_ID_LEN)?.to_string(),
            time_stamp: seconds("timeStamp", timestamp)?,
            nonce_str: field("nonceStr", nonce, MAX_ID_LEN)?.to_string(),
            package: format!(
                "prepay_id={}",
                field("package", bare_prepay_id(prepay_id), MAX_PREPAY_ID_LEN)?
            ),
            sign_type: "RSA".to_string(),
            pay_sign: String::new(),
        };
        set.pay_sign = sign_base64(signer, &set.message())?;
        Ok(set)
    }

    /// The signed message: `appId\ntimeStamp\nnonceStr\npackage\n`.
    pub fn message(&self) -> String {
        joined_by_line_feed(&[
            &self.app_id,
            &self.time_stamp,
            &self.nonce_str,
            &self.package,
        ])
    }

    /// True if `paySign` is the merchant key's signature of this set (e.g. in tests).
    pub fn verify(&self, merchant_public_key: &PublicKey) -> bool {
        verify_base64(merchant_public_key, &self.message(), &self.pay_sign)
    }
}

/// The APP parameter set for the OpenSDK's `PayReq`. Read-only once signed; serialize it
/// for the front end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppPaySign {
    /// The mobile app's app id.
    appid: String,
    /// The merchant id (`mchid`).
    partnerid: String,
    /// The prepay id.
    prepayid: String,
    /// Always `Sign=WXPay`.
    package: String,
    /// A random string.
    noncestr: String,
    /// Unix seconds, as a string.
    timestamp: String,
    /// Base64 RSA SHA-256 signature of [`AppPaySign::message`].
    sign: String,
}

impl AppPaySign {
    /// The mobile app's app id.
    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// The merchant id (`mchid`).
    pub fn partnerid(&self) -> &str {
        &self.partnerid
    }

    /// The prepay id.
    pub fn prepayid(&self) -> &str {
        &self.prepayid
    }

    /// Always `Sign=WXPay`.
    pub fn package(&self) -> &str {
        &self.package
    }

    /// A random string.
    pub fn noncestr(&self) -> &str {
        &self.noncestr
    }

    /// Unix seconds, as a string.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// Base64 RSA SHA-256 signature of [`AppPaySign::message`].
    pub fn sign(&self) -> &str {
        &self.sign
    }

    /// Signs the set for `app_id`, merchant `partner_id` and `prepay_id` (bare, or as
    /// `prepay_id=…`: the bare id is signed and sent) at `timestamp` with `nonce`. Fails like
    /// [`JsapiPaySign::new`].
    pub fn new(
        app_id: &str,
        partner_id: &str,
        prepay_id: &str,
        timestamp: i64,
        nonce: &str,
        signer: &dyn Sign,
    ) -> Result<Self> {
        let mut set = Self {
            appid: field("appid", app_id, MAX_ID_LEN)?.to_string(),
            partnerid: field("partnerid", partner_id, MAX_ID_LEN)?.to_string(),
            // The APP SDK takes the bare id: a JSAPI-style `prepay_id=…` would sign a value the
            // platform never issued and the app's payment would fail.
            prepayid: field("prepayid", bare_prepay_id(prepay_id), MAX_PREPAY_ID_LEN)?.to_string(),
            package: "Sign=WXPay".to_string(),
            noncestr: field("noncestr", nonce, MAX_ID_LEN)?.to_string(),
            timestamp: seconds("timestamp", timestamp)?,
            sign: String::new(),
        };
        set.sign = sign_base64(signer, &set.message())?;
        Ok(set)
    }

    /// The signed message: `appid\ntimestamp\nnoncestr\nprepayid\n`.
    pub fn message(&self) -> String {
        joined_by_line_feed(&[&self.appid, &self.timestamp, &self.noncestr, &self.prepayid])
    }

    /// True if `sign` is the merchant key's signature of this set (e.g. in tests).
    pub fn verify(&self, merchant_public_key: &PublicKey) -> bool {
        verify_base64(merchant_public_key, &self.message(), &self.sign)
    }
}

impl Wechatpay {
    /// The JSAPI / mini-program pay sign for `prepay_id` (from a JSAPI order), signed with the
    /// client's signer at the client's time with a fresh nonce. Serialize it as the front
    /// end's parameters.
    ///
    /// ```no_run
    /// # async fn demo(wxpay: wechatpay_chain::Wechatpay, prepay_id: &str) -> wechatpay_chain::Result<()> {
    /// // PHP: $params = ['appId' => $appId, 'timeStamp' => (string)Formatter::timestamp(),
    /// //          'nonceStr' => Formatter::nonce(), 'package' => 'prepay_id=' . $prepayId];
    /// //      $params += ['paySign' => Rsa::sign(Formatter::joinedByLineFeed(...array_values($params)),
    /// //          $merchantPrivateKeyInstance), 'signType' => 'RSA'];
    /// // JS:  paySign = Rsa.sign(Formatter.joinedByLineFeed(appId, timeStamp, nonceStr, `prepay_id=${id}`), key);
    /// let params = wxpay.jsapi_pay_sign("wxd678efh567hg6787", prepay_id)?;
    /// let for_front_end = serde_json::to_string(&params).expect("strings serialize");
    /// # Ok(()) }
    /// ```
    pub fn jsapi_pay_sign(&self, app_id: &str, prepay_id: &str) -> Result<JsapiPaySign> {
        let inner = self.inner();
        let nonce = inner.nonce.nonce()?;
        JsapiPaySign::new(app_id, prepay_id, self.now(), &nonce, &*inner.signer)
    }

    /// The APP pay sign for `prepay_id` (from an APP order), with this client's `mchid` as
    /// `partnerid`, signed like [`Wechatpay::jsapi_pay_sign`].
    pub fn app_pay_sign(&self, app_id: &str, prepay_id: &str) -> Result<AppPaySign> {
        let inner = self.inner();
        let nonce = inner.nonce.nonce()?;
        AppPaySign::new(
            app_id,
            &inner.mchid,
            prepay_id,
            self.now(),
            &nonce,
            &*inner.signer,
        )
    }
}
