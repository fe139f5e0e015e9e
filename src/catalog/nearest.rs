//! Catalog lookup by (method, chain template) and did-you-mean suggestions. Pure functions.
//!
//! Templates are compared segment by segment. A `{name}` placeholder matches any placeholder,
//! whatever its name (`{id}` and `{transaction_id}` name the same position), and also a literal
//! segment, since a chain may carry a value verbatim (`out-trade-no/P123`); a match without
//! such a literal is preferred.

use super::{Endpoint, ENDPOINTS};

/// The catalog endpoint for `method` and a chain `template` (what [`crate::Chain::template`]
/// gives, e.g. `v3/pay/transactions/id/{transaction_id}`), if any.
///
/// The template is relative to the base URI: base-path prefixes such as `/hk/` or `/global/`
/// are part of [`Endpoint::path`] and of the base URI, not of a chain, so an endpoint that the
/// catalog lists under several base URIs is found once, as its first entry. The method is
/// compared case-insensitively; a leading `/` is ignored.
///
/// ```
/// use wechatpay_chain::catalog::lookup;
/// let endpoint = lookup("GET", "v3/pay/transactions/id/{id}").unwrap();
/// assert_eq!(endpoint.path, "/v3/pay/transactions/id/{transaction_id}");
/// assert!(lookup("GET", "v3/pay/transactions/native").is_none(), "native is POST only");
/// ```
pub fn lookup(method: &str, template: &str) -> Option<&'static Endpoint> {
    let wanted: Vec<&str> = split(template);
    let candidates = || {
        ENDPOINTS
            .iter()
            .filter(|e| e.method.eq_ignore_ascii_case(method))
    };
    candidates()
        .find(|e| segments_match(&split(e.template()), &wanted, false))
        .or_else(|| candidates().find(|e| segments_match(&split(e.template()), &wanted, true)))
}

/// The `n` catalog endpoints nearest to `method` and a chain `template`, nearest first: for
/// did-you-mean messages.
///
/// The distance is an edit distance over segments (a missing or extra segment costs 1, a
/// changed one the share of its characters that differ, so `transaction` is near
/// `transactions`), plus ½ when the method differs, so the same path under another method is
/// suggested before a different path. Placeholders compare as in [`lookup`]. Endpoints listed
/// under several base URIs are suggested once. Ties keep catalog order.
///
/// ```
/// use wechatpay_chain::catalog::nearest;
/// let best = nearest("POST", "v3/pay/transaction/native", 3);
/// assert_eq!(best[0].template(), "v3/pay/transactions/native");
/// ```
pub fn nearest(method: &str, template: &str, n: usize) -> Vec<&'static Endpoint> {
    nearest_by(method, template, n, Endpoint::template)
}

#[cfg(feature = "sandbox")]
/// [`nearest`] for a wire path (`/hk/v3/…`, values filled in), as a server sees it.
pub(crate) fn nearest_wire(method: &str, path: &str, n: usize) -> Vec<&'static Endpoint> {
    nearest_by(method, path, n, |e| e.path)
}

fn nearest_by(
    method: &str,
    path: &str,
    n: usize,
    key: fn(&Endpoint) -> &'static str,
) -> Vec<&'static Endpoint> {
    let wanted = split(path);
    let mut scored: Vec<(f64, usize)> = ENDPOINTS
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let verb = if e.method.eq_ignore_ascii_case(method) {
                0.0
            } else {
                0.5
            };
            (verb + path_distance(&split(key(e)), &wanted), i)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<&'static Endpoint> = Vec::with_capacity(n);
    for (_, i) in scored {
        if out.len() == n {
            break;
        }
        let e = &ENDPOINTS[i];
        if !out.iter().any(|o| o.method == e.method && key(o) == key(e)) {
            out.push(e);
        }
    }
    out
}

/// Segments of a template or path; a leading `/` is not an empty first segment.
fn split(template: &str) -> Vec<&str> {
    let template = template.strip_prefix('/').unwrap_or(template);
    template.split('/').collect()
}

fn is_placeholder(segment: &str) -> bool {
    segment.len() >= 2 && segment.starts_with('{') && segment.ends_with('}')
}

fn segments_match(catalog: &[&str], wanted: &[&str], values_allowed: bool) -> bool {
    catalog.len() == wanted.len()
        && catalog.iter().zip(wanted).all(|(c, w)| {
            c == w || is_placeholder(c) && (is_placeholder(w) || values_allowed && !w.is_empty())
        })
}

/// What replacing catalog segment `catalog` by `wanted` costs, from 0 to 1.
fn segment_cost(catalog: &str, wanted: &str) -> f64 {
    match (is_placeholder(catalog), is_placeholder(wanted)) {
        _ if catalog == wanted => 0.0,
        (true, true) => 0.0,
        // Probably a value where the catalog has a placeholder; a little less sure.
        (true, false) if !wanted.is_empty() => 0.25,
        (true, false) | (false, true) => 1.0,
        (false, false) => {
            let longest = catalog.chars().count().max(wanted.chars().count());
            char_distance(catalog, wanted) as f64 / longest as f64
        }
    }
}

