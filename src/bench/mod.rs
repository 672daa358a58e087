//! The benchmark suite: a generated dataset at scale (`sfa bench generate`)
//! and the manager's views timed against hand-written SQL for the same
//! figures on the same database in the same run (`sfa bench analytics`),
//! and the write path with and without its fan-out (`sfa bench write-path`).

pub mod analytics;
pub mod generate;
pub mod write;

/// The resident memory of this process and its peak, in KiB (Linux; zeros elsewhere).
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
