//! Thread-CPU meters for the RSA work done during a run: the client's signatures (its signer
//! is metered) and verifications probed on the client's own workers (the SDK's verifications
//! happen inside the client, where nothing outside can time them).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wechatpay_chain::signer::Sign;
use wechatpay_chain::{PrivateKey, PublicKey};

use crate::probe::thread_cpu;

/// A running total of thread CPU over a number of calls.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    nanos: AtomicU64,
    calls: AtomicU64,
}

impl Meter {
    /// Runs `f`, adding the thread CPU it took.
    fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let start = thread_cpu();
        let out = f();
        let spent = thread_cpu().saturating_sub(start);
        self.nanos.fetch_add(
            u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.calls.fetch_add(1, Ordering::Relaxed);
        out
    }

    /// Starts a new measurement.
    pub(crate) fn reset(&self) {
        self.nanos.store(0, Ordering::Relaxed);
        self.calls.store(0, Ordering::Relaxed);
    }

    /// All the thread CPU metered since [`reset`](Self::reset).
    pub(crate) fn total(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    /// Mean thread CPU per call since [`reset`](Self::reset).
    pub(crate) fn mean(&self) -> Option<Duration> {
        let calls = self.calls.load(Ordering::Relaxed);
        (calls > 0).then(|| self.total() / u32::try_from(calls).unwrap_or(u32::MAX))
    }
}

/// The merchant key as the client's signer, metering the thread CPU of every signature: the
/// sign time during the run itself, beside the floor measured before it (on a shared or
/// virtual machine, RSA speed drifts by ±20 % between the two).
#[derive(Debug)]
pub(crate) struct MeteredKey {
    key: PrivateKey,
    pub(crate) meter: Meter,
}

impl MeteredKey {
    pub(crate) fn new(key: PrivateKey) -> Self {
        Self {
            key,
            meter: Meter::default(),
        }
    }
}

impl Sign for MeteredKey {
    fn sign(&self, message: &[u8]) -> wechatpay_chain::Result<Vec<u8>> {
        self.meter.time(|| self.key.sign(message))
    }

    fn may_block(&self) -> bool {
        self.key.may_block()
    }
}

/// Verifications timed on the client's workers between requests (one every
/// [`EVERY`](Self::EVERY) requests): the verify time under the run's own conditions (caches
/// shared with hyper and the signatures, the machine's speed at that moment), as the signer's
/// meter gives the sign time. The run's CPU figure excludes the probes' metered time.
#[derive(Debug)]
pub(crate) struct VerifyProbe {
    public: PublicKey,
    message: Vec<u8>,
    signature: Vec<u8>,
    pub(crate) meter: Meter,
}

impl VerifyProbe {
    /// One probe per this many requests.
    pub(crate) const EVERY: usize = 8;

    /// Probes verifying `signature` over `message` with `public`.
    pub(crate) fn new(public: PublicKey, message: Vec<u8>, signature: Vec<u8>) -> Self {
        Self {
            public,
            message,
            signature,
            meter: Meter::default(),
        }
    }

    /// Verifies once when request `i` is due a probe; panics if the signature does not verify
    /// (a probe that fails fast would time nothing).
    pub(crate) fn maybe_probe(&self, i: usize) {
        if i.is_multiple_of(Self::EVERY) {
            let ok = self
                .meter
                .time(|| self.public.verify_sha256(&self.message, &self.signature));
            assert!(ok, "the probe's signature must verify");
        }
    }
}
