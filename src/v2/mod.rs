//! APIv2: the XML API that WeChat Pay still serves next to APIv3.
//!
//! APIv2 requests are XML bodies signed with the merchant's **APIv2 key** (API密钥, 32 bytes;
//! not the APIv3 key): a `sign` field holding the upper-case hex MD5 or HMAC-SHA256 of the
//! sorted fields ([`sign`]). Answers are XML signed the same way. Some endpoints (`secapi/*`,
//! red packets, transfers) also need the merchant's API certificate for mutual TLS. Merchants
//! still call APIv2 for micropay, red packets, transfers, v2 bills and refunds, and front ends
//! still need APIv2-key signs (v2 JSAPI `paySign`, coupon and payscore invocations).
//!
//! A chain whose expanded path starts with the segment `v2` is an APIv2 call: the `v2` prefix
//! is virtual and stripped (`v2/pay/micropay` → `POST https://api.mch.weixin.qq.com/pay/micropay`);
//! see [`crate::Chain`] for how such requests are built, signed and verified. This module holds
//! the pure parts, usable without a client:
//!
//! - [`xml`]: the XML writer and the safe reader (no DTD, no external entities);
//! - [`sign`]: [`SignType`], [`ApiV2Key`], the string to sign, sign and verify;
//! - [`ecb`]: AES-256-ECB for refund notifications' `req_info`;
//! - [`notification`]: verify (and decrypt) a v2 notification, and the reply;
//! - [`pay_sign`]: APIv2-key signs for front ends (v2 JSAPI, busifavor, payscore).

pub mod ecb;
pub mod notification;
pub mod pay_sign;
pub mod sign;
pub mod xml;

pub use notification::V2Notification;
pub use sign::{ApiV2Key, SignType};
