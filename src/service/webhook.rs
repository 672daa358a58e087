//! Outgoing chat webhooks.
//!
//! A change that a webhook wants writes one delivery row per webhook in the
//! change's own transaction (the durable outbox); nothing is sent then, so a
//! slow endpoint never delays a write, and a rolled-back write sends nothing.
//! A background worker on every replica claims due rows with a short lease,
//! posts them, and on failure retries with exponential backoff up to
//! `max_attempts`. Deliveries sharing an ordering key (a deal, a report) go
//! out one after the other in the order they were written; different keys
//! and different webhooks never wait for each other.
//!
//! The body is the common chat incoming-webhook shape, a `text` line plus an
//! `event` object with the details. Each request is signed:
//! `X-Sfa-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
//! with `X-Sfa-Timestamp` in Unix seconds, and carries `X-Sfa-Event-Id` so a
//! receiver can drop a repeat (an endpoint that answered too late is retried).

use std::{net::SocketAddr, sync::Arc, time::Duration as StdDuration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{Duration, Utc};
use entity::{
    enums::{NotificationKind, NotificationSubject, WebhookDeliveryStatus},
    webhook, webhook_delivery,
};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Set, Statement, sea_query::Expr,
};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use super::{Actor, audit, insert_audited, new_id, notify::Origin, now, update_audited, validate, webhook_target};
use crate::{
    config::WebhookConfig,
    error::{AppError, AppResult},
};

/// Most webhooks a company may have.
const MAX_WEBHOOKS: usize = 20;
/// How long a worker's claim on a delivery lasts beyond the request timeout.
const LEASE_MARGIN_MS: u64 = 30_000;
/// Deliveries one worker round claims.
const BATCH: u64 = 200;

/// The event kinds a webhook may ask for: a mention is personal, so a
/// channel gets the comment instead.
pub fn accepts(kind: NotificationKind) -> bool {
    kind != NotificationKind::Mention
}

/// What an admin sets on a webhook.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What the admin calls it.
    pub name: String,
    /// Where to post.
    pub url: String,
    /// The kinds to post.
    pub events: Vec<NotificationKind>,
    /// Posting (true) or paused.
    pub active: bool,
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", B64.encode(bytes))
}

