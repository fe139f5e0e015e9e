//! Notifications (callbacks): verify the `Wechatpay-*` headers over the raw body
//! bytes exactly like a response (clock within 300 s, probe signatures refused, known serial,
//! no duplicated header, RSA signature), then AES-256-GCM decrypt `resource` with the APIv3 key
//! into a typed [`Notification`]; and the [`Reply`] to send back.
//!
//! Framework-agnostic: give it the request's [`HeaderMap`] and body bytes, as received (the
//! signature covers the bytes, not a re-encoded JSON). With the client, call
//! [`Wechatpay::notification`](crate::Wechatpay::notification); without one (tests, a worker
//! that holds only keys), call [`open`]. The `axum` feature adds an extractor
//! ([`axum::VerifiedNotification`](crate::notification::axum)).
//!
//! ```
//! # async fn demo(wxpay: wechatpay_chain::Wechatpay, headers: http::HeaderMap, body: bytes::Bytes)
//! # -> http::Response<bytes::Bytes> {
//! use wechatpay_chain::notification::Reply;
//!
//! // PHP: Rsa::verify(Formatter::joinedByLineFeed($ts, $nonce, $body), $signature, $platformKey)
//! //      && abs(time() - $ts) <= 300;
//! //      $resource = json_decode(AesGcm::decrypt($ciphertext, $apiv3Key, $nonce, $aad), true);
//! // JS:  Rsa.verify(Formatter.joinedByLineFeed(ts, nonce, rawBody), signature, certs[serial]);
//! //      JSON.parse(AesGcm.decrypt(ciphertext, apiv3Key, nonce, associated_data));
//! match wxpay.notification(&headers, &body).await {
//!     Ok(event) => {
//!         // event.event_type() == "TRANSACTION.SUCCESS", event.resource()["out_trade_no"], …
//!         let _ = (event.id(), event.event_type(), event.resource());
//!         Reply::success().into_http()
//!     }
//!     // 401 for a notification that does not verify, 400 for a malformed one.
//!     Err(error) => Reply::for_error(&error).into_http(),
//! }
//! # }
//! ```

use std::fmt;

use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::client::ApiV3Key;
use crate::crypto::aes_gcm_decrypt;
use crate::error::{DecodeError, Error, ErrorKind, Result};
use crate::keys::KeyStore;
use crate::verifier::verify_signed;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod reply;

pub use reply::Reply;

/// The only `resource.algorithm` WeChat Pay uses for APIv3 notifications.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

/// A verified, decrypted notification.
///
/// Its `Debug` shows the envelope and the size of the decrypted resource, not the resource.
#[derive(Clone, PartialEq)]
pub struct Notification {
    id: String,
    create_time: String,
    event_type: String,
    resource_type: String,
    summary: String,
    original_type: String,
    resource: Value,
    plaintext: Vec<u8>,
}

impl Notification {
    /// The notification id (`id`), unique per notification: deduplicate redeliveries with it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `create_time`, RFC 3339 as sent (e.g. `2025-11-22T10:00:00+08:00`).
    pub fn create_time(&self) -> &str {
        &self.create_time
    }

    /// `event_type`, e.g. `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// `resource_type`, `encrypt-resource` for encrypted resources.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// `summary` (e.g. `支付成功`); empty if absent.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// `resource.original_type`, e.g. `transaction`; empty if absent.
    pub fn original_type(&self) -> &str {
        &self.original_type
    }

    /// The decrypted resource as JSON.
    pub fn resource(&self) -> &Value {
        &self.resource
    }

    /// The decrypted resource deserialized into `T`; [`DecodeError::Json`] (with the
    /// `serde_json::Error` as source) if it has another shape.
    pub fn resource_as<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.plaintext)
            .map_err(|e| Error::from(DecodeError::Json).with_source(e))
    }

    /// The decrypted resource, byte for byte.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// The decrypted resource as JSON, by value.
    pub fn into_resource(self) -> Value {
        self.resource
    }
}

impl fmt::Debug for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notification")
            .field("id", &self.id)
            .field("create_time", &self.create_time)
            .field("event_type", &self.event_type)
            .field("resource_type", &self.resource_type)
            .field("summary", &self.summary)
            .field("original_type", &self.original_type)
            .field(
                "resource",
                &format_args!("<{} bytes decrypted>", self.plaintext.len()),
            )
            .finish()
    }
}

/// Verifies and decrypts a notification: the pure function behind
/// [`Wechatpay::notification`](crate::Wechatpay::notification).
///
/// `headers` and `body` are the request as received; `keys` the platform keys; `now` the
/// local clock in Unix seconds. Fails closed, verification first:
///
/// - [`ErrorKind::Verify`]: the headers or signature do not verify, exactly as for a response
///   (see [`verify_signed`]); the body is not even parsed.
/// - [`ErrorKind::Decode`] with [`DecodeError::Field`] naming the field (`id`,
///   `resource.ciphertext`, …) when the signed body is not a notification, or the decrypted
///   resource is not JSON.
/// - [`ErrorKind::Unsupported`] for a `resource.algorithm` other than [`ALGORITHM`].
/// - [`ErrorKind::Crypto`] when the resource does not decrypt (wrong APIv3 key, altered
///   ciphertext, nonce or associated data).
pub fn open(
    headers: &HeaderMap,
    body: &[u8],
    keys: &KeyStore,
    apiv3_key: &ApiV3Key,
    now: i64,
) -> Result<Notification> {
    verify_signed(headers, body, now, keys).map_err(|e| Error::from(e).for_notification())?;
    decrypt(body, apiv3_key)
}

