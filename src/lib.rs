//! # wechatpay-chain
//!
//! A WeChat Pay APIv3 client with the chainable API of `wechatpay-php` and
//! `wechatpay-axios-plugin`: name any endpoint as a chain of segments, fill its URI template
//! from one parameter map, and send untyped JSON through one signer that verifies every
//! response.
//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> wechatpay_chain::Result<()> {
//! # let sandbox = wechatpay_chain::sandbox::Sandbox::builder().start().await?;
//! # let wxpay = sandbox.client()?; // the embedded simulator (feature `sandbox`)
//! use serde_json::json;
//!
//! # wxpay.v3().payscore().partner().servicepayondeliveryorder().post(json!({"json": {
//! #     "out_order_no": "1234323JKHDFE1243252", "appid": "wxd678efh567hg6787", "sub_mchid": "1900000109",
//! #     "service_id": "2002000000000558128851361561536", "service_introduction": "meal",
//! #     "post_payments": [{"name": "meal", "amount": 40000, "count": 4}],
//! #     "time_range": {"start_time": "OnAccept"}, "notify_url": "https://example.invalid/notify",
//! #     "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "need_user_confirm": false}})).await?;
//! // PHP: $instance->v3->payscore->partner->serviceorder->_out_order_no_->sendPendingmessage->post([...])
//! let response = wxpay
//!     .v3().payscore().partner().serviceorder()._out_order_no_().send_pendingmessage()
//!     .post(json!({
//!         "out_order_no": "1234323JKHDFE1243252",
//!         "json": {"service_id": "2002000000000558128851361561536", "sub_mchid": "1900000109"},
//!     }))
//!     .await?;
//! assert_eq!(response.status(), 204);
//!
//! // The same endpoint, declarative and indexed:
//! let a = wxpay.chain("v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage");
//! let b = &wxpay["v3/payscore/partner/serviceorder/{out_order_no}/send-pendingmessage"];
//! assert_eq!(&a, b);
//! # sandbox.shutdown();
//! # Ok(()) }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```
//!
//! Coming from the PHP or JS SDK? The [porting guide](guide) shows each of their usage
//! sections beside the Rust code that replaces it, and what behaves differently.
//!
//! ## Chain rules
//!
//! Segments given by name are normalized ([`normalize_segment`]): `sendPendingmessage` →
//! `send-pendingmessage`, `_out_order_no_` / `$out_order_no$` → `{out_order_no}`. Paths given
//! to [`Chain::chain`] or by indexing are kept as written (only `{…}` is a variable). Values are
//! never normalized: they go through template variables, percent-encoded so that a value can
//! never add a path segment, a query or a fragment. Every problem (missing variable, empty
//! segment, unused option key, unsendable target, foreign host) is a typed [`Error`] raised
//! before anything is signed.
//!
//! ## APIv2
//!
//! A chain whose expanded path starts with the segment `v2` is an APIv2 call: the `v2` is
//! stripped (`v2/pay/micropay` → `POST https://api.mch.weixin.qq.com/pay/micropay`), the
//! [`xml`](Options::xml) data is signed with the [APIv2 key](Builder::apiv2_key) (MD5 or
//! HMAC-SHA256, `sign_type`) and sent as XML, mutual TLS is used where the endpoint needs it,
//! and the answer's `return_code`, `result_code` and sign are checked ([`ApiV2Error`]).
//!
//! ## Security
//!
//! Every response below 400 is verified (headers, clock within 300 s, known key, RSA
//! signature) except the documented unsigned downloads; failures are errors that still carry
//! the response. The private key and the APIv3 key never appear in `Debug` or errors.
//!
//! ## Payment-flow helpers
//!
//! Each helper's page has an example beside the PHP/JS lines it replaces.
//!
//! - [`notification`]: verify and decrypt a callback ([`Wechatpay::notification`]) and the
//!   [`Reply`](notification::Reply) to send back.
//! - [`certificates`]: download, verify and load platform certificates
//!   ([`Wechatpay::platform_certificates`]), refreshed on an unknown serial.
//! - [`media`]: image and video uploads ([`Media`] with [`Options::upload`]).
//! - [`download`]: streaming downloads ([`Chain::download`], [`StreamingResponse`]).
//! - [`bill`]: trade and fund-flow bills in one call, digest checked
//!   ([`Wechatpay::trade_bill`]).
//! - [`pay_sign`]: the front end's JSAPI / mini-program and APP pay signs
//!   ([`Wechatpay::jsapi_pay_sign`], [`Wechatpay::app_pay_sign`]).
//! - [`crypto`]: AES-256-GCM with the APIv3 key and (feature `oaep`) RSA-OAEP sensitive fields
//!   ([`Encryptor`], [`PrivateKey::oaep_decrypt`]).
//! - [`v2`]: APIv2's XML, MD5/HMAC-SHA256 signs with the APIv2 key, v2 notifications (refunds'
//!   `req_info` decrypted) and the APIv2-key front-end signs (v2 JSAPI, busifavor, Pay Score).
//!
//! ## Features
//!
//! - `blocking` (default): [`blocking`], blocking verbs (`chain.blocking().get(…)`) and
//!   [`blocking::wait`] for code without an async runtime.
//! - `sandbox`: the embedded WeChat Pay simulator (a hyper server on loopback).
//! - `cli`: the `wxpay` command line (implies `sandbox`).
//! - `oaep` (default): RSA-OAEP for sensitive fields ([`Wechatpay::encryptor`],
//!   [`PrivateKey::oaep_decrypt`], [`crypto::oaep_encrypt`]) on AWS-LC (`aws-lc-rs`); the
//!   [`notification`], [`certificates`], [`media`], [`download`], [`bill`] and [`pay_sign`]
//!   helpers need no feature.
//! - `axum`: [`notification::axum`], an extractor that verifies and decrypts a notification.
//! - `native-roots`: trust the operating system's roots instead of the embedded ones.

