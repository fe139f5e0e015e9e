//! Request options: the PHP-style single map (`json`, `query`/`params`, `headers`, `body`,
//! `base_uri`, `timeout`, the APIv2 `xml`, `nonceless` and `security`, anything else a URI
//! template variable) and a typed builder for the
//! same thing. A key that is none of these and no variable of the chain's template is an error
//! before signing (checked by `prepare`, which knows the template).

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ChainError;
use crate::media::Media;

/// The query of a request: an object (encoded by the crate) or a pre-built string.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Entries in insertion order; `null` entries are dropped.
    Map(Map<String, Value>),
    /// Used as given after checking it holds only characters a request line can carry.
    String(String),
}

/// The body to send.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// The `json` key of a PHP-style map: serialized once, when the request is prepared.
    Json(Value),
    /// A typed body given to [`Options::json`], already serialized (no `Value` detour).
    Serialized(Bytes),
    Raw(Bytes),
}

impl Body {
    /// The option that set this body, for conflict messages.
    fn option_name(&self) -> &'static str {
        match self {
            Body::Json(_) | Body::Serialized(_) => "json",
            Body::Raw(_) => "body",
        }
    }
}

impl PartialEq for Body {
    /// A JSON body equals another by its bytes, whichever way it was given (a `Value` in the
    /// PHP-style map or a typed body): both are what would be signed and sent.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Body::Json(a), Body::Json(b)) => a == b,
            (Body::Serialized(a), Body::Serialized(b)) | (Body::Raw(a), Body::Raw(b)) => a == b,
            (Body::Json(v), Body::Serialized(b)) | (Body::Serialized(b), Body::Json(v)) => {
                serde_json::to_vec(v).is_ok_and(|bytes| bytes == *b)
            }
            _ => false,
        }
    }
}

/// Everything a verb takes besides the chain. Build it from a `serde_json::Value` (PHP style)
/// or with the builder methods; both are accepted by every verb.
///
/// Reserved keys of the map: `json`, `body`, `query` (or `params`, the axios spelling; not
/// both), `headers`, `base_uri`, `timeout` (seconds > 0, fractions allowed), and for APIv2
/// chains (`v2/…`) `xml` (an object: the data to sign and send), `nonceless` and `security`
/// (booleans; see [`Options::xml`]). Any other key is a
/// template variable, and must be one of the chain's: an unused key is refused before signing
/// ([`ChainError::UnusedOptions`]), so `post(json!({"appid": …}))` without `json` cannot send
/// an empty body.
///
/// ```
/// use serde_json::json;
/// use wechatpay_chain::Options;
///
/// let php_style: Options = json!({
///     "out_order_no": "1234323JKHDFE1243252",
///     "json": {"service_id": "2002000000000558128851361561536"},
/// }).into();
/// let typed = Options::new()
///     .param("out_order_no", "1234323JKHDFE1243252")
///     .json(json!({"service_id": "2002000000000558128851361561536"}));
/// assert_eq!(php_style, typed);
/// ```
#[derive(Clone, Default, PartialEq)]
#[must_use]
pub struct Options {
    pub(crate) params: Map<String, Value>,
    pub(crate) body: Option<Body>,
    /// A media upload: the meta is signed, the multipart is sent ([`Options::upload`]).
    pub(crate) upload: Option<Media>,
    pub(crate) query: Option<Query>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) base_uri: Option<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) skip_verification: bool,
    pub(crate) error: Option<ChainError>,
    /// `Wechatpay-Serial` pinned by [`Options::wechatpay_serial`].
    pub(crate) wechatpay_serial: Option<String>,
    /// The APIv2 data ([`Options::xml`]): signed, then sent as the XML body (or the query of a
    /// `GET`).
    pub(crate) xml: Option<Map<String, Value>>,
    /// APIv2: add no `nonce_str` ([`Options::nonceless`]); `Some` when given at all, so that
    /// an APIv3 call can refuse it instead of ignoring it.
    pub(crate) nonceless: Option<bool>,
    /// APIv2: use mutual TLS ([`Options::security`]); `Some` when given at all.
    pub(crate) security: Option<bool>,
}