/// Checks a webhook URL: absolute http(s) with a host, no credentials, and
/// (unless `allow_private`) a public target; returns it normalised, so
/// every spelling of an address is stored as the one it means.
pub fn check_url(raw: &str, allow_private: bool) -> AppResult<String> {
    let raw = raw.trim();
    if raw.len() > 2000 {
        return Err(AppError::bad("url: at most 2000 characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| AppError::bad(format!("url: not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AppError::bad("url: must start with https:// (or http://)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(AppError::bad("url: has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::bad(
            "url: must not carry a user name or password; the signature authenticates the server",
        ));
    }
    if !allow_private && let Some(why) = webhook_target::refusal(&url) {
        return Err(AppError::bad(format!("url: {why}")));
    }
    Ok(url.to_string())
}

fn check_settings(s: &Settings, cfg: &WebhookConfig) -> AppResult<(String, String, Value)> {
    let name = validate::text("name", &s.name, 100)?;
    let url = check_url(&s.url, cfg.allow_private_targets)?;
    if s.events.is_empty() {
        return Err(AppError::bad("events: choose at least one event kind"));
    }
    if let Some(k) = s.events.iter().find(|k| !accepts(**k)) {
        return Err(AppError::bad(format!(
            "events: {} is personal and not sent to webhooks; choose COMMENT for a channel",
            k.as_str().to_uppercase()
        )));
    }
    let mut kinds: Vec<&str> = s.events.iter().map(|k| k.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    Ok((name, url, json!(kinds)))
}

/// The kinds a webhook wants.
pub fn events_of(w: &webhook::Model) -> Vec<NotificationKind> {
    w.events
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| serde_json::from_value::<NotificationKind>(v.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Creates a webhook; returns it and its signing secret, shown only now.
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    s: &Settings,
    cfg: &WebhookConfig,
) -> AppResult<(webhook::Model, String)> {
    actor.require_admin("manage webhooks")?;
    let (name, url, events) = check_settings(s, cfg)?;
    let existing = webhook::Entity::find()
        .filter(webhook::Column::CompanyId.eq(actor.company_id))
        .filter(webhook::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    if existing.len() >= MAX_WEBHOOKS {
        return Err(AppError::bad(format!("a company has at most {MAX_WEBHOOKS} webhooks")));
    }
    let secret = new_secret();
    let t = now();
    let am = webhook::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        name: Set(name),
        url: Set(url),
        secret: Set(secret.clone()),
        events: Set(events),
        active: Set(s.active),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    Ok((insert_audited(db, actor, am).await?, secret))
}

/// The company's live webhook `id`.
pub async fn find(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<webhook::Model> {
    actor.require_admin("manage webhooks")?;
    super::find_live::<webhook::Entity>(db, actor, id).await
}

/// Changes a webhook's settings.
pub async fn update(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    s: &Settings,
    cfg: &WebhookConfig,
) -> AppResult<webhook::Model> {
    let before = find(db, actor, id).await?;
    let (name, url, events) = check_settings(s, cfg)?;
    let mut am = before.clone().into_active_model();
    am.name = Set(name);
    am.url = Set(url);
    am.events = Set(events);
    am.active = Set(s.active);
    am.updated_at = Set(now());
    update_audited(db, actor, &before, am).await
}

/// Replaces the signing secret; returns the new one, shown only now.
pub async fn rotate_secret(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<(webhook::Model, String)> {
    let before = find(db, actor, id).await?;
    let secret = new_secret();
    let mut am = before.clone().into_active_model();
    am.secret = Set(secret.clone());
    am.updated_at = Set(now());
    let after = am.update(db).await?;
    audit::record(
        db,
        actor,
        "rotate_secret",
        &("webhook", id),
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok((after, secret))
}

/// Deletes a webhook; its pending deliveries are marked failed, the log stays.
pub async fn delete(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<webhook::Model> {
    let before = find(db, actor, id).await?;
    let t = now();
    let mut am = before.clone().into_active_model();
    am.deleted_at = Set(Some(t));
    am.active = Set(false);
    let after = am.update(db).await?;
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(WebhookDeliveryStatus::Failed),
        )
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value("the webhook was deleted"),
        )
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .filter(webhook_delivery::Column::Status.eq(WebhookDeliveryStatus::Pending))
        .exec(db)
        .await?;
    audit::record(db, actor, "delete", &("webhook", id), Some(&before), Some(&after)).await?;
    Ok(after)
}

/// Puts a delivery back in the queue, due now (any status but pending).
pub async fn retry(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<webhook_delivery::Model> {
    actor.require_admin("manage webhooks")?;
    let d = webhook_delivery::Entity::find_by_id(id)
        .filter(webhook_delivery::Column::CompanyId.eq(actor.company_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Webhook delivery"))?;
    find(db, actor, d.webhook_id).await?;
    if d.status == WebhookDeliveryStatus::Pending {
        return Err(AppError::bad(
            "the delivery is still pending; it will be tried again by itself",
        ));
    }
    let mut am = d.into_active_model();
    am.status = Set(WebhookDeliveryStatus::Pending);
    am.next_attempt_at = Set(now());
    am.locked_until = Set(None);
    Ok(am.update(db).await?)
}

/// An event to post to the company's webhooks that want its kind.
pub struct Announcement<'a> {
    /// What happened.
    pub kind: NotificationKind,
    /// The record it is about.
    pub subject: (NotificationSubject, Uuid),
    /// Deliveries with the same key go out in order (the deal, the report).
    pub ordering_key: Uuid,
    /// The chat line.
    pub text: &'a str,
    /// Structured details for receivers that read more than the text.
    pub details: Value,
    /// Makes an event raised twice (reminders) one delivery per webhook.
    pub dedupe_key: Option<&'a str>,
}

/// Queues the event for every active webhook of the company that wants it.
pub async fn enqueue(db: &impl ConnectionTrait, origin: &Origin<'_>, a: &Announcement<'_>) -> AppResult<usize> {
    let hooks: Vec<webhook::Model> = webhook::Entity::find()
        .filter(webhook::Column::CompanyId.eq(origin.company_id))
        .filter(webhook::Column::Active.eq(true))
        .filter(webhook::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .filter(|w| events_of(w).contains(&a.kind))
        .collect();
    if hooks.is_empty() {
        return Ok(0);
    }
    let t = now();
    let event_id = new_id();
    let payload = json!({
        "text": a.text,
        "event": {
            "id": event_id,
            "kind": a.kind.as_str().to_uppercase(),
            "occurredAt": t,
            "companyId": origin.company_id,
            "actorId": origin.actor_id,
            "subject": { "type": a.subject.0.as_str().to_uppercase(), "id": a.subject.1 },
            "details": a.details,
        }
    })
    .to_string();
    let rows: Vec<webhook_delivery::ActiveModel> = hooks
        .iter()
        .map(|w| webhook_delivery::ActiveModel {
            id: Set(new_id()),
            company_id: Set(origin.company_id),
            webhook_id: Set(w.id),
            event_id: Set(event_id),
            event_kind: Set(a.kind),
            ordering_key: Set(a.ordering_key),
            payload: Set(payload.clone()),
            status: Set(WebhookDeliveryStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(t),
            locked_until: Set(None),
            response_status: Set(None),
            last_error: Set(None),
            dedupe_key: Set(a.dedupe_key.map(str::to_owned)),
            created_at: Set(t),
            last_attempt_at: Set(None),
            delivered_at: Set(None),
        })
        .collect();
    let n = rows.len();
    webhook_delivery::Entity::insert_many(rows)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                webhook_delivery::Column::WebhookId,
                webhook_delivery::Column::DedupeKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(n)
}

/// The signature header value of `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length, so this never fails; an empty
    // signature (which every receiver refuses) beats a panic all the same.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The wait before attempt `attempts + 1`, after `attempts` failures.
pub fn backoff(cfg: &WebhookConfig, attempts: i32) -> StdDuration {
    let exp = attempts.clamp(1, 30) as u32 - 1;
    let ms = cfg
        .retry_base_ms
        .saturating_mul(1u64 << exp.min(40))
        .min(cfg.retry_max_ms);
    // Up to a fifth more, so endpoints that failed together do not retry together.
    let jitter = if ms >= 5 { rand::random_range(0..=ms / 5) } else { 0 };
    StdDuration::from_millis(ms + jitter)
}

/// Resolves names for the webhook client, refusing private addresses, so a
/// name that points (or is re-pointed) inside the network is never reached.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| webhook_target::is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves only to private addresses").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client of the worker: no redirects (a redirect could lead
/// anywhere), a per-request timeout, private targets refused unless allowed.
pub fn client(cfg: &WebhookConfig) -> AppResult<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(StdDuration::from_millis(cfg.timeout_ms))
        .user_agent(concat!("sfa-webhooks/", env!("CARGO_PKG_VERSION")));
    if !cfg.allow_private_targets {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    b.build()
        .map_err(|e| AppError::Internal(format!("webhook client: {e}")))
}

/// Claims due deliveries: pending, due, unclaimed, the webhook live and
/// active, and no older pending delivery with the same webhook and key.
async fn claim(db: &DatabaseConnection, cfg: &WebhookConfig) -> AppResult<Vec<webhook_delivery::Model>> {
    let t = now();
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT d.* FROM webhook_delivery d
         WHERE d.status = $1 AND d.next_attempt_at <= $2
           AND (d.locked_until IS NULL OR d.locked_until < $2)
           AND EXISTS (SELECT 1 FROM webhook w WHERE w.id = d.webhook_id AND w.active = $3 AND w.deleted_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM webhook_delivery e
                           WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key
                             AND e.status = $1 AND e.id < d.id)
         ORDER BY d.next_attempt_at, d.id
         LIMIT {BATCH}"
    );
    let due = webhook_delivery::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            backend,
            sql,
            [WebhookDeliveryStatus::Pending.as_str().into(), t.into(), true.into()],
        ))
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(due);
    }
    // The claim itself: only rows still unclaimed, so two replicas that saw
    // the same row cannot both send it.
    let lease = t + Duration::milliseconds((cfg.timeout_ms + LEASE_MARGIN_MS) as i64);
    let claimed = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::LockedUntil, Expr::value(lease))
        .filter(webhook_delivery::Column::Id.is_in(due.iter().map(|d| d.id)))
        .filter(webhook_delivery::Column::Status.eq(WebhookDeliveryStatus::Pending))
        .filter(
            Condition::any()
                .add(webhook_delivery::Column::LockedUntil.is_null())
                .add(webhook_delivery::Column::LockedUntil.lt(t)),
        )
        .exec_with_returning(db)
        .await?;
    Ok(claimed)
}

/// The outcome of one attempt.
enum Outcome {
    Delivered(u16),
    Failed(Option<u16>, String),
}

async fn post(
    client: &reqwest::Client,
    cfg: &WebhookConfig,
    hook: &webhook::Model,
    d: &webhook_delivery::Model,
) -> Outcome {
    let url = match reqwest::Url::parse(&hook.url) {
        Ok(u) => u,
        Err(e) => return Outcome::Failed(None, format!("invalid URL: {e}")),
    };
    // Literal addresses skip the resolver; check them here, and names
    // again (a webhook saved while private targets were allowed).
    if !cfg.allow_private_targets
        && let Some(why) = webhook_target::refusal(&url)
    {
        return Outcome::Failed(None, why);
    }
    let ts = Utc::now().timestamp();
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-sfa-event", d.event_kind.as_str().to_uppercase())
        .header("x-sfa-event-id", d.event_id.to_string())
        .header("x-sfa-delivery", d.id.to_string())
        .header("x-sfa-timestamp", ts.to_string())
        .header("x-sfa-signature", signature(&hook.secret, ts, &d.payload))
        .body(d.payload.clone())
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => Outcome::Delivered(r.status().as_u16()),
        Ok(r) => Outcome::Failed(
            Some(r.status().as_u16()),
            format!("the endpoint answered HTTP {}", r.status()),
        ),
        Err(e) if e.is_timeout() => Outcome::Failed(None, format!("no answer within {} ms", cfg.timeout_ms)),
        Err(e) => Outcome::Failed(None, describe(&e)),
    }
}

/// A transport error as one readable line (the chain of causes).
fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg.chars().take(500).collect()
}

async fn record(
    db: &DatabaseConnection,
    cfg: &WebhookConfig,
    d: webhook_delivery::Model,
    outcome: Outcome,
) -> AppResult<()> {
    let t = now();
    let attempts = d.attempts + 1;
    let mut am = d.into_active_model();
    am.attempts = Set(attempts);
    am.last_attempt_at = Set(Some(t));
    am.locked_until = Set(None);
    match outcome {
        Outcome::Delivered(code) => {
            am.status = Set(WebhookDeliveryStatus::Delivered);
            am.response_status = Set(Some(code.into()));
            am.last_error = Set(None);
            am.delivered_at = Set(Some(t));
        }
        Outcome::Failed(code, error) => {
            am.response_status = Set(code.map(i32::from));
            am.last_error = Set(Some(error.chars().take(500).collect()));
            if attempts >= cfg.max_attempts {
                am.status = Set(WebhookDeliveryStatus::Failed);
            } else {
                let wait = Duration::from_std(backoff(cfg, attempts)).unwrap_or(Duration::hours(1));
                am.next_attempt_at = Set(t + wait);
            }
        }
    }
    am.update(db).await?;
    Ok(())
}

/// One worker round: claims what is due and sends it; returns how many
/// attempts were made.
pub async fn run_once(db: &DatabaseConnection, cfg: &WebhookConfig, client: &reqwest::Client) -> AppResult<usize> {
    let claimed = claim(db, cfg).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let mut ids: Vec<Uuid> = claimed.iter().map(|d| d.webhook_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let hooks: Vec<webhook::Model> = webhook::Entity::find()
        .filter(webhook::Column::Id.is_in(ids))
        .order_by_asc(webhook::Column::Id)
        .all(db)
        .await?;
    let n = claimed.len();
    futures_util::stream::iter(claimed)
        .for_each_concurrent(cfg.concurrency.max(1), |d| {
            let hook = hooks.iter().find(|h| h.id == d.webhook_id);
            async move {
                let outcome = match hook {
                    Some(h) => post(client, cfg, h, &d).await,
                    None => Outcome::Failed(None, "the webhook no longer exists".into()),
                };
                if let Err(e) = record(db, cfg, d, outcome).await {
                    // The lease runs out and the delivery is tried again.
                    tracing::warn!(error = ?e, "could not record a webhook attempt");
                }
            }
        })
        .await;
    Ok(n)
}

/// Runs the delivery worker every `poll_ms` until the process ends.
pub fn spawn_worker(db: DatabaseConnection, cfg: WebhookConfig) -> AppResult<()> {
    let client = client(&cfg)?;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(StdDuration::from_millis(cfg.poll_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // A full batch means more may be waiting: go on at once.
            loop {
                match run_once(&db, &cfg, &client).await {
                    Ok(n) if n as u64 >= BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = ?e, "webhook worker round failed; retrying next round");
                        break;
                    }
                }
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Python: hmac.new(b"whsec_test", b'1700000000.{"text":"hi"}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature("whsec_test", 1_700_000_000, r#"{"text":"hi"}"#),
            "sha256=add2fc7010ee7aa23f65449ce9240cd32763de7515ca26c43cd1e9d447a5361a"
        );
        assert_ne!(signature("a", 1, "x"), signature("a", 2, "x"));
        assert_ne!(signature("a", 1, "x"), signature("b", 1, "x"));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let cfg = WebhookConfig {
            retry_base_ms: 1000,
            retry_max_ms: 10_000,
            ..WebhookConfig::default()
        };
        let ms = |n| backoff(&cfg, n).as_millis() as u64;
        assert!((1000..=1200).contains(&ms(1)));
        assert!((2000..=2400).contains(&ms(2)));
        assert!((4000..=4800).contains(&ms(3)));
        assert!((10_000..=12_000).contains(&ms(20)));
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://hooks.example.com/services/T0/B0/x", false).is_ok());
        assert!(check_url("ftp://example.com", false).is_err());
        assert!(check_url("not a url", false).is_err());
        assert!(check_url("https://user:pw@example.com/", false).is_err());
        assert!(check_url("http://0x0a.0.0.1/", false).is_err());
        assert_eq!(check_url("http://0x0a.0.0.1/", true).unwrap(), "http://10.0.0.1/");
    }
}
