//! Bodies of the fuzz targets, shared by `cargo fuzz` (`fuzz/fuzz_targets/*.rs`) and the stable
//! regression test (`tests/fuzz_regressions.rs`), which runs every committed input through them.
//!
//! Each `*_target` takes arbitrary bytes and returns normally on every input. A panic is a bug:
//! either a panic inside the library or a failed `assert!` on an invariant the library promises
//! (a value never adds a path segment, the signed target is the sent one, a mutated signed
//! vector never verifies, a decrypted resource re-encrypts to its ciphertext, …).
//!
//! Inputs are read with [`Input`]: a byte picks an operation, a length-prefixed slice gives its
//! text. `fuzz/seeds/gen.py` writes seeds in this format from the protocol vectors.

#![allow(dead_code)] // each fuzz target uses one entry point

mod chain;
mod fixtures;
mod input;
mod keys;
mod notification;
mod template;
mod v2_xml;
mod verifier;

pub(crate) use chain::chain_target;
pub(crate) use keys::keys_target;
pub(crate) use notification::notification_target;
pub(crate) use template::template_target;
pub(crate) use v2_xml::v2_xml_target;
pub(crate) use verifier::verifier_target;

/// A target's body: any bytes in, a panic only on a bug.
pub(crate) type Target = fn(&[u8]);

/// Every target by the name of its `fuzz/seeds/<name>` and `fuzz/regressions/<name>` folders.
pub(crate) const TARGETS: &[(&str, Target)] = &[
    ("chain", chain_target),
    ("template", template_target),
    ("verifier", verifier_target),
    ("notification", notification_target),
    ("keys", keys_target),
    ("v2_xml", v2_xml_target),
];
