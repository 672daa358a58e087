//! Outgoing chat webhooks and their delivery log (admins).

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    enums::{NotificationKind, WebhookDeliveryStatus},
    webhook, webhook_delivery,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{
    connection::{Conn, connection_cost, page_args, parse_id, parse_opt_id, to_connection, wants_total},
    context::{actor, config, db, writer},
};
use crate::{
    error::AppError,
    in_txn,
    pagination::{Sort, SortKind, fetch_page},
    service::webhook::{self as hooks, Settings},
};

/// Where the company's chat hears of chosen events. Each POST carries
/// `X-Sfa-Timestamp` and `X-Sfa-Signature: sha256=HMAC(secret, "<timestamp>.<body>")`.
pub struct Webhook(pub webhook::Model);

#[Object]
impl Webhook {
    /// Webhook id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// What the admin calls it.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Where events are posted.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The event kinds posted to it.
    async fn events(&self) -> Vec<NotificationKind> {
        hooks::events_of(&self.0)
    }
    /// Paused webhooks get no new events; what is queued waits.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One event posted (or to post) to one webhook.
pub struct WebhookDelivery(pub webhook_delivery::Model);

#[Object]
impl WebhookDelivery {
    /// Delivery id (also sent as `X-Sfa-Delivery`).
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// The webhook.
    async fn webhook_id(&self) -> ID {
        self.0.webhook_id.into()
    }
    /// The event (sent as `X-Sfa-Event-Id`; the same for every webhook that got it).
    async fn event_id(&self) -> ID {
        self.0.event_id.into()
    }
    /// What happened.
    async fn event_kind(&self) -> NotificationKind {
        self.0.event_kind
    }
    /// PENDING, DELIVERED, or FAILED (every attempt failed; `retryWebhookDelivery` queues it again).
    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.status
    }
    /// Attempts made.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When the next attempt is due, while pending.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == WebhookDeliveryStatus::Pending).then_some(self.0.next_attempt_at)
    }
    /// The HTTP status of the last answer.
    async fn response_status(&self) -> Option<i32> {
        self.0.response_status
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When the event happened.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was last tried.
    async fn last_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_attempt_at
    }
    /// When the endpoint accepted it.
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
    /// The body, exactly as signed and sent.
    async fn payload(&self) -> async_graphql::Result<Json<serde_json::Value>> {
        serde_json::from_str(&self.0.payload)
            .map(Json)
            .map_err(|_| AppError::Internal("a stored webhook payload is not JSON".into()).into())
    }
}

/// A webhook with its signing secret, shown only when made or rotated.
#[derive(SimpleObject)]
pub struct WebhookWithSecret {
    /// The webhook.
    pub webhook: Webhook,
    /// The HMAC-SHA256 key of its signatures; keep it in the receiver.
    pub secret: String,
}

/// Input of `createWebhook` and `updateWebhook`.
#[derive(InputObject)]
pub struct WebhookInput {
    /// What you call it ("#sales channel").
    pub name: String,
    /// Where to post: an https URL (such as a chat's incoming-webhook URL).
    pub url: String,
    /// The event kinds to post (MENTION is personal and refused).
    pub events: Vec<NotificationKind>,
    /// Post now (true, the default) or pause.
    #[graphql(default = true)]
    pub active: bool,
}

impl From<WebhookInput> for Settings {
    fn from(i: WebhookInput) -> Self {
        Self {
            name: i.name,
            url: i.url,
            events: i.events,
            active: i.active,
        }
    }
}

/// Webhook queries (admins).
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The company's webhooks, oldest first (admins).
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Webhook>> {
        let actor = actor(ctx)?;
        actor.require_admin("manage webhooks")?;
        let rows = webhook::Entity::find()
            .filter(webhook::Column::CompanyId.eq(actor.company_id))
            .filter(webhook::Column::DeletedAt.is_null())
            .order_by_asc(webhook::Column::Id)
            .all(db(ctx)?)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(Webhook).collect())
    }

    /// The delivery log, newest first: every attempt's outcome (admins).
    /// Filter by webhook (deleted ones included) and status.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        webhook_id: Option<ID>,
        status: Option<WebhookDeliveryStatus>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<WebhookDelivery>> {
        let actor = actor(ctx)?;
        actor.require_admin("read the webhook delivery log")?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let mut q = webhook_delivery::Entity::find().filter(webhook_delivery::Column::CompanyId.eq(actor.company_id));
        if let Some(id) = parse_opt_id(webhook_id.as_ref(), "Webhook")? {
            q = q.filter(webhook_delivery::Column::WebhookId.eq(id));
        }
        if let Some(s) = status {
            q = q.filter(webhook_delivery::Column::Status.eq(s));
        }
        let sort = Sort::new(webhook_delivery::Column::CreatedAt, SortKind::Time, true);
        let page = fetch_page(db(ctx)?, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, WebhookDelivery))
    }
}

/// Webhook mutations (admins).
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Adds a webhook; its signing secret is shown once, here (admins).
    async fn create_webhook(&self, ctx: &Context<'_>, input: WebhookInput) -> async_graphql::Result<WebhookWithSecret> {
        let actor = writer(ctx)?;
        let settings = input.into();
        let cfg = &config(ctx)?.webhooks;
        let (w, secret) = in_txn!(ctx, |txn| hooks::create(&txn, actor, &settings, cfg));
        Ok(WebhookWithSecret {
            webhook: Webhook(w),
            secret,
        })
    }

    /// Changes a webhook: name, URL, events, paused or not (admins).
    async fn update_webhook(&self, ctx: &Context<'_>, id: ID, input: WebhookInput) -> async_graphql::Result<Webhook> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Webhook")?;
        let settings = input.into();
        let cfg = &config(ctx)?.webhooks;
        Ok(Webhook(in_txn!(ctx, |txn| hooks::update(
            &txn, actor, id, &settings, cfg
        ))))
    }

    /// Replaces a webhook's signing secret; the old one stops at once (admins).
    async fn rotate_webhook_secret(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<WebhookWithSecret> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Webhook")?;
        let (w, secret) = in_txn!(ctx, |txn| hooks::rotate_secret(&txn, actor, id));
        Ok(WebhookWithSecret {
            webhook: Webhook(w),
            secret,
        })
    }

    /// Deletes a webhook; what it had not delivered is marked failed, the log stays (admins).
    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Webhook> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Webhook")?;
        Ok(Webhook(in_txn!(ctx, |txn| hooks::delete(&txn, actor, id))))
    }

    /// Queues a delivered or failed delivery again, due now (admins).
    async fn retry_webhook_delivery(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<WebhookDelivery> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Webhook delivery")?;
        Ok(WebhookDelivery(in_txn!(ctx, |txn| hooks::retry(&txn, actor, id))))
    }
}
