//! Helpers of the `cli_*` tests: `wxpay` runs bounded in time, a served `wxpay sandbox`, a
//! tiny HTTP/1.1 client for its `/_sandbox/…` control endpoints, and the secret-window check.

#![allow(dead_code)] // each test crate uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one `wxpay` run may take before the test fails (and the process is killed).
pub(crate) const RUN_LIMIT: Duration = Duration::from_secs(60);

/// `wxpay` with no `WECHATPAY_*` setting inherited, plus `env`.
pub(crate) fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxpay"));
    cmd.args(args);
    for var in [
        "WECHATPAY_CONFIG",
        "WECHATPAY_PRIVATE_KEY",
        "WECHATPAY_MCHID",
        "WECHATPAY_SERIAL",
        "WECHATPAY_BASE_URI",
        "WECHATPAY_APIV3_KEY",
        "WECHATPAY_APIV2_KEY",
        "WECHATPAY_MERCHANT_CERT",
        "WECHATPAY_MERCHANT_KEY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Reads all of `stream` (if it was piped) on a thread of its own.
fn drain(stream: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(mut s) = stream {
            let _ = s.read_to_end(&mut b);
        }
        b
    })
}

/// Waits for `child` at most [`RUN_LIMIT`], collecting what it writes to piped stdout and
/// stderr (empty for a stream not piped); kills it and panics after.
pub(crate) fn wait_bounded(mut child: Child, what: &str) -> Output {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for wxpay") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {RUN_LIMIT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Runs `wxpay args` (environment: `env` only), bounded by [`RUN_LIMIT`].
pub(crate) fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let child = command(args, env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wxpay");
    wait_bounded(child, &format!("wxpay {args:?}"))
}

/// Runs `wxpay args`, bounded by [`RUN_LIMIT`].
pub(crate) fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

/// stdout and stderr as one text, for messages and searches.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The last line on stderr.
pub(crate) fn last_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// Panics when any `width`-character window of `secret` appears in `haystack`, in any letter
/// case (the library upper-cases a serial), as is or with line breaks (real or JSON-escaped)
/// removed.
pub(crate) fn assert_no_window(haystack: &str, secret: &str, width: usize, label: &str) {
    let secret: Vec<char> = secret.to_lowercase().chars().collect();
    assert!(
        secret.len() >= width,
        "{label}: secret shorter than {width}"
    );
    let lower = haystack.to_lowercase();
    let joined = lower.replace("\\n", "").replace(['\n', '\r'], "");
    for window in secret.windows(width) {
        let window: String = window.iter().collect();
        for h in [lower.as_str(), joined.as_str()] {
            assert!(
                !h.contains(&window),
                "{label}: the output shows {window:?} of a secret:\n{haystack}"
            );
        }
    }
}

/// A fresh folder under the temp dir, removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("wxpay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes `contents` into `name` in the folder; its path as text.
    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_string()
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `wxpay sandbox` process serving on loopback, its config written into a folder; killed
/// when dropped (also when a test fails).
pub(crate) struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    pub(crate) base: String,
    /// The folder with `wxpay.toml`, `wxpay.json` and the keys.
    pub(crate) dir: TempDir,
}

impl Served {
    pub(crate) fn start(name: &str) -> Self {
        Self::start_with(name, &[])
    }

    /// Like [`Served::start`], with more `wxpay sandbox` arguments (`--tls`).
    pub(crate) fn start_with(name: &str, extra: &[&str]) -> Self {
        let dir = TempDir::new(name);
        let mut args = vec![
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--config-dir",
            dir.0.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let mut child = command(&args, &[])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn wxpay sandbox");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let line = BufReader::new(stdout).lines().next();
            let _ = tx.send(line);
        });
        let base = match rx.recv_timeout(RUN_LIMIT) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                panic!("wxpay sandbox printed no base URI: {other:?}");
            }
        };
        Self { child, base, dir }
    }

    /// The config file the sandbox wrote.
    pub(crate) fn toml(&self) -> String {
        self.dir.path("wxpay.toml")
    }

    /// The config as JSON (`wxpay.json`).
    pub(crate) fn config(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.path("wxpay.json")).unwrap()).unwrap()
    }

    /// The merchant private key PEM the sandbox wrote.
    pub(crate) fn private_key_pem(&self) -> String {
        let path = self.config()["private_key"].as_str().unwrap().to_string();
        std::fs::read_to_string(Path::new(&path)).unwrap()
    }

    /// An unsigned control request: (status, body).
    pub(crate) fn control(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let authority = self
            .base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let mut stream = TcpStream::connect(&authority).expect("connect to the sandbox");
        stream.set_read_timeout(Some(RUN_LIMIT)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read the answer");
        let response = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_string()
        };
        (status, body)
    }
}

