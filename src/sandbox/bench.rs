//! Bench mode ([`super::SandboxBuilder::bench_mode`]): a sandbox cheap enough not to be the
//! bottleneck of a load benchmark. Requests are still checked (headers, catalog, the RSA
//! signature), but every accepted one gets the same small JSON body, whose signature is made
//! once per second and per signing key and then reused; nothing is recorded, no fault
//! applies and no nonce is remembered, so memory does not grow with the number of requests.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use http::StatusCode;

use super::lock;
use super::reply::ReplyBody;
use crate::keys::PrivateKey;
use crate::signer::{canonical_response, nonce, sign_base64, SCHEME};

/// The body of every accepted bench-mode request.
pub(crate) const BODY: &[u8] = br#"{"sandbox":"bench"}"#;

/// The signed headers of [`BODY`] for one second and one signing key.
#[derive(Debug)]
struct Signed {
    second: i64,
    key_id: String,
    headers: HeaderMap,
}

/// The signatures of the current second (one per signing key: certificate or public key).
#[derive(Debug, Default)]
pub(crate) struct Cache {
    current: std::sync::Mutex<Vec<Signed>>,
}

impl Cache {
    /// The `200` answer with [`BODY`], signed by `key` at `now` (the signature made at most
    /// once per second and key). `None` if signing failed.
    pub(crate) fn answer(
        &self,
        (key_id, key): (&str, &PrivateKey),
        now: i64,
    ) -> Option<http::Response<ReplyBody>> {
        let mut current = lock(&self.current);
        current.retain(|s| s.second == now);
        let headers = match current.iter().find(|s| s.key_id == key_id) {
            Some(signed) => signed.headers.clone(),
            None => {
                let headers = sign(key_id, key, now)?;
                current.push(Signed {
                    second: now,
                    key_id: key_id.to_string(),
                    headers: headers.clone(),
                });
                headers
            }
        };
        drop(current);
        let mut response = http::Response::new(ReplyBody::full(Bytes::from_static(BODY)));
        *response.status_mut() = StatusCode::OK;
        *response.headers_mut() = headers;
        Some(response)
    }
}

/// The headers of [`BODY`] signed at `now`.
fn sign(key_id: &str, key: &PrivateKey, now: i64) -> Option<HeaderMap> {
    let timestamp = now.to_string();
    let nonce = nonce().ok()?;
    let signature = sign_base64(key, &canonical_response(&timestamp, &nonce, BODY)).ok()?;
    let mut headers = HeaderMap::with_capacity(6);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in [
        ("wechatpay-timestamp", timestamp.as_str()),
        ("wechatpay-nonce", nonce.as_str()),
        ("wechatpay-signature", signature.as_str()),
        ("wechatpay-serial", key_id),
        ("wechatpay-signature-type", SCHEME),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).ok()?,
        );
    }
    Some(headers)
}
