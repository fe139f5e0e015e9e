//! `wxpay crypto encrypt|decrypt|sign|verify`: round trips with the sandbox's keys (the
//! platform's private halves are in `tests/fixtures/`), the JS-computed vectors (OAEP,
//! AES-GCM, request signatures, response signatures), and every exit status: 2 for bad
//! base64 (naming the argument) and missing keys, 5 for a signature that does not verify or
//! an AES-GCM ciphertext that does not authenticate, 6 for an unwritable stdout.
#![cfg(feature = "cli")]

mod cli_util;

use cli_util::{last_line, run, run_env, run_stdin, run_stdout_full, text, Served, TempDir};
use serde_json::Value;
use wechatpay_chain::PrivateKey;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn fixtures() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("fixtures.json")).unwrap()).unwrap()
}

fn vectors() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vectors.json"
        ))
        .unwrap(),
    )
    .unwrap()
}

/// Runs `args`, asserts exit 0 and one JSON line; the JSON.
fn ok(args: &[&str]) -> Value {
    json_of(&run(args), args)
}

fn json_of(out: &std::process::Output, args: &[&str]) -> Value {
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// Runs `args`, asserts exit `code`, nothing on stdout (unless `code` is 5) and a last line
/// holding `needle`.
fn fails(args: &[&str], code: i32, needle: &str) -> std::process::Output {
    let out = run(args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out));
    let last = last_line(&out);
    assert!(
        last.starts_with("wxpay: ") && last.contains(needle),
        "{args:?}: {needle:?} not in {last}"
    );
    out
}

/// The platform's side: decrypts with a private key from the fixtures.
fn platform_decrypt(key_file: &str, ciphertext: &str) -> String {
    PrivateKey::from_pem_file(fixture(key_file))
        .unwrap()
        .oaep_decrypt(ciphertext)
        .unwrap()
}

#[test]
fn encrypt_names_the_key_and_the_platform_decrypts_it() {
    let public_key_id = fixtures()["public_key_id"].as_str().unwrap().to_string();

    // The in-process sandbox: its preferred key is the WeChat Pay public key.
    let out = ok(&["crypto", "encrypt", "--sandbox", "张三"]);
    assert_eq!(out["wechatpay_serial"], public_key_id.as_str());
    let ciphertext = out["ciphertext"].as_str().unwrap();
    assert_eq!(ciphertext.len(), 344);
    assert_eq!(platform_decrypt("pub_key_private.pem", ciphertext), "张三");

    // A served sandbox's config, the text from a file and from stdin (byte for byte).
    let served = Served::start("crypto-encrypt");
    let toml = served.toml();
    let dir = TempDir::new("crypto-encrypt-input");
    let file = dir.write("phone.txt", "13800138000");
    let out = ok(&["crypto", "encrypt", "-c", &toml, &format!("@{file}")]);
    assert_eq!(out["wechatpay_serial"], public_key_id.as_str());
    let ciphertext = out["ciphertext"].as_str().unwrap();
    assert_eq!(
        platform_decrypt("pub_key_private.pem", ciphertext),
        "13800138000"
    );
    let args = ["crypto", "encrypt", "-c", &toml, "@-"];
    let out = json_of(&run_stdin(&args, "line\n".as_bytes()), &args);
    let ciphertext = out["ciphertext"].as_str().unwrap();
    assert_eq!(
        platform_decrypt("pub_key_private.pem", ciphertext),
        "line\n"
    );

    // Only a platform certificate: its serial, its key.
    let serial = fixtures()["platform_serial"].as_str().unwrap().to_string();
    let cert = fixture(fixtures()["platform_certificate_file"].as_str().unwrap());
    let out = ok(&["crypto", "encrypt", "--certificate", &cert, "hello"]);
    assert_eq!(out["wechatpay_serial"], serial.as_str());
    let ciphertext = out["ciphertext"].as_str().unwrap();
    assert_eq!(platform_decrypt("platform_key.pem", ciphertext), "hello");

    // And the binary decrypts it back with that private key.
    let private = fixture("platform_key.pem");
    let out = ok(&["crypto", "decrypt", "--private-key", &private, ciphertext]);
    assert_eq!(out["plaintext"], "hello");
}

#[test]
fn decrypt_opens_the_oaep_and_aes_gcm_vectors() {
    let vectors = vectors();
    for case in vectors["oaep"].as_array().unwrap() {
        let key = match case["encrypted_for"].as_str().unwrap() {
            "merchant" => "apiclient_key.pem",
            "platform" => "platform_key.pem",
            "pubkey" => "pub_key_private.pem",
            other => panic!("unknown encrypted_for {other}"),
        };
        let key = fixture(key);
        let ciphertext = case["ciphertext"].as_str().unwrap();
        let out = ok(&["crypto", "decrypt", "--private-key", &key, ciphertext]);
        assert_eq!(out["plaintext"], case["plaintext"], "{case}");
    }
    // Encrypted to the merchant key: the sandbox's merchant key opens it (--sandbox).
    let merchant = vectors["oaep"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["encrypted_for"] == "merchant")
        .unwrap();
    let ciphertext = merchant["ciphertext"].as_str().unwrap();
    let out = ok(&["crypto", "decrypt", "--sandbox", ciphertext]);
    assert_eq!(out["plaintext"], merchant["plaintext"]);

    for case in vectors["aes_gcm"].as_array().unwrap() {
        let s = |k: &str| case[k].as_str().unwrap();
        let out = ok(&[
            "crypto",
            "decrypt",
            "--aead",
            "--apiv3-key",
            s("key"),
            "--nonce",
            s("nonce"),
            "--associated-data",
            s("aad"),
            s("ciphertext"),
        ]);
        assert_eq!(out["plaintext"], case["plaintext"], "{case}");
    }
}

