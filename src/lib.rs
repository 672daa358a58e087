//! Sales-force-automation server: a GraphQL API over sea-orm for sales
//! organisations (members, customers, deals, activities, daily reports,
//! tasks), on SQLite by default and PostgreSQL in production.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod pagination;
pub mod plugins;
pub mod seed;
pub mod server;
pub mod service;
pub mod state;

pub use http::router as app;

/// Unit tests count allocations as the server does (see `alloc_meter`).
#[cfg(test)]
#[global_allocator]
static ALLOCATOR: alloc_meter::Metered<std::alloc::System> = alloc_meter::Metered(std::alloc::System);
pub use state::AppState;
