//! Target `v2_xml`: any bytes as an APIv2 XML document through `v2::xml::from_xml` and as a v2
//! notification through `v2::notification::open`. Invariants: what parses writes back
//! (`to_xml`) as a document that parses again, and a flat map of strings under element-name
//! keys comes back equal; a notification never opens without a valid sign or `req_info`.

use serde_json::{Map, Value};
use wechatpay_chain::v2::notification::open;
use wechatpay_chain::v2::xml::{from_xml, to_xml};
use wechatpay_chain::v2::ApiV2Key;

/// The test-only APIv2 key of the sandbox fixtures.
const KEY: &str = "TestOnlyApiV2Key0123456789abcdef";

/// PHP's element-name rule as `to_xml` applies it (keys failing it are written as `<item>`).
fn is_element_name(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || matches!(c, '.' | '_' | ':' | '-'))
}

fn flat_strings(map: &Map<String, Value>) -> bool {
    map.iter().all(|(k, v)| v.is_string() && is_element_name(k))
}

pub(crate) fn v2_xml_target(data: &[u8]) {
    if let Ok(map) = from_xml(data) {
        let again = from_xml(to_xml(&map).as_bytes());
        assert!(
            again.is_ok(),
            "to_xml of a parsed map does not parse: {again:?}"
        );
        if flat_strings(&map) {
            assert_eq!(
                again.ok().as_ref(),
                Some(&map),
                "a flat map does not round-trip"
            );
        }
    }
    let key = ApiV2Key::new(KEY).expect("a 32-byte key");
    if let Ok(opened) = open(data, &key) {
        // Only a signed map or a decrypted req_info opens; either way return_code is SUCCESS.
        assert_eq!(
            opened.outer().get("return_code").and_then(Value::as_str),
            Some("SUCCESS")
        );
        assert!(opened.is_refund() || opened.outer().contains_key("sign"));
    }
}
