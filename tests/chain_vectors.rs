//! Chain conformance: `tests/data/chain-vectors.json` (normalization, the three chain forms,
//! templates, request targets, verbatim declarative strings, errors), the indexed form, and
//! the CLI's slashed form through `wxpay --dry-run`.

mod support;

use serde_json::Value;
use wechatpay_chain::{
    normalize_segment, Chain, ChainError, ConfigError, ErrorKind, Method, Options, Wechatpay,
};

use support::{array, str_field};

#[test]
fn normalize_table() {
    let wxpay = support::client();
    let table = array(&support::chain_vectors(), "normalize").to_vec();
    assert!(!table.is_empty());
    for pair in &table {
        let (input, want) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        assert_eq!(
            normalize_segment(input),
            want,
            "normalize_segment({input:?})"
        );
        let chain = wxpay.seg(input);
        assert_eq!(
            chain.segments().collect::<Vec<_>>(),
            [want],
            ".seg({input:?})"
        );
        assert_eq!(
            chain.template().unwrap(),
            want,
            ".seg({input:?}).template()"
        );
        // `.seg()` on a chain appends the same normalized segment.
        let nested = wxpay.seg("v3").seg(input);
        assert_eq!(
            nested.segments().collect::<Vec<_>>(),
            ["v3", want],
            "v3.seg({input:?})"
        );
    }
}

/// The method used to prepare a case: POST when it has a body, GET otherwise (the target does
/// not depend on it).
fn method_for(options: &Value) -> Method {
    if options.get("json").is_some() {
        Method::POST
    } else {
        Method::GET
    }
}

fn seg_chain(wxpay: &Wechatpay, segments: &[Value]) -> Chain {
    let (first, rest) = segments.split_first().expect("at least one segment");
    rest.iter()
        .fold(wxpay.seg(first.as_str().unwrap()), |chain, s| {
            chain.seg(s.as_str().unwrap())
        })
}

#[test]
fn chains_cases() {
    let wxpay = support::client();
    let cases = array(&support::chain_vectors(), "chains").to_vec();
    assert!(!cases.is_empty());
    for case in &cases {
        let declared = str_field(case, "chain");
        let template = str_field(case, "template");
        let target = str_field(case, "target");
        let options = case["options"].clone();
        let method = method_for(&options);

        let decl = wxpay.chain(declared);
        assert_eq!(
            decl.template().as_deref(),
            Ok(template),
            "chain({declared:?})"
        );
        // `chain()` on a chain appends the same way.
        let (head, tail) = declared.trim_start_matches('/').split_once('/').unwrap();
        assert_eq!(
            wxpay.chain(head).chain(tail),
            decl,
            "chain({head:?}).chain({tail:?})"
        );

        let mut forms = vec![("chain()", decl)];
        if let Some(segments) = case.get("segments") {
            let seg = seg_chain(&wxpay, segments.as_array().unwrap());
            assert_eq!(seg, forms[0].1, "{declared}: .seg() chain equals chain()");
            forms.push((".seg()", seg));
        }

        for (form, chain) in &forms {
            assert_eq!(
                chain.template().as_deref(),
                Ok(template),
                "{declared} via {form}"
            );
            match case.get("base_uri").and_then(Value::as_str) {
                None => {
                    let prepared = chain
                        .prepare(method.clone(), options.clone())
                        .unwrap_or_else(|e| panic!("{declared} via {form}: {e}"));
                    assert_eq!(prepared.target(), target, "{declared} via {form}");
                }
                Some(base) => {
                    // Per request …
                    let per_request = Options::from(options.clone()).base_uri(base);
                    let prepared = chain.prepare(method.clone(), per_request).unwrap();
                    assert_eq!(
                        prepared.target(),
                        target,
                        "{declared} via {form}, per request"
                    );
                    assert!(prepared.url().starts_with(base.trim_end_matches('/')));
                    // … and per client.
                    let client = support::builder_at(support::VECTOR_EPOCH)
                        .base_uri(base)
                        .build()
                        .unwrap();
                    let on_client = match case.get("segments") {
                        Some(s) => seg_chain(&client, s.as_array().unwrap()),
                        None => client.chain(declared),
                    };
                    let prepared = on_client.prepare(method.clone(), options.clone()).unwrap();
                    assert_eq!(
                        prepared.target(),
                        target,
                        "{declared} via {form}, per client"
                    );
                    // Without the base URI the target differs: the case does test the base.
                    let plain = chain.prepare(method.clone(), options.clone()).unwrap();
                    assert_ne!(
                        plain.target(),
                        target,
                        "{declared}: base_uri has no effect?"
                    );
                }
            }
        }
    }
}

