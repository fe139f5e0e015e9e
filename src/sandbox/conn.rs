//! Connection bookkeeping: what each open connection is doing, the header-read and idle
//! timeouts, and the connection cap (when full, the longest-idle connection makes room).
//!
//! A connection is *busy* while one of its requests is being handled or its answer written
//! (HTTP/2: while any stream is open), and *waiting* otherwise. A waiting connection is closed
//! when
//! - it has not delivered a complete request head within the header-read timeout: counted
//!   from the accept for the first request (a connection that sends nothing at all, or only
//!   part of the HTTP/2 preface), from the first byte of the next request after that (HTTP/1);
//! - it has waited longer than the idle timeout (HTTP/1 keep-alive; HTTP/2 with no stream
//!   open, whatever control frames it sends).

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::lock;

/// The HTTP/2 connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// "No time recorded" in the millisecond fields.
const NEVER: u64 = u64::MAX;

/// What the connection speaks, as far as its first bytes tell.
const UNKNOWN: u8 = 0;
const HTTP1: u8 = 1;
const HTTP2: u8 = 2;

/// One open connection.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Requests being handled or answered.
    busy: AtomicUsize,
    /// When the current wait began (ms since the registry's epoch).
    waiting_since: AtomicU64,
    /// When the first byte arrived during the current wait ([`NEVER`]: none yet).
    first_byte: AtomicU64,
    /// Whether a request ever started on it.
    served: AtomicU8,
    /// [`UNKNOWN`], [`HTTP1`] or [`HTTP2`].
    protocol: AtomicU8,
    /// How many bytes of the HTTP/2 preface matched so far.
    preface: AtomicUsize,
    /// Told to close (evicted to make room).
    close: Notify,
}

/// Every open connection, for the cap; and the clock the timeouts read.
#[derive(Debug)]
pub(crate) struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    max: usize,
    header_read: Duration,
    idle: Duration,
}

