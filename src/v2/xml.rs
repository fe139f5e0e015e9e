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
//! document is a typed [`DecodeError::Xml`]. A DTD (`<!DOCTYPE`) is refused outright and no
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

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Value};

use crate::error::{DecodeError, Result};

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
/// Errors with [`DecodeError::Xml`] on empty input, input that is not UTF-8, a document that
/// is not well-formed, a DTD, an unknown entity, or nesting deeper than [`MAX_DEPTH`].
pub fn from_xml(xml: &[u8]) -> Result<Map<String, Value>> {
    let text = std::str::from_utf8(xml).map_err(|_| DecodeError::Xml("it is not UTF-8"))?;
    let clean = strip_invalid_chars(text);
    let clean = clean.strip_prefix('\u{feff}').unwrap_or(&clean);
    let mut reader = Reader::from_str(clean);
    // Mismatched end tags are errors; empty elements come as `Empty` events.
    reader.config_mut().check_end_names = true;
    match read_document(&mut reader)? {
        Node::Map(map) => Ok(map),
        Node::Text(text) => {
            // PHP's `(array)` of a root holding only text: the text under key `0`.
            let mut map = Map::new();
            if !text.is_empty() {
                map.insert("0".into(), Value::String(text));
            }
            Ok(map)
        }
    }
}

/// Drops what XML 1.0 does not allow: C0 controls other than tab, LF and CR, and U+FFFE/U+FFFF
/// (a `str` holds no surrogates).
fn strip_invalid_chars(text: &str) -> std::borrow::Cow<'_, str> {
    let valid = |c: char| matches!(c, '\t' | '\n' | '\r' | ' '..='\u{fffd}' | '\u{10000}'..);
    if text.chars().all(valid) {
        text.into()
    } else {
        text.chars()
            .filter(|&c| valid(c))
            .collect::<String>()
            .into()
    }
}

/// What an element reads as, before it is placed in its parent.
enum Node {
    Text(String),
    Map(Map<String, Value>),
}

/// An element being read: its name, attributes, children so far and leaf text so far.
struct Open {
    name: String,
    attributes: Map<String, Value>,
    children: Map<String, Value>,
    text: String,
    /// Whitespace read before any content: libxml drops it as a blank node when markup (a
    /// CDATA section, a child) follows, and keeps it when the end tag or a reference does.
    pending: String,
    /// True once any content (text that is not whitespace, CDATA, a reference) was seen.
    content: bool,
}

/// What a piece of leaf text came from (it decides what happens to leading whitespace).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Piece {
    Text,
    CData,
    Reference,
}

impl Open {
    fn new(start: &BytesStart<'_>) -> Result<Self> {
        let name = std::str::from_utf8(start.name().as_ref())
            .map_err(|_| DecodeError::Xml("an element name is not UTF-8"))?
            .to_owned();
        let mut attributes = Map::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|_| DecodeError::Xml("an attribute is not well-formed"))?;
            let key = std::str::from_utf8(attr.key.as_ref())
                .map_err(|_| DecodeError::Xml("an attribute name is not UTF-8"))?
                .to_owned();
            // Unescapes the predefined entities and character references only; any other
            // entity is an error, never resolved.
            let value = attr
                .unescape_value()
                .map_err(|_| DecodeError::Xml("an attribute value has an unknown entity"))?;
            attributes.insert(key, Value::String(value.into_owned()));
        }
        Ok(Self {
            name,
            attributes,
            children: Map::new(),
            text: String::new(),
            pending: String::new(),
            content: false,
        })
    }

    fn push(&mut self, piece: &str, kind: Piece) {
        if !self.content {
            if kind == Piece::Text && piece.chars().all(|c| c.is_ascii_whitespace()) {
                self.pending.push_str(piece);
                return;
            }
            if kind != Piece::CData {
                self.text.push_str(&self.pending);
            }
            self.pending.clear();
            self.content = true;
        }
        self.text.push_str(piece);
    }

    /// The element as a value: children (with attributes) if it has any, else its text.
    fn finish(mut self) -> Node {
        if !self.content {
            // Only whitespace, then the end tag: libxml keeps it.
            self.text = std::mem::take(&mut self.pending);
        }
        if self.children.is_empty() {
            if self.attributes.is_empty() || !self.text.is_empty() {
                // A leaf: its attributes are lost, as with SimpleXML.
                return Node::Text(self.text);
            }
            let mut map = Map::new();
            map.insert("@attributes".into(), Value::Object(self.attributes));
            return Node::Map(map);
        }
        let mut map = Map::new();
        if !self.attributes.is_empty() {
            map.insert("@attributes".into(), Value::Object(self.attributes));
        }
        map.extend(self.children);
        Node::Map(map)
    }
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Node::Text(t) => Value::String(t),
            Node::Map(m) => Value::Object(m),
        }
    }
}

