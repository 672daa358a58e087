//! API keys for BI tools and integrations, and failed logins for throttling.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("api_key")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(string_len("name", 200))
                    .col(string_len("scope", 24))
                    .col(string_len("secret_hash", 64))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_key_company_id")
                            .from("api_key", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_key_created_by")
                            .from("api_key", "created_by")
                            .to("member", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_key_company")
                    .table("api_key")
                    .col("company_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("login_failure")
                    .col(pk_uuid("id"))
                    .col(string_len("email", 254))
                    .col(timestamp_with_time_zone("failed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_failure_email_failed_at")
                    .table("login_failure")
                    .col("email")
                    .col("failed_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("login_failure").to_owned())
            .await?;
        manager.drop_table(Table::drop().table("api_key").to_owned()).await
    }
}
