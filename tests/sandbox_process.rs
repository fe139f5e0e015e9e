//! A `wxpay sandbox` process under abuse: large unsigned uploads and a listing keep its
//! peak memory small; 1,100 idle connections under a 1024-descriptor limit do not shut out
//! a real client; SIGTERM and SIGINT remove the folder holding its generated private keys.

#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A `wxpay sandbox` process, killed when dropped (also when a test fails).
struct Served {
    child: Child,
    base: String,
    config_toml: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Runs `command` (a `wxpay sandbox …`) and reads the base URI and config path it prints.
    fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("start wxpay sandbox");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = lines.next().unwrap().unwrap();
        let config_toml = lines
            .next()
            .unwrap()
            .unwrap()
            .strip_prefix("config: ")
            .expect("config: <path>")
            .into();
        Self {
            child,
            base,
            config_toml,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap()
    }

    /// The process's peak resident set (`VmHWM`), in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .expect("VmHWM in /proc/<pid>/status");
        let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb * 1024
    }

    /// Waits up to `limit` for the process to exit on its own.
    fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

fn sandbox_command(extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxpay"));
    command
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .args(extra);
    command
}

/// `wxpay -c <toml> v3/certificates` must succeed within `limit` (killed otherwise).
fn signed_request_succeeds_within(config_toml: &Path, limit: Duration) -> Result<Value, String> {
    let mut client = Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["-c", config_toml.to_str().unwrap(), "v3/certificates"])
        .env_remove("WECHATPAY_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = client.try_wait().unwrap() {
            let mut stdout = Vec::new();
            let mut stderr = String::new();
            client
                .stdout
                .take()
                .unwrap()
                .read_to_end(&mut stdout)
                .unwrap();
            client
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            if !status.success() {
                return Err(format!("{status}: {stderr}"));
            }
            return serde_json::from_slice(&stdout).map_err(|e| e.to_string());
        }
        if started.elapsed() > limit {
            let _ = client.kill();
            let _ = client.wait();
            return Err(format!("no answer within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn unsigned_30mb_posts_and_a_listing_keep_the_process_peak_rss_small() {
    const BODY: usize = 30 * 1000 * 1000;
    const PEAK: u64 = 200 * 1024 * 1024;
    let dir = std::env::temp_dir().join(format!("wxpay-rss-{}", std::process::id()));
    let served = Served::start(sandbox_command(&["--config-dir", dir.to_str().unwrap()]));
    let addr = served.addr();

    // 13 unsigned 30 MB POSTs at once. Some are refused (503) beyond the in-flight budget,
    // possibly resetting the connection while the body is still being written: only the
    // server's memory matters here.
    let head = format!(
        "POST /v3/pay/transactions/native HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nUser-Agent: t\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {BODY}\r\n\r\n"
    );
    // Half the bodies are not UTF-8: a SIGN_ERROR quoting lossy text of a whole body would
    // triple it.
    let filler = |i: usize| if i.is_multiple_of(2) { b'u' } else { 0xFF };
    let uploads: Vec<_> = (0..13)
        .map(|i| {
            let head = head.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                stream
                    .set_write_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let chunk = vec![filler(i); 1 << 20];
                let sent = stream.write_all(head.as_bytes()).and_then(|()| {
                    let mut left = BODY;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        stream.write_all(&chunk[..n])?;
                        left -= n;
                    }
                    Ok(())
                });
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
                (sent.is_ok(), String::from_utf8_lossy(&answer).into_owned())
            })
        })
        .collect();
    let answers: Vec<(bool, String)> = uploads.into_iter().map(|u| u.join().unwrap()).collect();
    let read_fully = answers
        .iter()
        .filter(|(_, answer)| answer.starts_with("HTTP/1.1 401"))
        .count();
    assert!(
        read_fully >= 1,
        "some uploads are read and refused as unsigned: {answers:?}"
    );
    for (_, answer) in &answers {
        assert!(
            answer.is_empty()
                || answer.starts_with("HTTP/1.1 401")
                || answer.starts_with("HTTP/1.1 503"),
            "{answer}"
        );
    }
    // Then sequentially, so that every one is read in full.
    for i in 0..13 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&vec![filler(i); BODY]).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 401"), "unsigned: SIGN_ERROR");
    }

    let peak = served.peak_rss();
    assert!(
        peak < PEAK,
        "after the uploads: peak RSS {} MB (bound {} MB)",
        peak >> 20,
        PEAK >> 20
    );

    // The listing.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(b"GET /_sandbox/requests HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let listed: Value = serde_json::from_slice(&answer[split + 4..]).unwrap();
    let listed = listed.as_array().unwrap();
    assert!(
        listed.len() >= read_fully + 13 && listed.len() <= 26,
        "every upload read in full is recorded: {} of {read_fully} + 13",
        listed.len()
    );
    for record in listed {
        assert_eq!(record["body_kept"], false, "unsigned bodies are not kept");
        assert_eq!(record["body_len"], BODY);
    }

    let peak = served.peak_rss();
    assert!(
        peak < PEAK,
        "after the listing: peak RSS {} MB (bound {} MB)",
        peak >> 20,
        PEAK >> 20
    );
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The case (1,100 idle connections against a 1024-descriptor limit) scaled down so
/// the test itself stays under the common 1024 limit of the machine running it: 300 idle
/// connections against a sandbox limited to 256 descriptors.
#[test]
fn a_real_client_is_served_past_300_idle_connections_under_256_descriptors() {
    let dir = std::env::temp_dir().join(format!("wxpay-conns-{}", std::process::id()));
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "ulimit -n 256 && exec \"$0\" sandbox --listen 127.0.0.1:0 --config-dir \"$1\"",
        env!("CARGO_BIN_EXE_wxpay"),
        dir.to_str().unwrap(),
    ]);
    let served = Served::start(command);
    let addr = served.addr();

    // 300 connections that send nothing, half of them an HTTP/2 preface and nothing else.
    let mut idle = Vec::new();
    for i in 0..300 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(mut stream) => {
                if i % 2 == 1 {
                    let _ = stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
                }
                idle.push(stream);
            }
            Err(e) => panic!("connection {i}: {e} (raise this process's `ulimit -n`)"),
        }
    }

    let answer = signed_request_succeeds_within(&served.config_toml, Duration::from_secs(20))
        .expect("a real client is served");
    assert_eq!(answer["status"], 200, "{answer}");
    drop(idle);
    drop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `wxpay sandbox --generate-keys` (temporary key folder), sends `signal` with
/// `kill`, and checks the process exits promptly having removed the folder.
fn signal_removes_the_key_folder(signal: &str) {
    let mut served = Served::start(sandbox_command(&["--generate-keys"]));
    let dir = served.config_toml.parent().unwrap().to_path_buf();
    assert!(
        dir.join("apiclient_key.pem").exists() && dir.join("platform_key.pem").exists(),
        "the generated private keys are in {}",
        dir.display()
    );
    let killed = Command::new("kill")
        .args([signal, &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = served
        .exited_within(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("wxpay sandbox did not exit within 10 s of {signal}"));
    assert!(status.success(), "a clean shutdown on {signal}: {status}");
    assert!(
        !dir.exists(),
        "{signal}: the folder holding the private keys is removed ({})",
        dir.display()
    );
}

#[test]
fn sigterm_removes_the_generated_key_folder() {
    signal_removes_the_key_folder("-TERM");
}

#[test]
fn sigint_removes_the_generated_key_folder() {
    signal_removes_the_key_folder("-INT");
}
