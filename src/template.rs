//! URI template expansion (the `{name}` / `{+name}` subset of RFC 6570) and query strings.
//!
//! Pure functions: no I/O, no client. A value can never add a path segment, a query or a
//! fragment: simple expansion keeps only the unreserved set and encodes everything else.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

use crate::error::ChainError;

/// Everything except `A-Z a-z 0-9 - . _ ~` is encoded (simple expansion, query keys/values).
const SIMPLE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a path segment may carry as is (RFC 3986 `pchar`): unreserved, sub-delims, `:`, `@`.
const SEGMENT: &AsciiSet = &SIMPLE
    .remove(b':')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// Characters that pass through reserved expansion and literal path text: what a segment may
/// carry plus the gen-delims (RFC 3986 §2.2), `%` handled separately for triplets.
const RESERVED: &AsciiSet = &SEGMENT
    .remove(b'/')
    .remove(b'?')
    .remove(b'#')
    .remove(b'[')
    .remove(b']');

/// Literal path text and `{+name}` values: like reserved, but `?` and `#` are encoded so that
/// nothing inside the path can start a query or a fragment (a fragment is never sent, so the
/// signed target would differ from the sent one).
const PATH: &AsciiSet = &RESERVED.add(b'?').add(b'#');

/// Encodes a literal path piece written into a declarative string: characters a segment
/// cannot carry become `%XX`; sub-delims, `:`, `@` and existing `%XX` triplets pass through,
/// so an already-encoded media ID (`…AIO%2FFR1p`) is not encoded twice.
///
/// ```
/// use wechatpay_chain::template::encode_literal_segment;
/// assert_eq!(encode_literal_segment("P123abcXYZ"), "P123abcXYZ");
/// assert_eq!(encode_literal_segment("订单 1"), "%E8%AE%A2%E5%8D%95%201");
/// assert_eq!(encode_literal_segment("AIO%2FFR1p"), "AIO%2FFR1p");
/// ```
pub fn encode_literal_segment(piece: &str) -> String {
    let mut out = String::with_capacity(piece.len());
    encode_keeping_triplets(piece, SEGMENT, &mut out);
    out
}

/// [`encode_literal_segment`] without an allocation when the piece needs no encoding (the
/// usual case: catalog paths are plain ASCII).
pub(crate) fn encode_literal_segment_cow(piece: &str) -> Cow<'_, str> {
    if piece.contains('%') {
        Cow::Owned(encode_literal_segment(piece))
    } else {
        percent_encode(piece.as_bytes(), SEGMENT).into()
    }
}

/// Percent-encodes `value` for simple expansion: only `A-Z a-z 0-9 - . _ ~` stay.
pub fn encode_simple(value: &str) -> String {
    percent_encode(value.as_bytes(), SIMPLE).to_string()
}

/// Encodes with `set`, letting existing `%XX` triplets pass through.
fn encode_keeping_triplets(value: &str, set: &'static AsciiSet, out: &mut String) {
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            out.extend(percent_encode(&bytes[start..i], set));
            out.push_str(&value[i..i + 3]);
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    out.extend(percent_encode(&bytes[start..], set));
}

/// Renders a template variable's value as text (protocol: strings as is, integers decimal,
/// bools `true`/`false`, other numbers in their JSON form).
fn scalar_text<'v>(name: &str, value: Option<&'v Value>) -> Result<Cow<'v, str>, ChainError> {
    match value {
        None | Some(Value::Null) => Err(ChainError::MissingVariable(name.to_string())),
        Some(Value::String(s)) => Ok(Cow::Borrowed(s)),
        Some(Value::Bool(b)) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
        Some(Value::Number(n)) => Ok(Cow::Owned(n.to_string())),
        Some(Value::Array(_) | Value::Object(_)) => Err(ChainError::NotScalar(name.to_string())),
    }
}

/// One `{…}` expression of a template.
struct Expression<'a> {
    reserved: bool,
    name: &'a str,
}

fn parse_expression(inner: &str) -> Result<Expression<'_>, ChainError> {
    let (reserved, name) = match inner.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b >= 0x80);
    if valid {
        Ok(Expression { reserved, name })
    } else {
        Err(ChainError::UnsupportedExpression(format!("{{{inner}}}")))
    }
}

/// The variable names a template refers to, in order.
pub fn variables(template: &str) -> Result<Vec<&str>, ChainError> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(ChainError::UnsupportedExpression(rest[open..].to_string()));
        };
        names.push(parse_expression(&rest[open + 1..open + close])?.name);
        rest = &rest[open + close + 1..];
    }
    Ok(names)
}

