//! `wxpay sandbox`: the simulator served on loopback for any client, until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;

use wechatpay_chain::sandbox::Sandbox;

use crate::input::{read_file_capped, CONFIG_CAP};
use crate::Fail;

/// `wxpay sandbox`: prints the base URI as the first line, then serves until interrupted.
///
/// Keys: the folder `keys`, fresh ones when `generate_keys` (written into the config folder),
/// else the built-in test keys. `bench`: [`SandboxBuilder::bench_mode`](wechatpay_chain::sandbox::SandboxBuilder::bench_mode).
pub(crate) async fn serve_sandbox(
    listen: SocketAddr,
    keys: Option<PathBuf>,
    generate_keys: bool,
    config_dir: Option<PathBuf>,
    bench: bool,
    tls: bool,
) -> Result<(), Fail> {
    if !listen.ip().is_loopback() {
        return Err(Fail::input(format!(
            "--listen {listen}: the sandbox serves loopback only (127.0.0.1 or [::1])"
        )));
    }
    let mut builder = Sandbox::builder().listen(listen).bench_mode(bench).tls(tls);
    match (keys, generate_keys) {
        (Some(_), true) => {
            return Err(Fail::input(
                "--keys and --generate-keys exclude each other: load keys or generate them",
            ))
        }
        (Some(dir), false) => builder = builder.keys_dir(dir),
        (None, true) => builder = builder.generate_keys(),
        (None, false) => {}
    }
    if let Some(dir) = config_dir {
        builder = builder.config_dir(dir);
    }
    // Ctrl-C (SIGINT) or SIGTERM, also one arriving while starting: shut down, which
    // removes a temporary key folder.
    let stop = stop_signal()?;
    let sandbox = builder.start().await.map_err(Fail::from)?;
    // Read before printing anything: a TLS file missing from wxpay.json fails the command
    // (the sandbox shuts down as it drops) instead of printing no line for it.
    let tls_files = if tls {
        tls_files(&sandbox.config_json_path())?
    } else {
        Vec::new()
    };
    // A reader that stops after the base URI must not bring the server down: write errors
    // (a closed pipe) are ignored instead of panicking like println! would.
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", sandbox.base_uri());
    let _ = writeln!(stdout, "config: {}", sandbox.config_toml_path().display());
    let _ = writeln!(stdout, "config: {}", sandbox.config_json_path().display());
    for (label, path) in tls_files {
        let _ = writeln!(stdout, "{label}: {path}");
    }
    let _ = stdout.flush();
    drop(stdout);
    stop.await;
    sandbox.shutdown();
    Ok(())
}

/// The TLS files a TLS-mode sandbox names in its `wxpay.json` (absolute paths there), as
/// (label, path): the test CA, the merchant certificate and its key. A file that cannot be
/// read (up to [`CONFIG_CAP`]) or parsed, or a key it lacks, is an error (exit 2).
fn tls_files(json: &std::path::Path) -> Result<Vec<(&'static str, String)>, Fail> {
    let what = format!("the sandbox's {}", json.display());
    let bytes = read_file_capped(json, CONFIG_CAP, &what)?;
    let config: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Fail::input(format!("{what} is not valid JSON: {e}")))?;
    [
        ("ca", "tls_test_root_ca"),
        ("merchant_cert", "merchant_cert"),
        ("merchant_key", "merchant_key"),
    ]
    .into_iter()
    .map(|(label, key)| match config[key].as_str() {
        Some(path) => Ok((label, path.to_string())),
        None => Err(Fail::input(format!(
            "{what} names no {key} (a TLS sandbox writes it)"
        ))),
    })
    .collect()
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. On Unix the handlers are installed at once, so a
/// signal arriving before this is awaited is not lost (nor kills the process).
fn stop_signal() -> Result<impl std::future::Future<Output = ()>, Fail> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind| {
            signal(kind).map_err(|e| Fail::input(format!("cannot wait for signals: {e}")))
        };
        let mut terminate = listen(SignalKind::terminate())?;
        let mut interrupt = listen(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
