//! Process counters served at `/metrics` in the Prometheus text format: SQL
//! statements run, GraphQL requests answered (and how many carried errors),
//! and the process's memory. The benchmark suite reads them to report
//! statements per request and peak memory; an operator scrapes them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one server process (shared by every request).
#[derive(Debug, Default)]
pub struct Metrics {
    /// SQL statements sent to the database.
    pub sql_statements: AtomicU64,
    /// GraphQL requests over HTTP (queries and mutations; not subscriptions).
    pub graphql_requests: AtomicU64,
    /// Of those, the ones answered with at least one error.
    pub graphql_errors: AtomicU64,
}

impl Metrics {
    /// Counts one statement (the database's metric callback calls this).
    pub fn statement(&self) {
        self.sql_statements.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one GraphQL request and whether it failed.
    pub fn request(&self, failed: bool) {
        self.graphql_requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.graphql_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let (rss, peak) = rss_kib();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        };
        metric(
            "sfa_sql_statements_total",
            "counter",
            "SQL statements sent to the database.",
            self.sql_statements.load(Ordering::Relaxed),
        );
        metric(
            "sfa_graphql_requests_total",
            "counter",
            "GraphQL requests over HTTP.",
            self.graphql_requests.load(Ordering::Relaxed),
        );
        metric(
            "sfa_graphql_errors_total",
            "counter",
            "GraphQL requests answered with at least one error.",
            self.graphql_errors.load(Ordering::Relaxed),
        );
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the server process.",
            rss * 1024,
        );
        metric(
            "sfa_process_peak_resident_memory_bytes",
            "gauge",
            "Peak resident memory of the server process.",
            peak * 1024,
        );
        out
    }
}

/// The resident memory of this process and its peak, in KiB (Linux; zeros elsewhere).
pub fn rss_kib() -> (u64, u64) {
    proc_rss_kib("self")
}

/// The resident memory of process `pid` (or `self`) and its peak, in KiB.
pub fn proc_rss_kib(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
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

/// Reads one counter out of a `/metrics` text.
pub fn parse(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_reads_back() {
        let m = Metrics::default();
        m.statement();
        m.statement();
        m.request(false);
        m.request(true);
        let text = m.render();
        assert_eq!(parse(&text, "sfa_sql_statements_total"), Some(2));
        assert_eq!(parse(&text, "sfa_graphql_requests_total"), Some(2));
        assert_eq!(parse(&text, "sfa_graphql_errors_total"), Some(1));
        assert!(text.contains("# TYPE sfa_sql_statements_total counter"));
    }
}
