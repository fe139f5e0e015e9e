//! Notifications (callbacks): the platform's JSON body with an AES-GCM encrypted resource, signed
//! like a response, POSTed to a `notify_url` on loopback only.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::Uri;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use super::keys::SandboxKeys;
use super::rfc3339_cst;
use crate::crypto::aes_gcm_encrypt;
use crate::error::{ChainError, Error, ErrorKind, Result, TransportKind};
use crate::keys::PrivateKey;
use crate::request::is_loopback;
use crate::signer::{canonical_response, nonce, sign_base64, SCHEME};

/// How long a delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The hyper client notifications go out with (plain http to loopback).
pub(crate) type Notifier = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

pub(crate) fn notifier() -> Notifier {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new())
}

/// Parses `notify_url` and refuses anything but `http://` to a loopback host.
pub(crate) fn loopback_uri(notify_url: &str) -> Result<Uri> {
    let uri: Uri = notify_url
        .parse()
        .map_err(|e| Error::from(ChainError::InvalidUri(format!("{notify_url}: {e}"))))?;
    let host = uri.host().unwrap_or_default();
    if !is_loopback(host) {
        return Err(ChainError::HostNotAllowed(format!(
            "{host} (the sandbox delivers notifications to loopback hosts only)"
        ))
        .into());
    }
    if uri.scheme_str() != Some("http") {
        return Err(Error::new(ErrorKind::Unsupported(format!(
            "{notify_url}: the sandbox delivers notifications over plain http:// to loopback only"
        ))));
    }
    Ok(uri)
}

/// The `associated_data` / `original_type` for an event type (`TRANSACTION.SUCCESS` →
/// `transaction`, `PAYSCORE.USER_PAID` → `payscore`, …).
fn original_type(event_type: &str) -> String {
    match event_type.split('.').next().unwrap_or_default() {
        "" => "notification".into(),
        prefix => prefix.to_ascii_lowercase(),
    }
}

fn summary(event_type: &str) -> &'static str {
    match event_type {
        "TRANSACTION.SUCCESS" => "支付成功",
        "REFUND.SUCCESS" => "退款成功",
        "PAYSCORE.USER_PAID" => "用户支付成功",
        "PAYSCORE.USER_CONFIRM" => "用户确认成功",
        _ => "sandbox notification",
    }
}

/// The notification body with `resource` encrypted under the APIv3 key.
fn body(
    keys: &SandboxKeys,
    event_type: &str,
    resource: &Value,
    now: i64,
    id: u64,
) -> Result<Vec<u8>> {
    let nonce: String = nonce()?.chars().take(12).collect();
    let kind = original_type(event_type);
    let plain = serde_json::to_vec(resource).map_err(|e| {
        Error::sandbox("the notification resource cannot be serialized").with_source(e)
    })?;
    let ciphertext = aes_gcm_encrypt(&keys.apiv3_key, nonce.as_bytes(), kind.as_bytes(), &plain)?;
    let body = json!({
        "id": format!("EV-{now}{id:010}"),
        "create_time": rfc3339_cst(now),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary(event_type),
        "resource": {
            "original_type": kind,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": kind,
            "nonce": nonce,
        },
    });
    Ok(body.to_string().into_bytes())
}

/// Builds, signs with `signer` (key id, private key) and POSTs a notification of `event`
/// (event type, resource); returns the status the listener answered.
pub(crate) async fn deliver(
    keys: &SandboxKeys,
    signer: (&str, &PrivateKey),
    client: &Notifier,
    (now, id): (i64, u64),
    notify_url: &str,
    event: (&str, &Value),
) -> Result<u16> {
    let (event_type, resource) = event;
    let uri = loopback_uri(notify_url)?;
    let body = body(keys, event_type, resource, now, id)?;
    let (key_id, key) = signer;
    let timestamp = now.to_string();
    let nonce = nonce()?;
    let signature = sign_base64(key, &canonical_response(&timestamp, &nonce, &body))?;
    let request = http::Request::post(uri)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(ACCEPT, HeaderValue::from_static("*/*"))
        .header(
            USER_AGENT,
            concat!("wechatpay-chain-sandbox/", env!("CARGO_PKG_VERSION")),
        )
        .header("Wechatpay-Timestamp", &timestamp)
        .header("Wechatpay-Nonce", &nonce)
        .header("Wechatpay-Signature", &signature)
        .header("Wechatpay-Serial", key_id)
        .header("Wechatpay-Signature-Type", SCHEME)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| {
            Error::transport(
                TransportKind::Io,
                format!("cannot build the notification: {e}"),
            )
        })?;
    post(client, request, notify_url).await
}

/// POSTs a built notification to `notify_url` within [`DELIVERY_TIMEOUT`] (the APIv3 and the
/// APIv2 notifications alike); returns the status the listener answered.
pub(crate) async fn post(
    client: &Notifier,
    request: http::Request<Full<Bytes>>,
    notify_url: &str,
) -> Result<u16> {
    let exchange = async {
        let response = client.request(request).await.map_err(|e| {
            let kind = if e.is_connect() {
                TransportKind::Connect
            } else {
                TransportKind::Io
            };
            Error::transport(kind, format!("notification to {notify_url}: {e}"))
        })?;
        let status = response.status().as_u16();
        // Drain (and bound) the listener's answer so the connection can be reused.
        let _ = http_body_util::Limited::new(response.into_body(), 64 * 1024)
            .collect()
            .await;
        Ok(status)
    };
    tokio::time::timeout(DELIVERY_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(Error::transport(
                TransportKind::Timeout,
                format!("notification to {notify_url}: no answer within {DELIVERY_TIMEOUT:?}"),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_is_allowed() {
        assert!(loopback_uri("http://127.0.0.1:8080/notify").is_ok());
        assert!(loopback_uri("http://localhost/notify").is_ok());
        assert!(loopback_uri("http://[::1]:9/n").is_ok());
        let e = loopback_uri("http://example.com/notify").unwrap_err();
        assert!(
            matches!(e.chain(), Some(ChainError::HostNotAllowed(_))),
            "{e}"
        );
        assert!(loopback_uri("https://127.0.0.1/notify").is_err());
        assert!(loopback_uri("not a url").is_err());
    }

    #[test]
    fn event_types_name_the_resource() {
        assert_eq!(original_type("PAYSCORE.USER_PAID"), "payscore");
        assert_eq!(original_type("TRANSACTION.SUCCESS"), "transaction");
        assert_eq!(original_type(""), "notification");
    }
}
