//! `wxpay certificates`: download, decrypt and verify the platform certificates, and save each
//! as `DIR/wechatpay_<SERIAL>.pem`.
//!
//! Saving never silently replaces a *different* file: a file of that name that already holds
//! the same certificate is left alone (`"unchanged"`), one that holds anything else is an
//! exit-6 failure unless `--force` is given. Each file is written to a temporary name in
//! `DIR` and renamed into place, so a reader never sees half a certificate.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use wechatpay_chain::{Certificate, ConfigError, ErrorKind};

use crate::input::{read_capped, PEM_CAP};
use crate::output::print;
use crate::session::Session;
use crate::{ClientArgs, Fail, Format, EXIT_NOT_WRITTEN};

/// Examples for `wxpay certificates --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  wxpay certificates -c wxpay.toml -o certs/
  wxpay certificates --sandbox --format pretty
  WECHATPAY_APIV3_KEY=... wxpay certificates -c wxpay.toml

  A config file line that loads a saved certificate for later requests (wxpay.toml):
    [certificates]
    5157F09EFDC096DE15EBE81A47057A7232F1B8E1 = \"certs/wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem\"

Merchants registered since 2024-Q3 have no platform certificates: they use the WeChat Pay
public key (--public-key PUB_KEY_ID_...=pub_key.pem, or [public_keys] in the config).

Exit status: 0 saved (or already there); 2 bad configuration (no APIv3 key, wrong APIv3 key,
public-key-only merchant); 3 transport failure; 4 API error; 5 the download did not verify;
6 downloaded and verified, but a file could not be written (or a different file is in the way).";

/// `wxpay certificates`.
#[derive(clap::Args)]
pub(crate) struct CertificatesArgs {
    /// Folder to save the certificates in (created if missing).
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    output: PathBuf,
    /// Replace a file of the same name that holds something else.
    #[arg(long)]
    force: bool,
    /// Who signs, and where the request goes.
    #[command(flatten)]
    client: ClientArgs,
}

/// What happened to one certificate's file.
#[derive(Clone, Copy)]
enum Saved {
    Written,
    Unchanged,
}

/// Downloads, verifies and saves; prints one object per certificate.
pub(crate) async fn run(args: &CertificatesArgs, format: Format) -> Result<(), Fail> {
    let session = Session::open(&args.client).await?;
    let secrets = session.secrets.clone();
    download_and_save(args, &session, format)
        .await
        .map_err(|f| f.scrub(&secrets))
}

async fn download_and_save(
    args: &CertificatesArgs,
    session: &Session,
    format: Format,
) -> Result<(), Fail> {
    if session.client.apiv3_key().is_none() {
        return Err(Fail::input(
            "no APIv3 key configured (the certificates come encrypted with it): set apiv3_key in the config (-c), --apiv3-key or WECHATPAY_APIV3_KEY",
        ));
    }
    let certificates = session
        .client
        .platform_certificates()
        .download()
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Config(ConfigError::NoPlatformCertificates) => Fail::input(
                "this merchant has no platform certificates (GET /v3/certificates answered 404 RESOURCE_NOT_EXISTS): it verifies with the WeChat Pay public key instead; configure it with --public-key PUB_KEY_ID_...=pub_key.pem or [public_keys] in the config (merchant platform: API安全 → 微信支付公钥)",
            ),
            ErrorKind::Crypto(_) => Fail::from(e).prefixed(
                "a certificate did not decrypt: is the APIv3 key the one set on the merchant platform?",
            ),
            _ => crate::output::failed(e, format),
        })?;

    let mut listed = Vec::with_capacity(certificates.len());
    for cert in &certificates {
        let path = args.output.join(format!("wechatpay_{}.pem", cert.serial()));
        let saved = save(&args.output, &path, cert, args.force).map_err(|message| {
            let serials: Vec<&str> = certificates.iter().map(Certificate::serial).collect();
            Fail::new(
                EXIT_NOT_WRITTEN,
                format!(
                    "downloaded and verified {} certificate(s) ({}) but {message}",
                    certificates.len(),
                    serials.join(", ")
                ),
            )
        })?;
        listed.push(describe(cert, &path, saved));
    }
    print(&Value::Array(listed), format)
        .map_err(|e| Fail::new(EXIT_NOT_WRITTEN, format!("cannot write to stdout: {e}")))
}

/// The printed object of one certificate.
fn describe(cert: &Certificate, path: &Path, saved: Saved) -> Value {
    json!({
        "serial": cert.serial(),
        "not_before": cert.not_before(),
        "not_after": cert.not_after(),
        "path": path.display().to_string(),
        "saved": match saved {
            Saved::Written => "written",
            Saved::Unchanged => "unchanged",
        },
    })
}

/// Saves `cert` at `path` (in `dir`): unchanged when the file holds the same certificate, an
/// error when it holds anything else (unless `force`), else written atomically.
fn save(dir: &Path, path: &Path, cert: &Certificate, force: bool) -> Result<Saved, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let existing = std::fs::File::open(path)
        .ok()
        .filter(|f| f.metadata().is_ok_and(|m| m.is_file()));
    if let Some(file) = existing {
        // Read up to the PEM cap: a larger file is no certificate, so it holds something else.
        let same = read_capped(file, PEM_CAP, &path.display().to_string()).is_ok_and(|existing| {
            Certificate::from_pem(&existing)
                .is_ok_and(|old| old.serial() == cert.serial() && old.pem() == cert.pem())
        });
        if same {
            return Ok(Saved::Unchanged);
        }
        if !force {
            return Err(format!(
                "{} already exists and holds something else; move it away or pass --force to replace it",
                path.display()
            ));
        }
    }
    let tmp = dir.join(format!(
        ".wechatpay_{}.pem.{}.tmp",
        cert.serial(),
        std::process::id()
    ));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(cert.pem().as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    written.map(|()| Saved::Written).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}