/// The payload of a chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `wxpay args` with `input` on stdin, bounded by [`RUN_LIMIT`].
pub(crate) fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = command(args, &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wxpay");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A thread of its own: wxpay may stop reading early (a cap, an error).
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = wait_bounded(child, &format!("wxpay {args:?} < input"));
    let _ = writer.join();
    out
}

/// Runs `wxpay args` with stdout on `/dev/full` (every write fails), bounded by [`RUN_LIMIT`];
/// stdout of the result is empty.
pub(crate) fn run_stdout_full(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let child = command(args, &[])
        .stdin(Stdio::null())
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wxpay");
    wait_bounded(child, &format!("wxpay {args:?} > /dev/full"))
}

/// The requests the served sandbox recorded (`GET /_sandbox/requests`).
pub(crate) fn recorded(served: &Served) -> Vec<Value> {
    let (status, body) = served.control("GET", "/_sandbox/requests", "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body)
        .expect("the recorded requests are JSON")
        .as_array()
        .expect("an array")
        .clone()
}

/// Queues a fault on the served sandbox (`POST /_sandbox/faults`), e.g. `{"fault":"drop"}`.
pub(crate) fn inject(served: &Served, fault: &str) {
    let (status, body) = served.control("POST", "/_sandbox/faults", fault);
    assert_eq!(status, 200, "{fault}: {body}");
}

/// Accepts one HTTP/1.1 request on a loopback port and keeps its bytes exactly as received
/// (head and `Content-Length` body), answering `204`: a notification receiver that saves
/// what it got. `url()` is its `notify_url`, `take()` waits for the request.
pub(crate) struct Capture {
    url: String,
    received: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl Capture {
    pub(crate) fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        let (tx, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            stream.set_read_timeout(Some(RUN_LIMIT)).unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + length {
                        break;
                    }
                }
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => raw.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            let _ = tx.send(raw);
        });
        Self { url, received }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The request as received.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.received
            .recv_timeout(RUN_LIMIT)
            .expect("the notification arrived")
    }
}

/// A failed run against `served` (with `-c <served.toml()>`): exit `code`; an API error's JSON
/// body (`status` = `api_status`) on stdout for exit 4, nothing on stdout otherwise; and no
/// APIv3 key, private key or config path anywhere in the output.
pub(crate) fn assert_failed_quietly(
    out: &Output,
    served: &Served,
    code: i32,
    api_status: u16,
    label: &str,
) {
    assert_eq!(out.status.code(), Some(code), "{label}: {}", text(out));
    if code == 4 {
        // An API error's JSON body is on stdout, for scripts.
        let body: Value = serde_json::from_slice(&out.stdout).expect("an API error's JSON body");
        assert_eq!(body["status"], api_status, "{label}: {body}");
    } else {
        assert!(out.stdout.is_empty(), "{label}: no answer printed");
    }
    let all = text(out);
    let config = served.config();
    let apiv3_key = config["apiv3_key"].as_str().expect("apiv3_key");
    assert_no_window(&all, apiv3_key, 8, label);
    let pem = served.private_key_pem();
    let key: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_no_window(&all, &key, 12, label);
    assert!(
        !all.contains(served.toml().as_str()),
        "{label}: the config path"
    );
    assert!(last_line(out).starts_with("wxpay: "), "{label}: {all}");
}
