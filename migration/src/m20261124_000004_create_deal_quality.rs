//! Deal quality indicators (checked / unchecked, by whom, when) and each
//! deal's assignable quality maintainer.

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
                    .add_column(uuid_null("quality_maintainer_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("deal_quality")
                    .col(uuid("deal_id"))
                    .col(string_len("indicator", 64))
                    .col(uuid("company_id"))
                    .col(boolean("checked"))
                    .col(uuid("changed_by"))
                    .col(timestamp_with_time_zone("changed_at"))
                    .primary_key(Index::create().col("deal_id").col("indicator"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_quality_deal_id")
                            .from("deal_quality", "deal_id")
                            .to("deal", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_quality_company_id")
                            .from("deal_quality", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deal_quality_changed_by")
                            .from("deal_quality", "changed_by")
                            .to("member", "id"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("deal_quality").to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("deal")
                    .drop_column("quality_maintainer_id")
                    .to_owned(),
            )
            .await
    }
}
