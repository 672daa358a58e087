//! Questions and answers attached to a stage of the sales process (seed 003:
//! learn "when you want to ask"), searchable by everyone in the company.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(table: &'static str, column: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to(to, "id")
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("question")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(string_len("stage", 64))
                    .col(uuid("author_id"))
                    .col(string_len("title", 200))
                    .col(text("body"))
                    .col(uuid_null("accepted_answer_id"))
                    .col(integer("answer_count"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(&mut fk("question", "company_id", "company"))
                    .foreign_key(&mut fk("question", "author_id", "member"))
                    .to_owned(),
            )
            .await?;
        // The list per stage and the company-wide list, newest first.
        for (name, cols) in [
            (
                "idx_question_company_stage_created_at",
                &["company_id", "stage", "created_at"][..],
            ),
            ("idx_question_company_created_at", &["company_id", "created_at"][..]),
        ] {
            let mut idx = Index::create().name(name).table("question").to_owned();
            for c in cols {
                idx.col(*c);
            }
            manager.create_index(idx).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("answer")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("question_id"))
                    .col(uuid("author_id"))
                    .col(text("body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(&mut fk("answer", "company_id", "company"))
                    .foreign_key(&mut fk("answer", "question_id", "question"))
                    .foreign_key(&mut fk("answer", "author_id", "member"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_answer_question_created_at")
                    .table("answer")
                    .col("question_id")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["answer", "question"] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
