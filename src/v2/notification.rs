//! APIv2 notifications (callbacks): payment results signed with the APIv2 key, and refund
//! results whose `req_info` is encrypted under it.
//!
//! [`open`] parses the XML body, requires `return_code` `SUCCESS`, then:
//!
//! - a refund notification (it carries `req_info`): decrypts `req_info` with AES-256-ECB under
//!   [`ecb::req_info_key`](super::ecb::req_info_key) and parses that XML; a `sign` on the envelope,
//!   if WeChat Pay sends one, must verify too. The decryption is what authenticates it: only a
//!   holder of the APIv2 key can produce a `req_info` that decrypts and parses;
//! - otherwise (payment and the other signed notifications): the `sign` must verify with the
//!   type named by `sign_type` (default `MD5`), in constant time.
//!
//! Everything else fails closed: no `sign` and no `req_info` is [`VerifyError::MissingSign`].
//! A verified payment notification can still report a failed payment (`result_code` `FAIL`):
//! that is the caller's to read. Answer WeChat Pay with [`ack`] (or [`fail`]).
//!
//! ```
//! use wechatpay_chain::v2::notification::{ack, open, V2Notification};
//! use wechatpay_chain::v2::{sign, xml, ApiV2Key, SignType};
//! use wechatpay_chain::json;
//!
//! let key = ApiV2Key::new("TestOnlyApiV2Key0123456789abcdef")?;
//! // What WeChat Pay would post (here signed with the test key).
//! let mut body = json!({"return_code": "SUCCESS", "result_code": "SUCCESS",
//!                       "out_trade_no": "1217752501201407033233368018", "total_fee": "1"});
//! let body = body.as_object_mut().unwrap();
//! let signature = sign::sign(SignType::Md5, body, &key)?;
//! body.insert("sign".into(), signature.into());
//!
//! let notification = open(xml::to_xml(body).as_bytes(), &key)?;
//! assert!(matches!(notification, V2Notification::Payment(_)));
//! assert_eq!(notification.get("total_fee"), Some("1"));
//! assert_eq!(ack(), "<xml><return_code>SUCCESS</return_code><return_msg>OK</return_msg></xml>");
//! # Ok::<(), wechatpay_chain::Error>(())
//! ```

use serde_json::{Map, Value};

use super::ecb::{decrypt, req_info_key};
use super::sign::{verify, ApiV2Key, SignType};
use super::xml::{from_xml, to_xml};
use crate::error::{Error, Result, VerifyError};

/// The reply that tells WeChat Pay a v2 notification was handled.
pub const ACK: &str = "<xml><return_code>SUCCESS</return_code><return_msg>OK</return_msg></xml>";

/// A verified APIv2 notification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum V2Notification {
    /// A signed notification (payment results and the like): all its fields, `sign` included.
    Payment(Map<String, Value>),
    /// A refund notification.
    Refund {
        /// The envelope: `return_code`, `appid`, `mch_id`, `nonce_str`, `req_info` (still
        /// encrypted).
        outer: Map<String, Value>,
        /// The decrypted `req_info`: `out_refund_no`, `refund_status`, `settlement_refund_fee`…
        info: Map<String, Value>,
    },
}

impl V2Notification {
    /// True for a refund notification.
    pub fn is_refund(&self) -> bool {
        matches!(self, Self::Refund { .. })
    }

    /// The business fields: the payment notification's map, or the refund's decrypted
    /// `req_info`.
    pub fn fields(&self) -> &Map<String, Value> {
        match self {
            Self::Payment(map) => map,
            Self::Refund { info, .. } => info,
        }
    }

    /// The fields as posted: the payment notification's map, or the refund's envelope.
    pub fn outer(&self) -> &Map<String, Value> {
        match self {
            Self::Payment(map) => map,
            Self::Refund { outer, .. } => outer,
        }
    }

    /// A business field as text (see [`fields`](Self::fields)), if present and a string.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields().get(name).and_then(Value::as_str)
    }

    /// The business fields, owned.
    pub fn into_fields(self) -> Map<String, Value> {
        match self {
            Self::Payment(map) => map,
            Self::Refund { info, .. } => info,
        }
    }
}

