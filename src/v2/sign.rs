//! APIv2 signs: MD5 or HMAC-SHA256 over the sorted `key=value` string, keyed by the APIv2 key.
//!
//! The string signed is [`string_to_sign`]: the map's entries sorted by key **byte-wise**
//! (capitals before lower case, `_` before `m`), joined as `k=v` with `&`, no URL encoding,
//! skipping the key `sign`, `null` values and empty strings. Then `&key=` and the APIv2 key are
//! appended and the result hashed ([`hash_sign`]): MD5, or HMAC-SHA256 keyed with the APIv2 key
//! (the key is both the HMAC key and part of the message: the v2 rule). The sign is the
//! upper-case hex digest.
//!
//! ```
//! use wechatpay_chain::v2::sign::{sign, verify, ApiV2Key, SignType};
//! use wechatpay_chain::json;
//!
//! let key = ApiV2Key::new("192006250b4c09247ec02edce69f6a2d")?;
//! let mut data = json!({
//!     "appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
//!     "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA",
//! });
//! let data = data.as_object_mut().unwrap();
//! let signed = sign(SignType::Md5, data, &key)?;
//! assert_eq!(signed, "9A0A8659F005D6984697E2CA0A9CF3B7");
//! data.insert("sign".into(), signed.into());
//! verify(data, &key, None)?; // MD5, from the sign's length
//! # Ok::<(), wechatpay_chain::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use md5::{Digest, Md5};
use ring::hmac;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::error::{ChainError, ConfigError, Error, Result, VerifyError};

/// The APIv2 sign algorithms. Names are case-sensitive, as WeChat Pay and PHP match them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignType {
    /// `MD5`: the default when a request or notification names none.
    #[default]
    Md5,
    /// `HMAC-SHA256`.
    HmacSha256,
}

impl SignType {
    /// The wire name: `MD5` or `HMAC-SHA256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// The type a sign of this length was made with, when nothing names it: 64 hex digits →
    /// HMAC-SHA256, anything else MD5 (wechatpay-php's rule for responses).
    pub fn of_sign(sign: &str) -> Self {
        if sign.len() == 64 {
            Self::HmacSha256
        } else {
            Self::Md5
        }
    }
}

impl FromStr for SignType {
    type Err = Error;

    /// `MD5` or `HMAC-SHA256` exactly; anything else is [`ChainError::UnknownSignType`].
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "MD5" => Ok(Self::Md5),
            "HMAC-SHA256" => Ok(Self::HmacSha256),
            other => Err(ChainError::UnknownSignType(other.to_owned()).into()),
        }
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The APIv2 key (API密钥): 32 bytes, set on the merchant platform. `Debug` never shows it.
#[derive(Clone)]
pub struct ApiV2Key([u8; 32]);

impl ApiV2Key {
    /// Checks the length: the APIv2 key is exactly 32 bytes
    /// ([`ConfigError::ApiV2KeyLength`] otherwise).
    pub fn new(key: impl AsRef<[u8]>) -> Result<Self> {
        let bytes: [u8; 32] = key
            .as_ref()
            .try_into()
            .map_err(|_| ConfigError::ApiV2KeyLength(key.as_ref().len()))?;
        Ok(Self(bytes))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ApiV2Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV2Key(..)")
    }
}

/// The string an APIv2 sign covers (PHP's `queryStringLike(ksort($data))`): entries sorted
/// by key byte-wise, `k=v` joined with `&`, no URL encoding. Skipped: the key `sign`, `null`
/// and `""`. Rendered: strings as they are, numbers as their JSON text, `true` as `1`,
/// `false` as nothing (kept as `k=`, as PHP does). An array or object value is an error
/// ([`ChainError::InvalidOptions`] naming the key): APIv2 signs flat maps, and such a value
/// has no defined text.
pub fn string_to_sign(data: &Map<String, Value>) -> Result<String> {
    let mut entries: Vec<(&String, &Value)> = data.iter().collect();
    // `str` ordering is byte-wise (UTF-8 preserves code point order), like PHP's SORT_STRING.
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::with_capacity(data.len() * 24);
    for (key, value) in entries {
        let text = match value {
            _ if key == "sign" => continue,
            Value::Null => continue,
            Value::String(s) if s.is_empty() => continue,
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(true) => "1".to_owned(),
            Value::Bool(false) => String::new(),
            Value::Array(_) | Value::Object(_) => {
                return Err(ChainError::InvalidOptions(format!(
                    "the APIv2 field `{key}` is an array or object; APIv2 signs flat maps of strings, numbers and bools (serialize it to a JSON string first if the API takes one)"
                ))
                .into())
            }
        };
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(&text);
    }
    Ok(out)
}

/// The APIv2 sign of `data`: [`hash_sign`] of [`string_to_sign`] with `key`.
pub fn sign(sign_type: SignType, data: &Map<String, Value>, key: &ApiV2Key) -> Result<String> {
    Ok(hash_sign(sign_type, &string_to_sign(data)?, key.as_bytes()))
}

