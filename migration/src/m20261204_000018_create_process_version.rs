//! A company's process stored in the database, versioned: every publish,
//! rollback or switch to a shipped set is an immutable row, and
//! `company.process_version` names the stored version that runs (null while
//! the company follows a shipped set, `company.plugin_set`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("process_version")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(integer("version"))
                    .col(string_len("kind", 16))
                    .col(string_len_null("shipped_set", 64))
                    .col(integer_null("restored_from"))
                    .col(text_null("process_rhai"))
                    .col(text_null("scoring_rhai"))
                    .col(text_null("kpi_rhai"))
                    .col(string_len("scoring_version", 100))
                    .col(text("note"))
                    .col(uuid_null("author_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_process_version_company_id")
                            .from("process_version", "company_id")
                            .to("company", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        // One number per version of a company: two publishes at once cannot both be version 4.
        manager
            .create_index(
                Index::create()
                    .name("uniq_process_version_company_version")
                    .table("process_version")
                    .col("company_id")
                    .col("version")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("company")
                    .add_column(integer_null("process_version"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("company")
                    .drop_column("process_version")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("process_version").to_owned())
            .await
    }
}