#[test]
fn sandbox_keys_are_not_replaced_by_the_environment() {
    // The first AES-GCM vector is under the fixture (= sandbox) APIv3 key.
    let case = &vectors()["aes_gcm"][0];
    let s = |k: &str| case[k].as_str().unwrap();
    assert_eq!(s("key"), fixtures()["apiv3_key"].as_str().unwrap());
    let args = [
        "crypto",
        "decrypt",
        "--sandbox",
        "--aead",
        "--nonce",
        s("nonce"),
        "--associated-data",
        s("aad"),
        s("ciphertext"),
    ];
    let out = run_env(
        &args,
        &[("WECHATPAY_APIV3_KEY", "WrongApiV3Key0123456789abcdefXYZ")],
    );
    assert_eq!(json_of(&out, &args)["plaintext"], case["plaintext"]);
}

#[test]
fn decrypt_failures_have_their_exit_status() {
    let vectors = vectors();
    let case = &vectors["aes_gcm"][0];
    let s = |k: &str| case[k].as_str().unwrap();
    let aead = |nonce: &str, aad: &str, ciphertext: &str| -> Vec<String> {
        [
            "crypto",
            "decrypt",
            "--aead",
            "--apiv3-key",
            s("key"),
            "--nonce",
            nonce,
            "--associated-data",
            aad,
            ciphertext,
        ]
        .iter()
        .map(ToString::to_string)
        .collect()
    };
    let run_fail = |args: Vec<String>, code: i32, needle: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = fails(&args, code, needle);
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(
            !text(&out).contains(s("key")),
            "the APIv3 key is never shown"
        );
    };
    // Other associated data: the ciphertext does not authenticate (5).
    run_fail(
        aead(s("nonce"), "other", s("ciphertext")),
        5,
        "did not authenticate",
    );
    // A nonce of the wrong length, a ciphertext that is not base64 (2, naming the argument).
    run_fail(aead("short", s("aad"), s("ciphertext")), 2, "--nonce");
    run_fail(
        aead(s("nonce"), s("aad"), "not*base64"),
        2,
        "CIPHERTEXT: not base64",
    );

    // OAEP: not base64, and a ciphertext for another key (2).
    let key = fixture("apiclient_key.pem");
    fails(
        &["crypto", "decrypt", "--private-key", &key, "a$b"],
        2,
        "CIPHERTEXT: not base64",
    );
    let for_platform = vectors["oaep"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["encrypted_for"] == "platform")
        .unwrap()["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    fails(
        &["crypto", "decrypt", "--private-key", &key, &for_platform],
        2,
        "did not decrypt",
    );
    // No keys at all.
    fails(
        &["crypto", "decrypt", &for_platform],
        2,
        "no private key configured",
    );
    fails(
        &[
            "crypto",
            "decrypt",
            "--aead",
            "--nonce",
            s("nonce"),
            s("ciphertext"),
        ],
        2,
        "WECHATPAY_APIV3_KEY",
    );
    fails(&["crypto", "encrypt", "hello"], 2, "no usable platform key");
}

#[test]
fn sign_matches_the_request_signature_vectors() {
    let dir = TempDir::new("crypto-sign");
    let key = fixture("apiclient_key.pem");
    for (i, case) in vectors()["request_signatures"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let message = case["message"].as_str().unwrap();
        let file = dir.write(&format!("m{i}.txt"), message);
        let out = ok(&["crypto", "sign", "--private-key", &key, &format!("@{file}")]);
        assert_eq!(out["signature"], case["signature"], "{}", case["name"]);
        // The same from stdin, and with the sandbox's merchant key (the same test key).
        let args = ["crypto", "sign", "--sandbox", "@-"];
        let out = json_of(&run_stdin(&args, message.as_bytes()), &args);
        assert_eq!(out["signature"], case["signature"], "{}", case["name"]);
    }
    fails(&["crypto", "sign", "hello"], 2, "no private key configured");
}

