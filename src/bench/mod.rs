//! The benchmark suite: a generated dataset at scale (`sfa bench generate`)
//! and the manager's views timed against hand-written SQL for the same
//! figures on the same database in the same run (`sfa bench analytics`),
//! the write path with and without its fan-out (`sfa bench write-path`), and
//! the scenarios users feel over real HTTP beside their physical limits
//! (`sfa bench http`), and a re-score of every activity beside the same
//! scoring in plain Rust (`sfa bench rescore`), and a company's history
//! moved in with `sfa import` (`sfa bench import`); `sfa bench all` runs them
//! all, the subscription fan-out included. The reliability harnesses that
//! drive the started server (`sfa reliability …`) live here too.

pub mod all;
pub mod analytics;
pub mod crash;
pub mod diskfull;
pub mod fuzz;
pub mod generate;
pub mod hostile;
pub mod http;
pub mod import;
mod load;
pub mod outage;
pub mod rescore;
pub mod scripts;
pub mod soak;
pub mod write;

pub use crate::metrics::rss_kib;
