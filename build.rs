//! Generates, from `src/catalog/endpoints.tsv`:
//! - `api.rs`: the typed catalog tree, one `node!` per catalog node (a distinct prefix of a
//!   PHP chain), each offering only its children (included by `src/api.rs`);
//! - `roots.rs`: the tree's root methods on `Wechatpay` (included by `src/client.rs`);
//! - `catalog.rs`: the endpoint table (method, path, base URI, segments, PHP chain);
//! - `method_forms.rs`: for tests, every endpoint's chain written in the method form.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

const CATALOG: &str = "src/catalog/endpoints.tsv";

/// The base URI most endpoints live under; only other bases are named in the docs.
const DEFAULT_BASE_URI: &str = "https://api.mch.weixin.qq.com/";

/// Names a child method must not take: every public method of `Chain` (nodes deref to it, so a
/// child with such a name would hide it), of `Wechatpay` and of `api::Node`, the methods of
/// the traits nodes implement, and names that cannot be raw identifiers. A catalog name found
/// here gets a trailing `_` (`delete_()`). Keep in step with those types.
const TAKEN: &[&str] = &[
    // Chain: verbs, forms, inspection.
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "request",
    "prepare",
    "chain",
    "seg",
    "raw",
    "template",
    "segments",
    "client",
    "blocking",
    "download",
    // Wechatpay.
    "builder",
    "mchid",
    "key_store",
    "apiv3_key",
    "now",
    "execute",
    "platform_certificates",
    "trade_bill",
    "fund_flow_bill",
    "encryptor",
    "jsapi_pay_sign",
    "app_pay_sign",
    "notification",
    // api::Node.
    "into_chain",
    // Traits nodes implement or reach (Clone, PartialEq, Debug, Display, Deref, AsRef, Into…).
    "clone",
    "clone_from",
    "to_string",
    "to_owned",
    "eq",
    "ne",
    "fmt",
    "index",
    "deref",
    "as_ref",
    "into",
    "try_into",
    "from",
    "borrow",
    "borrow_mut",
    "type_id",
    // Crate internals and idents that cannot be raw.
    "root",
    "inner",
    "with",
    "new",
    "self",
    "super",
    "crate",
    "Self",
    "_",
];

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];

/// The PHP name of the empty trailing segment (`applyment/` in PHP is `applyment->_empty_`).
const EMPTY: &str = "_empty_";

struct Row {
    method: String,
    path: String,
    base_uri: String,
    segments: Option<String>,
    php_chain: Option<Vec<String>>,
    content_type: Option<String>,
    response_kind: String,
    api_cert_required: bool,
}

fn dash(v: &str) -> Option<String> {
    (v != "-").then(|| v.to_string())
}

fn read_rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 8, "catalog line with {} fields: {line}", f.len());
            Row {
                method: f[0].into(),
                path: f[1].into(),
                base_uri: f[2].into(),
                segments: dash(f[3]),
                php_chain: dash(f[4]).map(|c| c.split('.').map(String::from).collect()),
                content_type: dash(f[5]),
                response_kind: f[6].into(),
                api_cert_required: match f[7] {
                    "yes" => true,
                    "no" => false,
                    other => panic!("api_cert_required must be yes or no, got {other:?}: {line}"),
                },
            }
        })
        .collect()
}

fn is_placeholder(php: &str) -> bool {
    php.len() >= 3 && php.starts_with('_') && php.ends_with('_')
}

