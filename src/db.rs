//! Database connection: SQLite tuned for durability (WAL, `synchronous=FULL`,
//! foreign keys, busy timeout) or PostgreSQL, and migrations at start-up.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

/// Opens a pool on `url` (creating the SQLite file and its folder if needed).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, |_| {}).await
}

/// Like [`connect`], letting the caller adjust the options (tests hook a statement counter this way).
pub async fn connect_with(url: &str, adjust: impl FnOnce(&mut ConnectOptions)) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        // A ping before every checkout doubles the round trips of a request;
        // only a connection idle long enough to have been dropped by the
        // server or a proxy is checked first.
        .test_before_acquire_if_idle_for(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .create_if_missing(true)
        })
        // A runaway statement is cut off instead of holding a connection
        // forever. JIT is off: the heaviest statements here are sub-second
        // aggregates, where compiling (50–100 ms at benchmark size L) costs
        // more than it saves.
        .map_sqlx_postgres_opts(|o| o.options([("statement_timeout", "30s"), ("jit", "off")]));
    if url.starts_with("sqlite") {
        // One writer at a time anyway; a small pool keeps readers concurrent.
        opts.max_connections(8).min_connections(1);
    } else {
        opts.max_connections(20);
    }
    adjust(&mut opts);
    Database::connect(opts).await
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Brings the schema to the latest migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Starts a write transaction. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so a transaction that reads before writing waits for
/// the lock instead of failing with SQLITE_BUSY halfway.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
    } else {
        db.begin().await
    }
}

/// How many times a write transaction that PostgreSQL aborted as a deadlock
/// (40P01) or serialization failure (40001) is run again before the caller
/// gets the error (as CONFLICT).
pub const WRITE_RETRIES: u32 = 4;

/// The pause before running a failed write transaction again, or `None` when
/// `err` is not worth a retry or `attempt` retries were made already. The
/// pause doubles each time (5, 10, 20, 40 ms) with jitter, so that the
/// transactions that collided do not collide again in step.
pub fn retry_pause(err: &crate::error::AppError, attempt: u32) -> Option<Duration> {
    if !err.is_transient() || attempt >= WRITE_RETRIES {
        return None;
    }
    let base = 5u64 << attempt;
    Some(Duration::from_millis(base + rand::random_range(0..=base)))
}
