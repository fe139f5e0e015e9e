//! Target `template`: a declarative path with `{var}` / `{+var}` expressions, values, a query
//! (object or string) and a base URI, all from the input, then `prepare()`.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};
use wechatpay_chain::{Method, Options};

use super::chain::check_prepared;
use super::fixtures::client;
use super::input::Input;

/// Base URIs the requests may name, with the origins each one allows.
const BASES: &[(Option<&str>, &[&str])] = &[
    (
        None,
        &[
            "https://api.mch.weixin.qq.com/",
            "https://api2.mch.weixin.qq.com/",
        ],
    ),
    (
        Some("https://apihk.mch.weixin.qq.com/hk/"),
        &["https://apihk.mch.weixin.qq.com/"],
    ),
    (Some("http://127.0.0.1:8080"), &["http://127.0.0.1:8080/"]),
];

/// Option keys that are not template variables.
const RESERVED: &[&str] = &[
    "json", "body", "query", "params", "headers", "base_uri", "timeout",
];

const METHODS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// A value of the kind the input asks for; strings most of the time.
fn value(input: &mut Input<'_>) -> Value {
    let kind = input.byte();
    match kind % 8 {
        0 => Value::Null,
        1 => Value::Bool(kind & 0x10 != 0),
        2 => Value::from(i64::from(input.u16()) - 1000),
        3 => Value::from(f64::from(input.u16()) / 8.0),
        4 => Value::Array(vec![Value::from(input.text())]),
        _ => Value::from(input.text()),
    }
}

/// The text a scalar expands to (protocol: strings as is, numbers in their JSON form).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The input: template, variables, query, method, base URI, body; then `prepare()` and the
/// invariants of expansion and query encoding on success.
pub(crate) fn template_target(data: &[u8]) {
    let mut input = Input::new(data);
    let template = input.text();
    let mut params = Map::new();
    for _ in 0..usize::from(input.byte() % 6) {
        let name = input.text();
        let value = value(&mut input);
        if !RESERVED.contains(&name.as_str()) {
            params.insert(name, value);
        }
    }
    let query_mode = input.byte();
    let mut query = Map::new();
    let mut query_string = None;
    match query_mode % 3 {
        0 => {}
        1 => {
            for _ in 0..usize::from(input.byte() % 6) {
                let key = input.text();
                query.insert(key, value(&mut input));
            }
        }
        _ => query_string = Some(input.text()),
    }
    let method = METHODS[usize::from(input.byte()) % METHODS.len()].clone();
    let (base, origins) = BASES[usize::from(input.byte()) % BASES.len()];
    let php_style = input.byte().is_multiple_of(2);
    let body = input.rest();

    let mut options = if php_style {
        // The PHP map: reserved keys and variables side by side.
        let mut map = params.clone();
        if query_mode % 3 == 1 {
            map.insert("query".into(), Value::Object(query.clone()));
        }
        if let Some(q) = &query_string {
            map.insert("params".into(), Value::from(q.as_str()));
        }
        if let Some(b) = base {
            map.insert("base_uri".into(), Value::from(b));
        }
        Options::from(Value::Object(map))
    } else {
        let mut o = params
            .iter()
            .fold(Options::new(), |o, (k, v)| o.param(k.clone(), v.clone()));
        for (k, v) in &query {
            o = o.query(k.clone(), v.clone());
        }
        if let Some(q) = &query_string {
            o = o.query_string(q.clone());
        }
        if let Some(b) = base {
            o = o.base_uri(b);
        }
        o
    };
    if !body.is_empty() {
        options = options.body(body.to_vec());
    }

    let chain = client().chain(&template);
    let request = match chain.prepare(method, options) {
        Ok(request) => request,
        Err(e) => {
            let _ = (e.to_string(), format!("{e:?}"), e.kind());
            return;
        }
    };
    check_prepared(&request, origins);
    assert_eq!(request.body().as_ref(), body, "the body is sent as given");

    let target = request.target();
    let (path, sent_query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if query_mode % 3 == 1 && !query.is_empty() {
        check_query_round_trip(&query, sent_query.unwrap_or(""));
    }
    if let Some(q) = &query_string {
        let q = q.strip_prefix('?').unwrap_or(q);
        assert_eq!(
            sent_query.unwrap_or(""),
            q,
            "a query string is sent as given"
        );
    }
    check_values_stay_in_their_segment(request.template(), &params, path, base);
}

/// Every non-null entry of the query object comes back, in order, from the sent query.
fn check_query_round_trip(query: &Map<String, Value>, sent: &str) {
    let expected: Vec<(String, String)> = query
        .iter()
        .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), t)))
        .collect();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let got: Vec<(String, String)> = if sent.is_empty() {
        Vec::new()
    } else {
        sent.split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect()
    };
    assert_eq!(got, expected, "the query object round-trips");
}

/// Without `{+…}`, the path has exactly the template's segments after the base path, and a
/// whole-segment `{name}` decodes back to its value: a value never adds a segment.
fn check_values_stay_in_their_segment(
    template: &str,
    params: &Map<String, Value>,
    path: &str,
    base: Option<&str>,
) {
    if template.contains("{+") || template.starts_with("http") {
        return;
    }
    let base_path = match base {
        Some(b) if b.ends_with("/hk/") => "/hk/",
        _ => "/",
    };
    let Some(rest) = path.strip_prefix(base_path) else {
        panic!("path {path:?} lost its base path {base_path:?}");
    };
    let template_segments: Vec<&str> = template.split('/').collect();
    let path_segments: Vec<&str> = rest.split('/').collect();
    assert_eq!(
        template_segments.len(),
        path_segments.len(),
        "a value added or removed a segment: {template:?} -> {path:?}"
    );
    for (t, p) in template_segments.iter().zip(&path_segments) {
        let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) else {
            continue;
        };
        if let Some(text) = params.get(name).and_then(scalar_text) {
            let decoded = percent_decode_str(p).decode_utf8_lossy();
            assert_eq!(decoded, text, "{{{name}}} round-trips");
        }
    }
}
