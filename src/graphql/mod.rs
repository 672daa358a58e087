//! The GraphQL schema: one query and one mutation object per domain, merged.

pub mod activity;
pub mod admin;
pub mod aggregate;
pub mod analytics;
pub mod batch;
pub mod connection;
pub mod context;
pub mod customer;
pub mod deal;
pub mod energy;
pub mod export;
pub mod forecast;
pub mod import;
pub mod insight;
pub mod kpi;
pub mod limits;
pub mod loader;
pub mod misc;
pub mod notification;
pub mod operator;
pub mod org;
pub mod pipeline;
pub mod process;
pub mod process_version;
pub mod qa;
pub mod scalars;
pub mod task;
pub mod webhook;

use std::sync::Arc;

use async_graphql::{MergedObject, Schema};
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
    admin::AdminQuery,
    process::ProcessQuery,
    process_version::ProcessVersionQuery,
    kpi::KpiQuery,
    analytics::AnalyticsQuery,
    pipeline::PipelineQuery,
    forecast::ForecastQuery,
    aggregate::AggregateQuery,
    analytics::CalendarQuery,
    energy::EnergyQuery,
    insight::InsightQuery,
    notification::NotificationQuery,
    webhook::WebhookQuery,
    qa::QaQuery,
    export::ExportQuery,
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
    admin::AdminMutation,
    process::ProcessMutation,
    process_version::ProcessVersionMutation,
    forecast::ForecastMutation,
    notification::NotificationMutation,
    webhook::WebhookMutation,
    import::ImportMutation,
    qa::QaMutation,
);

/// The server's schema type.
pub type AppSchema = Schema<QueryRoot, MutationRoot, notification::SubscriptionRoot>;

/// Builds the schema with its limits and shared data.
pub fn build_schema(
    db: DatabaseConnection,
    config: Arc<Config>,
    keys: TokenKeys,
    plugins: Arc<crate::plugins::Plugins>,
    bus: crate::events::Bus,
) -> AppSchema {
    let limits = config.graphql.clone();
    let development = config.development();
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        notification::SubscriptionRoot,
    )
    .extension(limits::DocumentLimits::new(&limits))
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_directives(16)
    .limit_recursive_depth(32);
    if !limits.introspection.unwrap_or(development) {
        builder = builder.disable_introspection();
    }
    if !limits.suggestions.unwrap_or(development) {
        builder = builder.disable_suggestions();
    }
    builder
        .data(db)
        .data(config)
        .data(keys)
        .data(plugins)
        .data(bus)
        .finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    let schema = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        notification::SubscriptionRoot,
    )
    .finish();
    schema.sdl()
}
