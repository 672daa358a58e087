//! Background re-scoring of stored energy scores after a scoring change.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("rescore_job")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(string_len("scoring_version", 100))
                    .col(string_len("status", 16))
                    .col(big_integer("total"))
                    .col(big_integer("done"))
                    .col(text_null("error"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_rescore_job_company_id")
                            .from("rescore_job", "company_id")
                            .to("company", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rescore_job_company_started_at")
                    .table("rescore_job")
                    .col("company_id")
                    .col("started_at")
                    .to_owned(),
            )
            .await?;
        // Re-scores walk a company's activities by id in batches: an exact
        // range scan, whatever the planner's statistics say.
        manager
            .create_index(
                Index::create()
                    .name("idx_activity_company_id")
                    .table("activity")
                    .col("company_id")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_activity_company_id")
                    .table("activity")
                    .to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table("rescore_job").to_owned()).await
    }
}
