//! Weekly forecast snapshots: how each member's and team's landing forecast
//! for a month moved week over week.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("forecast_snapshot")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(string_len("subject_kind", 16))
                    .col(uuid("subject_id"))
                    .col(date("month"))
                    .col(date("week_start"))
                    .col(big_integer("booked_sales"))
                    .col(big_integer("gross_profit"))
                    .col(big_integer("pipeline_deals"))
                    .col(big_integer("pipeline_amount"))
                    .col(big_integer("weighted_amount"))
                    .col(big_integer_null("target"))
                    .col(timestamp_with_time_zone("taken_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_forecast_snapshot_company_id")
                            .from("forecast_snapshot", "company_id")
                            .to("company", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        // One row per subject, month and week: several replicas taking the
        // same snapshot update one row.
        manager
            .create_index(
                Index::create()
                    .name("idx_forecast_snapshot_subject_month_week")
                    .table("forecast_snapshot")
                    .col("company_id")
                    .col("subject_kind")
                    .col("subject_id")
                    .col("month")
                    .col("week_start")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("forecast_snapshot").to_owned())
            .await
    }
}
