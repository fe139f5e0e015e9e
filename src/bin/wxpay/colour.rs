//! `--format pretty` on a terminal: indented JSON with its keys, strings, numbers and
//! literals coloured (anstyle styles). Only when stdout is a terminal and `NO_COLOR` is unset
//! or empty (<https://no-color.org>): a pipe or a file gets plain indented JSON.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

const KEY: Style = AnsiColor::Blue.on_default().bold();
const STRING: Style = AnsiColor::Green.on_default();
const NUMBER: Style = AnsiColor::Cyan.on_default();
const LITERAL: Style = AnsiColor::Magenta.on_default();

/// Whether stdout should get colours: a terminal, and no (non-empty) `NO_COLOR`.
pub(crate) fn stdout_wants_colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// `value` indented by two spaces like `serde_json::to_string_pretty`, with colours.
pub(crate) fn render(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn styled(out: &mut String, style: Style, text: &str) {
    let _ = write!(out, "{style}{text}{style:#}");
}

/// A JSON string literal, escaped exactly as serde_json writes it.
fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn indent(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null | Value::Bool(_) => styled(out, LITERAL, &value.to_string()),
        Value::Number(n) => styled(out, NUMBER, &n.to_string()),
        Value::String(s) => styled(out, STRING, &quoted(s)),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                styled(out, KEY, &quoted(key));
                out.push_str(": ");
                write_value(out, item, depth + 1);
            }
            indent(out, depth);
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without its escape codes the coloured text is exactly serde_json's pretty text.
    #[test]
    fn stripped_of_colours_it_is_the_pretty_json() {
        let value = serde_json::json!({
            "a": [1, 2.5, "x\"y", null, true, {}, []],
            "b": {"c": "中文", "d": false},
            "e": -7
        });
        let coloured = render(&value);
        assert!(coloured.contains('\u{1b}'));
        let mut plain = String::new();
        let mut rest = coloured.as_str();
        while let Some(i) = rest.find('\u{1b}') {
            plain.push_str(&rest[..i]);
            let end = rest[i..].find('m').map_or(rest.len(), |j| i + j + 1);
            rest = &rest[end..];
        }
        plain.push_str(rest);
        assert_eq!(plain, serde_json::to_string_pretty(&value).unwrap());
    }
}
