//! Indexes for the KPI and analytics aggregates: a member's activities by
//! the time they were done, and a customer's latest done activity.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, [&str; 3]); 2] = [
    (
        "idx_activity_company_member_done_at",
        ["company_id", "member_id", "done_at"],
    ),
    (
        "idx_activity_company_customer_done_at",
        ["company_id", "customer_id", "done_at"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in INDEXES {
            let mut index = Index::create();
            index.name(name).table("activity");
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table("activity").to_owned())
                .await?;
        }
        Ok(())
    }
}
