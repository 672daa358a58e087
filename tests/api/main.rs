//! Integration tests over real HTTP against the real router, on SQLite, or on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

/// As in the server: a script that builds too much data is stopped (see `alloc_meter`).
#[global_allocator]
static ALLOCATOR: alloc_meter::Metered<std::alloc::System> = alloc_meter::Metered(std::alloc::System);

mod common;

mod access;
mod admin;
mod aggregate;
mod analytics;
mod auth;
mod binary;
mod concurrency;
mod deals;
mod demo;
mod energy;
mod export;
mod filters;
mod forecast;
mod history;
mod http;
mod import;
mod inputs;
mod insight;
mod isolation;
mod kpi;
mod limits;
mod notifications;
mod nplus1;
mod operator;
mod outage;
mod pagination;
mod pipeline;
mod plugins;
mod process;
mod qa;
mod reports;
mod schema;
mod shutdown;
mod subscriptions;
mod tasks;
mod tenancy;
mod webhooks;
