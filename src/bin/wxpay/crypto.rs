//! `wxpay crypto encrypt|decrypt|sign|verify`: the SDK's primitives by hand, with the
//! configured keys: RSA-OAEP to the platform key (sensitive request fields) and with the
//! merchant key (fields encrypted to the merchant), AES-256-GCM with the APIv3 key, and
//! RSA-SHA256 signatures with the merchant key or checked against a platform key.

use base64::Engine as _;
use serde_json::{json, Value};
use wechatpay_chain::{CryptoError, Encryptor, ErrorKind, KeyStore, PublicKey};

use crate::keys::{now, KeyArgs, Keys};
use crate::output::print;
use crate::{Fail, Format, EXIT_NOT_WRITTEN};

/// The largest `@FILE` / `@-` input: 1 MiB (a message, a field, a ciphertext).
const INPUT_CAP: u64 = 1024 * 1024;

/// Examples for `wxpay crypto --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  wxpay crypto encrypt -c wxpay.toml 13800138000
      {\"ciphertext\":\"...\",\"wechatpay_serial\":\"PUB_KEY_ID_...\"}: send the ciphertext in the
      body and the serial as the request's Wechatpay-Serial header (wxpay ... -H 'Wechatpay-Serial: ...').
  wxpay crypto decrypt -c wxpay.toml @field.txt
  wxpay crypto decrypt -c wxpay.toml --aead --nonce NONCE --associated-data transaction CIPHERTEXT
  printf 'POST\\n/v3/payscore/partner/servicepayondeliveryorder\\n1763780000\\nNONCE\\n{}\\n' | wxpay crypto sign --sandbox @-
  wxpay crypto verify -c wxpay.toml --serial PUB_KEY_ID_0119000001092025112200000000000001 --signature B64 @message.txt
  wxpay crypto encrypt --sandbox 张三

  The keys come from the config (wxpay.toml), e.g.
    private_key = \"apiclient_key.pem\"
    [public_keys]
    PUB_KEY_ID_0119000001092025112200000000000001 = \"pub_key.pem\"

@FILE and @- are read byte for byte (a trailing newline is part of the text).

Exit status: 0 done (verify: the signature is valid); 2 bad input or configuration (bad base64,
no such key, wrong key); 5 verify: the signature is not valid, or decrypt --aead: the
ciphertext did not authenticate; 6 stdout could not be written.";

/// Examples for `wxpay crypto encrypt --help`.
const ENCRYPT_EXAMPLES: &str = "\
Examples:
  wxpay crypto encrypt --sandbox 张三
  wxpay crypto encrypt -c wxpay.toml @phone.txt
      {\"ciphertext\":\"...\",\"wechatpay_serial\":\"PUB_KEY_ID_...\"}: put the ciphertext in the body
      and send the serial as the request's Wechatpay-Serial header (wxpay ... -H 'Wechatpay-Serial: ...').

Config (wxpay.toml): [public_keys] PUB_KEY_ID_... = \"pub_key.pem\", or [certificates].
Exit status: 0 encrypted; 2 no platform key, unreadable or too long text; 6 stdout not written.";

/// Examples for `wxpay crypto decrypt --help`.
const DECRYPT_EXAMPLES: &str = "\
Examples:
  wxpay crypto decrypt -c wxpay.toml @field.txt
  wxpay crypto decrypt -c wxpay.toml --aead --nonce NONCE --associated-data transaction CIPHERTEXT

Config (wxpay.toml): private_key = \"apiclient_key.pem\"; apiv3_key (or WECHATPAY_APIV3_KEY) for --aead.
Exit status: 0 decrypted; 2 bad base64 or nonce, no such key, or a field for another key;
5 --aead: the ciphertext did not authenticate; 6 stdout not written.";

/// Examples for `wxpay crypto sign --help`.
const SIGN_EXAMPLES: &str = "\
Examples:
  printf 'POST\\n/v3/payscore/partner/servicepayondeliveryorder\\n1763780000\\nNONCE\\n{}\\n' | wxpay crypto sign --sandbox @-
  wxpay crypto sign -c wxpay.toml @message.txt

Config (wxpay.toml): private_key = \"apiclient_key.pem\". The message is signed byte for byte.
Exit status: 0 signed; 2 no private key or unreadable message; 6 stdout not written.";

/// Examples for `wxpay crypto verify --help`.
const VERIFY_EXAMPLES: &str = "\
Examples:
  wxpay crypto verify -c wxpay.toml --serial PUB_KEY_ID_0119000001092025112200000000000001 --signature B64 @message.txt
  wxpay crypto verify --sandbox --serial PUB_KEY_ID_0119000001092025112200000000000001 --signature B64 @-

The message of a response or notification: Wechatpay-Timestamp, Wechatpay-Nonce and the body,
each followed by a newline.
Exit status: 0 valid ({\"valid\":true}); 2 bad base64 or no key with that serial; 5 not valid
({\"valid\":false}); 6 stdout not written.";

/// `wxpay crypto`.
#[derive(clap::Subcommand)]
pub(crate) enum CryptoCommand {
    /// RSA-OAEP encrypt a sensitive field to the preferred platform key (the WeChat Pay public
    /// key, else the newest platform certificate); prints the ciphertext and the key's id for
    /// the request's Wechatpay-Serial header.
    #[command(after_help = ENCRYPT_EXAMPLES)]
    Encrypt {
        /// The text: TEXT, @FILE or @- (stdin).
        #[arg(value_name = "TEXT|@FILE|@-")]
        text: String,
        /// The platform keys.
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Decrypt a field the platform RSA-OAEP encrypted to the merchant key, or with --aead an
    /// AES-256-GCM ciphertext under the APIv3 key (notification resources, certificates).
    #[command(after_help = DECRYPT_EXAMPLES)]
    Decrypt {
        /// The base64 ciphertext: CIPHERTEXT, @FILE or @- (stdin).
        #[arg(value_name = "CIPHERTEXT|@FILE|@-")]
        ciphertext: String,
        /// AES-256-GCM with the APIv3 key instead of RSA-OAEP with the merchant key.
        #[arg(long, requires = "nonce")]
        aead: bool,
        /// The AES-GCM nonce (12 characters), with --aead.
        #[arg(long, requires = "aead")]
        nonce: Option<String>,
        /// The AES-GCM associated data, with --aead (default: empty).
        #[arg(long, requires = "aead", value_name = "TEXT")]
        associated_data: Option<String>,
        /// The merchant key or APIv3 key.
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Sign a message with the merchant key (RSA-SHA256): prints the base64 signature.
    #[command(after_help = SIGN_EXAMPLES)]
    Sign {
        /// The message: MESSAGE, @FILE or @- (stdin).
        #[arg(value_name = "MESSAGE|@FILE|@-")]
        message: String,
        /// The merchant key.
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Check an RSA-SHA256 signature against the platform key with that serial or id.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify {
        /// The platform certificate serial or WeChat Pay public key id.
        #[arg(long, value_name = "ID")]
        serial: String,
        /// The base64 signature.
        #[arg(long, value_name = "B64")]
        signature: String,
        /// The message: MESSAGE, @FILE or @- (stdin).
        #[arg(value_name = "MESSAGE|@FILE|@-")]
        message: String,
        /// The platform keys.
        #[command(flatten)]
        keys: KeyArgs,
    },
}

/// Runs one crypto command.
pub(crate) async fn run(command: &CryptoCommand, format: Format) -> Result<(), Fail> {
    let keys = match command {
        CryptoCommand::Encrypt { keys, .. }
        | CryptoCommand::Decrypt { keys, .. }
        | CryptoCommand::Sign { keys, .. }
        | CryptoCommand::Verify { keys, .. } => keys,
    };
    let keys = keys.open().await?;
    let value = compute(command, &keys).map_err(|f| f.scrub(&keys.secrets()))?;
    drop(keys);
    print(&value, format)
        .map_err(|e| Fail::new(EXIT_NOT_WRITTEN, format!("cannot write to stdout: {e}")))?;
    if value.get("valid") == Some(&Value::Bool(false)) {
        if let CryptoCommand::Verify { serial, .. } = command {
            return Err(Fail::new(
                5,
                format!("the signature does not verify with the platform key {serial}"),
            ));
        }
    }
    Ok(())
}

fn compute(command: &CryptoCommand, keys: &Keys) -> Result<Value, Fail> {
    match command {
        CryptoCommand::Encrypt { text, .. } => {
            let text = String::from_utf8(read_arg(text, "TEXT")?)
                .map_err(|_| Fail::input("TEXT: not UTF-8 text"))?;
            let store = keys.platform_keys()?;
            let (serial, key) = store.preferred(now()).ok_or_else(|| {
                Fail::input("no usable platform key to encrypt to: configure --public-key ID=FILE, --certificate FILE, or [public_keys] in the config (-c)")
            })?;
            let encryptor = Encryptor::new(serial, key);
            let ciphertext = encryptor.encrypt(&text).map_err(Fail::from)?;
            Ok(json!({"ciphertext": ciphertext, "wechatpay_serial": encryptor.serial()}))
        }
        CryptoCommand::Decrypt {
            ciphertext,
            aead,
            nonce,
            associated_data,
            ..
        } => {
            let ciphertext = ciphertext_arg(ciphertext)?;
            let plain = if *aead {
                let key = keys.apiv3_key("decrypt --aead")?;
                let nonce = nonce.as_deref().unwrap_or_default();
                let aad = associated_data.as_deref().unwrap_or_default();
                wechatpay_chain::crypto::aes_gcm_decrypt(
                    key.as_bytes(),
                    nonce.as_bytes(),
                    aad.as_bytes(),
                    &ciphertext,
                )
                .map_err(crypto_fail)?
            } else {
                let key = keys.private_key()?;
                wechatpay_chain::crypto::oaep_decrypt(&key, &ciphertext).map_err(crypto_fail)?
            };
            let plaintext = String::from_utf8(plain)
                .map_err(|_| Fail::input("the plaintext is not UTF-8 text"))?;
            Ok(json!({ "plaintext": plaintext }))
        }
        CryptoCommand::Sign { message, .. } => {
            let message = read_arg(message, "MESSAGE")?;
            let key = keys.private_key()?;
            let signature = key.sign_sha256(&message).map_err(Fail::from)?;
            Ok(json!({ "signature": base64::engine::general_purpose::STANDARD.encode(signature) }))
        }
        CryptoCommand::Verify {
            serial,
            signature,
            message,
            ..
        } => {
            let signature = base64::engine::general_purpose::STANDARD
                .decode(signature.trim())
                .map_err(|e| Fail::input(format!("--signature: not base64 ({e})")))?;
            let message = read_arg(message, "MESSAGE")?;
            let store = keys.platform_keys()?;
            let key = platform_key(&store, serial.trim())?;
            Ok(json!({ "valid": key.verify_sha256(&message, &signature) }))
        }
    }
}

/// The platform key `id` usable now (the id compared in any letter case).
fn platform_key(store: &KeyStore, id: &str) -> Result<PublicKey, Fail> {
    let now = now();
    let mut usable = store.usable_ids(now);
    usable.sort();
    usable
        .iter()
        .find(|k| k.eq_ignore_ascii_case(id))
        .and_then(|k| store.get(k, now))
        .ok_or_else(|| {
            Fail::input(format!(
                "--serial {id:?}: no usable platform key with that serial or id is configured (configured: {})",
                if usable.is_empty() { "none".to_string() } else { usable.join(", ") }
            ))
        })
}

/// A crypto failure: a ciphertext that did not authenticate is exit 5, the rest is bad input
/// named by its argument.
fn crypto_fail(e: wechatpay_chain::Error) -> Fail {
    match e.kind() {
        ErrorKind::Crypto(CryptoError::Decrypt) => Fail::new(
            5,
            "the ciphertext did not authenticate: wrong APIv3 key, nonce or associated data, or it was altered",
        ),
        ErrorKind::Crypto(CryptoError::NonceLength(n)) => Fail::input(format!(
            "--nonce: the AES-GCM nonce must be 12 bytes, got {n}"
        )),
        ErrorKind::Crypto(CryptoError::Base64 | CryptoError::OaepBase64) => {
            Fail::input("CIPHERTEXT: not base64")
        }
        ErrorKind::Crypto(CryptoError::Truncated(_) | CryptoError::OaepLength { .. }) => {
            Fail::from(e).prefixed("CIPHERTEXT")
        }
        ErrorKind::Crypto(CryptoError::OaepDecrypt) => Fail::input(
            "CIPHERTEXT did not decrypt with the merchant private key: it was encrypted to another key, or altered",
        ),
        _ => Fail::from(e),
    }
}

/// A base64 ciphertext argument, surrounding white space removed.
fn ciphertext_arg(arg: &str) -> Result<String, Fail> {
    let bytes = read_arg(arg, "CIPHERTEXT")?;
    String::from_utf8(bytes)
        .map(|s| s.trim().to_string())
        .map_err(|_| Fail::input("CIPHERTEXT: not base64"))
}

/// TEXT as is, `@FILE` or `@-` (stdin), read up to [`INPUT_CAP`].
fn read_arg(arg: &str, name: &str) -> Result<Vec<u8>, Fail> {
    crate::input::read_arg(arg, INPUT_CAP, name, "")
}
