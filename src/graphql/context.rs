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
/// failed mutation writes nothing.
#[macro_export]
macro_rules! in_txn {
    ($ctx:expr, |$txn:ident| $body:expr) => {{
        let pool = $crate::graphql::context::db($ctx)?;
        let $txn = $crate::db::begin_write(pool)
            .await
            .map_err($crate::error::AppError::from)?;
        let out = $body.await?;
        $txn.commit().await.map_err($crate::error::AppError::from)?;
        out
    }};
}