/// The typed error each vector's error text stands for.
fn check_kind(text: &str, kind: &ErrorKind) {
    let ok = match text {
        "missing template variable transaction_id" => {
            matches!(kind, ErrorKind::Chain(ChainError::MissingVariable(n)) if n == "transaction_id")
        }
        "template variable transaction_id is not a scalar" => {
            matches!(kind, ErrorKind::Chain(ChainError::NotScalar(n)) if n == "transaction_id")
        }
        "empty path segment" => matches!(kind, ErrorKind::Chain(ChainError::EmptySegment { .. })),
        "nested query value a" => {
            matches!(kind, ErrorKind::Chain(ChainError::NestedQuery(k)) if k == "a")
        }
        "host not allowed" => matches!(
            kind,
            ErrorKind::Chain(ChainError::HostNotAllowed(h)) if h == "evil.example.com"
        ),
        // A v2 chain on this APIv3-only client: refused for want of the APIv2 key.
        "APIv2 unsupported (until APIv2 lands)" => {
            matches!(kind, ErrorKind::Config(ConfigError::MissingApiV2Key(_)))
        }
        other => panic!("error vector {other:?} has no expected kind in this test; add one"),
    };
    assert!(ok, "{text}: unexpected kind {kind:?}");
}

#[test]
fn errors_cases() {
    let wxpay = support::client();
    let cases = array(&support::chain_vectors(), "errors").to_vec();
    assert!(!cases.is_empty());
    for case in &cases {
        let text = str_field(case, "error");
        let result = match case.get("url") {
            Some(url) => wxpay.chain(url.as_str().unwrap()).prepare(Method::GET, ()),
            None => wxpay
                .chain(str_field(case, "chain"))
                .prepare(Method::GET, case["options"].clone()),
        };
        let error = match result {
            Ok(prepared) => panic!("{text}: prepared {prepared:?}"),
            Err(e) => e,
        };
        let display = error.to_string();
        assert!(
            display.contains(text),
            "{display:?} does not contain {text:?}"
        );
        check_kind(text, error.kind());
        assert!(error.response().is_none(), "{text}: nothing was sent");
    }
}

#[test]
fn a_chain_with_an_empty_middle_segment_has_no_template() {
    let wxpay = support::client();
    for chain in [wxpay.chain("v3//pay"), wxpay.seg("v3").seg("").seg("pay")] {
        assert!(
            matches!(chain.template(), Err(ChainError::EmptySegment { .. })),
            "{chain:?}"
        );
    }
}

#[test]
fn index_form_equals_chain_and_is_interned() {
    let wxpay = support::client();
    let path = "v3/pay/transactions/native";
    let indexed: &Chain = &wxpay["v3/pay/transactions/native"];
    assert_eq!(indexed, &wxpay.chain(path));
    assert_eq!(indexed, &wxpay.v3().pay().transactions().native());
    assert!(
        std::ptr::eq(indexed, &wxpay["v3/pay/transactions/native"]),
        "the same literal returns the same interned chain"
    );
    // A clone of the client shares the cache.
    let clone = wxpay.clone();
    assert!(std::ptr::eq(indexed, &clone["v3/pay/transactions/native"]));
    assert!(!std::ptr::eq(indexed, &wxpay["v3/pay/transactions/app"]));

    // On a chain too, relative to it.
    let v3 = wxpay.v3();
    let child: &Chain = &v3["pay/transactions/native"];
    assert_eq!(child, &wxpay.chain(path));
    assert!(std::ptr::eq(child, &v3["pay/transactions/native"]));
    // Chains can be indexed again, and the result sends like any chain.
    let nested = &wxpay["v3"]["pay"]["transactions/native"];
    assert_eq!(nested, &wxpay.chain(path));
    let prepared = nested.prepare(Method::POST, Options::new().json(serde_json::json!({})));
    assert_eq!(prepared.unwrap().target(), "/v3/pay/transactions/native");

    // A path as written, like chain(): capitals and `_x_` stay literal; only `{…}` is a
    // variable.
    assert_eq!(
        &wxpay["v3/merchant-service/complaints-v2/{complaint_id}"],
        &wxpay
            .v3()
            .merchant_service()
            .complaints_v2()
            ._complaint_id_()
    );
    let literal = &wxpay["v3/merchantService/complaintsV2/_complaint_id_"];
    assert_eq!(
        literal.template().unwrap(),
        "v3/merchantService/complaintsV2/_complaint_id_"
    );
    assert_ne!(
        literal,
        &wxpay
            .seg("v3")
            .seg("merchantService")
            .seg("complaintsV2")
            .seg("_complaint_id_")
    );
}

/// The target a verbatim case sends, each `{name}` given the value `V-<name>`.
fn verbatim_options(template: &str) -> (Options, String) {
    let mut options = Options::new();
    let mut target = format!("/{template}");
    for name in wechatpay_chain::template::variables(template).unwrap() {
        options = options.param(name, format!("V-{name}"));
        target = target.replace(&format!("{{{name}}}"), &format!("V-{name}"));
    }
    (options, target)
}