/// Expands one path segment into `out`; returns the name of its last expression, if any.
fn expand_segment<'t>(
    segment: &'t str,
    vars: &Map<String, Value>,
    out: &mut String,
) -> Result<Option<&'t str>, ChainError> {
    // The usual variable segment, one simple expression (`{out_order_no}`): no search.
    if let Some(inner) = segment
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .filter(|inner| !inner.starts_with('+') && !inner.contains(['{', '}']))
    {
        let expr = parse_expression(inner)?;
        let text = scalar_text(expr.name, vars.get(expr.name))?;
        out.extend(percent_encode(text.as_bytes(), SIMPLE));
        return Ok(Some(expr.name));
    }
    let mut rest = segment;
    let mut last_name = None;
    while let Some(open) = rest.find('{') {
        encode_keeping_triplets(&rest[..open], PATH, out);
        let Some(close) = rest[open..].find('}') else {
            return Err(ChainError::UnsupportedExpression(rest[open..].to_string()));
        };
        let expr = parse_expression(&rest[open + 1..open + close])?;
        let text = scalar_text(expr.name, vars.get(expr.name))?;
        if expr.reserved {
            encode_keeping_triplets(&text, PATH, out);
        } else {
            out.extend(percent_encode(text.as_bytes(), SIMPLE));
        }
        last_name = Some(expr.name);
        rest = &rest[open + close + 1..];
    }
    if rest.contains('}') {
        return Err(ChainError::UnsupportedExpression(rest.to_string()));
    }
    encode_keeping_triplets(rest, PATH, out);
    Ok(last_name)
}

/// `A-Z a-z 0-9 - . _ ~`: never percent-encoded, in any position.
fn is_unreserved(b: u8) -> bool {
    UNRESERVED[usize::from(b)]
}

/// [`is_unreserved`] as a table: one load per byte in the expansion's scan.
static UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut c: u8 = 0;
    loop {
        table[c as usize] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        if c == u8::MAX {
            break table;
        }
        c += 1;
    }
};

/// `.` or `..`, plain or as `%2E` triplets: servers remove these segments (RFC 3986 §5.2.4),
/// which would move a signed request to another endpoint.
pub(crate) fn is_dot_segment(piece: &str) -> bool {
    // Decoded, a dot segment starts with `.`, so it is written starting with `.` or `%`.
    piece.len() <= 6
        && piece.starts_with(['.', '%'])
        && matches!(
            &percent_decode_str(piece).collect::<Vec<u8>>()[..],
            b"." | b".."
        )
}

/// Expands a `/`-separated path template with `vars`, appending to `out`.
///
/// A variable whose value is empty may only end the path (a trailing `/`); in the middle it
/// would silently change the endpoint, so it is an error. So is a dot segment (`.`, `..`),
/// whether a value or the template produced it.
pub fn expand_path(
    template: &str,
    vars: &Map<String, Value>,
    out: &mut String,
) -> Result<(), ChainError> {
    out.reserve(template.len() + 16);
    let bytes = template.as_bytes();
    let mut start = 0;
    // One pass over the template: each segment is found and classified in the same scan.
    loop {
        let mut end = start;
        let mut plain = true;
        while let Some(&b) = bytes.get(end) {
            if b == b'/' {
                break;
            }
            plain &= is_unreserved(b);
            end += 1;
        }
        let segment = &template[start..end];
        let last = end == bytes.len();
        let before = out.len();
        // Fast path, the usual literal segment: only unreserved characters, which no set
        // encodes, so it is copied as is and only the dot and emptiness checks apply.
        let (name, dot) = if plain {
            out.push_str(segment);
            (None, is_dot_segment(segment))
        } else {
            let name = expand_segment(segment, vars, out)?;
            (name, out[before..].split('/').any(is_dot_segment))
        };
        if dot {
            return Err(ChainError::InvalidSegment {
                segment: segment.to_string(),
                reason:
                    "it expands to a dot segment (`.` or `..`), which would change the endpoint",
            });
        }
        if out.len() == before && !last {
            return Err(match name {
                Some(name) => ChainError::EmptyVariable(name.to_string()),
                None => ChainError::EmptySegment {
                    template: template.to_string(),
                },
            });
        }
        if last {
            return Ok(());
        }
        out.push('/');
        start = end + 1;
    }
}

/// Builds a query string (without `?`) from an object: insertion order, keys and values
/// percent-encoded like simple-expansion values, `null` entries dropped.
pub fn query_from_map(map: &Map<String, Value>) -> Result<String, ChainError> {
    let mut out = String::new();
    for (key, value) in map {
        let text: Cow<'_, str> = match value {
            Value::Null => continue,
            Value::String(s) => Cow::Borrowed(s),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Number(n) => Cow::Owned(n.to_string()),
            Value::Array(_) | Value::Object(_) => return Err(ChainError::NestedQuery(key.clone())),
        };
        if !out.is_empty() {
            out.push('&');
        }
        out.extend(percent_encode(key.as_bytes(), SIMPLE));
        out.push('=');
        out.extend(percent_encode(text.as_bytes(), SIMPLE));
    }
    Ok(out)
}

