//! The WeChat Pay endpoint catalog: method and path facts for every known endpoint, and the
//! generated segment methods of the chain's method form.

use crate::chain::Chain;
use crate::client::Wechatpay;

/// One endpoint of the catalog.
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

macro_rules! segment_methods {
    ($($name:ident => $segment:literal, $doc:literal;)*) => {
        /// Segment methods of the method form, generated from the catalog.
        impl Chain {
            $(
                #[doc = $doc]
                #[allow(non_snake_case)]
                pub fn $name(&self) -> Chain {
                    self.catalog_segment($segment)
                }
            )*
        }

        /// Segment methods of the method form, generated from the catalog: each starts a chain.
        impl Wechatpay {
            $(
                #[doc = $doc]
                #[allow(non_snake_case)]
                pub fn $name(&self) -> Chain {
                    self.root().catalog_segment($segment)
                }
            )*
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/segments.rs"));

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
    fn catalog_is_complete() {
        assert!(ENDPOINTS.len() > 1000);
        assert!(
            find("/v3/payscore/partner/serviceorder/X/send-pendingmessage")
                .any(|e| e.method == "POST")
        );
    }
}
