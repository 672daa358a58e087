//! Outgoing chat webhooks and their durable delivery outbox: a delivery row
//! is written in the transaction of the change it reports and sent later by
//! a background worker, so a slow or dead endpoint never delays a write.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhook")
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(string_len("name", 100))
                    .col(string_len("url", 2000))
                    .col(string_len("secret", 100))
                    // The event kinds it wants, as a JSON array of names.
                    .col(json_binary("events"))
                    .col(boolean("active"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_company_id")
                            .from("webhook", "company_id")
                            .to("company", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_company_id")
                    .table("webhook")
                    .col("company_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_delivery")
                    // UUID v7: deliveries are sent in id order per ordering key.
                    .col(pk_uuid("id"))
                    .col(uuid("company_id"))
                    .col(uuid("webhook_id"))
                    // One event sent to several webhooks shares this id.
                    .col(uuid("event_id"))
                    .col(string_len("event_kind", 32))
                    // Deliveries with the same key (a deal, a report) go out in order.
                    .col(uuid("ordering_key"))
                    .col(text("payload"))
                    .col(string_len("status", 16))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    // A worker's claim; another worker (replica) skips it until then.
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(integer_null("response_status"))
                    .col(string_len_null("last_error", 500))
                    // Reminders a job may raise twice are one delivery.
                    .col(string_len_null("dedupe_key", 100))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("last_attempt_at"))
                    .col(timestamp_with_time_zone_null("delivered_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_delivery_company_id")
                            .from("webhook_delivery", "company_id")
                            .to("company", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_delivery_webhook_id")
                            .from("webhook_delivery", "webhook_id")
                            .to("webhook", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        // The worker's queue: what is due.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_delivery_status_next_attempt_at")
                    .table("webhook_delivery")
                    .col("status")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await?;
        // Order per key, and the admin's delivery log of one webhook, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_delivery_webhook_ordering_key")
                    .table("webhook_delivery")
                    .col("webhook_id")
                    .col("ordering_key")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_delivery_company_id")
                    .table("webhook_delivery")
                    .col("company_id")
                    .col("id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_webhook_delivery_webhook_dedupe_key")
                    .table("webhook_delivery")
                    .col("webhook_id")
                    .col("dedupe_key")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webhook_delivery", "webhook"] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
