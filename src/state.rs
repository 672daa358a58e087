//! Shared state of a running server.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    auth::TokenKeys,
    config::Config,
    graphql::AppSchema,
    plugins::{Plugins, ScriptLimits},
};

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
    /// Every company's compiled plugin set.
    pub plugins: Arc<Plugins>,
    /// Live events for subscriptions (across replicas on PostgreSQL).
    pub bus: crate::events::Bus,
    /// Counters served at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Tells the WebSocket connections the server is stopping.
    pub shutdown: Shutdown,
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
        let plugins = Arc::new(Plugins::load(&config.plugins_dir, ScriptLimits::default())?);
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
        Ok(Self {
            db,
            config,
            keys,
            schema,
            plugins,
            bus,
            metrics,
            shutdown: Shutdown::default(),
        })
    }
}