impl std::fmt::Debug for Options {
    /// Like a derived `Debug`, with any userinfo of `base_uri` redacted (`https://***@host/`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("params", &self.params)
            .field("body", &self.body)
            .field("upload", &self.upload)
            .field("query", &self.query)
            .field("headers", &self.headers)
            .field(
                "base_uri",
                &self.base_uri.as_deref().map(crate::chain::redact_userinfo),
            )
            .field("timeout", &self.timeout)
            .field("skip_verification", &self.skip_verification)
            .field("error", &self.error)
            .field("wechatpay_serial", &self.wechatpay_serial)
            .field("xml", &self.xml)
            .field("nonceless", &self.nonceless)
            .field("security", &self.security)
            .finish()
    }
}

impl Options {
    /// Empty options.
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(mut self, e: ChainError) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// Sets a URI template variable (`{name}` in the chain).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }

    /// Sets the JSON body. It is serialized once, straight to bytes (no intermediate
    /// `serde_json::Value`); those bytes are signed and sent.
    pub fn json(self, body: impl Serialize) -> Self {
        match serde_json::to_vec(&body) {
            Ok(bytes) => self.set_body(Body::Serialized(Bytes::from(bytes))),
            Err(e) => self.fail(ChainError::InvalidOptions(format!(
                "the json body cannot be serialized: {e}"
            ))),
        }
    }

    /// Sets a raw body, sent and signed as is.
    pub fn body(self, body: impl Into<Bytes>) -> Self {
        self.set_body(Body::Raw(body.into()))
    }

    fn set_body(mut self, body: Body) -> Self {
        if self.body.is_some() {
            return self.fail(ChainError::ConflictingOptions {
                first: "json",
                second: "body",
            });
        }
        if self.upload.is_some() {
            return self.fail(ChainError::ConflictingOptions {
                first: "upload",
                second: body.option_name(),
            });
        }
        self.body = Some(body);
        self
    }

    /// Uploads `media` as `multipart/form-data` (a `meta` part and a file part): the signed
    /// body is the meta JSON, byte for byte as sent in the `meta` part, and the
    /// `Content-Type` is `multipart/form-data; boundary=…` (it replaces a `Content-Type`
    /// header option: the boundary must be the body's). It cannot be combined with `json` or
    /// `body` (or a second upload): that is a [`ChainError::ConflictingOptions`].
    ///
    /// ```
    /// use wechatpay_chain::{Media, Options};
    /// let media = Media::new("pixel.gif", &b"GIF89a"[..]).unwrap();
    /// let options = Options::new().upload(media);
    /// ```
    pub fn upload(mut self, media: Media) -> Self {
        let first = match (&self.body, &self.upload) {
            (Some(body), _) => Some(body.option_name()),
            (None, Some(_)) => Some("upload"),
            (None, None) => None,
        };
        if let Some(first) = first {
            return self.fail(ChainError::ConflictingOptions {
                first,
                second: "upload",
            });
        }
        self.upload = Some(media);
        self
    }

