//! `wxpay completions` run as a binary: a script for every shell clap_complete knows, naming
//! the subcommands; an unknown or missing shell is exit 2.
#![cfg(feature = "cli")]

mod cli_util;

use cli_util::{run, text};

#[test]
fn the_bash_script_completes_every_subcommand_and_their_flags() {
    let out = run(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("complete -F _wxpay"),
        "registers the function"
    );
    for word in [
        "upload",
        "bill",
        "endpoints",
        "completions",
        "sandbox",
        "--sandbox",
        "--form",
        "--output",
    ] {
        assert!(script.contains(word), "{word} in the bash script");
    }
    assert!(out.stderr.is_empty());
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains("endpoints"),
            "{shell}: names the subcommands"
        );
    }
}

#[test]
fn an_unknown_or_missing_shell_is_exit_2() {
    for args in [&["completions", "tcsh"][..], &["completions"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(out.stdout.is_empty());
    }
    let out = run(&["completions", "tcsh"]);
    assert!(
        text(&out).contains("bash"),
        "names the shells: {}",
        text(&out)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_stdout_is_exit_2() {
    let out = cli_util::run_stdout_full(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(cli_util::last_line(&out).starts_with("wxpay: cannot write"));
}
