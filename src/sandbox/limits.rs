//! The sandbox's resource bounds (set on [`super::SandboxBuilder`]).

use std::time::Duration;

use super::record::DEFAULT_RECORDED_BYTES;

/// Memory and connection bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The recorder's byte bound.
    pub(crate) recorded_bytes: usize,
    /// Request-body bytes being read at once, all connections together.
    pub(crate) body_bytes_in_flight: usize,
    /// Time to deliver a request head.
    pub(crate) header_read_timeout: Duration,
    /// Time a connection may wait without a request in progress.
    pub(crate) idle_timeout: Duration,
    /// Connections open at once.
    pub(crate) max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            recorded_bytes: DEFAULT_RECORDED_BYTES,
            body_bytes_in_flight: 64 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}
