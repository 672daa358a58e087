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
        })
    }
}