/// Edit distance over segments, substitutions weighted by [`segment_cost`].
fn path_distance(catalog: &[&str], wanted: &[&str]) -> f64 {
    let mut previous: Vec<f64> = (0..=wanted.len()).map(|j| j as f64).collect();
    for (i, c) in catalog.iter().enumerate() {
        let mut current = vec![(i + 1) as f64; wanted.len() + 1];
        for (j, w) in wanted.iter().enumerate() {
            current[j + 1] = (previous[j] + segment_cost(c, w))
                .min(previous[j + 1] + 1.0)
                .min(current[j] + 1.0);
        }
        previous = current;
    }
    previous[wanted.len()]
}

/// Levenshtein distance over characters.
fn char_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(ca != *cb))
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(found: &[&Endpoint]) -> Vec<String> {
        found
            .iter()
            .map(|e| format!("{} {}", e.method, e.template()))
            .collect()
    }

    #[test]
    fn char_distance_counts_edits() {
        assert_eq!(char_distance("refund", "refunds"), 1);
        assert_eq!(char_distance("kitten", "sitting"), 3);
        assert_eq!(char_distance("", "abc"), 3);
        assert_eq!(char_distance("交易", "交易"), 0);
    }

    #[test]
    fn path_distance_weighs_segments() {
        let catalog = ["v3", "pay", "transactions", "native"];
        assert_eq!(path_distance(&catalog, &catalog), 0.0);
        let typo = path_distance(&catalog, &["v3", "pay", "transaction", "native"]);
        assert!(typo > 0.0 && typo < 0.1, "{typo}");
        assert_eq!(path_distance(&catalog, &["v3", "pay", "native"]), 1.0);
        assert_eq!(
            path_distance(&["v3", "{id}"], &["v3", "{transaction_id}"]),
            0.0
        );
        assert_eq!(path_distance(&["v3", "{id}"], &["v3", "4200"]), 0.25);
    }

    #[test]
    fn lookup_by_template_any_placeholder_name() {
        let e = lookup("POST", "v3/pay/transactions/native").expect("native order");
        assert_eq!(e.path, "/v3/pay/transactions/native");
        let e = lookup("get", "/v3/refund/domestic/refunds/{no}").expect("refund query");
        assert_eq!(e.path, "/v3/refund/domestic/refunds/{out_refund_no}");
        assert!(lookup("PUT", "v3/pay/transactions/native").is_none());
        assert!(lookup("POST", "v3/pay/transaction/native").is_none());
    }

    #[test]
    fn lookup_prefers_a_placeholder_over_a_value() {
        // A literal value where the catalog has a placeholder still names the endpoint.
        let e = lookup("GET", "v3/pay/transactions/id/4200000000").expect("by value");
        assert_eq!(e.path, "/v3/pay/transactions/id/{transaction_id}");
        // But a literal that exists as such wins over a placeholder at that place.
        let e = lookup("POST", "v3/refund/domestic/refunds").unwrap();
        assert_eq!(e.template(), "v3/refund/domestic/refunds");
    }

    #[test]
    fn lookup_ignores_base_path_prefixes() {
        // `/hk/v3/certificates` has no PHP chain; its template is its path under `/hk/`.
        let hk = ENDPOINTS
            .iter()
            .find(|e| e.path == "/hk/v3/certificates")
            .expect("the HK certificates endpoint");
        assert_eq!(hk.template(), "v3/certificates");
        let found = lookup("GET", "v3/certificates").unwrap();
        assert_eq!(found.template(), "v3/certificates");
    }

    #[test]
    fn nearest_fixes_realistic_typos() {
        let found = nearest("POST", "v3/pay/transaction/native", 3);
        assert_eq!(found.len(), 3);
        assert_eq!(labels(&found)[0], "POST v3/pay/transactions/native");

        let found = nearest("POST", "v3/refund/domestic/refund", 3);
        assert_eq!(labels(&found)[0], "POST v3/refund/domestic/refunds");

        // `refunds` at the root is a JS-era guess; the domestic refund is near.
        let found = nearest("POST", "v3/refunds/domestic/refunds", 3);
        assert!(
            labels(&found).contains(&"POST v3/refund/domestic/refunds".to_string()),
            "{:?}",
            labels(&found)
        );
    }

    #[test]
    fn nearest_prefers_the_same_path_under_the_right_verb() {
        let found = nearest("GET", "v3/pay/transactions/native", 2);
        assert_eq!(labels(&found)[0], "POST v3/pay/transactions/native");
        let found = nearest("POST", "v3/pay/transactions/id/{transaction_id}", 1);
        assert_eq!(
            labels(&found),
            ["GET v3/pay/transactions/id/{transaction_id}"]
        );
    }

    #[test]
    fn nearest_suggests_each_template_once() {
        let found = nearest("GET", "v3/certificates", 5);
        let labels = labels(&found);
        let unique: std::collections::BTreeSet<&String> = labels.iter().collect();
        assert_eq!(unique.len(), labels.len(), "{labels:?}");
        assert_eq!(labels[0], "GET v3/certificates");
        assert!(nearest("GET", "v3/certificates", 0).is_empty());
    }

    #[test]
    #[cfg(feature = "sandbox")]
    fn nearest_wire_reads_server_paths_with_values() {
        let found = nearest_wire("POST", "/v3/pay/transaction/native", 1);
        assert_eq!(found[0].path, "/v3/pay/transactions/native");
        let found = nearest_wire("GET", "/v3/refund/domestic/refund/R20251122000001", 1);
        assert_eq!(found[0].path, "/v3/refund/domestic/refunds/{out_refund_no}");
    }
}