/// Checks a pre-built query string: used as given, minus a leading `?`, if it holds only
/// characters a request line can carry — not `#` (it would start a fragment, which is never
/// sent, so the signed target would differ), space, controls, non-ASCII, nor
/// `"` `<` `>` `\` `^` `` ` `` `{` `|` `}` (outside RFC 3986, refused or rewritten by servers).
pub fn query_from_str(query: &str) -> Result<String, ChainError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    if let Some(c) = query.chars().find(|&c| {
        !c.is_ascii()
            || c.is_ascii_control()
            || matches!(
                c,
                ' ' | '#' | '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}'
            )
    }) {
        return Err(ChainError::InvalidQuery(format!(
            "the query string contains {c:?}, which a request line cannot carry; percent-encode it or pass the query as an object"
        )));
    }
    Ok(query.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn expand(t: &str, v: Value) -> Result<String, ChainError> {
        let mut out = String::new();
        expand_path(t, &vars(v), &mut out).map(|()| out)
    }

    #[test]
    fn simple_expansion_encodes_everything_but_unreserved() {
        assert_eq!(
            expand("a/{x}/b", json!({"x": "A/B C中%2F?#"})).unwrap(),
            "a/A%2FB%20C%E4%B8%AD%252F%3F%23/b"
        );
    }

    #[test]
    fn reserved_expansion_cannot_add_a_query_or_fragment() {
        assert_eq!(
            expand("i/{+m}", json!({"m": "a?b=c#d"})).unwrap(),
            "i/a%3Fb=c%23d"
        );
    }

    #[test]
    fn reserved_expansion_keeps_triplets_and_reserved() {
        assert_eq!(
            expand("i/{+m}", json!({"m": "AIO%2FFR1p/x y"})).unwrap(),
            "i/AIO%2FFR1p/x%20y"
        );
    }

    #[test]
    fn scalars_render_like_json() {
        assert_eq!(
            expand(
                "{a}/{b}/{c}/{d}",
                json!({"a": 12, "b": true, "c": 1.5, "d": "s"})
            )
            .unwrap(),
            "12/true/1.5/s"
        );
    }

    #[test]
    fn empty_value_only_at_the_end() {
        assert_eq!(expand("a/{x}", json!({"x": ""})).unwrap(), "a/");
        assert_eq!(
            expand("a/{x}/b", json!({"x": ""})),
            Err(ChainError::EmptyVariable("x".into()))
        );
    }

    #[test]
    fn dot_segments_are_errors() {
        for (t, v) in [
            ("a/{x}/b", ".."),
            ("a/{x}", "."),
            ("a/{+x}", "b/../c"),
            ("a/{+x}", "%2e%2E"),
            ("a/../{x}", "b"),
        ] {
            assert!(
                matches!(
                    expand(t, json!({"x": v})),
                    Err(ChainError::InvalidSegment { .. })
                ),
                "{t} with {v}"
            );
        }
        assert_eq!(expand("a/{x}", json!({"x": "..."})).unwrap(), "a/...");
        assert_eq!(
            expand("a/{x}", json!({"x": "%2E%2E"})).unwrap(),
            "a/%252E%252E"
        );
    }

    #[test]
    fn unsupported_operators_are_errors() {
        assert!(matches!(
            expand("a{?x}", json!({"x": 1})),
            Err(ChainError::UnsupportedExpression(_))
        ));
        assert!(matches!(
            expand("a/{x", json!({"x": 1})),
            Err(ChainError::UnsupportedExpression(_))
        ));
    }

    #[test]
    fn query_rules() {
        let q = query_from_map(&vars(json!({"a b": "x*y", "n": null, "t": true, "k": 5})));
        assert_eq!(q.unwrap(), "a%20b=x%2Ay&t=true&k=5");
        assert_eq!(
            query_from_map(&vars(json!({"a": [1]}))),
            Err(ChainError::NestedQuery("a".into()))
        );
        assert!(query_from_str("a=b c").is_err());
        assert!(query_from_str("a=b#c").is_err());
        for bad in [
            "a=\"x\"", "a=<b>", "a=\\", "a=^", "a=`", "a={b}", "a=|", "a=中", "a=\u{7f}",
        ] {
            assert!(
                matches!(query_from_str(bad), Err(ChainError::InvalidQuery(_))),
                "{bad}"
            );
        }
        assert_eq!(
            query_from_str("a=b:c@d/e?f&g=%20").unwrap(),
            "a=b:c@d/e?f&g=%20"
        );
        assert_eq!(query_from_str("?a=b").unwrap(), "a=b");
    }
}