impl Registry {
    /// A registry allowing `max` connections (at least 1) with these timeouts.
    pub(crate) fn new(max: usize, header_read: Duration, idle: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            conns: Mutex::default(),
            max: max.max(1),
            header_read,
            idle,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    /// Registers a new connection. When the cap is reached the longest-waiting connection is
    /// told to close first; when every connection is busy, the new one is refused (`None`:
    /// requests in progress finish; the client may retry).
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Entry> {
        let mut conns = lock(&self.conns);
        if conns.len() >= self.max && !Self::evict_locked(&conns) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(self.now_ms()),
            first_byte: AtomicU64::new(NEVER),
            served: AtomicU8::new(0),
            protocol: AtomicU8::new(UNKNOWN),
            preface: AtomicUsize::new(0),
            close: Notify::new(),
        });
        conns.insert(id, conn.clone());
        Some(Entry {
            id,
            conn,
            registry: self.clone(),
        })
    }

    /// How many connections were admitted since the start.
    pub(crate) fn admitted(&self) -> u64 {
        self.next_id.load(Ordering::Relaxed)
    }

    /// Tells the longest-waiting connection to close (out of descriptors, for instance).
    pub(crate) fn evict_one(&self) -> bool {
        Self::evict_locked(&lock(&self.conns))
    }

    fn evict_locked(conns: &HashMap<u64, Arc<Conn>>) -> bool {
        let mut waiting: Vec<&Arc<Conn>> = conns
            .values()
            .filter(|c| c.busy.load(Ordering::Acquire) == 0)
            .collect();
        waiting.sort_by_key(|c| c.waiting_since.load(Ordering::Acquire));
        // Claimed as busy (unless a request just started on it): the next eviction picks
        // another one, and its own timeouts no longer apply.
        let victim = waiting.into_iter().find(|c| {
            c.busy
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        match victim {
            Some(conn) => {
                conn.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A registered connection; unregisters when dropped.
#[derive(Debug)]
pub(crate) struct Entry {
    id: u64,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        lock(&self.registry.conns).remove(&self.id);
    }
}

impl Entry {
    /// Wraps the stream so that reads are seen (first byte of a request, HTTP/2 preface). In
    /// TLS mode the stream is the decrypted one: the bookkeeping sees HTTP, not TLS records.
    pub(crate) fn track<S>(&self, stream: S) -> Tracked<S> {
        Tracked {
            inner: stream,
            conn: self.conn.clone(),
            registry: self.registry.clone(),
        }
    }

    /// A cheap handle for the service to mark requests with.
    pub(crate) fn marker(&self) -> Marker {
        Marker {
            conn: self.conn.clone(),
            registry: self.registry.clone(),
        }
    }

    /// Resolves when the connection must close: evicted, or a timeout passed while waiting.
    pub(crate) async fn expired(&self) {
        let registry = &self.registry;
        let tick = (registry.header_read.min(registry.idle) / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        loop {
            tokio::select! {
                () = self.conn.close.notified() => return,
                () = tokio::time::sleep(tick) => {
                    if self.timed_out() {
                        return;
                    }
                }
            }
        }
    }

    /// Whether a waiting connection passed its header-read or idle timeout.
    fn timed_out(&self) -> bool {
        let conn = &self.conn;
        if conn.busy.load(Ordering::Acquire) > 0 {
            return false;
        }
        let registry = &self.registry;
        let now = registry.now_ms();
        let since = conn.waiting_since.load(Ordering::Acquire);
        let waited = Duration::from_millis(now.saturating_sub(since));
        if waited > registry.idle {
            return true;
        }
        let http2 = conn.protocol.load(Ordering::Acquire) == HTTP2;
        if http2 {
            return false;
        }
        let head_started = if conn.served.load(Ordering::Acquire) == 0 {
            // The first request: its head is due within the header-read timeout of the accept.
            Some(since)
        } else {
            Some(conn.first_byte.load(Ordering::Acquire)).filter(|&t| t != NEVER)
        };
        head_started.is_some_and(|start| {
            Duration::from_millis(now.saturating_sub(start)) > registry.header_read
        })
    }
}

/// Marks requests on one connection (cloned into the service).
#[derive(Debug, Clone)]
pub(crate) struct Marker {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Marker {
    /// Marks a request as started; the connection is busy until the guard is dropped.
    pub(crate) fn busy(&self) -> Busy {
        self.conn.served.store(1, Ordering::Release);
        self.conn.busy.fetch_add(1, Ordering::AcqRel);
        Busy {
            conn: self.conn.clone(),
            registry: self.registry.clone(),
        }
    }
}

/// A request in progress on a connection (see [`Marker::busy`]).
#[derive(Debug)]
pub(crate) struct Busy {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        // The last request done: a new wait begins now.
        self.conn
            .waiting_since
            .store(self.registry.now_ms(), Ordering::Release);
        self.conn.first_byte.store(NEVER, Ordering::Release);
        self.conn.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A stream whose reads are seen by the connection's bookkeeping.
#[derive(Debug)]
pub(crate) struct Tracked<S = TcpStream> {
    inner: S,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl<S> Tracked<S> {
    fn saw(&self, bytes: &[u8]) {
        let conn = &self.conn;
        if bytes.is_empty() {
            return;
        }
        if conn.busy.load(Ordering::Acquire) == 0 {
            let _ = conn.first_byte.compare_exchange(
                NEVER,
                self.registry.now_ms(),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        if conn.protocol.load(Ordering::Acquire) != UNKNOWN {
            return;
        }
        let matched = conn.preface.load(Ordering::Acquire);
        let take = bytes.len().min(PREFACE.len() - matched);
        if bytes[..take] != PREFACE[matched..matched + take] {
            conn.protocol.store(HTTP1, Ordering::Release);
        } else if matched + take == PREFACE.len() {
            conn.protocol.store(HTTP2, Ordering::Release);
        } else {
            conn.preface.store(matched + take, Ordering::Release);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            self.saw(&buf.filled()[before..]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