/// Parses a verified body and decrypts its resource.
fn decrypt(body: &[u8], apiv3_key: &ApiV3Key) -> Result<Notification> {
    let envelope: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| Error::from(DecodeError::Field("notification body")).with_source(e))?;
    let resource = match envelope.get("resource") {
        Some(Value::Object(resource)) => resource,
        _ => return Err(DecodeError::Field("resource").into()),
    };
    let id = required(&envelope, "id", "id")?;
    let create_time = required(&envelope, "create_time", "create_time")?;
    let event_type = required(&envelope, "event_type", "event_type")?;
    let resource_type = required(&envelope, "resource_type", "resource_type")?;
    let summary = optional(&envelope, "summary", "summary")?;
    let original_type = optional(resource, "original_type", "resource.original_type")?;
    let algorithm = required(resource, "algorithm", "resource.algorithm")?;
    if algorithm != ALGORITHM {
        let shown: String = algorithm.chars().take(64).collect();
        return Err(Error::new(ErrorKind::Unsupported(format!(
            "notification resource.algorithm {shown:?}: only {ALGORITHM} is supported"
        ))));
    }
    let ciphertext = required(resource, "ciphertext", "resource.ciphertext")?;
    let nonce = required(resource, "nonce", "resource.nonce")?;
    let associated_data = optional(resource, "associated_data", "resource.associated_data")?;
    let plaintext = aes_gcm_decrypt(
        apiv3_key.as_bytes(),
        nonce.as_bytes(),
        associated_data.as_bytes(),
        ciphertext,
    )?;
    let decoded = serde_json::from_slice(&plaintext).map_err(|e| {
        Error::from(DecodeError::Field("resource.ciphertext (decrypted)")).with_source(e)
    })?;
    Ok(Notification {
        id: id.to_string(),
        create_time: create_time.to_string(),
        event_type: event_type.to_string(),
        resource_type: resource_type.to_string(),
        summary: summary.to_string(),
        original_type: original_type.to_string(),
        resource: decoded,
        plaintext,
    })
}

/// A string field that must be present.
fn required<'a>(object: &'a Map<String, Value>, name: &str, path: &'static str) -> Result<&'a str> {
    match object.get(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(DecodeError::Field(path).into()),
    }
}

/// A string field that may be absent or null (then empty), but not of another type.
fn optional<'a>(object: &'a Map<String, Value>, name: &str, path: &'static str) -> Result<&'a str> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(DecodeError::Field(path).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes_gcm_encrypt;

    const KEY: &[u8; 32] = b"TestOnlyApiV3Key0123456789abcdef";

    fn body(resource: Value) -> Vec<u8> {
        serde_json::json!({
            "id": "EV-1", "create_time": "2025-11-22T10:00:00+08:00",
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
            "resource": resource,
        })
        .to_string()
        .into_bytes()
    }

    fn field(e: &Error) -> Option<&'static str> {
        match e.kind() {
            ErrorKind::Decode(DecodeError::Field(name)) => Some(name),
            _ => None,
        }
    }

    #[test]
    fn a_notification_that_does_not_verify_is_called_a_notification() {
        let key = ApiV3Key::new(KEY).unwrap();
        let e = open(&HeaderMap::new(), b"{}", &KeyStore::new(), &key, 0).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Verify(_)), "{e}");
        let text = e.to_string();
        assert!(
            text.starts_with("notification verification failed: ")
                && text.ends_with("; do not trust this notification")
                && !text.contains("response"),
            "{text}"
        );
        // A response's failure keeps its own wording.
        let response = Error::from(crate::error::VerifyError::BadSignature).to_string();
        assert!(
            response.starts_with("response verification failed"),
            "{response}"
        );
    }

    #[test]
    fn decrypts_and_names_missing_fields() {
        let key = ApiV3Key::new(KEY).unwrap();
        let cipher = aes_gcm_encrypt(KEY, b"0123456789ab", b"", b"{\"a\":1}").unwrap();
        let ok = body(serde_json::json!({
            "algorithm": ALGORITHM, "ciphertext": cipher, "nonce": "0123456789ab",
        }));
        let n = decrypt(&ok, &key).unwrap();
        assert_eq!(n.resource()["a"], 1);
        assert_eq!((n.summary(), n.original_type()), ("", ""));
        assert!(!format!("{n:?}").contains("\"a\""), "{n:?}");

        let e = decrypt(b"[]", &key).unwrap_err();
        assert_eq!(field(&e), Some("notification body"), "{e}");
        let e = decrypt(&body(Value::Null), &key).unwrap_err();
        assert_eq!(field(&e), Some("resource"), "{e}");
        let e = decrypt(
            &body(serde_json::json!({"algorithm": ALGORITHM, "nonce": "0123456789ab"})),
            &key,
        )
        .unwrap_err();
        assert_eq!(field(&e), Some("resource.ciphertext"), "{e}");
        let e = decrypt(
            &body(serde_json::json!({"algorithm": "AES", "ciphertext": cipher, "nonce": "x"})),
            &key,
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Unsupported(_)), "{e}");
        let not_json = aes_gcm_encrypt(KEY, b"0123456789ab", b"", b"plain").unwrap();
        let e = decrypt(
            &body(serde_json::json!({
                "algorithm": ALGORITHM, "ciphertext": not_json, "nonce": "0123456789ab",
            })),
            &key,
        )
        .unwrap_err();
        assert_eq!(field(&e), Some("resource.ciphertext (decrypted)"), "{e}");
    }
}
