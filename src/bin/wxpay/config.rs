//! The client configuration of `wxpay`: a TOML file, environment variables and flags (in
//! rising precedence), turned into a `Wechatpay` client.
//!
//! No error names a configured value: a config value may be a secret (the APIv3 key, or a
//! secret pasted into the wrong key), so errors name the file, the position and the key, or the
//! flag, never the value or the line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wechatpay_chain::{
    Builder, Certificate, ConfigError, Error, ErrorKind, KeyError, PrivateKey, PublicKey, Wechatpay,
};

use crate::input::{read_file_capped, CONFIG_CAP, PEM_CAP};
use crate::Fail;

/// The keys a config file may hold.
const KEYS: &[&str] = &[
    "mchid",
    "serial",
    "private_key",
    "apiv3_key",
    "base_uri",
    "public_keys",
    "certificates",
    "apiv2_key",
    "merchant_cert",
    "merchant_key",
    "tls_test_root_ca",
];

/// The configuration file (the format `wxpay --help` shows). Relative paths resolve against
/// its folder. No `Debug` here or on the types holding it: they hold the APIv3 key.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) mchid: Option<String>,
    pub(crate) serial: Option<String>,
    pub(crate) private_key: Option<PathBuf>,
    pub(crate) apiv3_key: Option<String>,
    pub(crate) base_uri: Option<String>,
    /// The APIv2 key (v2/… URIs).
    pub(crate) apiv2_key: Option<String>,
    /// The merchant API certificate (PEM) for mutual TLS.
    pub(crate) merchant_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub(crate) merchant_key: Option<PathBuf>,
    /// A CA to trust besides the system roots: tests only (a sandbox's).
    pub(crate) tls_test_root_ca: Option<PathBuf>,
    #[serde(default)]
    pub(crate) public_keys: BTreeMap<String, PathBuf>,
    #[serde(default)]
    pub(crate) certificates: BTreeMap<String, PathBuf>,
}

impl FileConfig {
    /// Reads (at most [`CONFIG_CAP`] bytes) and parses a config file, resolving its relative
    /// paths.
    pub(crate) fn load(path: &Path) -> Result<Self, Fail> {
        let what = format!("config {}", path.display());
        let bytes = read_file_capped(path, CONFIG_CAP, &what)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let (line, column) = position(
                &String::from_utf8_lossy(e.as_bytes()),
                e.utf8_error().valid_up_to(),
            );
            Fail::input(format!(
                "{what}: line {line}, column {column}: not UTF-8 text"
            ))
        })?;
        let mut config: Self = toml::from_str(&text)
            .map_err(|e| Fail::input(format!("{what}: {}", toml_error(&text, &e))))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for p in [
            &mut config.private_key,
            &mut config.merchant_cert,
            &mut config.merchant_key,
            &mut config.tls_test_root_ca,
        ]
        .into_iter()
        .flatten()
        {
            resolve(p);
        }
        config.public_keys.values_mut().for_each(resolve);
        config.certificates.values_mut().for_each(resolve);
        Ok(config)
    }
}

/// A TOML error as position, key and kind, without the line or the value (toml's own message
/// quotes the line, and its type errors quote the value).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let start = e.span().map(|s| s.start);
    let key = start.and_then(|at| key_at(text, at));
    let message = e.message();
    let kind = if message.starts_with("unknown field") {
        let hint = start
            .and_then(|at| raw_key_at(text, at))
            .and_then(nearest_key)
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        format!("unknown key{hint}; the keys are {}", KEYS.join(", "))
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        // "invalid type: integer `123`, expected a string": the left part quotes the value.
        let expected = message
            .rsplit_once(", expected ")
            .map(|(_, x)| format!(", expected {}", without_quoted(x)))
            .unwrap_or_default();
        match key {
            Some(k) => format!("wrong type for {k}{expected}"),
            None => format!("wrong type{expected}"),
        }
    } else if message.starts_with("duplicate key") {
        match key {
            Some(k) => format!("duplicate key: {k}"),
            None => "duplicate key".to_string(),
        }
    } else {
        let detail = without_quoted(&message.split_whitespace().collect::<Vec<_>>().join(" "));
        format!("not valid TOML ({detail})")
    };
    match start {
        Some(at) => {
            let (line, column) = position(text, at);
            format!("line {line}, column {column}: {kind}")
        }
        None => kind,
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// The line holding byte offset `at`.
fn line_at(text: &str, at: usize) -> (usize, &str) {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    (start, &text[start..end])
}

/// The key written on the line at `at` (the text left of `=`), unvalidated: never printed.
fn raw_key_at(text: &str, at: usize) -> Option<&str> {
    let at = (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))?;
    let (_, line) = line_at(text, at);
    let (key, _) = line.split_once('=')?;
    Some(key.trim().trim_matches(|c| c == '"' || c == '\''))
}