#[test]
fn verify_checks_the_response_signature_vectors() {
    let dir = TempDir::new("crypto-verify");
    let fixtures = fixtures();
    let public_key = format!(
        "{}={}",
        fixtures["public_key_id"].as_str().unwrap(),
        fixture("pub_key.pem")
    );
    let cert = fixture(fixtures["platform_certificate_file"].as_str().unwrap());
    let mut valid = 0;
    let mut invalid = 0;
    for (i, case) in vectors()["responses"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let name = case["name"].as_str().unwrap();
        let headers = &case["headers"];
        let (Some(serial), Some(signature), Some(timestamp), Some(nonce)) = (
            headers["Wechatpay-Serial"].as_str(),
            headers["Wechatpay-Signature"].as_str(),
            headers["Wechatpay-Timestamp"].as_str(),
            headers["Wechatpay-Nonce"].as_str(),
        ) else {
            continue;
        };
        if case["expect"] == "unknown_serial" || case["expect"] == "probe" {
            continue;
        }
        // The message of the response as received (a tampered body makes another one).
        let body = case["body"].as_str().unwrap();
        let file = dir.write(
            &format!("r{i}.txt"),
            format!("{timestamp}\n{nonce}\n{body}\n"),
        );
        let args = [
            "crypto",
            "verify",
            "--public-key",
            &public_key,
            "--certificate",
            &cert,
            "--serial",
            serial,
            "--signature",
            signature,
            &format!("@{file}"),
        ];
        let out = run(&args);
        match case["expect"].as_str().unwrap() {
            // The signature is right (the clock is not verify's business).
            "ok" | "clock" => {
                assert_eq!(
                    json_of(&out, &args),
                    serde_json::json!({"valid": true}),
                    "{name}"
                );
                valid += 1;
            }
            "signature" if name.contains("not base64") => {
                assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
                assert!(
                    last_line(&out).contains("--signature: not base64"),
                    "{name}"
                );
                assert!(out.stdout.is_empty());
            }
            "signature" => {
                assert_eq!(out.status.code(), Some(5), "{name}: {}", text(&out));
                assert_eq!(
                    serde_json::from_slice::<Value>(&out.stdout).unwrap(),
                    serde_json::json!({"valid": false}),
                    "{name}"
                );
                assert!(last_line(&out).contains("does not verify"), "{name}");
                invalid += 1;
            }
            other => panic!("{name}: unexpected expect {other}"),
        }
    }
    assert!(
        valid >= 3 && invalid >= 2,
        "{valid} valid, {invalid} invalid"
    );

    // Sign and verify round trip with the sandbox's keys: the merchant key is not a platform
    // key, so the verify side names the merchant certificate as one.
    let signed = ok(&["crypto", "sign", "--sandbox", "hello"]);
    let signature = signed["signature"].as_str().unwrap();
    let merchant_cert = fixture("apiclient_cert.pem");
    let merchant_serial = fixtures["merchant_serial"].as_str().unwrap();
    let verify = |message: &str| {
        run(&[
            "crypto",
            "verify",
            "--certificate",
            &merchant_cert,
            "--serial",
            &merchant_serial.to_ascii_lowercase(),
            "--signature",
            signature,
            message,
        ])
    };
    assert_eq!(
        json_of(&verify("hello"), &[]),
        serde_json::json!({"valid": true})
    );
    assert_eq!(verify("hellO").status.code(), Some(5));

    // A serial no configured key has: 2, naming the configured ones.
    let out = fails(
        &[
            "crypto",
            "verify",
            "--sandbox",
            "--serial",
            "NOPE",
            "--signature",
            signature,
            "hello",
        ],
        2,
        "--serial \"NOPE\"",
    );
    assert!(last_line(&out).contains(fixtures["public_key_id"].as_str().unwrap()));
}

#[test]
fn an_unwritable_stdout_is_exit_6() {
    let key = fixture("apiclient_key.pem");
    let signed = ok(&["crypto", "sign", "--private-key", &key, "hello"]);
    let signature = signed["signature"].as_str().unwrap();
    let merchant_cert = fixture("apiclient_cert.pem");
    let serial = fixtures()["merchant_serial"].as_str().unwrap().to_string();
    let ciphertext = ok(&["crypto", "encrypt", "--certificate", &merchant_cert, "x"])["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    for args in [
        &["crypto", "sign", "--private-key", &key, "hello"][..],
        &["crypto", "encrypt", "--sandbox", "hello"],
        &["crypto", "decrypt", "--private-key", &key, &ciphertext],
        &[
            "crypto",
            "verify",
            "--certificate",
            &merchant_cert,
            "--serial",
            &serial,
            "--signature",
            signature,
            "hello",
        ],
    ] {
        let out = run_stdout_full(args);
        assert_eq!(out.status.code(), Some(6), "{args:?}: {}", text(&out));
        assert!(
            last_line(&out).contains("cannot write to stdout"),
            "{args:?}"
        );
    }
}

#[test]
fn every_new_command_documents_examples_and_exit_statuses() {
    for command in [
        &["certificates"][..],
        &["notification"],
        &["crypto"],
        &["crypto", "encrypt"],
        &["crypto", "decrypt"],
        &["crypto", "sign"],
        &["crypto", "verify"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("Examples:") && help.contains("Exit status"),
            "{args:?}: {help}"
        );
    }
}
