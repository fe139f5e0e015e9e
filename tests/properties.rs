//! Properties of template expansion, normalization and queries, through `prepare` (the target
//! that is signed and sent), for any input proptest can think of.

mod support;

use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::sync::OnceLock;

use wechatpay_chain::{normalize_segment, ChainError, ErrorKind, Method, Options, Wechatpay};

/// `{name}` in the middle of a path.
const MIDDLE: &str = "v3/payscore/partner/serviceorder/{out_order_no}/pay";
/// `{name}` ending a path (an empty value is allowed there: a trailing `/`).
const LAST: &str = "v3/merchant-service/images/{media_id}";
/// `{+name}` ending a path.
const RESERVED: &str = "v3/merchant-service/images/{+media_id}";
const RESERVED_PREFIX: &str = "/v3/merchant-service/images/";

fn decode(s: &str) -> Vec<u8> {
    percent_decode_str(s).collect()
}

/// `.` or `..`, plain or percent-encoded: a segment that servers remove, moving the request to
/// another endpoint.
fn is_dot_segment(piece: &str) -> bool {
    matches!(&decode(piece)[..], b"." | b"..")
}

/// Only the unreserved set and well-formed `%XX` triplets (upper-case hex).
fn is_simple_encoded(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => i += 1,
            b'%' if b.len() > i + 2
                && b[i + 1..i + 3]
                    .iter()
                    .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c)) =>
            {
                i += 3;
            }
            _ => return false,
        }
    }
    true
}

/// Any string, plus short strings over the characters that matter for paths (dots, slashes,
/// percent signs) so that the interesting cases come up often.
fn path_value() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[./%2EeF ?#a-z]{0,4}", "\\PC{0,12}"]
}

/// One client for all cases (building one per case would dominate the run time).
fn client() -> &'static Wechatpay {
    static CLIENT: OnceLock<Wechatpay> = OnceLock::new();
    CLIENT.get_or_init(support::client)
}

/// The target for `template` with `name` = `value`, or the chain error (nothing else can fail).
fn expand(template: &str, name: &str, value: &str) -> Result<String, ChainError> {
    let wxpay = client();
    let options = Options::new().param(name, value);
    wxpay
        .chain(template)
        .prepare(Method::GET, options)
        .map(|p| p.target().to_string())
        .map_err(|e| match e.kind() {
            ErrorKind::Chain(c) => c.clone(),
            other => panic!("{value:?}: not a chain error: {other:?}"),
        })
}

fn slashes(s: &str) -> usize {
    s.matches('/').count()
}

/// RFC 3986 `pchar` plus well-formed `%XX` triplets: what a literal path segment may carry.
fn is_pchar_encoded(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => i += 1,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => i += 1,
            b':' | b'@' => i += 1,
            b'%' if b.len() > i + 2 && b[i + 1..i + 3].iter().all(u8::is_ascii_hexdigit) => i += 3,
            _ => return false,
        }
    }
    true
}