#![cfg_attr(docsrs, feature(doc_cfg))]
// Lints (unsafe forbidden, missing docs, unreachable pub, a clippy set) live in Cargo.toml's
// `[lints]` table so they apply to every target.

pub mod api;
pub mod bill;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
pub mod catalog;
pub mod certificates;
mod chain;
mod client;
pub mod crypto;
pub mod download;
mod error;
pub mod guide;
mod keys;
pub mod media;
pub mod notification;
mod options;
pub mod pay_sign;
mod request;
mod request_v2;
mod response;
mod response_v2;
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub mod sandbox;
pub mod signer;
pub mod template;
pub mod transport;
pub mod v2;
pub mod verifier;

pub use chain::{normalize_segment, Chain};
pub use client::{ApiV3Key, Builder, Wechatpay};
#[cfg(feature = "oaep")]
pub use crypto::Encryptor;
pub use download::StreamingResponse;
pub use error::{
    ApiError, ApiV2Error, ChainError, ConfigError, CryptoError, DecodeError, Error, ErrorKind,
    KeyError, KeyMaterial, Result, TransportError, TransportKind, VerifyError,
};
pub use keys::{Certificate, KeyStore, PrivateKey, PublicKey};
pub use media::Media;
pub use options::{Options, Query};
pub use pay_sign::{AppPaySign, JsapiPaySign};
pub use request::{PreparedRequest, BACKUP_BASE_URI, DEFAULT_BASE_URI, MAX_TARGET_LEN};
pub use response::Response;
pub use signer::{Clock, FixedClock, FixedNonce, NonceSource, RandomNonce, Sign, SystemClock};

// The `http` and `bytes` types that appear in public signatures, so that callers need not
// depend on those crates (or match their versions) to name them; `http` and `bytes`
// themselves for the rest (`http::Request` of a custom `Transport`, `http::Response` of a
// notification `Reply`).
pub use bytes::{self, Bytes};
pub use http::header::{HeaderMap, HeaderName, HeaderValue};
pub use http::{self, Method, StatusCode, Uri, Version};
pub use serde_json::{json, Value};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// The Chinese README carries the same code blocks (tests/readme_sync.rs), compiled here too.
#[cfg(doctest)]
#[doc = include_str!("../README.zh-CN.md")]
struct ReadmeZhCnDoctests;
