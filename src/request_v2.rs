//! APIv2 through the same chain: a chain whose expanded path starts with the segment `v2` is
//! an APIv2 call. The `v2` segment is a virtual prefix (stripped, never sent); the data (the
//! `xml` option, or a `GET`'s query) is checked against the client's merchant id, gets a
//! `nonce_str`, is signed with the APIv2 key (MD5 or HMAC-SHA256) and is sent as the XML body,
//! or for a `GET` as the query, `sign` last. No `Authorization`: the sign is in the data.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::Method;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

use crate::catalog;
use crate::client::{ClientInner, USER_AGENT};
use crate::error::{ChainError, ConfigError, Result};
use crate::options::{Body, Options, Query};
use crate::v2::sign::SignType;

/// Which protocol a prepared request speaks, and what its answer needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// APIv3: JSON, RSA `Authorization`, RSA-signed answers.
    V3,
    /// APIv2: XML data signed with the APIv2 key.
    V2 {
        /// The sign type of the request; the answer's sign is checked with it.
        sign_type: SignType,
        /// The endpoint answers without a sign (bills, transfers, red packets, …): its answer
        /// is returned as is, unless it is an XML failure.
        unsigned_response: bool,
    },
}

/// True if `segment` (as on the wire, possibly percent-encoded) is `v2` in any case.
fn is_v2(segment: &str) -> bool {
    percent_decode_str(segment)
        .decode_utf8_lossy()
        .eq_ignore_ascii_case("v2")
}

/// Refuses a base URI whose own path holds a `v2` segment: the `v2` prefix belongs to the
/// chain, where it is stripped; in the base it would be sent.
pub(crate) fn check_base_path(uri: &str, path: &str) -> Result<(), ChainError> {
    if path.split('/').any(is_v2) {
        return Err(ChainError::InvalidUri(format!(
            "{uri}: a base URI's path cannot hold a v2 segment; APIv2 calls are chains that start with v2/ (e.g. v2/pay/micropay) under the ordinary base URI"
        )));
    }
    Ok(())
}

/// Removes the virtual `v2` segment that starts the target after its `base_len`-byte base
/// path. True if it was there (an APIv2 call); a bare `v2` names no endpoint.
pub(crate) fn strip_prefix(target: &mut String, base_len: usize) -> Result<bool, ChainError> {
    let base_len = base_len.min(target.len());
    let rest = &target[base_len..];
    let leading = rest.len() - rest.trim_start_matches('/').len();
    let first = rest[leading..].split('/').next().unwrap_or("");
    if !is_v2(first) {
        return Ok(false);
    }
    let end = base_len + leading + first.len();
    if target[end..].trim_matches('/').is_empty() {
        return Err(ChainError::InvalidTarget(format!(
            "`{first}` alone names no endpoint; APIv2 calls name one after it, e.g. v2/pay/micropay"
        )));
    }
    // `base/v2/pay/micropay` → `base/pay/micropay`: the `/` after `v2` goes too.
    let cut_to = if target[end..].starts_with('/') {
        end + 1
    } else {
        end
    };
    target.replace_range(base_len + leading..cut_to, "");
    Ok(true)
}

/// What [`prepare`] needs of the shared steps: where the request goes and its path.
pub(crate) struct V2Target<'a> {
    /// The path (no query), the `v2` segment already stripped.
    pub(crate) path: String,
    /// The length of the base path at the start of `path`.
    pub(crate) base_len: usize,
    /// The origin (`scheme://authority`).
    pub(crate) origin: &'a str,
    /// The query that came with the chain itself (`v2/x?a=b`).
    pub(crate) chain_query: Option<&'a str>,
    /// The chain's template (`v2/secapi/pay/refund`), for the catalog.
    pub(crate) template: &'a str,
}

/// The signed APIv2 request parts.
pub(crate) struct V2Request {
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// The string signed, without the `&key=…` (never the key).
    pub(crate) message: Vec<u8>,
    pub(crate) protocol: Protocol,
    pub(crate) mutual_tls: bool,
}

/// Refuses on an APIv3 chain the options only APIv2 takes, naming them: none is dropped.
pub(crate) fn refuse_v2_options(options: &Options) -> Result<(), ChainError> {
    match options.v2_only_keys().first() {
        Some(key) => Err(ChainError::InvalidOptions(format!(
            "`{key}` is an APIv2 option and this is an APIv3 chain; APIv3 sends its data as `json` (APIv2 chains start with v2/)"
        ))),
        None => Ok(()),
    }
}

