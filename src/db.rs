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
        .map_sqlx_postgres_opts(|o| o.options([("statement_timeout", "30s"), ("jit", "off")]))
        .map_sqlx_sqlite_pool_opts(|o| o.after_release(|conn, _| ended_cleanly(conn)))
        .map_sqlx_postgres_pool_opts(|o| o.after_release(|conn, _| ended_cleanly(conn)));
    if url.starts_with("sqlite") {
        // One writer at a time anyway; a small pool keeps readers concurrent.
        opts.max_connections(8).min_connections(1);
    } else {
        opts.max_connections(20);
    }
    adjust(&mut opts);
    Database::connect(opts).await
}

/// Whether a connection coming back to the pool may serve another request:
/// only when no transaction is left open on it. A dropped transaction queues
/// its ROLLBACK, and a ping runs the queue; if the transaction is still open
/// after that, the ROLLBACK failed and the connection is closed instead.
///
/// This is what keeps a full disk from losing acknowledged writes. On
/// SQLITE_FULL (and SQLITE_IOERR, SQLITE_NOMEM) SQLite rolls the whole
/// transaction back by itself, so the driver's ROLLBACK then fails with "no
/// transaction is active" and the driver still counts the transaction as
/// open. Returned to the pool, the connection would turn every later `BEGIN`
/// into a `SAVEPOINT`; after the first of those that fails, its `ROLLBACK
/// TO` leaves a real transaction open, every later "commit" only releases a
/// savepoint inside it (acknowledged, never written), the connection holds
/// the write lock (every other writer: "database is locked"), and it all
/// rolls back when the connection closes.
fn ended_cleanly<C: sea_orm::sqlx::Connection>(
    conn: &mut C,
) -> futures_util::future::BoxFuture<'_, Result<bool, sea_orm::sqlx::Error>> {
    Box::pin(async move {
        if conn.is_in_transaction() {
            conn.ping().await?;
        }
        let clean = !conn.is_in_transaction();
        if !clean {
            tracing::warn!("closing a database connection whose transaction did not end cleanly");
        }
        Ok(clean)
    })
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

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

    async fn count(db: &impl ConnectionTrait) -> i64 {
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT COUNT(*) FROM t"))
            .await
            .expect("count")
            .expect("row");
        row.try_get_by_index(0).expect("n")
    }

    /// The sequence that lost acknowledged writes on a full disk, on a pool
    /// of one connection: a transaction SQLite rolls back by itself
    /// (SQLITE_FULL), then one the server abandons, then one that commits.
    /// The last one must really be committed: another connection sees it.
    #[tokio::test]
    async fn a_transaction_after_a_full_disk_commits_for_real() {
        let path = std::env::temp_dir().join(format!("sfa-db-{}.db", uuid::Uuid::now_v7().simple()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = super::connect_with(&url, |o| {
            o.max_connections(1).min_connections(1);
        })
        .await
        .expect("pool");
        db.execute_unprepared("CREATE TABLE t (x TEXT)").await.expect("table");
        let pages: i64 = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA page_count"))
            .await
            .expect("pages")
            .expect("row")
            .try_get_by_index(0)
            .expect("n");
        db.execute_unprepared(&format!("PRAGMA max_page_count = {pages}"))
            .await
            .expect("limit");

        // 1. The disk is full: SQLite answers SQLITE_FULL and rolls back itself.
        let txn = super::begin_write(&db).await.expect("begin");
        let big = "x".repeat(64 * 1024);
        let full = txn
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO t VALUES (?)",
                [big.into()],
            ))
            .await;
        let err = crate::error::AppError::from(full.expect_err("the disk is full"));
        assert_eq!((err.code(), err.reason()), ("UNAVAILABLE", Some("DISK_FULL")));
        let _ = txn.rollback().await;
        db.execute_unprepared("PRAGMA max_page_count = 1073741823")
            .await
            .expect("space is back");

        // 2. A transaction that reads and is then abandoned (a stale version, say).
        let txn = super::begin_write(&db).await.expect("begin");
        count(&txn).await;
        drop(txn);

        // 3. One that writes and commits.
        let txn = super::begin_write(&db).await.expect("begin");
        txn.execute_unprepared("INSERT INTO t VALUES ('kept')")
            .await
            .expect("insert");
        txn.commit().await.expect("commit");

        let other = super::connect(&url).await.expect("second pool");
        assert_eq!(count(&other).await, 1, "the acknowledged row is committed");
        db.begin()
            .await
            .expect("and the pool still writes")
            .commit()
            .await
            .expect("commit");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
