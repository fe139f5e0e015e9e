//! The sandbox's use of [`crate::v2`]: XML, signs and `req_info` encryption, in one place.

use serde_json::{Map, Value};

use crate::error::Result;
use crate::v2::sign::{ApiV2Key, SignType};

/// An APIv2 message: field name → value (strings, as XML gives them).
pub(crate) type Fields = Map<String, Value>;

/// Parses an XML body (safely: no DTD, no entities).
pub(crate) fn parse(body: &[u8]) -> Result<Fields> {
    crate::v2::xml::from_xml(body)
}

/// Serializes fields as `<xml>…</xml>` in their order.
pub(crate) fn render(fields: &Fields) -> String {
    crate::v2::xml::to_xml(fields)
}

/// Whether `fields` carry a `sign` that verifies with `key` under `sign_type`.
pub(crate) fn verifies(fields: &Fields, key: &ApiV2Key, sign_type: SignType) -> bool {
    crate::v2::sign::verify(fields, key, Some(sign_type)).is_ok()
}

/// Adds `sign` (last) to `fields`.
pub(crate) fn sign(fields: &mut Fields, key: &ApiV2Key, sign_type: SignType) -> Result<()> {
    let sign = crate::v2::sign::sign(sign_type, fields, key)?;
    fields.insert("sign".into(), Value::String(sign));
    Ok(())
}

/// `req_info` of a refund notification: AES-256-ECB (PKCS#7) of `plain` under the lower-case
/// hex MD5 of the APIv2 key, base64.
pub(crate) fn encrypt_req_info(plain: &[u8], key: &ApiV2Key) -> String {
    crate::v2::ecb::encrypt(plain, &crate::v2::ecb::req_info_key(key))
}