/// Verifies (and for refunds decrypts) an APIv2 notification body with the APIv2 key; see
/// the [module docs](self).
///
/// Errors: [`DecodeError::Xml`](crate::DecodeError::Xml) for a body (or `req_info`) that is
/// not XML; [`VerifyError::ReturnCode`] when `return_code` is not `SUCCESS`;
/// [`VerifyError::MissingSign`] / [`VerifyError::BadSignature`] for a missing or wrong sign
/// (an unknown `sign_type` is a bad signature); [`CryptoError::AesEcb`](crate::CryptoError::AesEcb)
/// for a `req_info` that does not decrypt.
pub fn open(body: &[u8], key: &ApiV2Key) -> Result<V2Notification> {
    opened(body, key).map_err(Error::for_notification)
}

fn opened(body: &[u8], key: &ApiV2Key) -> Result<V2Notification> {
    let outer = from_xml(body)?;
    let return_code = outer
        .get("return_code")
        .and_then(Value::as_str)
        .unwrap_or("");
    if return_code != "SUCCESS" {
        return Err(VerifyError::ReturnCode {
            return_code: return_code.to_owned(),
            return_msg: outer
                .get("return_msg")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
        .into());
    }
    let signed = outer.get("sign").is_some_and(|s| !s.is_null());
    match outer.get("req_info") {
        Some(Value::String(req_info)) => {
            if signed {
                verify(&outer, key, Some(sign_type(&outer)?))?;
            }
            let plain = decrypt(req_info, &req_info_key(key))?;
            let info = from_xml(&plain)?;
            Ok(V2Notification::Refund { outer, info })
        }
        Some(_) => Err(VerifyError::BadSignature.into()),
        None => {
            verify(&outer, key, Some(sign_type(&outer)?))?;
            Ok(V2Notification::Payment(outer))
        }
    }
}

/// The notification's `sign_type` (default MD5); an unknown one cannot verify.
fn sign_type(map: &Map<String, Value>) -> Result<SignType> {
    match map.get("sign_type") {
        None | Some(Value::Null) => Ok(SignType::Md5),
        Some(Value::String(s)) if s.is_empty() => Ok(SignType::Md5),
        Some(Value::String(s)) => s.parse().map_err(|_| VerifyError::BadSignature.into()),
        Some(_) => Err(VerifyError::BadSignature.into()),
    }
}

/// The reply to a handled v2 notification: [`ACK`].
pub fn ack() -> &'static str {
    ACK
}

/// A `FAIL` reply carrying `message` (WeChat Pay retries the notification later). The message
/// is written safely whatever it holds (a CDATA section when it has markup characters).
pub fn fail(message: &str) -> String {
    let mut map = Map::new();
    map.insert("return_code".into(), "FAIL".into());
    map.insert("return_msg".into(), message.into());
    to_xml(&map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_is_markup_safe() {
        assert_eq!(
            fail("bad </return_msg>]]>"),
            "<xml><return_code>FAIL</return_code><return_msg><![CDATA[bad </return_msg>]]]]><![CDATA[>]]></return_msg></xml>"
        );
        let back = from_xml(fail("a]]>b<c").as_bytes()).unwrap();
        assert_eq!(
            back.get("return_msg").and_then(Value::as_str),
            Some("a]]>b<c")
        );
    }

    #[test]
    fn failures_are_typed_and_name_the_notification() {
        let key = ApiV2Key::new("TestOnlyApiV2Key0123456789abcdef").unwrap();
        let e = open(
            b"<xml><return_code>FAIL</return_code><return_msg>x</return_msg></xml>",
            &key,
        )
        .unwrap_err();
        assert!(
            matches!(e.verify(), Some(VerifyError::ReturnCode { return_code, .. }) if return_code == "FAIL")
        );
        assert!(e.to_string().contains("notification"), "{e}");
        let e = open(b"<xml><return_code>SUCCESS</return_code></xml>", &key).unwrap_err();
        assert_eq!(e.verify(), Some(&VerifyError::MissingSign));
        let e = open(
            b"<xml><return_code>SUCCESS</return_code><sign_type>SHA1</sign_type><sign>00</sign></xml>",
            &key,
        )
        .unwrap_err();
        assert_eq!(e.verify(), Some(&VerifyError::BadSignature));
    }
}
