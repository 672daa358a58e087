//! The code of a deal in the system it was imported from (an opportunity id
//! of another SFA), so that re-importing finds the deal it wrote last time
//! and its stage history can name it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("deal")
                    .add_column(string_len_null("external_code", 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_deal_company_external_code")
                    .table("deal")
                    .col("company_id")
                    .col("external_code")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("uniq_deal_company_external_code")
                    .table("deal")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table("deal").drop_column("external_code").to_owned())
            .await
    }
}
