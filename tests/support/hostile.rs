//! A hostile HTTP/1.1 server on loopback for the fault matrix: it reads each request, counts it,
//! and answers with exact bytes and timing chosen by the test (signed or not, lying about its
//! length, reset, trickled). One request per connection; the connection closes after the answer.
//! Signed answers use the fixture platform key, as WeChat Pay signs: SHA256-RSA over
//! `timestamp\nnonce\nbody\n`, base64. Include it next to `support` with
//! `#[path = "support/hostile.rs"] mod hostile;` (it uses `crate::support`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use wechatpay_chain::signer::{canonical_response, sign_base64};
use wechatpay_chain::PrivateKey;

/// The `Wechatpay-Nonce` of signed answers.
pub(crate) const NONCE: &str = "HostileNonce0123456789abcdefABCD";

/// The largest request head the server reads.
const MAX_HEAD: usize = 64 * 1024;

/// What the server does once it has read a whole request.
#[derive(Debug, Clone)]
pub(crate) enum Behaviour {
    /// Writes these bytes, then closes the connection (FIN).
    Send(Vec<u8>),
    /// Writes these bytes, then resets the connection (RST, `SO_LINGER` 0).
    Reset(Vec<u8>),
    /// Writes `head` at once, then `tail` one byte every `every`, then closes.
    Trickle {
        head: Vec<u8>,
        tail: Vec<u8>,
        every: Duration,
    },
}

/// A running hostile server; stops accepting when dropped.
#[derive(Debug)]
pub(crate) struct Hostile {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl Hostile {
    /// Listens on `127.0.0.1:0` and answers every request with `behaviour`.
    pub(crate) async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (c, r) = (connections.clone(), requests.clone());
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, behaviour.clone(), r.clone()));
            }
        });
        Self {
            addr,
            connections,
            requests,
            accept,
        }
    }

    /// `http://127.0.0.1:PORT/`.
    pub(crate) fn base_uri(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Connections accepted so far.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Whole requests (head and body) read so far.
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Reads one request, counts it, then behaves.
async fn serve(mut stream: TcpStream, behaviour: Behaviour, requests: Arc<AtomicUsize>) {
    if read_request(&mut stream).await.is_none() {
        return;
    }
    requests.fetch_add(1, Ordering::SeqCst);
    // Write errors mean the client went away: nothing more to do.
    match behaviour {
        Behaviour::Send(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Behaviour::Reset(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.flush().await;
            // Let the bytes leave before the reset discards the send buffer.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        Behaviour::Trickle { head, tail, every } => {
            if stream.write_all(&head).await.is_err() {
                return;
            }
            for byte in tail {
                tokio::time::sleep(every).await;
                if stream.write_all(&[byte]).await.is_err() {
                    return;
                }
            }
            let _ = stream.shutdown().await;
        }
    }
}

/// Reads a request head and its `Content-Length` body; `None` if the client closed first.
async fn read_request(stream: &mut TcpStream) -> Option<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(())
}

/// An HTTP/1.1 answer built byte by byte: headers keep their order and may repeat or hold
/// any bytes.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Answer {
    /// An unsigned answer.
    pub(crate) fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), b"application/json".to_vec())],
            body: body.into(),
        }
    }

    /// An answer signed at `timestamp` by the fixture platform certificate's key, with its
    /// serial, the nonce [`NONCE`] and `Wechatpay-Signature-Type`.
    pub(crate) fn signed(status: u16, body: impl Into<Vec<u8>>, timestamp: i64) -> Self {
        let answer = Self::new(status, body);
        let signature = sign(&timestamp.to_string(), NONCE, &answer.body);
        answer
            .header("Wechatpay-Timestamp", timestamp.to_string())
            .header("Wechatpay-Nonce", NONCE)
            .header("Wechatpay-Signature", signature)
            .header(
                "Wechatpay-Serial",
                crate::support::fixtures().platform_serial,
            )
            .header("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
    }

    /// Appends a header (a second one of the same name makes a duplicate).
    pub(crate) fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces every header of this name with one of `value`, in the first one's place.
    pub(crate) fn set(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        let value = value.into();
        let at = self
            .headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name));
        self = self.without(name);
        let at = at.unwrap_or(self.headers.len()).min(self.headers.len());
        self.headers.insert(at, (name.into(), value));
        self
    }

    /// Removes every header of this name.
    pub(crate) fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// A header's first value, as text.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// The status line and headers, announcing `content_length` body bytes.
    pub(crate) fn head(&self, content_length: usize) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} Hostile\r\n", self.status).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(
            format!("Content-Length: {content_length}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        out
    }

    /// The body.
    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }

    /// The whole answer, its `Content-Length` true.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut out = self.head(self.body.len());
        out.extend_from_slice(&self.body);
        out
    }

    /// The head announcing `announced` bytes, followed by the body actually held.
    pub(crate) fn lying(&self, announced: usize) -> Vec<u8> {
        let mut out = self.head(announced);
        out.extend_from_slice(&self.body);
        out
    }
}

/// The base64 signature of the fixture platform certificate's key over the response message.
pub(crate) fn sign(timestamp: &str, nonce: &str, body: &[u8]) -> String {
    let key =
        PrivateKey::from_pem(crate::support::fixture("platform_key.pem")).expect("platform key");
    sign_base64(&key, &canonical_response(timestamp, nonce, body)).expect("sign")
}
