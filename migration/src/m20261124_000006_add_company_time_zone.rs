//! The company's time zone: it decides what "today", "this week" and "this
//! month" mean for KPIs and analytics.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("company")
                    .add_column(string_len("time_zone", 64).default("UTC"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("company").drop_column("time_zone").to_owned())
            .await
    }
}
