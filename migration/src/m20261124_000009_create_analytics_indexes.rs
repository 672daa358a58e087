//! Indexes for the manager's views: appointments gained (activities by
//! creation time), deals created and closed per owner and period.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[(&str, &str, &[&str])] = &[
    (
        "idx_activity_company_member_created_at",
        "activity",
        &["company_id", "member_id", "created_at"],
    ),
    (
        "idx_deal_company_owner_created_at",
        "deal",
        &["company_id", "owner_id", "created_at"],
    ),
    (
        "idx_deal_company_owner_closed_at",
        "deal",
        &["company_id", "owner_id", "closed_at"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(*table);
            for c in *cols {
                index.col(*c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(*name).table(*table).to_owned())
                .await?;
        }
        Ok(())
    }
}
