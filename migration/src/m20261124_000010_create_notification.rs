//! Notifications (a member's inbox), the kinds a member muted, and the
//! records a member follows (comments on them notify the follower).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn company_fk(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_company_id"))
        .from(table, "company_id")
        .to("company", "id")
        .to_owned()
}

fn member_fk(table: &'static str, column: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to("member", "id")
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("notification")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("recipient_id"))
                    .col(string_len("kind", 32))
                    .col(string_len("subject_type", 32))
                    .col(uuid("subject_id"))
                    .col(uuid_null("comment_id"))
                    .col(uuid_null("actor_id"))
                    .col(string_len("summary", 500))
                    // Reminders a job may raise twice (two replicas, two runs) carry a key.
                    .col(string_len_null("dedupe_key", 100))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("read_at"))
                    .foreign_key(&mut company_fk("notification"))
                    .foreign_key(&mut member_fk("notification", "recipient_id"))
                    .to_owned(),
            )
            .await?;
        // The inbox, newest first, and the unread count.
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_recipient_created_at")
                    .table("notification")
                    .col("recipient_id")
                    .col("created_at")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_recipient_read_at")
                    .table("notification")
                    .col("recipient_id")
                    .col("read_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_recipient_dedupe_key")
                    .table("notification")
                    .col("recipient_id")
                    .col("dedupe_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("notification_mute")
                    .col(uuid("company_id"))
                    .col(uuid("member_id"))
                    .col(string_len("kind", 32))
                    .primary_key(Index::create().col("member_id").col("kind"))
                    .foreign_key(&mut company_fk("notification_mute"))
                    .foreign_key(&mut member_fk("notification_mute", "member_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("follow")
                    .col(uuid("company_id"))
                    .col(uuid("member_id"))
                    .col(string_len("subject_type", 32))
                    .col(uuid("subject_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("member_id").col("subject_type").col("subject_id"))
                    .foreign_key(&mut company_fk("follow"))
                    .foreign_key(&mut member_fk("follow", "member_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_follow_subject")
                    .table("follow")
                    .col("subject_type")
                    .col("subject_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["follow", "notification_mute", "notification"] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