/// Builds and signs an APIv2 request (everything is checked before signing).
pub(crate) fn prepare(
    client: &ClientInner,
    method: &Method,
    options: Options,
    target: V2Target<'_>,
) -> Result<V2Request> {
    if let Some(first) = match (&options.body, &options.upload) {
        (Some(Body::Raw(_)), _) => Some("body"),
        (Some(_), _) => Some("json"),
        (None, Some(_)) => Some("upload"),
        (None, None) => None,
    } {
        return Err(ChainError::InvalidOptions(format!(
            "`{first}` is not for APIv2: APIv2 sends its data as `xml` (an object of fields), signed with the APIv2 key"
        ))
        .into());
    }
    if options.wechatpay_serial.is_some() {
        return Err(ChainError::InvalidOptions(
            "`wechatpay_serial` is an APIv3 option; APIv2 calls carry no Wechatpay-Serial".into(),
        )
        .into());
    }
    let key = client
        .apiv2_key
        .as_ref()
        .ok_or(ConfigError::MissingApiV2Key("sign APIv2 requests"))?;
    let is_get = *method == Method::GET;
    let mut data = data(is_get, options.xml, options.query, target.chain_query)?;
    check_mchid(&client.mchid, &data)?;
    let sign_type = sign_type(&data)?;
    if data.contains_key("sign") {
        return Err(ChainError::InvalidOptions(
            "`sign` is computed by the client from the APIv2 key; remove it from the data".into(),
        )
        .into());
    }
    if options.nonceless != Some(true) && !data.contains_key("nonce_str") {
        data.insert("nonce_str".into(), Value::String(client.nonce.nonce()?));
    }

    let relative = &target.path[target.base_len.saturating_sub(1).min(target.path.len())..];
    let mutual_tls =
        options.security == Some(true) || needs_api_certificate(method, relative, target.template);
    let unsigned_response = crate::response_v2::is_unsigned_response(relative);
    if mutual_tls {
        let why = if options.security == Some(true) {
            "the security option"
        } else {
            "the catalog marks it api_cert_required"
        };
        if !client.mutual_tls {
            return Err(ConfigError::MissingMerchantCertificate(format!(
                "{method} {relative} (APIv2; {why})"
            ))
            .into());
        }
        if !target.origin.starts_with("https://") {
            return Err(ChainError::InvalidUri(format!(
                "{}: {method} {relative} goes over mutual TLS ({why}), which needs https; use an https base URI (the sandbox: start it with tls)",
                target.origin
            ))
            .into());
        }
    }

    let message = crate::v2::sign::string_to_sign(&data)?;
    // The message is what `sign` would build again: hash it once.
    let sign = crate::v2::sign::hash_sign(sign_type, &message, key.as_bytes());
    data.insert("sign".into(), Value::String(sign));

    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/xml, text/plain, application/json, application/x-gzip"),
    );
    headers.insert(header::USER_AGENT, USER_AGENT.clone());
    let (target, body) = if is_get {
        let mut path = target.path;
        path.push('?');
        path.push_str(&query_string(&data)?);
        (path, Bytes::new())
    } else {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        );
        let xml = crate::v2::xml::to_xml(&data);
        (target.path, Bytes::from(xml))
    };
    crate::request::add_user_headers(&mut headers, &options.headers, None)?;
    crate::request::check_target(&target)?;
    Ok(V2Request {
        target,
        headers,
        body,
        message: message.into_bytes(),
        protocol: Protocol::V2 {
            sign_type,
            unsigned_response,
        },
        mutual_tls,
    })
}

/// The data to sign: the `xml` option, or for a `GET` the query (an object, or a string
/// parsed into pairs). What would be ignored is refused instead.
fn data(
    is_get: bool,
    xml: Option<Map<String, Value>>,
    query: Option<Query>,
    chain_query: Option<&str>,
) -> Result<Map<String, Value>, ChainError> {
    let query_given = if query.is_some() {
        Some("query")
    } else {
        chain_query.map(|_| "the chain's ?query")
    };
    match (xml, query_given) {
        (Some(_), Some(second)) => Err(ChainError::InvalidOptions(format!(
            "an APIv2 call takes its data from `xml` or (GET) from the query, not both; {second} would be replaced by the signed data"
        ))),
        (Some(xml), None) => Ok(xml),
        (None, Some(_)) if !is_get => Err(ChainError::InvalidOptions(
            "an APIv2 POST signs only its `xml` data; put the query's fields into `xml`".into(),
        )),
        (None, _) => match (query, chain_query) {
            (Some(Query::Map(map)), _) => Ok(map),
            (Some(Query::String(s)), _) => Ok(parse_query(&s)),
            (None, Some(s)) => Ok(parse_query(s)),
            (None, None) => Ok(Map::new()),
        },
    }
}

/// `a=1&b=x%20y` → `{a: "1", b: "x y"}` (`+` is a space, as a form query has it); a repeated
/// key keeps its last value.
fn parse_query(query: &str) -> Map<String, Value> {
    let decode = |s: &str| {
        let spaced = s.replace('+', " ");
        percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
    };
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), Value::String(decode(v)))
        })
        .collect()
}