/// `sendPendingmessage` → `send_pendingmessage`; placeholders `_x_` stay as they are.
fn snake(php: &str) -> String {
    if is_placeholder(php) {
        return php.to_string();
    }
    let mut out = String::new();
    for (i, c) in php.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// One PHP name as part of a type name: `sendPendingmessage` → `SendPendingmessage`,
/// `mch_archives` → `MchArchives` (or `Mch_Archives` with `keep_underscores`, used only to
/// tell it from a `mchArchives` sibling), `_out_order_no_` → `ByOutOrderNo`,
/// `_empty_` → `TrailingSlash`.
fn camel(php: &str, keep_underscores: bool) -> String {
    if php == EMPTY {
        return "TrailingSlash".into();
    }
    if is_placeholder(php) {
        return format!("By{}", camel(&php[1..php.len() - 1], false));
    }
    let separator = if keep_underscores { "_" } else { "" };
    php.split(['_', '-'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().expect("non-empty").to_ascii_uppercase();
            std::iter::once(first).chain(chars).collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(separator)
}

fn type_name(php_path: &[String], keep_underscores: bool) -> String {
    php_path
        .iter()
        .map(|p| camel(p, keep_underscores))
        .collect()
}

/// Rust string literal for `text` (Debug escaping is valid literal syntax).
fn lit(text: &str) -> String {
    format!("{text:?}")
}

/// One node of the tree: a distinct prefix of a PHP chain.
#[derive(Default)]
struct TreeNode {
    type_name: String,
    template: String,
    /// Child method ident → PHP name of the child.
    children: BTreeMap<String, String>,
    /// Catalog rows whose whole chain is this node.
    endpoints: Vec<usize>,
}

fn main() {
    println!("cargo:rerun-if-changed={CATALOG}");
    println!("cargo:rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(CATALOG).expect("read the catalog");
    let rows = read_rows(&text);

    // PHP name → exact segment.
    let mut segment_of: BTreeMap<String, String> = BTreeMap::new();
    for row in &rows {
        let (Some(chain), Some(segments)) = (&row.php_chain, &row.segments) else {
            continue;
        };
        let pieces: Vec<&str> = segments.split('/').collect();
        assert_eq!(
            pieces.len(),
            chain.len(),
            "segments and chain differ: {}",
            row.path
        );
        for (php, seg) in chain.iter().zip(pieces) {
            let old = segment_of.insert(php.clone(), seg.to_string());
            assert!(old.is_none_or(|o| o == seg), "{php} maps to two segments");
        }
    }

    // PHP name → method ident. A snake name claimed by two segments goes to the PHP name
    // already in snake case; the camelCase one keeps its PHP spelling.
    let mut by_snake: BTreeMap<String, Vec<(&String, &String)>> = BTreeMap::new();
    for (php, seg) in &segment_of {
        by_snake.entry(snake(php)).or_default().push((php, seg));
    }
    let mut method_of: BTreeMap<String, String> = BTreeMap::new();
    for (name, claims) in &by_snake {
        let distinct: BTreeSet<&String> = claims.iter().map(|(_, s)| *s).collect();
        for (php, _) in claims {
            let mut ident = if distinct.len() > 1 && php.as_str() != name {
                php.to_string()
            } else {
                name.clone()
            };
            if TAKEN.contains(&ident.as_str()) {
                ident.push('_');
            } else if KEYWORDS.contains(&ident.as_str()) {
                ident = format!("r#{ident}");
            }
            method_of.insert(php.to_string(), ident);
        }
    }

    // The tree: node per PHP chain prefix, keyed by that prefix.
    let mut tree: BTreeMap<Vec<String>, TreeNode> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        let (Some(chain), Some(_)) = (&row.php_chain, &row.segments) else {
            continue;
        };
        for depth in 1..=chain.len() {
            let prefix = chain[..depth].to_vec();
            let node = tree.entry(prefix.clone()).or_default();
            if depth == chain.len() {
                node.endpoints.push(index);
            }
            if depth > 1 {
                let php = &chain[depth - 1];
                let parent = tree.get_mut(&chain[..depth - 1]).expect("parent first");
                let old = parent
                    .children
                    .insert(method_of[php].clone(), php.to_string());
                // Two children under one method name: one of them would be unreachable.
                assert!(old.is_none_or(|o| o == *php), "{php}: method name taken");
            }
        }
    }
    for (prefix, node) in &mut tree {
        node.template = prefix
            .iter()
            .map(|p| segment_of[p].as_str())
            .collect::<Vec<_>>()
            .join("/");
    }
    name_types(&mut tree);

    let out_dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    let out = Path::new(&out_dir);
    std::fs::write(out.join("api.rs"), api_source(&tree, &rows, &segment_of)).unwrap();
    std::fs::write(
        out.join("roots.rs"),
        roots_source(&tree, &method_of, &segment_of),
    )
    .unwrap();
    std::fs::write(out.join("catalog.rs"), catalog_source(&rows)).unwrap();
    std::fs::write(
        out.join("method_forms.rs"),
        method_forms_source(&rows, &method_of),
    )
    .unwrap();
}

/// CamelCase type names from the PHP path. Names that collide (`policyPeriods` and
/// `policy_periods` under one parent both give `PolicyPeriods`) are spelled again with the
/// underscores of snake-case PHP names kept (`Policy_Periods`); none may collide after that.
fn name_types(tree: &mut BTreeMap<Vec<String>, TreeNode>) {
    let mut by_name: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for prefix in tree.keys() {
        by_name
            .entry(type_name(prefix, false))
            .or_default()
            .push(prefix.clone());
    }
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut names: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for (name, prefixes) in by_name {
        if prefixes.len() == 1 {
            names.insert(prefixes[0].clone(), name);
            continue;
        }
        for prefix in prefixes {
            names.insert(prefix.clone(), type_name(&prefix, true));
        }
    }
    for (prefix, name) in names {
        assert!(
            taken.insert(name.clone()),
            "type name {name} stays ambiguous for {prefix:?}"
        );
        assert!(name != "Node", "a node cannot be named like the Node trait");
        tree.get_mut(&prefix).unwrap().type_name = name;
    }
}

/// One `node!` per tree node. Docs: the template, the catalog's verbs at exactly this path,
/// and per child method the segment it appends and its PHP/JS name.
fn api_source(
    tree: &BTreeMap<Vec<String>, TreeNode>,
    rows: &[Row],
    segment_of: &BTreeMap<String, String>,
) -> String {
    let mut src = String::from("// Generated by build.rs from src/catalog/endpoints.tsv.\n");
    for (prefix, node) in tree {
        let mut doc = vec![format!(
            "Catalog node `{}` (PHP/JS `{}`).",
            node.template,
            prefix.join(".")
        )];
        if node.endpoints.is_empty() {
            doc.push(String::new());
            doc.push("No endpoint of the catalog ends here; its children lead to some.".into());
        } else {
            doc.push(String::new());
            doc.push("Endpoints at this path:".into());
            for &index in &node.endpoints {
                let row = &rows[index];
                let mut line = format!("- `{}`", row.method);
                if let Some(content_type) = &row.content_type {
                    write!(line, ", body `{content_type}`").unwrap();
                }
                if row.response_kind != "json" {
                    write!(line, ", response `{}`", row.response_kind).unwrap();
                }
                if row.base_uri != DEFAULT_BASE_URI {
                    write!(line, ", base URI `{}`", row.base_uri).unwrap();
                }
                doc.push(line);
            }
        }
        writeln!(src, "node! {{").unwrap();
        for line in &doc {
            writeln!(src, "    #[doc = {}]", lit(line)).unwrap();
        }
        writeln!(src, "    {} = {} {{", node.type_name, lit(&node.template)).unwrap();
        for (ident, php) in &node.children {
            let mut child_path = prefix.clone();
            child_path.push(php.clone());
            let child = &tree[&child_path];
            let segment = &segment_of[php];
            writeln!(src, "        #[doc = {}]", lit(&child_doc(segment, php))).unwrap();
            writeln!(
                src,
                "        {ident} => {}, {};",
                lit(segment),
                child.type_name
            )
            .unwrap();
        }
        writeln!(src, "    }}\n}}").unwrap();
    }
    src
}

fn child_doc(segment: &str, php: &str) -> String {
    if segment.is_empty() {
        format!("Appends the empty trailing segment (a trailing `/`; PHP/JS `{php}`).")
    } else {
        format!("Appends the segment `{segment}` (PHP/JS `{php}`).")
    }
}

/// The root methods on `Wechatpay` (`v3()`, `v2()`), in their own impl block so that the
/// client's doc page leads with its own methods.
fn roots_source(
    tree: &BTreeMap<Vec<String>, TreeNode>,
    method_of: &BTreeMap<String, String>,
    segment_of: &BTreeMap<String, String>,
) -> String {
    let mut src = String::from(
        "/// The roots of the typed catalog tree ([`crate::api`]): each returns a node that offers\n\
         /// only the segments the catalog has after it.\n\
         impl Wechatpay {\n",
    );
    for (prefix, node) in tree.iter().filter(|(p, _)| p.len() == 1) {
        let php = &prefix[0];
        writeln!(
            src,
            "    #[doc = {}]\n    pub fn {}(&self) -> crate::api::{} {{\n        crate::api::{}(self.root().catalog_segment({}, {}))\n    }}",
            lit(&format!(
                "Starts a typed chain at `{}`: the catalog tree [`crate::api::{}`].",
                segment_of[php], node.type_name
            )),
            method_of[php],
            node.type_name,
            node.type_name,
            lit(&node.template),
            lit(&segment_of[php]),
        )
        .unwrap();
    }
    src.push_str("}\n");
    src
}

fn catalog_source(rows: &[Row]) -> String {
    let mut cat = String::from("&[\n");
    for r in rows {
        let opt = |v: &Option<String>| match v {
            Some(s) => format!("Some({s:?})"),
            None => "None".into(),
        };
        let chain = match &r.php_chain {
            Some(c) => format!(
                "Some(&[{}])",
                c.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "None".into(),
        };
        writeln!(
            cat,
            "    Endpoint {{ method: {:?}, path: {:?}, base_uri: {:?}, segments: {}, php_chain: {chain}, content_type: {}, response_kind: {:?}, api_cert_required: {} }},",
            r.method, r.path, r.base_uri, opt(&r.segments), opt(&r.content_type), r.response_kind, r.api_cert_required
        )
        .unwrap();
    }
    cat.push_str("]\n");
    cat
}

/// For tests: every endpoint with a PHP chain, through the typed tree, as (catalog index, the
/// node turned into a `Chain`, the node type's `TEMPLATE`, whether node == chain both ways).
fn method_forms_source(rows: &[Row], method_of: &BTreeMap<String, String>) -> String {
    let mut forms = String::from(
        "/// A typed node as (chain, its type's template, node == chain && chain == node).\n\
         fn typed<N: wechatpay_chain::api::Node>(node: N) -> (wechatpay_chain::Chain, &'static str, bool) {\n\
         \x20   let chain = wechatpay_chain::Chain::from(node.clone());\n\
         \x20   // Both impls, spelled out: `node == chain` and `chain == node` are different code.\n\
         \x20   let node_eq = <N as PartialEq<wechatpay_chain::Chain>>::eq(&node, &chain);\n\
         \x20   let chain_eq = <wechatpay_chain::Chain as PartialEq<N>>::eq(&chain, &node);\n\
         \x20   let equal = node_eq && chain_eq;\n\
         \x20   (chain, N::TEMPLATE, equal)\n\
         }\n\n\
         /// Every catalog endpoint with a PHP chain, written in the method form of the typed tree:\n\
         /// (catalog index, (chain, template of the node type, equality both ways)).\n\
         #[allow(clippy::type_complexity)]\n\
         pub(crate) fn method_forms(c: &wechatpay_chain::Wechatpay) -> Vec<(usize, (wechatpay_chain::Chain, &'static str, bool))> {\n    vec![\n",
    );
    for (i, r) in rows.iter().enumerate() {
        let (Some(chain), Some(_)) = (&r.php_chain, &r.segments) else {
            continue;
        };
        let calls: String = chain
            .iter()
            .map(|p| format!(".{}()", method_of[p]))
            .collect();
        writeln!(forms, "        ({i}, typed(c{calls})),").unwrap();
    }
    forms.push_str("    ]\n}\n");
    forms
}
