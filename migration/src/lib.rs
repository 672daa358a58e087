//! Schema migrations, one file per change (`mYYYYMMDD_HHMMSS_<verb>_<noun>.rs`).
//! They run at server start (`sfa serve`) and with `sfa migrate`; the schema
//! is written with sea-query so the same migrations serve SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_core;
mod m20261124_000002_create_server_setting;
mod m20261124_000003_create_api_key_and_login_failure;
mod m20261124_000004_create_deal_quality;
mod m20261124_000005_create_rescore_job;
mod m20261124_000006_add_company_time_zone;
mod m20261124_000007_create_kpi_indexes;
mod m20261124_000008_create_forecast_snapshot;
mod m20261124_000009_create_analytics_indexes;
mod m20261124_000010_create_notification;
mod m20261124_000011_create_webhook;
mod m20261124_000012_add_import_codes;
mod m20261124_000013_create_question;
mod m20261202_000014_sessions_and_company_emails;
mod m20261203_000015_add_company_disabled_at;
mod m20261203_000016_add_deal_code;
mod m20261203_000017_add_activity_and_task_refs;
mod m20261204_000018_create_process_version;

/// Every migration of the server, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_core::Migration),
            Box::new(m20261124_000002_create_server_setting::Migration),
            Box::new(m20261124_000003_create_api_key_and_login_failure::Migration),
            Box::new(m20261124_000004_create_deal_quality::Migration),
            Box::new(m20261124_000005_create_rescore_job::Migration),
            Box::new(m20261124_000006_add_company_time_zone::Migration),
            Box::new(m20261124_000007_create_kpi_indexes::Migration),
            Box::new(m20261124_000008_create_forecast_snapshot::Migration),
            Box::new(m20261124_000009_create_analytics_indexes::Migration),
            Box::new(m20261124_000010_create_notification::Migration),
            Box::new(m20261124_000011_create_webhook::Migration),
            Box::new(m20261124_000012_add_import_codes::Migration),
            Box::new(m20261124_000013_create_question::Migration),
            Box::new(m20261202_000014_sessions_and_company_emails::Migration),
            Box::new(m20261203_000015_add_company_disabled_at::Migration),
            Box::new(m20261203_000016_add_deal_code::Migration),
            Box::new(m20261203_000017_add_activity_and_task_refs::Migration),
            Box::new(m20261204_000018_create_process_version::Migration),
        ]
    }
}