    /// Adds one query parameter (kept in insertion order).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        match &mut self.query {
            Some(Query::Map(map)) => {
                map.insert(name.into(), value.into());
            }
            Some(Query::String(_)) => {
                return self.fail(ChainError::InvalidOptions(
                    "a query string was already set; give either a string or entries".into(),
                ))
            }
            None => {
                let mut map = Map::new();
                map.insert(name.into(), value.into());
                self.query = Some(Query::Map(map));
            }
        }
        self
    }

    /// Sets a pre-built query string (replacing any query entries).
    pub fn query_string(mut self, query: impl Into<String>) -> Self {
        self.query = Some(Query::String(query.into()));
        self
    }

    /// Adds a request header; it overrides a default header of the same name.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Pins the request's `Wechatpay-Serial` to the platform key `id` instead of the key
    /// store's preferred key at send time. A body with sensitive fields must name the key they
    /// were encrypted to; [`Encryptor::options`](crate::Encryptor::options) sets this for you.
    ///
    /// Pinning two different ids, or pinning one and also passing a `Wechatpay-Serial` header
    /// that names another, is an error before anything is signed (never a silent override).
    pub fn wechatpay_serial(mut self, id: impl Into<String>) -> Self {
        let id = id.into().trim().to_string();
        if id.is_empty() {
            return self.fail(ChainError::InvalidHeader(
                "Wechatpay-Serial cannot be pinned to an empty id; pass Encryptor::serial()".into(),
            ));
        }
        match self.wechatpay_serial.clone() {
            Some(pinned) if pinned != id => self.fail(ChainError::InvalidHeader(format!(
                "Wechatpay-Serial is pinned to {pinned} already; cannot pin it to {id} too"
            ))),
            _ => {
                self.wechatpay_serial = Some(id);
                self
            }
        }
    }

    /// Overrides the client's base URI for this request (e.g. `https://apihk.mch.weixin.qq.com/`).
    pub fn base_uri(mut self, base: impl Into<String>) -> Self {
        self.base_uri = Some(base.into());
        self
    }

    /// Overrides the client's total timeout for this request (body included). A zero
    /// duration is an error.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        if timeout.is_zero() {
            return self.fail(ChainError::InvalidTimeout("0".into()));
        }
        self.timeout = Some(timeout);
        self
    }

    /// The `timeout` key of the PHP-style map: seconds as a number > 0 (Guzzle's option),
    /// fractions allowed (`0.5`).
    fn timeout_seconds(self, value: &Value) -> Self {
        let seconds = value.as_f64().filter(|s| s.is_finite() && *s > 0.0);
        match seconds.and_then(|s| Duration::try_from_secs_f64(s).ok()) {
            Some(d) if !d.is_zero() => self.timeout(d),
            _ => self.fail(ChainError::InvalidTimeout(value.to_string())),
        }
    }

    /// `query` or `params` (the axios spelling) of the PHP-style map; both at once conflict.
    fn query_value(
        mut self,
        key: &'static str,
        value: Value,
        seen: &mut Option<&'static str>,
    ) -> Self {
        if let Some(first) = seen.replace(key) {
            return self.fail(ChainError::ConflictingOptions { first, second: key });
        }
        match value {
            Value::Object(m) => {
                self.query = Some(Query::Map(m));
                self
            }
            Value::String(s) => self.query_string(s),
            Value::Null => self,
            _ => self.fail(ChainError::InvalidOptions(format!(
                "`{key}` must be an object or a string"
            ))),
        }
    }

    /// Sets the data of an APIv2 call (a chain starting with `v2/`): signed with the APIv2
    /// key, then sent as the XML body in this order (`nonce_str` and `sign` appended), or for
    /// a `GET` as the query. It must serialize to a JSON object; anything else is a
    /// [`ChainError::InvalidOptions`] when the request is prepared. On an APIv3 chain it is
    /// refused (use [`json`](Self::json)).
    ///
    /// ```
    /// use serde_json::json;
    /// use wechatpay_chain::Options;
    ///
    /// let typed = Options::new().xml(json!({"mch_id": "1900000109", "out_trade_no": "T1"}));
    /// let php_style: Options = json!({"xml": {"mch_id": "1900000109", "out_trade_no": "T1"}}).into();
    /// assert_eq!(typed, php_style);
    /// ```
    pub fn xml(mut self, data: impl Serialize) -> Self {
        match serde_json::to_value(data) {
            Ok(Value::Object(map)) => {
                self.xml = Some(map);
                self
            }
            Ok(other) => self.fail(ChainError::InvalidOptions(format!(
                "`xml` must be an object of APIv2 fields, got {}",
                json_kind(&other)
            ))),
            Err(e) => self.fail(ChainError::InvalidOptions(format!(
                "the xml data cannot be serialized: {e}"
            ))),
        }
    }

    /// APIv2: adds no `nonce_str` to the data (for the few endpoints that take none, such as
    /// `papay/entrustweb`). Refused on an APIv3 chain.
    pub fn nonceless(mut self) -> Self {
        self.nonceless = Some(true);
        self
    }

    /// APIv2: sends this call with mutual TLS, presenting the merchant API certificate
    /// configured with `Builder::merchant_api_certificate`. Endpoints the catalog marks as
    /// needing it ([`api_cert_required`](crate::catalog::Endpoint::api_cert_required)) use it
    /// without this. Refused on an APIv3 chain.
    pub fn security(mut self) -> Self {
        self.security = Some(true);
        self
    }

    /// The boolean APIv2 keys of the PHP-style map (`nonceless`, `security`).
    fn v2_flag(mut self, key: &'static str, value: &Value) -> Self {
        let Some(on) = value.as_bool() else {
            return self.fail(ChainError::InvalidOptions(format!(
                "`{key}` must be true or false, got {value}"
            )));
        };
        if key == "nonceless" {
            self.nonceless = Some(on);
        } else {
            self.security = Some(on);
        }
        self
    }

    /// The option names given that only an APIv2 call takes, in a fixed order.
    pub(crate) fn v2_only_keys(&self) -> Vec<&'static str> {
        [
            ("xml", self.xml.is_some()),
            ("nonceless", self.nonceless.is_some()),
            ("security", self.security.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }

    /// Accepts this one response without signature verification. Only for endpoints that
    /// WeChat Pay documents as unsigned and that are not already exempt; use with care.
    pub fn skip_verification(mut self) -> Self {
        self.skip_verification = true;
        self
    }

    fn from_map(map: Map<String, Value>) -> Self {
        let mut opts = Self::new();
        let mut query_key = None;
        for (key, value) in map {
            opts = match key.as_str() {
                "json" => opts.set_body(Body::Json(value)),
                "body" => match value {
                    Value::String(s) => opts.body(s),
                    Value::Null => opts,
                    _ => opts.fail(ChainError::InvalidOptions(
                        "`body` must be a string; use `json` for structured bodies".into(),
                    )),
                },
                "query" => opts.query_value("query", value, &mut query_key),
                "params" => opts.query_value("params", value, &mut query_key),
                "timeout" => match value {
                    Value::Null => opts,
                    v => opts.timeout_seconds(&v),
                },
                "headers" => match value {
                    Value::Object(m) => m.into_iter().fold(opts, |o, (k, v)| match v {
                        Value::String(s) => o.header(k, s),
                        other => o.header(k, other.to_string()),
                    }),
                    Value::Null => opts,
                    _ => opts.fail(ChainError::InvalidOptions(
                        "`headers` must be an object of name → value".into(),
                    )),
                },
                "xml" => match value {
                    Value::Object(m) => {
                        opts.xml = Some(m);
                        opts
                    }
                    other => opts.fail(ChainError::InvalidOptions(format!(
                        "`xml` must be an object of APIv2 fields, got {}",
                        json_kind(&other)
                    ))),
                },
                "nonceless" => opts.v2_flag("nonceless", &value),
                "security" => opts.v2_flag("security", &value),
                "base_uri" => match value {
                    Value::String(s) => opts.base_uri(s),
                    _ => opts.fail(ChainError::InvalidOptions(
                        "`base_uri` must be a string".into(),
                    )),
                },
                _ => opts.param(key, value),
            };
        }
        opts
    }
}

