//! Shared state of a running server.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{auth::TokenKeys, config::Config, graphql::AppSchema, plugins::Plugins};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Database pool.
    pub db: DatabaseConnection,
    /// Configuration.
    pub config: Arc<Config>,
    /// Token keys.
    pub keys: TokenKeys,
    /// The GraphQL schema.
    pub schema: AppSchema,
    /// The operator API's schema (served only with `operator_key`).
    pub operator: crate::graphql::operator::OperatorSchema,
    /// Every company's compiled plugin set.
    pub plugins: Arc<Plugins>,
    /// Live events for subscriptions (across replicas on PostgreSQL).
    pub bus: crate::events::Bus,
    /// Counters served at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Tells the WebSocket connections the server is stopping.
    pub shutdown: Shutdown,
    /// Open while the database is known to be down: requests are answered
    /// UNAVAILABLE at once instead of each waiting for a connection.
    pub breaker: Breaker,
}

/// A circuit breaker on the database. A request that finds the database
/// down opens it, and so does the monitor (see [`Breaker::monitor`]) when
/// its ping fails; while open, a probe pings every 200 ms and closes it on
/// the first answer. The pings go over the monitor's own connection when
/// there is one, so that a pool busy with requests never looks like an outage.
#[derive(Clone, Default)]
pub struct Breaker {
    open: Arc<std::sync::atomic::AtomicBool>,
    monitor: Arc<std::sync::OnceLock<DatabaseConnection>>,
    /// When the monitor's last ping was answered.
    last_answer: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// What `/healthz` says about the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbHealth {
    /// The monitor's ping was answered within the last few seconds.
    Reachable,
    /// Known down, or the monitor got no answer lately.
    Unreachable,
    /// No monitor runs (an embedding that did not start one): ask the pool.
    Unknown,
}

impl Breaker {
    /// True while the database is known to be down.
    pub fn is_open(&self) -> bool {
        self.open.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The database's health as the monitor last saw it, over its own
    /// connection: a pool saturated by requests does not make a healthy
    /// replica look dead to its load balancer.
    pub fn health(&self) -> DbHealth {
        if self.is_open() {
            return DbHealth::Unreachable;
        }
        if self.monitor.get().is_none() {
            return DbHealth::Unknown;
        }
        let last = self.last_answer.lock().ok().and_then(|t| *t);
        match last {
            Some(t) if t.elapsed() < std::time::Duration::from_secs(3) => DbHealth::Reachable,
            _ => DbHealth::Unreachable,
        }
    }

    async fn answers(&self, pool: &DatabaseConnection) -> bool {
        let db = self.monitor.get().unwrap_or(pool);
        matches!(
            tokio::time::timeout(std::time::Duration::from_millis(1500), db.ping()).await,
            Ok(Ok(()))
        )
    }

    /// Opens the breaker (once) and starts the probe that will close it.
    pub fn trip(&self, db: &DatabaseConnection) {
        if self.open.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        tracing::warn!("the database is down; answering UNAVAILABLE until it is back");
        let (breaker, db) = (self.clone(), db.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                if breaker.answers(&db).await {
                    breaker.open.store(false, std::sync::atomic::Ordering::Release);
                    tracing::warn!("the database is back");
                    return;
                }
            }
        });
    }

    /// Notes that the database just answered the monitor.
    pub fn answered(&self) {
        if let Ok(mut last) = self.last_answer.lock() {
            *last = Some(std::time::Instant::now());
        }
    }

    /// Pings the database every second over a connection of its own (`monitor`,
    /// a one-connection pool), keeping [`Breaker::health`] fresh, and opens
    /// the breaker when it does not answer, so that an outage is noticed even
    /// before a request runs into it.
    pub fn monitor(&self, monitor: DatabaseConnection, pool: DatabaseConnection) {
        if self.monitor.set(monitor).is_err() {
            return;
        }
        let breaker = self.clone();
        tokio::spawn(async move {
            loop {
                if breaker.answers(&pool).await {
                    breaker.answered();
                } else if !breaker.is_open() {
                    breaker.trip(&pool);
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
    }
}

/// The server's stop signal, and the WebSocket connections still open.
#[derive(Clone)]
pub struct Shutdown {
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
    sockets: Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
            sockets: Arc::default(),
        }
    }
}

impl Shutdown {
    /// Starts the stop: every WebSocket connection closes with 1001 (going away).
    pub fn begin(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once the stop has begun.
    pub async fn stopping(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Counts an open WebSocket connection until the guard drops.
    pub fn socket(&self) -> SocketGuard {
        self.sockets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        SocketGuard(self.sockets.clone())
    }

    /// WebSocket connections still open.
    pub fn open_sockets(&self) -> usize {
        self.sockets.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// One open WebSocket connection (see [`Shutdown::socket`]).
pub struct SocketGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl AppState {
    /// Builds the state on a migrated database: loads or creates the token
    /// secret and compiles every plugin set (a broken one stops start-up with
    /// its file, line and column).
    pub async fn new(db: DatabaseConnection, config: Config) -> crate::error::AppResult<Self> {
        Self::with_metrics(db, config, Default::default()).await
    }

    /// Like [`AppState::new`], with counters the caller already feeds (the
    /// server hooks the statement counter into the pool before this).
    pub async fn with_metrics(
        db: DatabaseConnection,
        config: Config,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> crate::error::AppResult<Self> {
        let secret = crate::auth::load_or_create_secret(&db, config.auth.secret.as_deref()).await?;
        let keys = TokenKeys::new(&secret, config.auth.token_ttl_hours);
        let plugins = Arc::new(Plugins::load(&config.plugins_dir, config.scripts)?);
        tracing::info!(sets = ?plugins.names(), dir = %config.plugins_dir.display(), "plugin sets loaded");
        if config.plugins_poll_ms > 0 {
            let every = std::time::Duration::from_millis(config.plugins_poll_ms);
            crate::plugins::watch::spawn(plugins.clone(), db.clone(), every);
        }
        if config.forecast_snapshot_minutes > 0 {
            let every = std::time::Duration::from_secs(config.forecast_snapshot_minutes * 60);
            crate::service::forecast::spawn(db.clone(), plugins.clone(), every);
        }
        let bus = crate::events::Bus::start(&db).await?;
        crate::service::process::follow(db.clone(), plugins.clone(), &bus);
        if config.task_reminder_minutes > 0 {
            let every = std::time::Duration::from_secs(config.task_reminder_minutes * 60);
            crate::service::notify::spawn_reminders(db.clone(), plugins.clone(), bus.clone(), every);
        }
        if config.webhooks.poll_ms > 0 {
            crate::service::webhook::spawn_worker(db.clone(), config.webhooks.clone())?;
        }
        let config = Arc::new(config);
        let schema =
            crate::graphql::build_schema(db.clone(), config.clone(), keys.clone(), plugins.clone(), bus.clone());
        let operator = crate::graphql::operator::build(db.clone(), plugins.clone());
        Ok(Self {
            db,
            config,
            keys,
            schema,
            operator,
            plugins,
            bus,
            metrics,
            shutdown: Shutdown::default(),
            breaker: Breaker::default(),
        })
    }
}
