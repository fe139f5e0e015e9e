//! Blocking calls for scripts and synchronous code, without the caller building a runtime.
//!
//! Requests run on one shared background runtime; the calling thread waits for the result.
//! This works from `fn main`, and from inside another runtime, even a current-thread one: the
//! wait blocks only the calling thread, and calls polled on the background runtime use their
//! own connection pool, so they never depend on a connection that the blocked caller's runtime
//! would have to drive.
//!
//! ```no_run
//! # fn demo(wxpay: &wechatpay_chain::Wechatpay) -> wechatpay_chain::Result<()> {
//! use wechatpay_chain::blocking;
//!
//! let response = wxpay.v3().certificates().blocking().get(())?;
//! // Any future of this crate can be waited for the same way:
//! let same = blocking::wait(wxpay.v3().certificates().get(()))?;
//! # Ok(()) }
//! ```

use std::cell::Cell;
use std::future::Future;
use std::sync::{mpsc, OnceLock};

use http::Method;

use crate::chain::Chain;
use crate::error::{ConfigError, Error, Result, TransportKind};
use crate::options::Options;
use crate::response::Response;

thread_local! {
    /// True on the background runtime's threads (set when each thread starts).
    static ON_BACKGROUND: Cell<bool> = const { Cell::new(false) };
}

/// True if the current thread belongs to the background runtime, i.e. the code runs on
/// behalf of a blocking call.
pub(crate) fn on_background_runtime() -> bool {
    ON_BACKGROUND.with(Cell::get)
}

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("wechatpay-blocking")
                .on_thread_start(|| ON_BACKGROUND.with(|flag| flag.set(true)))
                .enable_all()
                .build()
        })
        .as_ref()
        // io::Error is not Clone: the cause is copied for each caller.
        .map_err(|e| {
            Error::from(ConfigError::Runtime)
                .with_source(std::io::Error::new(e.kind(), e.to_string()))
        })
}

/// Runs `future` to completion on the shared background runtime and returns its result,
/// blocking the calling thread meanwhile.
pub fn wait<T: Send + 'static>(
    future: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        // The receiver only goes away if the caller's thread died; nothing to report then.
        let _ = tx.send(future.await);
    });
    rx.recv().map_err(|_| {
        Error::transport(
            TransportKind::Io,
            "the background request task ended without a result",
        )
    })?
}

/// The blocking verbs of a chain: `chain.blocking().post(options)`.
#[derive(Debug, Clone, Copy)]
pub struct Blocking<'a> {
    chain: &'a Chain,
}

impl<'a> Blocking<'a> {
    /// The blocking verbs of `chain` (see [`Chain::blocking`]).
    pub(crate) fn new(chain: &'a Chain) -> Self {
        Self { chain }
    }
}

impl Blocking<'_> {
    /// Any method, blocking.
    pub fn request(&self, method: Method, options: impl Into<Options>) -> Result<Response> {
        wait(crate::client::request(self.chain, method, options))
    }

    /// `GET`, blocking.
    pub fn get(&self, options: impl Into<Options>) -> Result<Response> {
        self.request(Method::GET, options)
    }

    /// `POST`, blocking.
    pub fn post(&self, options: impl Into<Options>) -> Result<Response> {
        self.request(Method::POST, options)
    }

    /// `PUT`, blocking.
    pub fn put(&self, options: impl Into<Options>) -> Result<Response> {
        self.request(Method::PUT, options)
    }

    /// `PATCH`, blocking.
    pub fn patch(&self, options: impl Into<Options>) -> Result<Response> {
        self.request(Method::PATCH, options)
    }

    /// `DELETE`, blocking.
    pub fn delete(&self, options: impl Into<Options>) -> Result<Response> {
        self.request(Method::DELETE, options)
    }
}
