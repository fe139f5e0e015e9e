//! Pay Score (支付分) invocation parameters, re-exported by [`pay_sign`](super): the sets a
//! front end passes to `openBusinessView` with the APIv2 key's HMAC-SHA256 sign.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{field, query_string, seconds};
use crate::error::Result;
use crate::v2::sign::{sign, ApiV2Key, SignType};

/// The fields of one invocation in the order the front end gets them (`mch_id`, `sub_mch_id`
/// when given, the kind's own fields, `timestamp`, `nonce_str`, `sign_type`, `sign`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct Invocation {
    fields: Map<String, Value>,
}

impl Invocation {
    /// Checks every field, then signs them with HMAC-SHA256 (the only type Pay Score takes).
    fn signed(
        mch_id: &str,
        sub_mch_id: Option<&str>,
        own: &[(&'static str, &str)],
        timestamp: i64,
        nonce: &str,
        key: &ApiV2Key,
    ) -> Result<Self> {
        let mut fields = Map::new();
        fields.insert("mch_id".into(), field("mch_id", mch_id, 32)?.into());
        if let Some(sub) = sub_mch_id {
            fields.insert("sub_mch_id".into(), field("sub_mch_id", sub, 32)?.into());
        }
        for &(name, value) in own {
            let max = if name == "package" { 128 } else { 32 };
            fields.insert(name.into(), field(name, value, max)?.into());
        }
        fields.insert("timestamp".into(), seconds("timestamp", timestamp)?.into());
        fields.insert("nonce_str".into(), field("nonce_str", nonce, 32)?.into());
        fields.insert("sign_type".into(), SignType::HmacSha256.as_str().into());
        let signature = sign(SignType::HmacSha256, &fields, key)?;
        fields.insert("sign".into(), signature.into());
        Ok(Self { fields })
    }

    fn sign(&self) -> &str {
        self.fields["sign"].as_str().unwrap_or_default()
    }

    fn query_string(&self) -> String {
        query_string(&self.fields)
    }
}

/// `wxpayScoreUse`: the parameters that open the Pay Score confirmation of a service order
/// just created (its `package` comes from the create-order answer).
///
/// Front ends: `wx.openBusinessView` in a mini-program takes the fields as `extraData`
/// ([`to_map`](Self::to_map) or `Serialize`); `openBusinessView` in a web page and
/// `WXOpenBusinessView` in an APP take them as a URL-encoded `queryString` / `query`
/// ([`query_string`](Self::query_string)), with `businessType` [`business_type`](Self::business_type).
/// Only `HMAC-SHA256` is accepted; `timestamp` is a string of Unix seconds.
///
/// Partner (服务商) mode: WeChat Pay's partner pages for these invocations (e.g.
/// pay.weixin.qq.com/doc/v3/partner/4012155285, "JSAPI调起支付分-订单详情") list the same fields
/// with `mch_id` being the **service provider's** merchant id, and show no sub-merchant field.
/// [`partner`](Self::partner) therefore puts the service provider's id in `mch_id` and adds
/// `sub_mch_id` (signed) only when one is given: pass `None` unless your integration was told
/// to send it (an assumption, not confirmed by the public pages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ScoreUse(Invocation);

impl ScoreUse {
    /// Merchant mode: `mch_id`, the create-order answer's `package`, Unix seconds and a nonce.
    pub fn new(
        mch_id: &str,
        package: &str,
        timestamp: i64,
        nonce: &str,
        key: &ApiV2Key,
    ) -> Result<Self> {
        Self::partner(mch_id, None, package, timestamp, nonce, key)
    }

    /// Partner mode: the service provider's `mch_id`, and `sub_mch_id` when given (see the
    /// type's docs on what is and is not documented).
    pub fn partner(
        sp_mch_id: &str,
        sub_mch_id: Option<&str>,
        package: &str,
        timestamp: i64,
        nonce: &str,
        key: &ApiV2Key,
    ) -> Result<Self> {
        let own = [("package", package)];
        Invocation::signed(sp_mch_id, sub_mch_id, &own, timestamp, nonce, key).map(Self)
    }

    /// `businessType`: `wxpayScoreUse`.
    pub fn business_type(&self) -> &'static str {
        "wxpayScoreUse"
    }

    /// The `sign`.
    pub fn sign(&self) -> &str {
        self.0.sign()
    }

    /// The mini-program's `extraData`.
    pub fn to_map(&self) -> Map<String, Value> {
        self.0.fields.clone()
    }

    /// The web page's `queryString` / the APP's `query`: the fields URL-encoded, `sign` last.
    pub fn query_string(&self) -> String {
        self.0.query_string()
    }
}

/// `wxpayScoreDetail`: the parameters that open a Pay Score service order's detail page.
///
/// Front ends, sign and partner mode as for [`ScoreUse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ScoreDetail(Invocation);

impl ScoreDetail {
    /// Merchant mode: `mch_id`, the `service_id`, the merchant's `out_order_no`, Unix seconds
    /// and a nonce.
    pub fn new(
        mch_id: &str,
        service_id: &str,
        out_order_no: &str,
        timestamp: i64,
        nonce: &str,
        key: &ApiV2Key,
    ) -> Result<Self> {
        Self::partner(
            mch_id,
            None,
            service_id,
            out_order_no,
            timestamp,
            nonce,
            key,
        )
    }

    /// Partner mode: the service provider's `mch_id`, and `sub_mch_id` when given (see
    /// [`ScoreUse`] on what is and is not documented).
    pub fn partner(
        sp_mch_id: &str,
        sub_mch_id: Option<&str>,
        service_id: &str,
        out_order_no: &str,
        timestamp: i64,
        nonce: &str,
        key: &ApiV2Key,
    ) -> Result<Self> {
        let own = [("service_id", service_id), ("out_order_no", out_order_no)];
        Invocation::signed(sp_mch_id, sub_mch_id, &own, timestamp, nonce, key).map(Self)
    }

    /// `businessType`: `wxpayScoreDetail`.
    pub fn business_type(&self) -> &'static str {
        "wxpayScoreDetail"
    }

    /// The `sign`.
    pub fn sign(&self) -> &str {
        self.0.sign()
    }

    /// The mini-program's `extraData`.
    pub fn to_map(&self) -> Map<String, Value> {
        self.0.fields.clone()
    }

    /// The web page's `queryString` / the APP's `query`: the fields URL-encoded, `sign` last.
    pub fn query_string(&self) -> String {
        self.0.query_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_is_not_part_of_its_own_message() {
        // string_to_sign skips `sign`, so re-signing the finished map (sign included) gives
        // the same sign: what the platform recomputes.
        let key = ApiV2Key::new("TestOnlyApiV2Key0123456789abcdef").unwrap();
        let s = ScoreUse::partner("1230000109", Some("1900000109"), "pkg=", 1, "n", &key).unwrap();
        let again = sign(SignType::HmacSha256, &s.to_map(), &key).unwrap();
        assert_eq!(s.sign(), again);
        assert!(s
            .query_string()
            .starts_with("mch_id=1230000109&sub_mch_id=1900000109&package=pkg%3D&"));
    }
}
