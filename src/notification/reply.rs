//! The answer a notification listener sends back: success is `204 No Content`
//! (WeChat Pay accepts 200 or 204 with no body); failure is a 4xx/5xx with
//! `{"code":"FAIL","message":…}`, after which WeChat Pay delivers the notification again.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};

use crate::error::{Error, ErrorKind, VerifyError};

/// The `Content-Type` of a failure reply.
const JSON: &str = "application/json";

/// The reply to a notification: status, content type and body.
///
/// ```
/// use wechatpay_chain::notification::Reply;
///
/// // PHP: http_response_code(500); echo json_encode(['code' => 'FAIL', 'message' => '失败']);
/// // JS:  ctx.status = 500; ctx.body = {code: 'FAIL', message: '失败'};
/// let reply = Reply::failure("失败");
/// assert_eq!(reply.status(), 500);
/// assert_eq!(reply.body().as_ref(), r#"{"code":"FAIL","message":"失败"}"#.as_bytes());
/// assert_eq!(Reply::success().status(), 204);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    status: StatusCode,
    body: Bytes,
}

impl Reply {
    /// Received and handled: `204 No Content`, no body.
    pub fn success() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: Bytes::new(),
        }
    }

    /// Not handled: `500` with `{"code":"FAIL","message":message}` (JSON-escaped); WeChat Pay
    /// retries later.
    pub fn failure(message: impl AsRef<str>) -> Self {
        Self::failure_with_status(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Not handled, with a 4xx or 5xx `status` of your choice (a status below 400 would read
    /// as success, so it is replaced by 500).
    pub fn failure_with_status(status: StatusCode, message: impl AsRef<str>) -> Self {
        let status = if status.as_u16() >= 400 {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        let body = serde_json::json!({"code": "FAIL", "message": message.as_ref()});
        Self {
            status,
            body: Bytes::from(body.to_string()),
        }
    }

    /// The failure reply for an error of [`Wechatpay::notification`](crate::Wechatpay::notification)
    /// or [`open`](super::open): `401` for a notification that does not verify, `400` for one
    /// that is malformed or does not decrypt, `500` otherwise (such as a missing APIv3 key,
    /// whose details stay out of the reply). The message is the error's one-line text, which
    /// never holds a key, a signature or decrypted data.
    pub fn for_error(error: &Error) -> Self {
        match error.kind() {
            // The sender is not authenticated yet: do not list the keys this server trusts.
            ErrorKind::Verify(VerifyError::UnknownSerial { .. }) => Self::failure_with_status(
                StatusCode::UNAUTHORIZED,
                "notification verification failed: no valid key for its Wechatpay-Serial",
            ),
            ErrorKind::Verify(e) => Self::failure_with_status(
                StatusCode::UNAUTHORIZED,
                format!("notification verification failed: {e}"),
            ),
            ErrorKind::Decode(_) | ErrorKind::Crypto(_) | ErrorKind::Unsupported(_) => {
                Self::failure_with_status(StatusCode::BAD_REQUEST, error.to_string())
            }
            _ => Self::failure("the notification could not be processed"),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// True for the success reply (a status below 400).
    pub fn is_success(&self) -> bool {
        self.status.as_u16() < 400
    }

    /// The `Content-Type`: `application/json` for a failure, none for success (no body).
    pub fn content_type(&self) -> Option<&'static str> {
        (!self.body.is_empty()).then_some(JSON)
    }

    /// The body bytes (empty for success).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The reply as an `http::Response`, for hyper or any framework built on `http`.
    pub fn into_http(self) -> http::Response<Bytes> {
        let content_type = self.content_type();
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        if let Some(value) = content_type {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(value));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::VerifyError;

    #[test]
    fn replies() {
        let ok = Reply::success().into_http();
        assert_eq!(ok.status(), 204);
        assert!(ok.body().is_empty() && ok.headers().get(CONTENT_TYPE).is_none());

        let quoted = Reply::failure_with_status(StatusCode::OK, "a \"b\"\n\\");
        assert_eq!(quoted.status(), 500);
        let body: serde_json::Value = serde_json::from_slice(quoted.body()).unwrap();
        assert_eq!(body["message"], "a \"b\"\n\\");
        assert_eq!(quoted.into_http().headers()[CONTENT_TYPE], JSON);

        let e = Error::from(VerifyError::BadSignature);
        assert_eq!(Reply::for_error(&e).status(), 401);
        let e = Error::from(VerifyError::UnknownSerial {
            serial: "X".into(),
            known: vec!["PUB_KEY_ID_0114232134912410000000000000".into()],
        });
        let reply = Reply::for_error(&e);
        assert_eq!(reply.status(), 401);
        let text = String::from_utf8_lossy(reply.body());
        assert!(
            text.contains("Wechatpay-Serial") && !text.contains("PUB_KEY_ID"),
            "{text}"
        );
        let e = Error::from(crate::error::ConfigError::MissingApiV3Key(
            "open notifications",
        ));
        let reply = Reply::for_error(&e);
        assert_eq!(reply.status(), 500);
        assert!(!String::from_utf8_lossy(reply.body()).contains("apiv3"));
    }
}
