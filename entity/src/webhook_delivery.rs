//! One event to post to one webhook: the durable outbox and delivery log.

use crate::enums::{NotificationKind, WebhookDeliveryStatus};
use sea_orm::entity::prelude::*;

/// One event to post to one webhook: the durable outbox and delivery log.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    /// UUID v7: deliveries with one ordering key go out in id order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The tenant this row belongs to.
    pub company_id: Uuid,
    /// The webhook it goes to.
    pub webhook_id: Uuid,
    /// The event; shared by its deliveries to several webhooks.
    pub event_id: Uuid,
    /// What happened.
    pub event_kind: NotificationKind,
    /// Deliveries with the same key (a deal, a report) are sent in order.
    pub ordering_key: Uuid,
    /// The JSON body, exactly as signed and sent.
    pub payload: String,
    /// Pending, delivered, or failed for good.
    pub status: WebhookDeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next attempt is due (UTC).
    pub next_attempt_at: DateTimeUtc,
    /// A worker's claim on the row; others skip it until then.
    pub locked_until: Option<DateTimeUtc>,
    /// The HTTP status of the last attempt, if one came back.
    pub response_status: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Makes a reminder raised twice one delivery.
    pub dedupe_key: Option<String>,
    /// When the event happened (UTC).
    pub created_at: DateTimeUtc,
    /// When it was last tried (UTC).
    pub last_attempt_at: Option<DateTimeUtc>,
    /// When the endpoint accepted it (UTC).
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
