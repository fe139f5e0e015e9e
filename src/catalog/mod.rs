//! The WeChat Pay endpoint catalog: method and path facts for every known endpoint, a lookup
//! by chain template and did-you-mean suggestions. The method form built from it is
//! [`crate::api`].

mod nearest;

#[cfg(feature = "sandbox")]
pub(crate) use nearest::nearest_wire;
pub use nearest::{lookup, nearest};

/// One endpoint of the catalog.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// The path on the wire, including any base path prefix (`/hk/v3/…`), with `{name}`
    /// placeholders.
    pub path: &'static str,
    /// The base URI the endpoint lives under.
    pub base_uri: &'static str,
    /// The chain's segments joined by `/` (what `chain()` takes), if the endpoint has a chain.
    pub segments: Option<&'static str>,
    /// The PHP/JS chain names (`["v3", "pay", "transactions", "native"]`), if any.
    pub php_chain: Option<&'static [&'static str]>,
    /// The request content type (`application/json`, `multipart/form-data`, …), if any.
    pub content_type: Option<&'static str>,
    /// What the response carries: `json`, `empty`, `file`, `xml`, `redirect`.
    pub response_kind: &'static str,
    /// True if the call needs the merchant API certificate (APIv2 mutual TLS: `secapi/*`,
    /// transfers, red packets, …); such a chain is sent with the certificate configured by
    /// `Builder::merchant_api_certificate`.
    pub api_cert_required: bool,
}

impl Endpoint {
    /// The chain template that names this endpoint (what [`crate::Chain::template`] gives,
    /// e.g. `v3/pay/transactions/native`): [`Endpoint::segments`], or for an endpoint without a
    /// PHP chain its path relative to its base URI (`/hk/v3/certificates` under
    /// `https://api.mch.weixin.qq.com/hk/` is `v3/certificates`).
    pub fn template(&self) -> &'static str {
        if let Some(segments) = self.segments {
            return segments;
        }
        let after_scheme = self.base_uri.split_once("://").map_or("", |(_, rest)| rest);
        let base_path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        self.path
            .strip_prefix(base_path)
            .unwrap_or_else(|| self.path.trim_start_matches('/'))
    }
}

/// Every endpoint of the catalog.
pub static ENDPOINTS: &[Endpoint] = include!(concat!(env!("OUT_DIR"), "/catalog.rs"));

/// True if `pattern` (a catalog path with `{name}` segments) matches the concrete `path`.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), Some(h)) => {
                let placeholder = w.starts_with('{') && w.ends_with('}');
                if !(placeholder && !h.is_empty() || w == h) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The catalog endpoints whose path matches `path` (no query), any method.
pub fn find(path: &str) -> impl Iterator<Item = &'static Endpoint> + '_ {
    ENDPOINTS.iter().filter(move |e| path_matches(e.path, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_placeholders_take_one_nonempty_segment() {
        assert!(path_matches("/v3/a/{id}/b", "/v3/a/X%2FY/b"));
        assert!(!path_matches("/v3/a/{id}/b", "/v3/a//b"));
        assert!(!path_matches("/v3/a/{id}/b", "/v3/a/x/y/b"));
        assert!(path_matches(
            "/v3/applyment4sub/applyment/",
            "/v3/applyment4sub/applyment/"
        ));
    }

    #[test]
    fn templates_are_paths_under_the_base_uri() {
        for e in ENDPOINTS {
            assert!(!e.template().starts_with('/'), "{e:?}");
            // APIv2 chains start with `v2/`, which is not on the wire; APIv3 ones are the path.
            if !e.template().starts_with("v2/") {
                assert!(e.path.ends_with(e.template()), "{e:?}");
            }
        }
        let webhooks = ENDPOINTS.iter().find(|e| e.path == "/v3/webhooks").unwrap();
        assert_eq!(webhooks.segments, None);
        assert_eq!(webhooks.template(), "v3/webhooks");
    }

    /// The sandbox skips its APIv2 lookup for `/v3/…` paths: no APIv2 endpoint lives there.
    #[test]
    fn no_apiv2_endpoint_is_under_v3() {
        let v2 = ENDPOINTS.iter().filter(|e| e.template().starts_with("v2/"));
        assert!(v2.clone().count() > 100);
        for e in v2 {
            assert!(!e.path.starts_with("/v3/"), "{e:?}");
        }
    }

    #[test]
    fn catalog_is_complete() {
        assert!(ENDPOINTS.len() > 1000);
        assert!(
            find("/v3/payscore/partner/serviceorder/X/send-pendingmessage")
                .any(|e| e.method == "POST")
        );
    }
}
