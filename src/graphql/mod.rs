//! The GraphQL schema: one query and one mutation object per domain, merged.

pub mod activity;
pub mod batch;
pub mod connection;
pub mod context;
pub mod customer;
pub mod deal;
pub mod loader;
pub mod misc;
pub mod org;
pub mod scalars;
pub mod task;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use sea_orm::DatabaseConnection;

use crate::{auth::TokenKeys, config::Config};

/// Every query of the API.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    org::OrgQuery,
    customer::CustomerQuery,
    deal::DealQuery,
    activity::ActivityQuery,
    task::TaskQuery,
    misc::MiscQuery,
);

/// Every mutation of the API.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    org::OrgMutation,
    customer::CustomerMutation,
    deal::DealMutation,
    activity::ActivityMutation,
    task::TaskMutation,
    misc::MiscMutation,
);

/// The server's schema type.
pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Builds the schema with its limits and shared data.
pub fn build_schema(db: DatabaseConnection, config: Arc<Config>, keys: TokenKeys) -> AppSchema {
    let limits = config.graphql.clone();
    Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription)
        .data(db)
        .data(config)
        .data(keys)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_directives(16)
        .finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    let schema = Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription).finish();
    schema.sdl()
}
