//! The whole endpoint catalog through every chain form: the typed tree (method form), the PHP
//! names through `.seg()`, the declarative `chain()` and the indexed form give one template,
//! and that template, filled, gives the endpoint's wire path (or `Unsupported` for APIv2).

mod support;

use wechatpay_chain::catalog::{Endpoint, ENDPOINTS};
use wechatpay_chain::template::variables;
use wechatpay_chain::{Chain, ErrorKind, Method, Options, Wechatpay};

include!(concat!(env!("OUT_DIR"), "/method_forms.rs"));

/// The value every `{name}` is filled with.
const VALUE: &str = "X1";

/// A PHP name as `.seg()` takes it: `_empty_` names the trailing empty segment.
fn seg_name(php: &str) -> &str {
    if php == "_empty_" {
        ""
    } else {
        php
    }
}

/// The PHP chain through `.seg()`.
fn php_chain(wxpay: &Wechatpay, names: &[&str]) -> Chain {
    let (first, rest) = names.split_first().expect("a PHP chain has names");
    rest.iter().fold(wxpay.seg(seg_name(first)), |chain, n| {
        chain.seg(seg_name(n))
    })
}

/// The endpoint's wire path with every `{name}` replaced by [`VALUE`].
fn filled_path(endpoint: &Endpoint) -> String {
    let mut path = endpoint.path.to_string();
    for name in variables(endpoint.path).unwrap() {
        path = path.replace(&format!("{{{name}}}"), VALUE);
    }
    path
}

#[test]
fn every_endpoint_in_every_form() {
    let wxpay = support::client();
    let forms = method_forms(&wxpay);
    let with_chain = ENDPOINTS.iter().filter(|e| e.php_chain.is_some()).count();
    assert!(with_chain > 1000, "the catalog lost its endpoints");
    assert_eq!(
        forms.len(),
        with_chain,
        "one method form per endpoint with a PHP chain"
    );

    let (mut v3, mut v2) = (0, 0);
    for (index, (method_form, node_template, node_equal)) in forms {
        let endpoint = &ENDPOINTS[index];
        let segments = endpoint
            .segments
            .expect("an endpoint with a chain has segments");
        let names = endpoint.php_chain.unwrap();
        let what = format!("{} {}", endpoint.method, endpoint.path);

        let template = method_form
            .template()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(template, segments, "{what}: method form");
        assert_eq!(node_template, segments, "{what}: the node type's TEMPLATE");
        assert!(node_equal, "{what}: the node differs from its own chain");
        let seg_form = php_chain(&wxpay, names);
        let declarative = wxpay.chain(segments);
        let indexed = &wxpay[segments];
        for (form, chain) in [
            (".seg()", &seg_form),
            ("chain()", &declarative),
            ("index", indexed),
        ] {
            assert_eq!(
                chain, &method_form,
                "{what}: {form} differs from the method form"
            );
            assert_eq!(chain.template().as_deref(), Ok(segments), "{what}: {form}");
        }

        let mut options = Options::new().base_uri(endpoint.base_uri);
        for name in variables(&template).unwrap() {
            options = options.param(name, VALUE);
        }
        let method = Method::from_bytes(endpoint.method.as_bytes()).unwrap();
        let result = method_form.prepare(method, options);
        if segments.starts_with("v2/") {
            v2 += 1;
            let error = result.expect_err(&what);
            assert!(
                matches!(error.kind(), ErrorKind::Unsupported(_)),
                "{what}: {error:?}"
            );
        } else {
            v3 += 1;
            let prepared = result.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                !prepared.target().contains('{'),
                "{what}: {}",
                prepared.target()
            );
            assert_eq!(prepared.target(), filled_path(endpoint), "{what}");
            assert!(
                prepared
                    .url()
                    .starts_with(endpoint.base_uri.trim_end_matches('/')),
                "{what}: {}",
                prepared.url()
            );
        }
    }
    assert!(
        v3 > 0 && v2 > 0,
        "both APIv3 ({v3}) and APIv2 ({v2}) endpoints were walked"
    );
}
