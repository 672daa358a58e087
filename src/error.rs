//! One error type for the whole server. Every variant maps to a stable
//! `extensions.code`; database and internal failures are logged in full and
//! reach the client only as a generic message.

use sea_orm::{DbErr, SqlErr};

/// Result alias used by services.
pub type AppResult<T> = Result<T, AppError>;

/// Everything that can go wrong while serving a request.
///
/// Deliberately not `Display`: async-graphql converts any `Display` error
/// into a code-less GraphQL error, and `?` would silently pick that path.
#[derive(Debug)]
pub enum AppError {
    /// The caller sent something invalid; the message says what.
    BadInput(String),
    /// The record does not exist in the caller's company (or was deleted).
    NotFound(&'static str),
    /// No valid credentials.
    Unauthenticated(String),
    /// Authenticated, but not allowed.
    Forbidden(String),
    /// The record changed since the caller read it, or a unique value is taken.
    Conflict(String),
    /// A limit was hit (query depth, login attempts…); the code names it.
    Limited(&'static str, String),
    /// A database failure the caller cannot fix.
    Db(DbErr),
    /// Any other failure the caller cannot fix.
    Internal(String),
}

impl AppError {
    /// The stable `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput(_) => "BAD_USER_INPUT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Conflict(_) => "CONFLICT",
            Self::Limited(code, _) => code,
            Self::Db(e) if is_unique_violation(e) || is_transient(e) => "CONFLICT",
            Self::Db(e) if is_unavailable(e) || storage_failure(e).is_some() => "UNAVAILABLE",
            Self::Db(_) | Self::Internal(_) => "INTERNAL",
        }
    }

    /// The full message, for logs.
    pub fn message(&self) -> String {
        match self {
            Self::BadInput(m)
            | Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::Conflict(m)
            | Self::Limited(_, m) => m.clone(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::Db(e) => format!("database error: {e}"),
            Self::Internal(m) => format!("internal error: {m}"),
        }
    }

    /// The message shown to the client: never database text.
    pub fn public_message(&self) -> String {
        match self {
            Self::Db(e) if is_unique_violation(e) => "a record with the same unique value already exists".into(),
            Self::Db(e) if is_transient(e) => "the change collided with a concurrent one; send it again".into(),
            Self::Db(e) if storage_failure(e) == Some("DISK_FULL") => {
                "the server's disk is full, so nothing was written; try again once space has been freed".into()
            }
            Self::Db(e) if storage_failure(e).is_some() => {
                "the server could not write to its storage, so nothing was written; try again shortly".into()
            }
            Self::Db(e) if is_unavailable(e) => "the database is busy or unreachable; try again shortly".into(),
            Self::Db(_) | Self::Internal(_) => "internal error; it has been logged".into(),
            other => other.message(),
        }
    }

    /// A PostgreSQL deadlock (40P01) or serialization failure (40001): the
    /// transaction was rolled back and the same transaction again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Db(e) if is_transient(e))
    }

    /// The database is down or unreachable (a broken connection, the server
    /// shutting down or refusing connections), as opposed to merely busy.
    pub fn is_db_down(&self) -> bool {
        matches!(self, Self::Db(e) if is_down(e))
    }

    /// Why an UNAVAILABLE error happened, for `extensions.reason`:
    /// `DATABASE_DOWN` (retrying at once is pointless), `DISK_FULL` (the
    /// database's disk has no space left) or `STORAGE_ERROR` (its storage
    /// failed to read or write); `None` for a database that is merely busy.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Self::Db(e) if is_down(e) => Some("DATABASE_DOWN"),
            Self::Db(e) => storage_failure(e),
            _ => None,
        }
    }

    /// Shorthand for [`AppError::BadInput`].
    pub fn bad(msg: impl Into<String>) -> Self {
        Self::BadInput(msg.into())
    }
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn is_transient(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            Error::Database(d) => matches!(d.code().as_deref(), Some("40001" | "40P01")),
            _ => false,
        },
        _ => false,
    }
}

