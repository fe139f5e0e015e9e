//! Generates, from `src/catalog/endpoints.tsv`:
//! - `segments.rs`: one method per distinct catalog segment (the method form of the chain);
//! - `catalog.rs`: the endpoint table (method, path, base URI, segments, PHP chain);
//! - `method_forms.rs`: for tests, every endpoint's chain written in the method form.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

const CATALOG: &str = "src/catalog/endpoints.tsv";

/// Names that are methods of `Chain`/`Wechatpay` already, or cannot be raw identifiers.
const TAKEN: &[&str] = &[
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
    "mchid",
    "key_store",
    "apiv3_key",
    "now",
    "execute",
    "builder",
    "root",
    "inner",
    "with",
    "new",
    "clone",
    "to_string",
    "eq",
    "ne",
    "fmt",
    "index",
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

struct Row {
    method: String,
    path: String,
    base_uri: String,
    segments: Option<String>,
    php_chain: Option<Vec<String>>,
    content_type: Option<String>,
    response_kind: String,
}

fn dash(v: &str) -> Option<String> {
    (v != "-").then(|| v.to_string())
}

fn read_rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 7, "catalog line with {} fields: {line}", f.len());
            Row {
                method: f[0].into(),
                path: f[1].into(),
                base_uri: f[2].into(),
                segments: dash(f[3]),
                php_chain: dash(f[4]).map(|c| c.split('.').map(String::from).collect()),
                content_type: dash(f[5]),
                response_kind: f[6].into(),
            }
        })
        .collect()
}

/// `sendPendingmessage` → `send_pendingmessage`; placeholders `_x_` stay as they are.
fn snake(php: &str) -> String {
    if php.len() >= 3 && php.starts_with('_') && php.ends_with('_') {
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

    // Method name → (segment, php name). A snake name claimed by two segments goes to the
    // PHP name already in snake case; the camelCase one keeps its PHP spelling.
    let mut by_snake: BTreeMap<String, Vec<(&String, &String)>> = BTreeMap::new();
    for (php, seg) in &segment_of {
        by_snake.entry(snake(php)).or_default().push((php, seg));
    }
    let mut methods: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut method_of: BTreeMap<String, String> = BTreeMap::new();
    for (name, claims) in &by_snake {
        let distinct: std::collections::BTreeSet<&String> =
            claims.iter().map(|(_, s)| *s).collect();
        for (php, seg) in claims {
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
            methods.insert(ident.clone(), (seg.to_string(), php.to_string()));
            method_of.insert(php.to_string(), ident);
        }
    }

    let out_dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    let out = Path::new(&out_dir);

    let mut seg_src = String::from("segment_methods! {\n");
    for (ident, (seg, php)) in &methods {
        let shown = if seg.is_empty() {
            "(empty: a trailing `/`)".to_string()
        } else {
            format!("`{seg}`")
        };
        writeln!(
            seg_src,
            "    {ident} => {seg:?}, \"Appends the segment {shown} (PHP/JS `{php}`).\";"
        )
        .unwrap();
    }
    seg_src.push_str("}\n");
    std::fs::write(out.join("segments.rs"), seg_src).unwrap();

    let mut cat = String::from("&[\n");
    for r in &rows {
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
            "    Endpoint {{ method: {:?}, path: {:?}, base_uri: {:?}, segments: {}, php_chain: {chain}, content_type: {}, response_kind: {:?} }},",
            r.method, r.path, r.base_uri, opt(&r.segments), opt(&r.content_type), r.response_kind
        )
        .unwrap();
    }
    cat.push_str("]\n");
    std::fs::write(out.join("catalog.rs"), cat).unwrap();

    let mut forms = String::from(
        "/// Every catalog endpoint with a PHP chain, written in the method form: (catalog index, chain).\n\
         pub fn method_forms(c: &wechatpay_chain::Wechatpay) -> Vec<(usize, wechatpay_chain::Chain)> {\n    vec![\n",
    );
    for (i, r) in rows.iter().enumerate() {
        let (Some(chain), Some(_)) = (&r.php_chain, &r.segments) else {
            continue;
        };
        let calls: String = chain
            .iter()
            .map(|p| format!(".{}()", method_of[p]))
            .collect();
        writeln!(forms, "        ({i}, c{calls}),").unwrap();
    }
    forms.push_str("    ]\n}\n");
    std::fs::write(out.join("method_forms.rs"), forms).unwrap();
}
