//! `wxpay endpoints [FILTER] [-X METHOD]`: search the endpoint catalog. The library catalog
//! gives method, path, base URI, chain and content type; the query parameters and body fields
//! come from `endpoint_fields.tsv`, a CLI-only file generated from the same endpoint list (its
//! header says how; `tests/cli_endpoints.rs` keeps its endpoints equal to the catalog's).
//!
//! A filter that matches nothing is not an error: exit 0 with an empty listing (`[]` in
//! json) and a note on stderr, so scripts can test for emptiness without parsing messages.

use std::collections::HashMap;
use std::io::Write as _;

use serde_json::{json, Value};
use wechatpay_chain::catalog::{Endpoint, ENDPOINTS};
use wechatpay_chain::template::variables;

use crate::{Fail, Format};

/// Examples for `wxpay endpoints --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  wxpay endpoints payscore/partner            # the payscore partner endpoints
  wxpay endpoints v3.bill -X GET --format pretty
  wxpay endpoints send-pendingmessage --format json | jq '.[0].body'

FILTER matches, without regard to case, a substring of the wire path (/v3/pay/transactions/{…}),
the chain template (v3/pay/transactions/native) or the dotted PHP/JS chain
(v3.pay.transactions.native). Without FILTER every endpoint is listed.

Output: --format json (the default) prints one JSON array on one line, an object per endpoint:
{\"method\",\"path\",\"template\",\"chain\",\"variables\",\"query\",\"body\",\"content_type\",
\"response\",\"base_uri\",\"api_cert_required\"} (\"chain\" and \"content_type\" may be null; \"body\" is null when the
endpoint takes no JSON body or its fields are not listed). --format pretty prints a readable
listing, one block per endpoint.

Exit status: 0 (also when nothing matches: an empty listing and a note on stderr); 2 bad -X, or
stdout could not be written.";

/// The CLI's field list: `(method, path)` → (query parameters, body fields or `None`).
type Fields = HashMap<(&'static str, &'static str), (Vec<&'static str>, Option<Vec<&'static str>>)>;

/// Query parameters and body fields by (method, path); see the file's header.
const FIELDS_TSV: &str = include_str!("endpoint_fields.tsv");

fn names(column: &'static str) -> Vec<&'static str> {
    column.split(',').filter(|n| !n.is_empty()).collect()
}

fn fields() -> Fields {
    FIELDS_TSV
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let mut columns = line.split('\t');
            let (method, path) = (columns.next()?, columns.next()?);
            let query = names(columns.next().unwrap_or(""));
            let body = match columns.next().unwrap_or("-") {
                "-" => None,
                list => Some(names(list)),
            };
            Some(((method, path), (query, body)))
        })
        .collect()
}

/// The dotted PHP/JS chain, if the endpoint has one.
fn dotted(endpoint: &Endpoint) -> Option<String> {
    endpoint.php_chain.map(|names| names.join("."))
}

fn matches(endpoint: &Endpoint, filter: &str) -> bool {
    let filter = filter.to_lowercase();
    [
        Some(endpoint.path.to_string()),
        Some(endpoint.template().to_string()),
        dotted(endpoint),
    ]
    .into_iter()
    .flatten()
    .any(|text| text.to_lowercase().contains(&filter))
}

fn describe(endpoint: &Endpoint, fields: &Fields) -> Value {
    let (query, body) = fields
        .get(&(endpoint.method, endpoint.path))
        .cloned()
        .unwrap_or_default();
    json!({
        "method": endpoint.method,
        "path": endpoint.path,
        "template": endpoint.template(),
        "chain": dotted(endpoint),
        // A catalog path always parses; an empty list would only hide a broken entry.
        "variables": variables(endpoint.path).unwrap_or_default(),
        "query": query,
        "body": body,
        "content_type": endpoint.content_type,
        "response": endpoint.response_kind,
        "base_uri": endpoint.base_uri,
        // APIv2 calls that need the merchant API certificate (mutual TLS).
        "api_cert_required": endpoint.api_cert_required,
    })
}

/// `a, b, c`, or `-` for none.
fn list(value: &Value) -> String {
    match value.as_array() {
        Some(items) if !items.is_empty() => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        _ => "-".to_string(),
    }
}

/// One block per endpoint, blank lines between.
fn pretty(endpoints: &[Value]) -> String {
    let mut text = String::new();
    for (i, e) in endpoints.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        let field = |name: &str| e[name].as_str().unwrap_or("-").to_string();
        text.push_str(&format!("{} {}\n", field("method"), field("path")));
        let rows = [
            ("template", field("template")),
            ("chain", field("chain")),
            ("variables", list(&e["variables"])),
            ("query", list(&e["query"])),
            ("body", list(&e["body"])),
            ("content type", field("content_type")),
            ("response", field("response")),
            ("base URI", field("base_uri")),
            (
                "api cert",
                if e["api_cert_required"] == true {
                    "required (mutual TLS)".to_string()
                } else {
                    "-".to_string()
                },
            ),
        ];
        for (name, value) in rows {
            text.push_str(&format!("  {name:<14}{value}\n"));
        }
    }
    text
}

/// Lists the endpoints matching `filter` and `method`.
pub(crate) fn run(filter: Option<&str>, method: Option<&str>, format: Format) -> Result<(), Fail> {
    let method = method
        .map(|m| {
            let upper = m.to_ascii_uppercase();
            if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&upper.as_str()) {
                Ok(upper)
            } else {
                Err(Fail::input(format!(
                    "-X {m}: use GET, POST, PUT, PATCH or DELETE"
                )))
            }
        })
        .transpose()?;
    let fields = fields();
    let found: Vec<Value> = ENDPOINTS
        .iter()
        .filter(|e| method.as_deref().is_none_or(|m| e.method == m))
        .filter(|e| filter.is_none_or(|f| matches(e, f)))
        .map(|e| describe(e, &fields))
        .collect();
    if found.is_empty() {
        eprintln!("wxpay: no endpoint matches; try a shorter filter (see wxpay endpoints --help)");
    }
    let text = match format {
        Format::Json => format!("{}\n", Value::Array(found)),
        Format::Pretty => pretty(&found),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Fail::input(format!("cannot write the listing on stdout: {e}")))
}
