//! What resolvers take from the request: the caller, the database, the loader.

use async_graphql::{Context, dataloader::DataLoader};
use sea_orm::DatabaseConnection;

use super::loader::AppLoader;
use crate::{config::Config, error::AppError, service::Actor};

/// The caller, or UNAUTHENTICATED.
pub fn actor<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Actor> {
    ctx.data_opt::<Actor>().ok_or_else(|| {
        AppError::Unauthenticated("sign in first: send `Authorization: Bearer <token>` from `login`".into()).into()
    })
}

/// The caller, who must be allowed to write (read-only API keys are not).
pub fn writer<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Actor> {
    let actor = actor(ctx)?;
    if !actor.can_write() {
        return Err(AppError::Forbidden("this API key is read-only".into()).into());
    }
    Ok(actor)
}

/// Who is asking, as the listener saw them (address, `User-Agent`).
pub fn client(ctx: &Context<'_>) -> crate::service::auth::Client {
    ctx.data_opt::<crate::service::auth::Client>()
        .cloned()
        .unwrap_or_default()
}

/// The database pool.
pub fn db<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

/// The server configuration.
pub fn config<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Config> {
    ctx.data::<std::sync::Arc<Config>>().map(|c| c.as_ref())
}

/// The request's loader (present whenever a caller is).
pub fn loader<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a DataLoader<AppLoader>> {
    actor(ctx)?;
    ctx.data::<DataLoader<AppLoader>>()
}

/// Runs `$body` (a future using the transaction `$txn`) in one write
/// transaction: committed when it succeeds, rolled back when it fails, so a
/// failed mutation writes nothing. A transaction PostgreSQL aborted as a
/// deadlock or serialization failure is run again from the start, a bounded
/// number of times (see [`crate::db::retry_pause`]); `$body` must therefore be
/// repeatable (it borrows or clones what it uses).
#[macro_export]
macro_rules! in_txn {
    ($ctx:expr, |$txn:ident| $body:expr) => {{
        let pool = $crate::graphql::context::db($ctx)?;
        let mut attempt = 0u32;
        loop {
            let $txn = $crate::db::begin_write(pool)
                .await
                .map_err($crate::error::AppError::from)?;
            let result = $body.await;
            let failed = match result {
                Ok(out) => match $txn.commit().await {
                    Ok(()) => {
                        $crate::graphql::context::publish_events($ctx).await;
                        break out;
                    }
                    Err(e) => $crate::error::AppError::from(e),
                },
                Err(e) => {
                    // Rolled back now, not when the connection goes back to
                    // the pool: PostgreSQL keeps an aborted transaction's
                    // locks until then, and a retry must not wait behind them.
                    if let Err(rollback) = $txn.rollback().await {
                        tracing::warn!(error = %rollback, "rollback failed; the connection will be closed");
                    }
                    e
                }
            };
            // Nothing was written, so nothing happened to tell anyone.
            $crate::graphql::context::discard_events($ctx);
            match $crate::db::retry_pause(&failed, attempt) {
                Some(pause) => {
                    attempt += 1;
                    tokio::time::sleep(pause).await;
                }
                None => return Err(failed.into()),
            }
        }
    }};
}

/// Sends the live events the request's committed writes queued.
pub async fn publish_events(ctx: &Context<'_>) {
    if let (Ok(actor), Some(bus), Ok(db)) = (actor(ctx), ctx.data_opt::<crate::events::Bus>(), db(ctx)) {
        bus.publish(db, actor.outbox.take()).await;
    }
}

/// Drops the events of a write that rolled back.
pub fn discard_events(ctx: &Context<'_>) {
    if let Ok(actor) = actor(ctx) {
        actor.outbox.take();
    }
}