/// The JSON type of `value`, for messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl From<Value> for Options {
    /// PHP-style options. `null` means no options; any non-object is a deferred error.
    fn from(value: Value) -> Self {
        match value {
            Value::Object(map) => Self::from_map(map),
            Value::Null => Self::new(),
            other => Self::new().fail(ChainError::InvalidOptions(format!(
                "options must be a JSON object, got {other}"
            ))),
        }
    }
}

impl From<()> for Options {
    fn from((): ()) -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// No `Value` detour: a `u128` beyond `u64` cannot become a `serde_json::Value` (without
    /// `arbitrary_precision`), but it serializes straight to bytes, and those are the body.
    #[test]
    fn a_typed_body_goes_straight_to_bytes() {
        #[derive(Serialize)]
        struct Wide {
            amount: u128,
        }
        let wide = Wide { amount: 1 << 70 };
        assert!(
            serde_json::to_value(&wide).is_err(),
            "the detour would fail"
        );
        let o = Options::new().json(&wide);
        assert!(o.error.is_none(), "{:?}", o.error);
        assert_eq!(
            o.body,
            Some(Body::Serialized(Bytes::from_static(
                br#"{"amount":1180591620717411303424}"#
            )))
        );
    }

    #[test]
    fn php_map_splits_reserved_keys_from_variables() {
        let o: Options = json!({
            "id": "X", "json": {"a": 1}, "query": {"q": 1},
            "headers": {"Wechatpay-Serial": "S"}, "base_uri": "https://apihk.mch.weixin.qq.com/"
        })
        .into();
        assert_eq!(o.params, *json!({"id": "X"}).as_object().unwrap());
        assert_eq!(o.body, Some(Body::Json(json!({"a": 1}))));
        assert_eq!(o.headers, vec![("Wechatpay-Serial".into(), "S".into())]);
        assert_eq!(
            o.base_uri.as_deref(),
            Some("https://apihk.mch.weixin.qq.com/")
        );
        assert!(o.error.is_none());
    }

