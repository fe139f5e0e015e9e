//! The fuzz targets on stable: every committed input under `fuzz/seeds/<target>/` and
//! `fuzz/regressions/<target>/` (crashes found by `fuzz/run.sh`, kept after their fix) runs
//! through the same harness function `cargo fuzz` uses. A panic is a regression.

#[path = "../fuzz/harness/mod.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable fuzz input folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every seed and regression input of `target`; names each input that panicked.
fn run(target: &str) {
    let (_, body) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a harness target of that name");
    let seeds = inputs("seeds", target);
    assert!(!seeds.is_empty(), "fuzz/seeds/{target} holds no seed");
    let mut failed = Vec::new();
    for file in seeds.iter().chain(&inputs("regressions", target)) {
        let data = std::fs::read(file).expect("readable fuzz input");
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: these inputs fail: {failed:#?}"
    );
}

#[test]
fn chain_inputs() {
    run("chain");
}

#[test]
fn template_inputs() {
    run("template");
}

#[test]
fn verifier_inputs() {
    run("verifier");
}

#[test]
fn notification_inputs() {
    run("notification");
}

#[test]
fn keys_inputs() {
    run("keys");
}

#[test]
fn v2_xml_inputs() {
    run("v2_xml");
}

/// `keys` found a PKCS#8 key with a corrupted CRT exponent that loaded, then failed every
/// request with a signing error; it is now refused when loaded, with a typed error.
#[test]
fn a_private_key_that_cannot_sign_is_refused_when_loaded() {
    use base64::Engine as _;
    use wechatpay_chain::{ErrorKind, KeyError, KeyMaterial, PrivateKey};

    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions/keys/private-key-loads-but-cannot-sign");
    let input = std::fs::read(path).expect("the regression input");
    // Mode byte 4: the rest is PKCS#8 DER, given in a `PRIVATE KEY` block.
    let der = base64::engine::general_purpose::STANDARD.encode(&input[1..]);
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{der}\n-----END PRIVATE KEY-----\n");
    let e = PrivateKey::from_pem(pem).expect_err("a key that cannot sign is refused");
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Key(KeyError::Malformed(KeyMaterial::PrivateKey))
        ),
        "{e:?}"
    );
}
