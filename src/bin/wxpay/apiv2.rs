//! APIv2 in `wxpay`: a `v2/…` URI (or `v2.…`) takes its data as one JSON object (`-d`, plus
//! `-q NAME=VALUE` pairs), which the library signs with the APIv2 key and sends as the XML
//! body (or, with `-X GET`, as the query). The XML answer prints as a JSON object, an APIv2
//! error as its fields (exit 4).

use serde_json::{json, Map, Value};
use wechatpay_chain::v2::sign::ApiV2Key;
use wechatpay_chain::v2::xml;
use wechatpay_chain::{ApiV2Error, Error, Options, PreparedRequest, Response};

use crate::send::dotted;
use crate::{output, Fail};

/// True if `uri` names an APIv2 endpoint: its first segment (slashed or dotted form, any
/// case, a leading `/` ignored) is `v2`, the library's virtual prefix.
pub(crate) fn is_v2(uri: &str) -> bool {
    let path = uri.trim_start_matches('/');
    let first = path.split(if dotted(path) { '.' } else { '/' }).next();
    first.is_some_and(|s| s.eq_ignore_ascii_case("v2"))
}

/// The signed data of a v2 call: the JSON object of `-d` (its fields in order), then the
/// `-q` pairs. Decimal numbers are refused: JSON would re-print `1.10` as `1.1`, so the
/// signed text could differ from what was typed.
pub(crate) fn data(
    body: Option<&[u8]>,
    queries: &[(&str, &str)],
) -> Result<Map<String, Value>, Fail> {
    let mut map = match body {
        None => Map::new(),
        Some(bytes) => match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(Fail::input(
                    "-d of a v2 URI must be a JSON object of the APIv2 fields, e.g. -d '{\"appid\":\"wx…\",\"mch_id\":\"1900000109\"}'",
                ))
            }
            Err(e) => return Err(Fail::input(format!("-d is not valid JSON: {e}"))),
        },
    };
    if let Some(field) = map
        .iter()
        .find(|(_, v)| v.as_number().is_some_and(serde_json::Number::is_f64))
        .map(|(k, _)| k.clone())
    {
        return Err(Fail::input(format!(
            "-d field {field}: a decimal number; APIv2 fields are text, so quote it (\"{field}\":\"…\") to have it signed exactly as written"
        )));
    }
    for (name, value) in queries {
        if map.contains_key(*name) {
            return Err(Fail::input(format!(
                "-q {name}: the field is also in -d; give it once"
            )));
        }
        map.insert((*name).to_string(), Value::String((*value).to_string()));
    }
    Ok(map)
}

/// The merchant id the data names (`mch_id`, `mchid`, `combine_mch_id`: the first present),
/// as text: a dry run without configuration signs for it.
pub(crate) fn data_mchid(data: &Map<String, Value>) -> Option<String> {
    ["mch_id", "mchid", "combine_mch_id"]
        .iter()
        .find_map(|k| data.get(*k))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
}

/// The options of a v2 call: the data, and the `--nonceless` / `--security` switches.
pub(crate) fn options(
    opts: Options,
    data: Map<String, Value>,
    nonceless: bool,
    security: bool,
) -> Options {
    let mut opts = opts.xml(data);
    if nonceless {
        opts = opts.nonceless();
    }
    if security {
        opts = opts.security();
    }
    opts
}

/// A v2 response as JSON: status, Request-ID (if any) and the XML answer as an object.
pub(crate) fn summary(response: &Response) -> Value {
    let body = match response.xml_map() {
        Ok(map) => Value::Object(map),
        // An unsigned answer that is not XML (a bill without -o): shown as text.
        Err(_) => Value::String(String::from_utf8_lossy(response.bytes()).into_owned()),
    };
    json!({
        "status": response.status().as_u16(),
        "request_id": response.request_id(),
        "body": body,
    })
}

/// An APIv2 error as JSON: the HTTP status and the answer's codes (null when absent).
pub(crate) fn error_json(e: &Error, v2: &ApiV2Error) -> Value {
    let fields = v2.fields();
    let field = |name: &str| fields.get(name).cloned().unwrap_or(Value::Null);
    json!({
        "status": e.status().map(|s| s.as_u16()),
        "return_code": field("return_code"),
        "return_msg": field("return_msg"),
        "result_code": field("result_code"),
        "err_code": field("err_code"),
        "err_code_des": field("err_code_des"),
    })
}

/// The dry-run object of a v2 request (like v3's: method, url, target, headers, body,
/// message); its `sign` is redacted unless `show_sign` (the throw-away test key made it), and
/// the APIv2 key is never shown, whatever the library puts in `message`.
pub(crate) fn describe(
    request: &PreparedRequest,
    key: Option<&ApiV2Key>,
    show_sign: bool,
) -> Value {
    let mut value = output::describe(request, true);
    if let Some(key) = key {
        let key = String::from_utf8_lossy(key.as_bytes()).into_owned();
        value = redact(value, &key, "<redacted APIv2 key>");
    }
    match sign_of(request) {
        Some(sign) if !show_sign => redact(value, &sign, "(redacted)"),
        _ => value,
    }
}

/// The `sign` of a prepared v2 request: in the XML body, or for a GET in the query.
fn sign_of(request: &PreparedRequest) -> Option<String> {
    if request.body().is_empty() {
        let (_, query) = request.target().split_once('?')?;
        return query
            .split('&')
            .find_map(|pair| pair.strip_prefix("sign="))
            .map(str::to_string);
    }
    let map = xml::from_xml(request.body()).ok()?;
    map.get("sign")?.as_str().map(str::to_string)
}

/// `value` (a dry-run description) with every occurrence of `secret` replaced by `by`: a
/// signed request can be replayed by whoever reads it.
fn redact(value: Value, secret: &str, by: &str) -> Value {
    match value {
        Value::String(s) if !secret.is_empty() => Value::String(s.replace(secret, by)),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, redact(v, secret, by)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_is_the_first_segment_in_any_form() {
        for uri in [
            "v2/pay/micropay",
            "/v2/pay/micropay",
            "V2.pay.micropay",
            "v2",
        ] {
            assert!(is_v2(uri), "{uri}");
        }
        for uri in [
            "v3/pay/transactions/native",
            "v3.pay",
            "v2x/pay",
            "pay/v2/x",
            "https://x/v2/pay",
        ] {
            assert!(!is_v2(uri), "{uri}");
        }
    }

    #[test]
    fn data_keeps_order_appends_queries_and_refuses_decimals_and_duplicates() {
        let map = data(Some(br#"{"b":"1","a":2}"#), &[("c", "3")]).unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(data(Some(b"[1]"), &[]).unwrap_err().code, 2);
        let decimal = data(Some(br#"{"total_fee":1.10}"#), &[]).unwrap_err();
        assert!(decimal.message.contains("total_fee"), "{}", decimal.message);
        assert!(data(Some(br#"{"a":"1"}"#), &[("a", "2")]).is_err());
    }

    #[test]
    fn redaction_reaches_nested_strings() {
        let v = json!({"url": "x?sign=ABC", "headers": {"h": "ABC"}, "n": 1});
        assert_eq!(
            redact(v, "ABC", "(redacted)"),
            json!({"url": "x?sign=(redacted)", "headers": {"h": "(redacted)"}, "n": 1})
        );
    }
}
