//! axum 0.8 integration: [`VerifiedNotification`], an extractor that reads the raw body (at
//! most [`BODY_LIMIT`] bytes), verifies and decrypts it with the [`Wechatpay`] in the router's
//! state, and otherwise rejects the request with the failure [`Reply`]; and `IntoResponse` for
//! [`Reply`].
//!
//! ```no_run
//! use axum::{routing::post, Router};
//! use wechatpay_chain::notification::axum::VerifiedNotification;
//! use wechatpay_chain::notification::Reply;
//! use wechatpay_chain::Wechatpay;
//!
//! // PHP: $inBody = file_get_contents('php://input'); Rsa::verify(…); AesGcm::decrypt(…);
//! // JS (Koa): Rsa.verify(Formatter.joinedByLineFeed(ts, nonce, ctx.request.rawBody), …);
//! async fn notify(VerifiedNotification(event): VerifiedNotification) -> Reply {
//!     // event.event_type() == "TRANSACTION.SUCCESS"; event.resource()["out_trade_no"]; …
//!     let _ = event.resource();
//!     Reply::success()
//! }
//!
//! fn router(wxpay: Wechatpay) -> Router {
//!     Router::new().route("/notify", post(notify)).with_state(wxpay)
//! }
//! ```
//!
//! A router whose state is a struct gets the client through `FromRef` (for example
//! `#[derive(Clone, FromRef)]` with the `macros` feature of axum). To see why a notification
//! was refused, extract `Result<VerifiedNotification, Reply>`; the refusal is also logged at
//! `WARN` (target `wechatpay_chain::notification`) without secrets.

use std::ops::Deref;

use ::axum::body::Body;
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::response::{IntoResponse, Response};
use http::header::CONTENT_LENGTH;
use http::StatusCode;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::{Notification, Reply};
use crate::client::Wechatpay;

/// The largest notification body the extractor reads (1 MiB; real ones are a few KiB).
/// Larger bodies are refused with `413`.
pub const BODY_LIMIT: usize = 1 << 20;

/// A notification that verified and decrypted with the client of the router's state.
#[derive(Debug, Clone)]
pub struct VerifiedNotification(pub Notification);

impl Deref for VerifiedNotification {
    type Target = Notification;

    fn deref(&self) -> &Notification {
        &self.0
    }
}

fn too_large() -> Reply {
    Reply::failure_with_status(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the notification body exceeds {BODY_LIMIT} bytes"),
    )
}

impl<S> FromRequest<S> for VerifiedNotification
where
    Wechatpay: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Reply;

    async fn from_request(request: Request, state: &S) -> Result<Self, Reply> {
        let wxpay = Wechatpay::from_ref(state);
        let (parts, body) = request.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
            tracing::warn!(target: "wechatpay_chain::notification", "notification refused: body larger than {BODY_LIMIT} bytes");
            return Err(too_large());
        }
        let body = match Limited::new(body, BODY_LIMIT).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                tracing::warn!(target: "wechatpay_chain::notification", "notification refused: body larger than {BODY_LIMIT} bytes");
                return Err(too_large());
            }
            Err(e) => {
                tracing::warn!(target: "wechatpay_chain::notification", "notification body unreadable: {e}");
                return Err(Reply::failure_with_status(
                    StatusCode::BAD_REQUEST,
                    "the notification body could not be read",
                ));
            }
        };
        match wxpay.notification(&parts.headers, &body).await {
            Ok(notification) => Ok(Self(notification)),
            Err(error) => {
                tracing::warn!(target: "wechatpay_chain::notification", "notification refused: {error}");
                Err(Reply::for_error(&error))
            }
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.into_http().map(Body::from)
    }
}
