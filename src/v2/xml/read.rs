//! The reader behind [`from_xml`](super::from_xml): quick-xml's pull events folded into a
//! map the way PHP's SimpleXML cast does, with every refusal typed.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{Map, Value};

use super::MAX_DEPTH;
use crate::error::{DecodeError, Error, Result};

/// Strips invalid characters, reads the document, and returns the root's map.
pub(super) fn read_map(xml: &[u8]) -> Result<Map<String, Value>> {
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
    // The parser's error (with its position) stays as the source.
    let malformed = |e: quick_xml::Error| {
        Error::from(DecodeError::Xml("it is not well-formed XML")).with_source(e)
    };
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
