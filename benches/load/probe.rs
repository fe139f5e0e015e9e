//! Process figures (Linux only: `/proc/self/status`, `/proc/self/clear_refs`) and
//! `openssl speed`.

use std::process::Command;
use std::time::Duration;

/// CPU time (user + system, all threads, also exited ones) this process used so far.
pub(crate) fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// CPU time the calling thread used so far (not inflated when other processes take the
/// cores, unlike wall time).
pub(crate) fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// A `kB` field of `/proc/self/status` (`VmHWM`: peak resident set; `VmRSS`: current).
pub(crate) fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets `VmHWM` to the current resident set (Linux ≥ 4.0); false if it could not.
pub(crate) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `openssl speed -seconds 1 rsa2048`'s time per RSA-2048 sign, if `openssl` runs.
pub(crate) fn openssl_sign() -> Option<Duration> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "1", "rsa2048"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    parse_openssl(&String::from_utf8_lossy(&out.stdout))
}

/// The sign column of the `rsa 2048 bits 0.000702s 0.000021s …` line.
fn parse_openssl(text: &str) -> Option<Duration> {
    let line = text.lines().find(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words.len() > 3 && words[0] == "rsa" && words[1] == "2048" && words[2] == "bits"
    })?;
    let sign = line.split_whitespace().nth(3)?.strip_suffix('s')?;
    Duration::try_from_secs_f64(sign.parse().ok()?).ok()
}

/// A quick self-check of the parser (run in the smoke mode).
pub(crate) fn check_parser() {
    let sample = "                   sign    verify    encrypt   decrypt   sign/s verify/s  encr./s  decr./s\n\
                  rsa 2048 bits 0.000702s 0.000021s 0.000022s 0.000710s   1424.5  47619.0  45454.5   1408.5\n";
    let sign = parse_openssl(sample).expect("the sign column");
    assert!((sign.as_secs_f64() - 0.000_702).abs() < 1e-9, "{sign:?}");
    assert_eq!(parse_openssl("rsa 2048 bits n/a"), None);
}