/// No connection to be had: the pool stayed exhausted for its whole wait,
/// or the database cannot be reached. The request did nothing; a retry may work.
fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            Error::PoolTimedOut | Error::PoolClosed | Error::Io(_) => true,
            Error::Database(d) => {
                let sqlite = d.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some();
                d.code().is_some_and(|c| unavailable_code(sqlite, &c))
            }
            _ => false,
        },
        _ => false,
    }
}

/// The database could not write: `DISK_FULL` for SQLITE_FULL and
/// PostgreSQL's 53100 (disk_full), `STORAGE_ERROR` for SQLITE_IOERR (any
/// extended code) and PostgreSQL's 58030 (io_error). Nothing of the failed
/// transaction was kept; the same write may succeed once space is back.
fn storage_failure(e: &DbErr) -> Option<&'static str> {
    use sea_orm::{RuntimeErr, sqlx::Error};
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = e else {
        return None;
    };
    let Error::Database(d) = &**e else {
        return None;
    };
    let code = d.code()?;
    if d.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() {
        match code.parse::<u32>().ok()? & 0xff {
            13 => Some("DISK_FULL"),
            10 => Some("STORAGE_ERROR"),
            _ => None,
        }
    } else {
        match code.as_ref() {
            "53100" => Some("DISK_FULL"),
            "58030" => Some("STORAGE_ERROR"),
            _ => None,
        }
    }
}

/// A broken or refused connection, or PostgreSQL going away (see
/// [`unavailable_code`]); not a pool that is merely exhausted.
fn is_down(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    match e {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            Error::PoolClosed | Error::Io(_) => true,
            Error::Database(d) => {
                d.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_none()
                    && d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
            }
            _ => false,
        },
        _ => false,
    }
}

/// SQLite: the file stayed locked by another writer past the busy timeout
/// (SQLITE_BUSY, SQLITE_LOCKED and their extended codes). PostgreSQL: the
/// connection broke (class 08), the server is shutting down or starting
/// (57P01–57P03), or it has no connection slot left (53300).
fn unavailable_code(sqlite: bool, code: &str) -> bool {
    if sqlite {
        return code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
    }
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        Self::Db(e)
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        use async_graphql::ErrorExtensions;
        if matches!(err.code(), "INTERNAL" | "UNAVAILABLE") {
            tracing::error!(error = %err.message(), "request failed");
        }
        let reason = err.reason();
        async_graphql::Error::new(err.public_message()).extend_with(|_, ext| {
            ext.set("code", err.code());
            if let Some(reason) = reason {
                // DATABASE_DOWN tells clients (and the server's own circuit
                // breaker) that retrying at once is pointless.
                ext.set("reason", reason);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnAcquireErr, DbErr};

    use super::AppError;

    #[test]
    fn an_exhausted_pool_is_unavailable_not_internal() {
        let err = AppError::Db(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert_eq!(err.code(), "UNAVAILABLE");
        assert_eq!(
            err.public_message(),
            "the database is busy or unreachable; try again shortly"
        );
        assert!(super::unavailable_code(true, "5") && super::unavailable_code(true, "517"));
        assert!(super::unavailable_code(false, "57P01") && super::unavailable_code(false, "08006"));
        assert!(!super::unavailable_code(true, "19") && !super::unavailable_code(false, "23505"));
        assert!(!err.is_db_down(), "an exhausted pool is busy, not down");
        let down = AppError::Db(DbErr::Conn(sea_orm::RuntimeErr::Internal("refused".into())));
        assert!(down.is_db_down() && down.code() == "UNAVAILABLE");
        let other = AppError::Db(DbErr::Custom("syntax error at or near SELECT".into()));
        assert_eq!(other.code(), "INTERNAL");
        assert!(!other.public_message().contains("SELECT"));
    }
}
