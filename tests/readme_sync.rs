//! README.md and README.zh-CN.md stay in step: the same set-up commands, the same sections and
//! the same code blocks, so a change to one that is not made to the other fails here and says
//! what to update. (Both READMEs' code blocks are also compiled as doctests, see `src/lib.rs`.)

use std::path::Path;

const EN: &str = "README.md";
const ZH: &str = "README.zh-CN.md";

/// The command that installs `wxpay`; both READMEs must tell users.
const INSTALL: &str = "cargo install wechatpay-chain --features cli";

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fenced code block: its info string (language) and its lines, verbatim.
#[derive(Debug, PartialEq)]
struct Block {
    lang: String,
    body: String,
}

/// The parts of a markdown file this test compares, in document order.
#[derive(Debug, Default)]
struct Outline {
    /// Each heading: its level (`#` count), its text, and its inline code spans (names that
    /// stay untranslated).
    headings: Vec<(usize, String, Vec<String>)>,
    /// Each fenced block, with the index of the heading it sits under (`None`: before any).
    blocks: Vec<(Option<usize>, Block)>,
}

/// Inline code spans of a line, as in `` `wxpay` ``.
fn code_spans(line: &str) -> Vec<String> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Headings and fenced blocks; a `#` line inside a fence (shell comment, hidden doctest line)
/// is not a heading.
fn outline(text: &str) -> Outline {
    let mut out = Outline::default();
    let mut open: Option<Block> = None;
    for line in text.lines() {
        if let Some(block) = open.as_mut() {
            if line.trim_start().starts_with("```") {
                let done = open.take().expect("a block is open");
                out.blocks.push((out.headings.len().checked_sub(1), done));
            } else {
                block.body.push_str(line);
                block.body.push('\n');
            }
        } else if let Some(info) = line.trim_start().strip_prefix("```") {
            open = Some(Block {
                lang: info.trim().to_owned(),
                body: String::new(),
            });
        } else {
            let level = line.chars().take_while(|&c| c == '#').count();
            if level > 0 && line[level..].starts_with(' ') {
                out.headings
                    .push((level, line[level..].trim().to_owned(), code_spans(line)));
            }
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    out
}

/// Where README.md's `## Set up` section is (the Chinese one is at the same index).
fn setup_section(en: &Outline) -> usize {
    en.headings
        .iter()
        .position(|(level, text, _)| *level == 2 && text == "Set up")
        .expect("README.md has a `## Set up` section")
}

/// The commands of the code blocks under heading `at`: their lines without comments.
fn commands_under(o: &Outline, at: usize) -> Vec<String> {
    o.blocks
        .iter()
        .filter(|(h, _)| *h == Some(at))
        .flat_map(|(_, b)| commands(&b.body))
        .collect()
}

fn commands(body: &str) -> Vec<String> {
    body.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn readme_states_exactly_two_setup_commands() {
    let en = outline(&read(EN));
    let cmds = commands_under(&en, setup_section(&en));
    assert_eq!(
        cmds,
        [
            "cargo run --features sandbox --example quickstart",
            "cargo test --all-features"
        ],
        "README.md's `## Set up` must name exactly two commands for a fresh machine: the main \
         job against the embedded sandbox, then the tests; if they changed, update this test, \
         README.zh-CN.md's 准备工作 section and .ci/run"
    );
}

#[test]
fn both_readmes_name_the_same_setup_commands() {
    let (en, zh) = (outline(&read(EN)), outline(&read(ZH)));
    let at = setup_section(&en);
    assert_eq!(
        commands_under(&zh, at),
        commands_under(&en, at),
        "README.zh-CN.md's set-up section (准备工作, heading #{}) must name README.md's set-up \
         commands: copy README.md's `## Set up` code block into it",
        at + 1
    );
}

#[test]
fn both_readmes_have_the_same_sections() {
    let (en, zh) = (outline(&read(EN)), outline(&read(ZH)));
    let levels = |o: &Outline| o.headings.iter().map(|(l, _, _)| *l).collect::<Vec<_>>();
    assert_eq!(
        levels(&zh),
        levels(&en),
        "README.zh-CN.md must have README.md's headings (same levels, same order, same count): \
         add, remove or move the translated heading in README.zh-CN.md"
    );
    for (i, ((_, _, en_code), (_, _, zh_code))) in en.headings.iter().zip(&zh.headings).enumerate()
    {
        assert_eq!(
            zh_code,
            en_code,
            "heading #{} names different code in README.zh-CN.md than in README.md: keep names \
             such as `wxpay` untranslated",
            i + 1
        );
    }
}

#[test]
fn both_readmes_have_the_same_code_blocks() {
    let (en, zh) = (outline(&read(EN)), outline(&read(ZH)));
    assert_eq!(
        zh.blocks.len(),
        en.blocks.len(),
        "README.zh-CN.md must hold README.md's code blocks: copy the added or removed block \
         (they are compiled as doctests from both files)"
    );
    for (i, ((en_at, en_block), (zh_at, zh_block))) in en.blocks.iter().zip(&zh.blocks).enumerate()
    {
        assert_eq!(
            zh_block,
            en_block,
            "code block #{} differs: copy it from README.md into README.zh-CN.md verbatim \
             (language and every line)",
            i + 1
        );
        assert_eq!(
            zh_at,
            en_at,
            "code block #{} sits under another heading in README.zh-CN.md than in README.md: \
             move it to the matching section",
            i + 1
        );
    }
}

#[test]
fn the_readmes_link_each_other_at_the_top() {
    for (name, other) in [(EN, ZH), (ZH, EN)] {
        let text = read(name);
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.contains(&format!("]({other})")),
            "the first line of {name} must link to {other}, got {first:?}"
        );
    }
}

#[test]
fn both_readmes_say_how_to_install_wxpay() {
    for name in [EN, ZH] {
        let text = read(name);
        let cli = text
            .split("\n## ")
            .find(|section| {
                section
                    .lines()
                    .next()
                    .is_some_and(|h| h.contains("`wxpay`"))
            })
            .unwrap_or_else(|| panic!("{name} has no `wxpay` command line section"));
        assert!(
            cli.contains(INSTALL),
            "{name}'s `wxpay` section must say `{INSTALL}`"
        );
    }
}
