//! Live events: what subscriptions hear.
//!
//! A write queues its events on the actor's [`Outbox`] inside its
//! transaction; once the transaction commits they go out. On SQLite (one
//! process) they go straight to the in-process [`Bus`]. On PostgreSQL they
//! go through `NOTIFY`, which every server process LISTENs to and forwards
//! to its own bus, so a subscriber on one replica hears a write made on
//! another without any extra infrastructure. A rolled-back write sends
//! nothing. Events are small (what changed, not how): a subscriber loads
//! the record under its own read rules.

use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A notification landed in `member`'s inbox; `id` is the notification.
    Notification,
    /// A deal, its members or its quality changed; `id` is the deal.
    Deal,
    /// An activity was recorded or changed; `id` is the activity, `member` whose it is.
    Activity,
    /// The company published a version of its process; `id` is the
    /// `process_version` row. Every replica compiles it ahead of requests.
    Process,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The company: nothing crosses to another.
    #[serde(rename = "c")]
    pub company_id: Uuid,
    /// What it is about.
    #[serde(rename = "k")]
    pub kind: EventKind,
    /// The record.
    #[serde(rename = "i")]
    pub id: Uuid,
    /// The member concerned (recipient, activity owner).
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Uuid>,
}

/// An event as subscribers receive it, with a slot for what the first of
/// them loads about it (a deal and who may read it), so a thousand
/// subscribers to one deal cost one lookup per event, not a thousand.
#[derive(Debug)]
pub struct Published {
    /// The event.
    pub event: Event,
    /// Loaded once, by the first subscriber that needs it.
    pub shared: tokio::sync::OnceCell<Arc<dyn std::any::Any + Send + Sync>>,
}

impl From<Event> for Published {
    fn from(event: Event) -> Self {
        Self {
            event,
            shared: tokio::sync::OnceCell::new(),
        }
    }
}

impl std::ops::Deref for Published {
    type Target = Event;
    fn deref(&self) -> &Event {
        &self.event
    }
}

/// The events a request's writes queued, sent once its transaction commits.
/// Clones share the queue.
#[derive(Debug, Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<Event>>>);

impl Outbox {
    /// Queues an event (an identical one already queued is not repeated).
    pub fn push(&self, event: Event) {
        let mut queue = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !queue.contains(&event) {
            queue.push(event);
        }
    }

    /// Takes every queued event.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Events per NOTIFY: well under PostgreSQL's 8,000-byte payload limit.
const PER_NOTIFY: usize = 40;

/// How many events a slow subscriber may fall behind before it skips ahead.
const BUFFER: usize = 4096;

/// The process's event bus.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Arc<Published>>,
    /// The NOTIFY channel, on PostgreSQL.
    channel: Option<String>,
}

impl Bus {
    /// A bus for this process only (SQLite, tests).
    pub fn local() -> Self {
        Self {
            tx: broadcast::channel(BUFFER).0,
            channel: None,
        }
    }

    /// The bus for `db`: on PostgreSQL it also listens to the channel every
    /// replica on the same database and schema notifies.
    pub async fn start(db: &DatabaseConnection) -> Result<Self, sea_orm::DbErr> {
        let mut bus = Self::local();
        if db.get_database_backend() == DbBackend::Postgres {
            // One channel per schema: deployments (and tests) sharing a
            // database in separate schemas do not hear each other.
            let row = db
                .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT current_schema()"))
                .await?;
            let schema: String = row.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or_default();
            let channel: String = format!("sfa_events_{schema}").chars().take(63).collect();
            listen(
                db.get_postgres_connection_pool().clone(),
                channel.clone(),
                bus.tx.clone(),
            );
            bus.channel = Some(channel);
        }
        Ok(bus)
    }

    /// A new subscriber, hearing every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    /// Sends committed events. A failure is logged, never returned: the write
    /// it reports on has committed already.
    pub async fn publish(&self, db: &DatabaseConnection, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let Some(channel) = &self.channel else {
            for event in events {
                // No subscriber is not an error.
                let _ = self.tx.send(Arc::new(event.into()));
            }
            return;
        };
        for chunk in events.chunks(PER_NOTIFY) {
            let payload = match serde_json::to_string(chunk) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "events: cannot encode");
                    return;
                }
            };
            let notify = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [channel.clone().into(), payload.into()],
            );
            if let Err(e) = db.execute_raw(notify).await {
                tracing::warn!(error = %e, "events: NOTIFY failed; live subscribers miss these events");
            }
        }
    }
}

/// Forwards the channel's notifications to the bus, reconnecting after a
/// lost connection (events sent meanwhile are missed: subscriptions are
/// live views, and clients refetch when they reconnect).
fn listen(pool: sea_orm::sqlx::PgPool, channel: String, tx: broadcast::Sender<Arc<Published>>) {
    use sea_orm::sqlx::postgres::PgListener;
    tokio::spawn(async move {
        loop {
            if pool.is_closed() {
                return;
            }
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "events: cannot connect the listener; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(&channel).await {
                tracing::warn!(error = %e, "events: LISTEN failed; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            loop {
                match listener.recv().await {
                    Ok(n) => match serde_json::from_str::<Vec<Event>>(n.payload()) {
                        Ok(events) => {
                            for event in events {
                                let _ = tx.send(Arc::new(event.into()));
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "events: unreadable notification ignored"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "events: listener lost its connection; reconnecting");
                        break;
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
}