proptest! {
    /// A literal piece written into `chain()` arrives as written: same text (decoded), same
    /// case, one segment, only characters a segment can carry; `.`/`..` (encoded too) refused.
    #[test]
    fn a_literal_piece_arrives_as_written(piece in "[^/?{}]{1,12}") {
        let template = format!("v3/pay/transactions/out-trade-no/{piece}");
        let result = client()
            .chain(&template)
            .prepare(Method::GET, ())
            .map(|p| p.target().to_string());
        if is_dot_segment(&piece) {
            prop_assert!(result.is_err(), "{:?} gave {:?}", piece, result);
            return Ok(());
        }
        let target = result.map_err(|e| TestCaseError::fail(format!("{piece:?}: {e:?}")))?;
        prop_assert_eq!(slashes(&target), slashes(&template) + 1, "{}", target);
        let segment = target.rsplit('/').next().unwrap();
        prop_assert!(is_pchar_encoded(segment), "{}", segment);
        prop_assert_eq!(decode(segment), decode(&piece));
        if piece.bytes().all(|b| b.is_ascii_alphanumeric()) {
            prop_assert_eq!(segment, piece.as_str(), "kept verbatim, capitals included");
        }
    }

    #[test]
    fn a_simple_value_stays_in_its_segment(value in path_value()) {
        for (template, name) in [(MIDDLE, "out_order_no"), (LAST, "media_id")] {
            let result = expand(template, name, &value);
            if value.is_empty() && template == MIDDLE {
                prop_assert_eq!(result, Err(ChainError::EmptyVariable(name.into())));
                continue;
            }
            // `.` and `..` are the only values simple expansion leaves as a dot segment
            // (`%` is encoded, so `%2E` cannot become one).
            if value == "." || value == ".." {
                prop_assert!(
                    matches!(result, Err(ChainError::InvalidSegment { .. })),
                    "{:?} gave {:?}", value, result
                );
                continue;
            }
            let target = result.map_err(|e| TestCaseError::fail(format!("{value:?}: {e:?}")))?;
            // One base `/` plus the template's own: the value added none.
            prop_assert_eq!(slashes(&target), slashes(template) + 1, "{}", target);
            prop_assert!(!target.contains(['?', '#']), "{}", target);
            let index = template.split('/').position(|s| s.starts_with('{')).unwrap() + 1;
            let segment = target.split('/').nth(index).unwrap();
            prop_assert!(is_simple_encoded(segment), "{}", segment);
            prop_assert_eq!(decode(segment), value.as_bytes());
        }
    }

    #[test]
    fn reserved_expansion_keeps_triplets(
        tokens in proptest::collection::vec(
            prop_oneof![
                "%[0-9A-Fa-f]{2}",
                "[A-Za-z0-9._~!$&'()*+,;=:@-]",
            ],
            0..12,
        )
    ) {
        let value: String = tokens.concat();
        let result = expand(RESERVED, "media_id", &value);
        if is_dot_segment(&value) {
            prop_assert!(
                matches!(result, Err(ChainError::InvalidSegment { .. })),
                "{:?} gave {:?}", value, result
            );
        } else {
            // Triplets and reserved characters pass through untouched.
            prop_assert_eq!(result, Ok(format!("{RESERVED_PREFIX}{value}")));
        }
    }

    #[test]
    fn reserved_expansion_decodes_to_the_value(value in path_value()) {
        let result = expand(RESERVED, "media_id", &value);
        if value.split('/').any(is_dot_segment) {
            prop_assert!(
                matches!(result, Err(ChainError::InvalidSegment { .. })),
                "{:?} gave {:?}", value, result
            );
            return Ok(());
        }
        let target = result.map_err(|e| TestCaseError::fail(format!("{value:?}: {e:?}")))?;
        let expanded = target.strip_prefix(RESERVED_PREFIX).unwrap();
        // Only existing triplets stay encoded: decoding gives what decoding the value gives.
        prop_assert_eq!(decode(expanded), decode(&value));
        // Every `%` of the result starts a triplet (a lone `%` was encoded as `%25`).
        let bytes = expanded.as_bytes();
        for (i, _) in expanded.match_indices('%') {
            prop_assert!(
                bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit(),
                "{}", expanded
            );
        }
        prop_assert!(!expanded.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b >= 0x80));
    }

    #[test]
    fn normalize_segment_is_idempotent(
        name in prop_oneof![any::<String>(), "[_$A-Za-z0-9{}.-]{0,8}"]
    ) {
        let once = normalize_segment(&name);
        prop_assert_eq!(normalize_segment(&once), once.clone(), "{:?}", name);
    }

    #[test]
    fn query_values_round_trip(
        entries in proptest::collection::vec(
            (
                any::<String>(),
                prop_oneof![
                    any::<String>().prop_map(Value::from),
                    "[ &=?#%+a-z]{0,6}".prop_map(Value::from),
                    any::<i64>().prop_map(Value::from),
                    any::<bool>().prop_map(Value::from),
                    Just(Value::Null),
                ],
            ),
            0..6,
        )
    ) {
        let map: Map<String, Value> = entries.into_iter().collect();
        let expected: Vec<(String, String)> = map
            .iter()
            .filter_map(|(k, v)| match v {
                Value::Null => None,
                Value::String(s) => Some((k.clone(), s.clone())),
                other => Some((k.clone(), other.to_string())),
            })
            .collect();

        let prepared = client()
            .v3()
            .certificates()
            .prepare(Method::GET, Options::from(serde_json::json!({ "query": map })))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let target = prepared.target();
        let query = match target.split_once('?') {
            Some((path, query)) => {
                prop_assert_eq!(path, "/v3/certificates");
                query
            }
            None => {
                prop_assert_eq!(target, "/v3/certificates");
                prop_assert!(expected.is_empty(), "entries but no query");
                return Ok(());
            }
        };
        let got: Vec<(String, String)> = query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').expect("key=value");
                assert!(is_simple_encoded(k) && is_simple_encoded(v), "{pair}");
                (
                    String::from_utf8(decode(k)).unwrap(),
                    String::from_utf8(decode(v)).unwrap(),
                )
            })
            .collect();
        prop_assert_eq!(got, expected);
    }
}