/// The key at `at` as it may be printed: `mchid`, or `an entry of [public_keys]`; `None` when
/// it is not a key this file format knows (it could be anything the user typed, a secret too).
fn key_at(text: &str, at: usize) -> Option<String> {
    if let Some(key) = raw_key_at(text, at).filter(|k| KEYS.contains(k)) {
        return Some(format!("`{key}`"));
    }
    let at = (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))?;
    let (line_start, line) = line_at(text, at);
    let header = line.trim();
    if header.starts_with('[') {
        let name = header.trim_matches(|c| c == '[' || c == ']').trim();
        return KEYS.contains(&name).then(|| format!("`{name}`"));
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))?;
    let name = table.trim_matches(|c| c == '[' || c == ']').trim();
    KEYS.contains(&name)
        .then(|| format!("an entry of [{name}]"))
}

/// The known key within two edits of `typed`, if any.
fn nearest_key(typed: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|k| (edit_distance(typed, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance, for the typo hint.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

/// `s` with every `quoted` part longer than three characters replaced by `…`: toml and serde
/// quote grammar tokens (`=`, `"`) and field names, but also text from the file.
fn without_quoted(s: &str) -> String {
    let mut out = String::new();
    let mut parts = s.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let rest: Vec<&str> = parts.collect();
    for (i, part) in rest.iter().enumerate() {
        // Odd pieces (0, 2, … here) are inside backticks, when a closing one follows.
        if i % 2 == 0 && i + 1 < rest.len() {
            let shown = if part.chars().count() <= 3 || KEYS.contains(part) {
                part
            } else {
                "…"
            };
            out.push('`');
            out.push_str(shown);
            out.push('`');
        } else if i % 2 == 0 {
            out.push('`');
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Settings given on the command line or in the environment (they win over the file).
#[derive(Default, Clone)]
pub(crate) struct Overrides {
    pub(crate) mchid: Option<String>,
    pub(crate) serial: Option<String>,
    pub(crate) private_key: Option<PathBuf>,
    pub(crate) apiv3_key: Option<String>,
    pub(crate) base_uri: Option<String>,
    pub(crate) apiv2_key: Option<String>,
    pub(crate) merchant_cert: Option<PathBuf>,
    pub(crate) merchant_key: Option<PathBuf>,
    pub(crate) tls_test_root_ca: Option<PathBuf>,
    pub(crate) public_keys: Vec<(String, PathBuf)>,
    pub(crate) certificates: Vec<PathBuf>,
}

/// The merged configuration: what a client is built from, and where each setting came from.
#[derive(Default)]
pub(crate) struct Config {
    pub(crate) file: FileConfig,
    /// The config file, if one was given.
    path: Option<PathBuf>,
    /// The settings given by a flag or an environment variable.
    flagged: BTreeSet<&'static str>,
    /// The public key ids given with `--public-key`.
    flagged_public_keys: BTreeSet<String>,
}

/// The flag and environment variable of a setting.
fn flag_of(key: &str) -> &'static str {
    match key {
        "mchid" => "--mchid (or WECHATPAY_MCHID)",
        "serial" => "--serial (or WECHATPAY_SERIAL)",
        "private_key" => "--private-key (or WECHATPAY_PRIVATE_KEY)",
        "apiv3_key" => "--apiv3-key (or WECHATPAY_APIV3_KEY)",
        "apiv2_key" => "--apiv2-key (or WECHATPAY_APIV2_KEY)",
        "merchant_cert" => "--merchant-cert (or WECHATPAY_MERCHANT_CERT)",
        "merchant_key" => "--merchant-key (or WECHATPAY_MERCHANT_KEY)",
        "tls_test_root_ca" => "--tls-test-root-ca",
        _ => "--base-uri (or WECHATPAY_BASE_URI)",
    }
}

/// A key-loading error said without the path or any file content.
fn key_error(origin: &str, e: Error) -> Fail {
    match e.kind() {
        ErrorKind::Key(KeyError::Read { material, .. }) => {
            let cause = std::error::Error::source(&e)
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            Fail::input(format!("{origin}: cannot read the {material} file{cause}"))
        }
        _ => Fail::from(e).prefixed(origin),
    }
}

/// The flag's value if given (noting `key` in `flagged`), else the file's.
fn pick<T>(
    flagged: &mut BTreeSet<&'static str>,
    key: &'static str,
    flag: Option<T>,
    from_file: Option<T>,
) -> Option<T> {
    if flag.is_some() {
        flagged.insert(key);
    }
    flag.or(from_file)
}

impl Config {
    pub(crate) fn merge(file: FileConfig, path: Option<PathBuf>, over: Overrides) -> Self {
        let mut file = file;
        let mut flagged = BTreeSet::new();
        file.mchid = pick(&mut flagged, "mchid", over.mchid, file.mchid);
        file.serial = pick(&mut flagged, "serial", over.serial, file.serial);
        file.apiv3_key = pick(&mut flagged, "apiv3_key", over.apiv3_key, file.apiv3_key);
        file.base_uri = pick(&mut flagged, "base_uri", over.base_uri, file.base_uri);
        file.apiv2_key = pick(&mut flagged, "apiv2_key", over.apiv2_key, file.apiv2_key);
        file.private_key = pick(
            &mut flagged,
            "private_key",
            over.private_key,
            file.private_key,
        );
        file.merchant_cert = pick(
            &mut flagged,
            "merchant_cert",
            over.merchant_cert,
            file.merchant_cert,
        );
        file.merchant_key = pick(
            &mut flagged,
            "merchant_key",
            over.merchant_key,
            file.merchant_key,
        );
        file.tls_test_root_ca = pick(
            &mut flagged,
            "tls_test_root_ca",
            over.tls_test_root_ca,
            file.tls_test_root_ca,
        );
        let flagged_public_keys = over.public_keys.iter().map(|(id, _)| id.clone()).collect();
        file.public_keys.extend(over.public_keys);
        for (i, path) in over.certificates.into_iter().enumerate() {
            file.certificates
                .insert(format!("--certificate #{i}"), path);
        }
        Self {
            file,
            path,
            flagged,
            flagged_public_keys,
        }
    }

    /// Where a setting came from: its flag, or its key in the config file.
    fn origin(&self, key: &'static str) -> String {
        if self.flagged.contains(key) {
            return flag_of(key).to_string();
        }
        match &self.path {
            Some(path) => format!("config {}: `{key}`", path.display()),
            None => format!("`{key}`"),
        }
    }

    /// Where an entry of `[public_keys]` / `[certificates]` came from.
    fn entry_origin(&self, table: &str, name: &str) -> String {
        if name.starts_with("--certificate") {
            return name.to_string();
        }
        if table == "public_keys" && self.flagged_public_keys.contains(name) {
            return format!("--public-key {name}");
        }
        match &self.path {
            Some(path) => format!("config {}: [{table}] {name}", path.display()),
            None => format!("[{table}] {name}"),
        }
    }

    /// The configured values no message may show: the APIv3 and APIv2 keys and a base URI's
    /// userinfo.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .file
            .apiv3_key
            .iter()
            .chain(&self.file.apiv2_key)
            .cloned()
            .collect();
        if let Some(base) = &self.file.base_uri {
            let authority = base.split_once("://").map_or(base.as_str(), |(_, r)| r);
            let authority = authority.split(['/', '?', '#']).next().unwrap_or("");
            if let Some((userinfo, _)) = authority.rsplit_once('@') {
                secrets.push(userinfo.to_string());
            }
        }
        secrets
    }

    /// A builder with everything configured except the private key.
    pub(crate) fn builder(&self) -> Result<Builder, Fail> {
        let c = &self.file;
        let mut builder = Wechatpay::builder();
        if let Some(m) = &c.mchid {
            builder = builder.mchid(m);
        }
        if let Some(s) = &c.serial {
            builder = builder.serial(s);
        }
        if let Some(k) = &c.apiv3_key {
            builder = builder.apiv3_key(k);
        }
        if let Some(b) = &c.base_uri {
            builder = builder.base_uri(b);
        }
        if let Some(k) = &c.apiv2_key {
            builder = builder.apiv2_key(k);
        }
        match (&c.merchant_cert, &c.merchant_key) {
            (Some(cert), Some(key)) => {
                let cert = self.read_pem("merchant_cert", cert)?;
                let key = self.read_pem("merchant_key", key)?;
                builder = builder.merchant_api_certificate(cert, key);
            }
            (Some(_), None) => {
                return Err(Fail::input(format!(
                    "{}: the merchant API certificate needs its private key too: set merchant_key in the config (-c), --merchant-key or WECHATPAY_MERCHANT_KEY",
                    self.origin("merchant_cert")
                )))
            }
            (None, Some(_)) => {
                return Err(Fail::input(format!(
                    "{}: the merchant API certificate's key needs the certificate too: set merchant_cert in the config (-c), --merchant-cert or WECHATPAY_MERCHANT_CERT",
                    self.origin("merchant_key")
                )))
            }
            (None, None) => {}
        }
        if let Some(ca) = &c.tls_test_root_ca {
            builder = builder.tls_test_root_ca(self.read_pem("tls_test_root_ca", ca)?);
        }
        for (id, path) in &c.public_keys {
            let key = PublicKey::from_pem_file(path)
                .map_err(|e| key_error(&self.entry_origin("public_keys", id), e))?;
            builder = builder.public_key(id, key);
        }
        for (name, path) in &c.certificates {
            let origin = self.entry_origin("certificates", name);
            let cert = Certificate::from_pem_file(path).map_err(|e| key_error(&origin, e))?;
            if !name.starts_with("--certificate") && !cert.serial().eq_ignore_ascii_case(name) {
                return Err(Fail::input(format!(
                    "{origin}: the certificate's serial is {}, not the name it is listed under",
                    cert.serial()
                )));
            }
            builder = builder.certificate(cert);
        }
        Ok(builder)
    }

    /// The PEM file of setting `key` (at most [`PEM_CAP`] bytes); errors name the setting,
    /// never the path.
    fn read_pem(&self, key: &'static str, path: &Path) -> Result<Vec<u8>, Fail> {
        read_file_capped(path, PEM_CAP, &format!("the {} file", self.origin(key)))
    }

    /// The configured private key, if any.
    pub(crate) fn private_key(&self) -> Result<Option<PrivateKey>, Fail> {
        self.file
            .private_key
            .as_ref()
            .map(|p| {
                PrivateKey::from_pem_file(p).map_err(|e| key_error(&self.origin("private_key"), e))
            })
            .transpose()
    }

    /// A failed `Builder::build` said with the setting's origin, never its value.
    pub(crate) fn build_error(&self, e: Error) -> Fail {
        let said =
            |key: &'static str, what: &str| Fail::input(format!("{}: {what}", self.origin(key)));
        match e.kind() {
            ErrorKind::Config(ConfigError::MissingMchid) => Fail::input(
                "no mchid configured: set mchid in the config (-c), --mchid or WECHATPAY_MCHID",
            ),
            ErrorKind::Config(ConfigError::MissingSerial) => Fail::input(
                "no merchant certificate serial configured: set serial in the config (-c), --serial or WECHATPAY_SERIAL",
            ),
            ErrorKind::Config(ConfigError::InvalidMchid(_)) => {
                said("mchid", "the merchant id must be digits")
            }
            ErrorKind::Config(ConfigError::InvalidSerial(_)) => said(
                "serial",
                "the merchant certificate serial must be hexadecimal (openssl x509 -noout -serial -in apiclient_cert.pem)",
            ),
            ErrorKind::Config(ConfigError::OwnSerialInKeyStore(_)) => said(
                "serial",
                "the platform keys hold the merchant's own serial: that is the merchant certificate, not a WeChat Pay platform certificate or public key",
            ),
            ErrorKind::Config(ConfigError::ApiV3KeyLength(n)) => {
                said("apiv3_key", &format!("the APIv3 key must be 32 bytes, got {n}"))
            }
            ErrorKind::Config(ConfigError::ApiV2KeyLength(n)) => {
                said("apiv2_key", &format!("the APIv2 key must be 32 bytes, got {n}"))
            }
            ErrorKind::Chain(_) => {
                let base = self.file.base_uri.clone().unwrap_or_default();
                let fail = Fail::from(e);
                let fail = if base.is_empty() {
                    fail
                } else {
                    fail.scrub(&[base])
                };
                fail.prefixed(&self.origin("base_uri"))
            }
            _ => Fail::from(e),
        }
    }
}