#[test]
fn verbatim_cases() {
    let wxpay = support::client();
    let cases = array(&support::chain_vectors(), "verbatim").to_vec();
    assert!(!cases.is_empty());
    for case in &cases {
        let declared = str_field(case, "chain");
        let template = str_field(case, "template");
        // Leaked once per case so the indexed form (keyed by `&'static str`) can be used.
        let literal: &'static str = Box::leak(declared.to_string().into_boxed_str());
        let forms = [
            ("chain()", wxpay.chain(declared)),
            ("wxpay[…]", wxpay[literal].clone()),
            ("v3 chain()", {
                let (head, tail) = declared.trim_start_matches('/').split_once('/').unwrap();
                wxpay.chain(head).chain(tail)
            }),
        ];
        let (options, target) = verbatim_options(template);
        for (form, chain) in &forms {
            assert_eq!(
                chain.template().as_deref(),
                Ok(template),
                "{declared} via {form}"
            );
            let prepared = chain.prepare(Method::GET, options.clone()).unwrap();
            assert_eq!(prepared.target(), target, "{declared} via {form}");
            assert_eq!(
                prepared.message().split(|&b| b == b'\n').nth(1),
                Some(target.as_bytes()),
                "{declared} via {form}: the signed target is the sent one"
            );
        }
    }
}

#[test]
fn literal_ids_with_capitals_arrive_as_written() {
    let wxpay = support::client();
    let want = "/v3/pay/transactions/out-trade-no/P123abcXYZ?mchid=1900000109";
    let options = || Options::new().query("mchid", "1900000109");
    for chain in [
        wxpay.chain("v3/pay/transactions/out-trade-no/P123abcXYZ"),
        wxpay["v3/pay/transactions/out-trade-no/P123abcXYZ"].clone(),
        wxpay
            .v3()
            .pay()
            .transactions()
            .out_trade_no()
            .chain("P123abcXYZ"),
        wxpay
            .v3()
            .pay()
            .transactions()
            .out_trade_no()
            .raw("P123abcXYZ"),
    ] {
        assert_eq!(
            chain.prepare(Method::GET, options()).unwrap().target(),
            want
        );
    }
    // `.seg()` is the property spelling, normalized: not a way to pass an ID.
    let named = wxpay
        .v3()
        .pay()
        .transactions()
        .out_trade_no()
        .seg("P123abcXYZ");
    assert_ne!(
        named.prepare(Method::GET, options()).unwrap().target(),
        want
    );
}

#[test]
fn dot_and_empty_pieces_are_errors() {
    let wxpay = support::client();
    for path in ["v3/./pay", "v3/../v2/pay", "v3/pay/.."] {
        let e = wxpay.chain(path).prepare(Method::GET, ()).unwrap_err();
        assert!(
            matches!(e.chain(), Some(ChainError::InvalidSegment { .. })),
            "{path}: {e:?}"
        );
    }
    let e = wxpay.chain("v3//pay").prepare(Method::GET, ()).unwrap_err();
    assert!(
        matches!(e.chain(), Some(ChainError::EmptySegment { .. })),
        "{e:?}"
    );
}

/// The CLI's slashed form follows the declarative rule: every `chains` and `verbatim` case
/// through `wxpay --dry-run`, the target compared with the library's.
#[cfg(feature = "cli")]
#[test]
fn cli_dry_run_slashed_form() {
    fn dry_run(args: &[String]) -> Value {
        let out = support::wxpay(args);
        assert!(
            out.status.success(),
            "wxpay {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let vectors = support::chain_vectors();
    let mut runs = 0;
    for case in array(&vectors, "chains") {
        let mut args: Vec<String> = vec!["--dry-run".into()];
        if let Some(base) = case.get("base_uri").and_then(Value::as_str) {
            args.extend(["--base-uri".into(), base.into()]);
        }
        for (key, value) in case["options"].as_object().unwrap() {
            match key.as_str() {
                "json" => args.extend(["-d".into(), value.to_string()]),
                "query" => {
                    for (k, v) in value.as_object().unwrap() {
                        if !v.is_null() {
                            args.extend(["-q".into(), format!("{k}={}", text(v))]);
                        }
                    }
                }
                _ => args.extend(["-P".into(), format!("{key}={}", text(value))]),
            }
        }
        args.push(str_field(case, "chain").into());
        let out = dry_run(&args);
        assert_eq!(out["target"], str_field(case, "target"), "wxpay {args:?}");
        runs += 1;
    }
    for case in array(&vectors, "verbatim") {
        let template = str_field(case, "template");
        let (_, target) = verbatim_options(template);
        let mut args: Vec<String> = vec!["--dry-run".into()];
        for name in wechatpay_chain::template::variables(template).unwrap() {
            args.extend(["-P".into(), format!("{name}=V-{name}")]);
        }
        args.push(str_field(case, "chain").into());
        let out = dry_run(&args);
        assert_eq!(out["target"], target, "wxpay {args:?}");
        runs += 1;
    }
    assert!(runs > 15, "only {runs} dry runs");
}
