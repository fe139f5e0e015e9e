//! Parsing the command line, with clap's did-you-mean kept to near misses: clap suggests the
//! nearest long flag however far it is (`--frobnicate` got `--certificate`), which misleads
//! more than it helps. A suggestion stays only when it is close to what was typed.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;

use crate::config::edit_distance;

/// The most edits between a typed flag and a suggestion that is still shown.
const CLOSE: usize = 2;

/// Whether `suggested` is close to `typed` (both with their dashes): a few edits apart, or
/// one a prefix of the other (`--dry` for `--dry-run`).
fn close(typed: &str, suggested: &str) -> bool {
    let (t, s) = (
        typed.trim_start_matches('-'),
        suggested.trim_start_matches('-'),
    );
    // `--name=value`: only the name counts.
    let t = t.split_once('=').map_or(t, |(name, _)| name);
    !t.is_empty() && (edit_distance(t, s) <= CLOSE || s.starts_with(t) || t.starts_with(s))
}

/// The usage of the (sub)command `words` name (after the program name): `wxpay sandbox …`
/// gets the sandbox's.
fn usage_for(command: &mut clap::Command, words: &[String]) -> clap::builder::StyledStr {
    if let Some((i, word)) = words.iter().enumerate().find(|(_, w)| !w.starts_with('-')) {
        if let Some(sub) = command.find_subcommand_mut(word) {
            return usage_for(sub, &words[i + 1..]);
        }
    }
    command.render_usage()
}

/// Drops a far suggestion from an unknown-argument error (and the usage line clap built
/// around it, replaced by the command's own); other errors pass unchanged.
fn filter_suggestion(
    mut error: clap::Error,
    command: &mut clap::Command,
    words: &[String],
) -> clap::Error {
    if error.kind() != ErrorKind::UnknownArgument {
        return error;
    }
    let typed = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => return error,
    };
    let far = match error.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(suggested)) => !close(&typed, suggested),
        _ => false,
    };
    if far {
        error.remove(ContextKind::SuggestedArg);
        error.insert(
            ContextKind::Usage,
            ContextValue::StyledStr(usage_for(command, words.get(1..).unwrap_or_default())),
        );
    }
    error
}

/// Parses the command line like `T::parse()` (help, version and errors exit with clap's
/// statuses: 2 for a usage error), with far suggestions dropped.
pub(crate) fn parse<T: Parser>() -> T {
    let mut command = T::command();
    let words: Vec<String> = std::env::args_os()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let result = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut matches| T::from_arg_matches_mut(&mut matches));
    match result {
        Ok(parsed) => parsed,
        Err(error) => {
            let error = error.format(&mut command);
            filter_suggestion(error, &mut command, &words).exit()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::close;

    #[test]
    fn near_misses_are_close_and_far_ones_are_not() {
        assert!(close("--dryrun", "--dry-run"));
        assert!(close("--dry", "--dry-run"));
        assert!(close("--formt=pretty", "--format"));
        assert!(!close("--frobnicate", "--certificate"));
        assert!(!close("--", "--config"));
    }
}