/// Checks the `sign` of an APIv2 answer or notification, in constant time.
///
/// `sign_type` is the type the request named; `None` takes it from the sign's length
/// ([`SignType::of_sign`]). A missing `sign` is [`VerifyError::MissingSign`]; a wrong one (or
/// one that is not a string) [`VerifyError::BadSignature`]. Fields that cannot be signed
/// (arrays, objects) fail the same way: fail closed.
pub fn verify(
    data: &Map<String, Value>,
    key: &ApiV2Key,
    sign_type: Option<SignType>,
) -> Result<()> {
    let given = match data.get("sign") {
        None | Some(Value::Null) => return Err(VerifyError::MissingSign.into()),
        Some(Value::String(s)) if s.is_empty() => return Err(VerifyError::MissingSign.into()),
        Some(Value::String(s)) => s,
        Some(_) => return Err(VerifyError::BadSignature.into()),
    };
    let sign_type = sign_type.unwrap_or_else(|| SignType::of_sign(given));
    let message = string_to_sign(data).map_err(|_| Error::from(VerifyError::BadSignature))?;
    let expected = hash_sign(sign_type, &message, key.as_bytes());
    if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature.into())
    }
}

/// The upper-case hex sign of the string `thing` with `key` (PHP's `Hash::sign`): MD5 of
/// `thing&key=KEY`, or HMAC-SHA256 keyed by `key` over `thing&key=KEY`.
pub fn hash_sign(sign_type: SignType, thing: &str, key: &[u8]) -> String {
    let digest = match sign_type {
        SignType::Md5 => md5_bytes(thing, b"&key=", key),
        SignType::HmacSha256 => hmac_bytes(thing, key),
    };
    hex(&digest, true)
}

/// Lower-case hex MD5 (PHP's `Hash::md5`): of `thing` alone when `key` is empty, else of
/// `thing&key=KEY`, or `thing&secret=KEY` when `agency` (WeCom's rule).
pub fn md5_hex(thing: &str, key: &str, agency: bool) -> String {
    let digest = if key.is_empty() {
        Md5::digest(thing.as_bytes()).to_vec()
    } else {
        let glue: &[u8] = if agency { b"&secret=" } else { b"&key=" };
        md5_bytes(thing, glue, key.as_bytes())
    };
    hex(&digest, false)
}

/// Lower-case hex HMAC-SHA256 keyed by `key` over `thing&key=KEY` (PHP's `Hash::hmac`).
pub fn hmac_sha256_hex(thing: &str, key: &str) -> String {
    hex(&hmac_bytes(thing, key.as_bytes()), false)
}

/// Lower-case hex MD5 of raw bytes (the `req_info` key is derived from the key bytes).
pub(crate) fn md5_hex_of_bytes(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes), false)
}

fn md5_bytes(thing: &str, glue: &[u8], key: &[u8]) -> Vec<u8> {
    let mut md5 = Md5::new();
    md5.update(thing.as_bytes());
    md5.update(glue);
    md5.update(key);
    md5.finalize().to_vec()
}

fn hmac_bytes(thing: &str, key: &[u8]) -> Vec<u8> {
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&hmac_key);
    ctx.update(thing.as_bytes());
    ctx.update(b"&key=");
    ctx.update(key);
    ctx.sign().as_ref().to_vec()
}

fn hex(bytes: &[u8], upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_sign_types_are_refused_case_sensitively() {
        for bad in ["md5", "SHA256", "HMAC-SHA1", ""] {
            let e = bad.parse::<SignType>().unwrap_err();
            assert_eq!(
                e.chain(),
                Some(&ChainError::UnknownSignType(bad.to_owned()))
            );
            assert!(e.to_string().contains("HMAC-SHA256"));
        }
        assert_eq!(
            "HMAC-SHA256".parse::<SignType>().unwrap(),
            SignType::HmacSha256
        );
    }

    #[test]
    fn nested_values_name_the_key() {
        let data = json!({"a": "1", "detail": {"x": 1}});
        let e = string_to_sign(data.as_object().unwrap()).unwrap_err();
        assert!(e.to_string().contains("`detail`"), "{e}");
    }

    #[test]
    fn key_length_and_debug() {
        let e = ApiV2Key::new("short").unwrap_err();
        assert_eq!(
            e.kind(),
            &crate::ErrorKind::Config(ConfigError::ApiV2KeyLength(5))
        );
        let key = ApiV2Key::new([b'k'; 32]).unwrap();
        assert_eq!(format!("{key:?}"), "ApiV2Key(..)");
    }

    #[test]
    fn verify_fails_closed() {
        let key = ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").unwrap();
        let mut data = json!({"a": "1"}).as_object().unwrap().clone();
        assert_eq!(
            verify(&data, &key, None).unwrap_err().verify(),
            Some(&VerifyError::MissingSign)
        );
        let s = sign(SignType::HmacSha256, &data, &key).unwrap();
        data.insert("sign".into(), s.clone().into());
        verify(&data, &key, None).unwrap();
        verify(&data, &key, Some(SignType::HmacSha256)).unwrap();
        assert!(verify(&data, &key, Some(SignType::Md5)).is_err());
        data.insert("sign".into(), s.to_lowercase().into());
        assert_eq!(
            verify(&data, &key, None).unwrap_err().verify(),
            Some(&VerifyError::BadSignature)
        );
        data.insert("sign".into(), json!(1));
        assert_eq!(
            verify(&data, &key, None).unwrap_err().verify(),
            Some(&VerifyError::BadSignature)
        );
    }
}