    #[test]
    fn shape_errors_are_deferred() {
        let o: Options = json!([1]).into();
        assert!(matches!(o.error, Some(ChainError::InvalidOptions(_))));
        let o: Options = json!({"json": {}, "body": "x"}).into();
        assert!(matches!(
            o.error,
            Some(ChainError::ConflictingOptions { .. })
        ));
    }

    #[test]
    fn upload_conflicts_with_a_body() {
        let media = || Media::new("a.png", &b"png"[..]).unwrap();
        let conflict = |o: Options| o.error;
        assert_eq!(
            conflict(Options::new().json(json!({})).upload(media())),
            Some(ChainError::ConflictingOptions {
                first: "json",
                second: "upload"
            })
        );
        assert_eq!(
            conflict(Options::new().upload(media()).body("x")),
            Some(ChainError::ConflictingOptions {
                first: "upload",
                second: "body"
            })
        );
        assert_eq!(
            conflict(Options::new().upload(media()).upload(media())),
            Some(ChainError::ConflictingOptions {
                first: "upload",
                second: "upload"
            })
        );
        assert!(conflict(Options::new().upload(media())).is_none());
    }

    #[test]
    fn apiv2_keys_are_kept_and_checked() {
        let o: Options = json!({"xml": {"mch_id": 1}, "nonceless": true, "security": false}).into();
        assert!(o.error.is_none(), "{:?}", o.error);
        assert_eq!(o.xml, json!({"mch_id": 1}).as_object().cloned());
        assert_eq!((o.nonceless, o.security), (Some(true), Some(false)));
        assert_eq!(o.v2_only_keys(), ["xml", "nonceless", "security"]);
        assert!(
            o.params.is_empty(),
            "no APIv2 key becomes a template variable"
        );
        for bad in [json!({"xml": "<xml/>"}), json!({"nonceless": 1})] {
            let o: Options = bad.clone().into();
            assert!(
                matches!(o.error, Some(ChainError::InvalidOptions(_))),
                "{bad}"
            );
        }
        let o = Options::new().xml(["not", "a", "map"]);
        assert!(matches!(o.error, Some(ChainError::InvalidOptions(m)) if m.contains("an array")));
        let typed = Options::new().xml(json!({"a": "b"})).nonceless().security();
        assert_eq!(typed.v2_only_keys(), ["xml", "nonceless", "security"]);
        assert!(Options::new().v2_only_keys().is_empty());
    }

    #[test]
    fn params_is_the_query() {
        let o: Options = json!({"params": {"limit": 5}}).into();
        assert_eq!(
            o.query,
            Some(Query::Map(json!({"limit": 5}).as_object().unwrap().clone()))
        );
        assert!(o.params.is_empty());
        let o: Options = json!({"query": {"a": 1}, "params": {"b": 2}}).into();
        assert_eq!(
            o.error,
            Some(ChainError::ConflictingOptions {
                first: "query",
                second: "params"
            })
        );
    }

    #[test]
    fn timeout_is_seconds() {
        let o: Options = json!({"timeout": 0.25}).into();
        assert_eq!(o.timeout, Some(Duration::from_millis(250)));
        assert!(o.params.is_empty());
        for bad in [json!(0), json!(-1), json!("5"), json!(true), json!(1e300)] {
            let o: Options = json!({"timeout": bad}).into();
            assert!(
                matches!(o.error, Some(ChainError::InvalidTimeout(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Options::new().timeout(Duration::ZERO).error,
            Some(ChainError::InvalidTimeout(_))
        ));
    }
}