/// The textual form of a flat value, as signed (`1900000109` and `"1900000109"` alike).
fn textual(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first present of `mch_id`, `mchid`, `combine_mch_id` must be the client's merchant id,
/// compared as text: a request signed for another merchant is refused before signing.
fn check_mchid(mchid: &str, data: &Map<String, Value>) -> Result<(), ChainError> {
    let found = ["mch_id", "mchid", "combine_mch_id"]
        .into_iter()
        .find_map(|key| data.get(key).filter(|v| !v.is_null()).map(|v| (key, v)));
    let Some((key, value)) = found else {
        return Ok(());
    };
    if textual(value).as_deref() == Some(mchid) {
        return Ok(());
    }
    Err(ChainError::InvalidOptions(format!(
        "the xml's {key} ({value}) is not this client's mchid ({mchid}); sign with the client of that merchant or fix {key}"
    )))
}

/// `sign_type` of the data, `MD5` when absent.
fn sign_type(data: &Map<String, Value>) -> Result<SignType, ChainError> {
    match data.get("sign_type") {
        None | Some(Value::Null) => Ok(SignType::Md5),
        Some(Value::String(s)) => s
            .parse::<SignType>()
            .map_err(|_| ChainError::UnknownSignType(s.clone())),
        Some(other) => Err(ChainError::UnknownSignType(other.to_string())),
    }
}

/// True if the catalog marks the APIv2 endpoint for `method` as needing the merchant API
/// certificate, found by its wire path `relative` (`/secapi/pay/refund`, whatever form the
/// chain took) or by the chain's `template` (a few catalog chains name a segment as a
/// placeholder).
fn needs_api_certificate(method: &Method, relative: &str, template: &str) -> bool {
    let marked = |e: &catalog::Endpoint| {
        e.method == method.as_str() && e.api_cert_required && e.template().starts_with("v2/")
    };
    catalog::find(relative).any(marked)
        || catalog::lookup(method.as_str(), template).is_some_and(marked)
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (`%20` for a
/// space), like PHP's `rawurlencode`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The signed data as a `GET` query, in insertion order, `sign` last; `null` entries (not
/// signed either) are left out.
fn query_string(data: &Map<String, Value>) -> Result<String, ChainError> {
    let mut out = String::new();
    for (key, value) in data {
        let text = match value {
            Value::Null => continue,
            Value::Bool(true) => "1".to_string(),
            Value::Bool(false) => String::new(),
            other => textual(other).ok_or_else(|| {
                ChainError::NestedQuery(format!(
                    "{key}: an APIv2 query takes flat values, not arrays or objects"
                ))
            })?,
        };
        if !out.is_empty() {
            out.push('&');
        }
        out.extend(utf8_percent_encode(key, UNRESERVED));
        out.push('=');
        out.extend(utf8_percent_encode(&text, UNRESERVED));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v2_prefix_is_stripped_after_the_base_path() {
        let strip = |t: &str, base: usize| {
            let mut t = t.to_string();
            strip_prefix(&mut t, base).map(|v2| (v2, t))
        };
        assert_eq!(
            strip("/v2/pay/micropay", 1),
            Ok((true, "/pay/micropay".into()))
        );
        assert_eq!(strip("/hk/V2/pay", 4), Ok((true, "/hk/pay".into())));
        assert_eq!(strip("/%76%32/pay", 1), Ok((true, "/pay".into())));
        assert_eq!(strip("/v3/pay/v2", 1), Ok((false, "/v3/pay/v2".into())));
        assert_eq!(strip("/v2x/pay", 1), Ok((false, "/v2x/pay".into())));
        for bare in ["/v2", "/v2/", "/V2//"] {
            assert!(
                matches!(strip(bare, 1), Err(ChainError::InvalidTarget(m)) if m.contains("alone")),
                "{bare}"
            );
        }
    }

    #[test]
    fn base_paths_with_v2_are_refused() {
        assert!(check_base_path("https://h/v2/", "/v2/").is_err());
        assert!(check_base_path("https://h/a/%56%32/", "/a/%56%32/").is_err());
        assert!(check_base_path("https://h/hk/", "/hk/").is_ok());
    }

    #[test]
    fn queries_are_rfc3986_and_strings_parse_back() {
        let data = parse_query("mch_id=1900000109&a=b+c&d=%E5%BE%AE%20x&e");
        assert_eq!(
            Value::Object(data.clone()),
            serde_json::json!({"mch_id": "1900000109", "a": "b c", "d": "微 x", "e": ""})
        );
        assert_eq!(
            query_string(&data).unwrap(),
            "mch_id=1900000109&a=b%20c&d=%E5%BE%AE%20x&e="
        );
        let nested = serde_json::json!({"a": [1]});
        assert!(query_string(nested.as_object().unwrap()).is_err());
    }

    #[test]
    fn the_merchant_id_is_compared_as_text() {
        let data = |v: Value| v.as_object().cloned().unwrap();
        let check = |v: Value| check_mchid("1900000109", &data(v));
        assert!(check(serde_json::json!({"mch_id": 1_900_000_109})).is_ok());
        assert!(check(serde_json::json!({"mchid": "1900000109"})).is_ok());
        assert!(check(serde_json::json!({"mch_id": null, "combine_mch_id": "1900000109"})).is_ok());
        assert!(check(serde_json::json!({"a": "b"})).is_ok(), "none present");
        let e =
            check(serde_json::json!({"mch_id": "1900000110", "mchid": "1900000109"})).unwrap_err();
        assert!(
            e.to_string().contains("mch_id") && e.to_string().contains("1900000110"),
            "{e}"
        );
        assert!(check(serde_json::json!({"mch_id": true})).is_err());
    }
}