/// Adds a child to its parent's map: a repeated name turns the entry into an array.
fn add_child(children: &mut Map<String, Value>, name: String, value: Value) {
    match children.get_mut(&name) {
        None => {
            children.insert(name, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

fn read_document(reader: &mut Reader<&[u8]>) -> Result<Node> {
    let malformed = |_| DecodeError::Xml("it is not well-formed XML");
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(DecodeError::Xml("there is content after the root element").into());
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(DecodeError::Xml("elements nest deeper than 32 levels").into());
                }
                stack.push(Open::new(&start)?);
            }
            Event::Empty(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(DecodeError::Xml("elements nest deeper than 32 levels").into());
                }
                let node = Open::new(&start)?;
                close(&mut stack, &mut root, node);
            }
            Event::End(_) => {
                // check_end_names guarantees the name matches the innermost open element.
                let node = stack
                    .pop()
                    .ok_or(DecodeError::Xml("an end tag has no start tag"))?;
                close(&mut stack, &mut root, node);
            }
            Event::Text(text) => {
                let text = text
                    .decode()
                    .map_err(|_| DecodeError::Xml("text is not UTF-8"))?;
                match stack.last_mut() {
                    Some(open) => open.push(&text, Piece::Text),
                    None if text.chars().all(|c| c.is_ascii_whitespace()) => {}
                    None => {
                        return Err(
                            DecodeError::Xml("there is text outside the root element").into()
                        )
                    }
                }
            }
            Event::CData(data) => {
                let data = data
                    .decode()
                    .map_err(|_| DecodeError::Xml("a CDATA section is not UTF-8"))?;
                match stack.last_mut() {
                    Some(open) => open.push(&data, Piece::CData),
                    None => {
                        return Err(
                            DecodeError::Xml("there is text outside the root element").into()
                        )
                    }
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference)?;
                match stack.last_mut() {
                    Some(open) => open.push(resolved.encode_utf8(&mut [0; 4]), Piece::Reference),
                    None => {
                        return Err(
                            DecodeError::Xml("there is text outside the root element").into()
                        )
                    }
                }
            }
            Event::DocType(_) => {
                return Err(DecodeError::Xml("it has a DTD (<!DOCTYPE>), which is refused").into())
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(DecodeError::Xml("the document ends inside an element").into());
    }
    root.ok_or_else(|| DecodeError::Xml("it has no root element").into())
}

/// Places a finished element in its parent, or makes it the root.
fn close(stack: &mut [Open], root: &mut Option<Node>, node: Open) {
    match stack.last_mut() {
        Some(parent) => {
            let name = node.name.clone();
            add_child(&mut parent.children, name, node.finish().into_value());
        }
        None => *root = Some(node.finish()),
    }
}

/// The five predefined entities and character references (to a valid XML character); any
/// other entity is refused, never looked up.
fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>) -> Result<char> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) if matches!(c, '\t' | '\n' | '\r' | ' '..='\u{fffd}' | '\u{10000}'..) => {
                Ok(c)
            }
            _ => Err(DecodeError::Xml("a character reference is not a valid XML character").into()),
        };
    }
    match &**reference {
        b"lt" => Ok('<'),
        b"gt" => Ok('>'),
        b"amp" => Ok('&'),
        b"apos" => Ok('\''),
        b"quot" => Ok('"'),
        _ => Err(DecodeError::Xml("it uses an entity other than the five predefined ones").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
