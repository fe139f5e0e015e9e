//! Target `chain`: segment normalization and the three ways to name an endpoint (`seg`,
//! `chain`, indexing), then `prepare()` with every variable filled.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};

use percent_encoding::percent_decode_str;
use wechatpay_chain::template::variables;
use wechatpay_chain::{
    normalize_segment, Chain, Method, Options, PreparedRequest, Wechatpay, MAX_TARGET_LEN,
};

use super::fixtures::client;
use super::input::Input;

/// Origins a request of the fixture client may go to: the base URI and its backup.
const ALLOWED_ORIGINS: &[&str] = &[
    "https://api.mch.weixin.qq.com/",
    "https://api2.mch.weixin.qq.com/",
];

/// Runs up to 16 operations from `data` on one chain, checks the normalization invariants on
/// the way, then prepares the chain with every template variable set.
pub(crate) fn chain_target(data: &[u8]) {
    let wxpay = client();
    let mut input = Input::new(data);
    let mut chain: Option<Chain> = None;
    for _ in 0..16 {
        if input.is_empty() {
            break;
        }
        let op = input.byte();
        let text = input.text();
        chain = Some(step(wxpay, chain.as_ref(), op, &text));
    }
    let Some(chain) = chain else { return };
    let _ = (
        chain.to_string(),
        format!("{chain:?}"),
        chain.segments().count(),
    );
    let template = match chain.template() {
        Ok(template) => template,
        Err(e) => {
            let _ = (e.to_string(), format!("{e:?}"));
            return;
        }
    };
    let Ok(names) = variables(&template) else {
        return;
    };
    let options = names
        .iter()
        .enumerate()
        .fold(Options::new(), |o, (i, name)| {
            o.param(*name, format!("v{i}"))
        });
    let method = if input.byte().is_multiple_of(2) {
        Method::GET
    } else {
        Method::POST
    };
    match chain.prepare(method, options) {
        Ok(request) => check_prepared(&request, ALLOWED_ORIGINS),
        Err(e) => {
            let _ = (e.to_string(), format!("{e:?}"));
        }
    }
}

/// One operation: `seg`, `chain`, `raw` or indexing, on the client or on the chain so far.
fn step(wxpay: &Wechatpay, chain: Option<&Chain>, op: u8, text: &str) -> Chain {
    match op % 4 {
        0 => {
            let normalized = normalize_segment(text);
            assert_eq!(
                normalize_segment(&normalized),
                normalized,
                "normalization is idempotent"
            );
            let alone = wxpay.seg(text);
            if let Ok(template) = alone.template() {
                assert_eq!(template, normalized, "seg keeps the normalized name");
            }
            chain.map_or(alone, |c| c.seg(text))
        }
        1 => chain.map_or_else(|| wxpay.chain(text), |c| c.chain(text)),
        2 => chain.map_or_else(|| wxpay.raw(text), |c| c.raw(text)),
        _ => {
            let Some(path) = intern(text) else {
                return chain.map_or_else(|| wxpay.chain(text), |c| c.chain(text));
            };
            match chain {
                Some(c) => {
                    // A fresh node (`chain("")` derives one), so the index caches of nodes
                    // interned by earlier inputs do not grow with every input.
                    let fresh = c.chain("");
                    assert_eq!(&fresh[path], &c.chain(path), "indexing is chain()");
                    fresh[path].clone()
                }
                None => {
                    assert_eq!(&wxpay[path], &wxpay.chain(path), "indexing is chain()");
                    wxpay[path].clone()
                }
            }
        }
    }
}

/// A `&'static` copy of `text` for indexing (which takes literals): at most 4096 distinct
/// strings of at most 128 bytes are leaked, so memory stays bounded over a long run.
fn intern(text: &str) -> Option<&'static str> {
    static SEEN: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    if text.len() > 128 {
        return None;
    }
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = seen.get(text) {
        return Some(known);
    }
    if seen.len() >= 4096 {
        return None;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    seen.insert(leaked);
    Some(leaked)
}

/// What every prepared request promises (chain.md): a sendable target within the limit, the
/// signed target is the sent one, no dot segment, no `v2/` path, no fragment, and the request
/// goes to one of `origins`.
pub(crate) fn check_prepared(request: &PreparedRequest, origins: &[&str]) {
    let target = request.target();
    assert!(target.starts_with('/'), "target {target:?} is not absolute");
    assert!(target.len() <= MAX_TARGET_LEN, "target over the limit");
    assert!(!target.contains('#'), "target {target:?} has a fragment");
    assert!(
        target.parse::<http::uri::PathAndQuery>().is_ok(),
        "target {target:?} is not a request target"
    );
    let url = request.url();
    assert!(url.parse::<http::Uri>().is_ok(), "url {url:?} is not a URI");
    assert!(
        origins
            .iter()
            .any(|o| url.starts_with(o) && url.len() - o.len() + 1 == target.len()),
        "url {url:?} leaves the allowed origins"
    );
    let signed_prefix = format!("{}\n{target}\n", request.method());
    assert!(
        request.message().starts_with(signed_prefix.as_bytes()),
        "the signed target differs from the sent one: {target:?}"
    );
    let path = request.path();
    for segment in path.split('/') {
        let decoded = percent_decode_str(segment).collect::<Vec<u8>>();
        assert!(
            decoded != b"." && decoded != b"..",
            "path {path:?} has a dot segment"
        );
    }
    let first = percent_decode_str(path.trim_start_matches('/').split('/').next().unwrap_or(""))
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    assert!(first != "v2", "path {path:?} is APIv2");
    let _ = format!("{request:?}");
}
