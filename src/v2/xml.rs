//! The XML of APIv2 bodies: a writer and a safe reader for flat (or shallow) maps.
//!
//! The observable rules are those of wechatpay-php's `Transformer`, so a body written here is
//! byte-for-byte what that SDK sends, and a document read here gives the map it gives:
//!
//! - [`to_xml`]: `<xml>…</xml>` without a declaration, elements in the map's insertion order;
//!   a key that is not an element name becomes `<item>`; arrays become `<item>` children,
//!   objects nest; `true` → `1`, `false` and `null` → empty; a value holding any of `< > & "`
//!   is one CDATA section (a `]]>` inside is split across two sections so it cannot end the
//!   section early); other text is written as is (`'` stays literal).
//! - [`from_xml`]: invalid XML 1.0 characters are stripped first; the root's name is ignored
//!   and its children become the map; a leaf is its text (CDATA unwrapped), an empty element
//!   `""`, a repeated element an array, an element with children an object; attributes of the
//!   root and of elements with children are kept under `@attributes` (a leaf's are lost).
//!
//! Unlike PHP (which returns `[]` and raises a warning), anything that is not a well-formed
//! document is a typed [`DecodeError::Xml`](crate::DecodeError::Xml). A DTD (`<!DOCTYPE`) is refused outright and no
//! entity other than the five predefined ones and character references is ever resolved, so
//! XXE and "billion laughs" documents fail instead of being read. Nesting is bounded by
//! [`MAX_DEPTH`]. Neither function panics on any input.
//!
//! ```
//! use wechatpay_chain::v2::xml::{from_xml, to_xml};
//! use wechatpay_chain::json;
//!
//! let map = json!({"return_code": "SUCCESS", "body": "a<b"});
//! let xml = to_xml(map.as_object().unwrap());
//! assert_eq!(xml, "<xml><return_code>SUCCESS</return_code><body><![CDATA[a<b]]></body></xml>");
//! assert_eq!(&from_xml(xml.as_bytes())?, map.as_object().unwrap());
//! # Ok::<(), wechatpay_chain::Error>(())
//! ```

use serde_json::{Map, Value};

use crate::error::Result;

mod read;

/// The deepest element nesting [`from_xml`] reads (the root counts as 1). WeChat Pay's
/// documents are two or three levels deep; deeper input is refused rather than recursed into.
pub const MAX_DEPTH: usize = 32;

/// The element name used for keys that are not valid element names and for array entries.
const ITEM: &str = "item";

/// Writes `map` as an APIv2 XML body (see the [module docs](self) for the rules).
pub fn to_xml(map: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(64 + map.len() * 32);
    out.push_str("<xml>");
    // The root is level 1; its children are level 2.
    write_map(&mut out, map, 2);
    out.push_str("</xml>");
    out
}

fn write_map(out: &mut String, map: &Map<String, Value>, depth: usize) {
    for (key, value) in map {
        let name = if is_element_name(key) { key } else { ITEM };
        write_element(out, name, value, depth);
    }
}

fn write_element(out: &mut String, name: &str, value: &Value, depth: usize) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    match value {
        // serde_json values can nest without bound; past MAX_DEPTH the writer stops descending
        // (an empty element) so it never overflows the stack, and the reader would refuse
        // such a document anyway.
        Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => {}
        Value::Array(items) => {
            for item in items {
                write_element(out, ITEM, item, depth + 1);
            }
        }
        Value::Object(map) => write_map(out, map, depth + 1),
        Value::Null | Value::Bool(false) => {}
        Value::Bool(true) => out.push('1'),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_text(out, s),
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Text as PHP writes it: one CDATA section when it holds a markup character, else literal.
fn write_text(out: &mut String, text: &str) {
    if text.contains(['<', '>', '&', '"']) {
        out.push_str("<![CDATA[");
        // `]]>` would close the section: end it after `]]` and reopen it before `>`.
        out.push_str(&text.replace("]]>", "]]]]><![CDATA[>"));
        out.push_str("]]>");
    } else {
        out.push_str(text);
    }
}

/// PHP's `^[\pL_][\pL0-9._:-]*$`; `char::is_alphabetic` stands in for `\pL` (it also admits
/// letter numbers and combining marks, all valid in XML names).
fn is_element_name(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphabetic() || c.is_ascii_digit() || matches!(c, '.' | '_' | ':' | '-'))
}

/// Reads an APIv2 XML document into a map (see the [module docs](self) for the rules).
///
/// Errors with [`DecodeError::Xml`](crate::DecodeError::Xml) on empty input, input that is not UTF-8, a document that
/// is not well-formed, a DTD, an unknown entity, or nesting deeper than [`MAX_DEPTH`].
pub fn from_xml(xml: &[u8]) -> Result<Map<String, Value>> {
    read::read_map(xml)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeError;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn xml_error(input: &str) -> &'static str {
        match from_xml(input.as_bytes()).unwrap_err().kind() {
            crate::ErrorKind::Decode(DecodeError::Xml(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cdata_holding_its_terminator_round_trips() {
        let m = map(json!({"a": "x]]>y", "b": "]]>"}));
        let xml = to_xml(&m);
        assert_eq!(
            xml,
            "<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a><b><![CDATA[]]]]><![CDATA[>]]></b></xml>"
        );
        assert_eq!(from_xml(xml.as_bytes()).unwrap(), m);
    }

    #[test]
    fn blank_nodes_are_dropped_but_leaf_whitespace_is_kept() {
        let got = from_xml(b"<xml>\n  <a> <![CDATA[x]]></a>\n  <b>  </b>\n</xml>").unwrap();
        assert_eq!(Value::Object(got), json!({"a": "x", "b": "  "}));
    }

    #[test]
    fn refusals_are_typed() {
        assert_eq!(xml_error(""), "it has no root element");
        assert!(xml_error("<!DOCTYPE x [<!ENTITY e \"v\">]><xml><a>&e;</a></xml>").contains("DTD"));
        assert!(xml_error("<xml><a>&e;</a></xml>").contains("entity"));
        assert!(xml_error("<xml><a></b></xml>").contains("well-formed"));
        // The parser's own error (with the position) is kept as the source.
        let e = from_xml(b"<xml><a></b></xml>").unwrap_err();
        assert!(std::error::Error::source(&e).is_some());
        assert!(xml_error("<xml><a>").contains("ends inside"));
        assert!(xml_error("<xml/><xml/>").contains("after the root"));
        assert!(xml_error("<xml/>text").contains("outside"));
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(xml_error(&deep).contains("deeper"));
        let ok = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(from_xml(ok.as_bytes()).is_ok());
        assert!(matches!(
            from_xml(b"\xff<xml/>").unwrap_err().kind(),
            crate::ErrorKind::Decode(DecodeError::Xml(_))
        ));
    }

    #[test]
    fn references_resolve_to_the_predefined_set_only() {
        let got = from_xml(b"<xml><a>&lt;&#x4E2D;&#25991;&amp;</a></xml>").unwrap();
        assert_eq!(Value::Object(got), json!({"a": "<中文&"}));
        assert!(from_xml(b"<xml><a>&#0;</a></xml>").is_err());
    }

    #[test]
    fn the_writer_bounds_depth() {
        let mut v = json!("leaf");
        for _ in 0..100 {
            v = json!({ "a": v });
        }
        let xml = to_xml(&map(v));
        assert!(from_xml(xml.as_bytes()).is_ok());
    }
}
