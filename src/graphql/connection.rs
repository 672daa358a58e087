//! Turning [`Page`]s into Relay connections, and the helpers every list
//! field shares.

use std::sync::Arc;

use async_graphql::{
    Context, OutputType, SimpleObject,
    connection::{Connection, Edge},
};
use sea_orm::FromQueryResult;
use uuid::Uuid;

use super::{
    context::{config, loader},
    loader::{ChildPage, ChildSpec},
};
use crate::pagination::{ChildQuery, Page, PageArgs, Scoped};

/// Fields every connection carries besides edges and `pageInfo`.
#[derive(SimpleObject)]
pub struct Counted {
    /// Number of items in the whole list (all pages), with the same filter.
    pub total_count: i64,
}

/// A Relay connection of `N` with `totalCount`.
pub type Conn<N> = Connection<String, N, Counted>;

/// Converts a page, wrapping each row into its GraphQL type.
pub fn to_connection<M, N: OutputType>(page: &Page<M>, wrap: impl Fn(M) -> N) -> Conn<N>
where
    M: Clone,
{
    let mut conn = Conn::with_additional_fields(
        page.has_prev,
        page.has_next,
        Counted {
            total_count: page.total.unwrap_or(0),
        },
    );
    conn.edges.extend(
        page.edges
            .iter()
            .map(|(cursor, m)| Edge::new(cursor.clone(), wrap(m.clone()))),
    );
    conn
}

/// Whether the query selects `totalCount` on this connection.
pub fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// Resolves a nested connection through the loader, batched across parents.
pub async fn child_connection<E, N: OutputType>(
    ctx: &Context<'_>,
    ident: String,
    parent: Uuid,
    query: ChildQuery<E>,
    args: PageArgs,
    wrap: impl Fn(E::Model) -> N,
) -> async_graphql::Result<Conn<N>>
where
    E: Scoped + crate::service::access::Guarded + Send + Sync + 'static,
    E::Model: FromQueryResult + Sync + Send + Clone,
    E::Column: Send + Sync,
{
    let page = args.resolve(&config(ctx)?.graphql)?;
    // The caller's read rule applies to nested lists as to top-level ones.
    let mut query = query;
    query.filter = crate::service::access::with_readable::<E>(super::context::actor(ctx)?, query.filter);
    let spec = Arc::new(ChildSpec {
        ident,
        query,
        page,
        with_total: wants_total(ctx),
    });
    let page = loader(ctx)?
        .load_one(ChildPage { parent, spec })
        .await?
        .unwrap_or_else(|| {
            Arc::new(Page {
                edges: vec![],
                has_next: false,
                has_prev: false,
                total: Some(0),
            })
        });
    Ok(to_connection(&page, wrap))
}

/// Builds [`PageArgs`] from the four Relay arguments.
pub fn page_args(after: Option<String>, before: Option<String>, first: Option<i32>, last: Option<i32>) -> PageArgs {
    PageArgs {
        after,
        before,
        first,
        last,
    }
}

/// Parses an `ID` argument as a UUID. A malformed id is the caller's
/// mistake (BAD_USER_INPUT); a well-formed unknown one is NOT_FOUND later.
pub fn parse_id(id: &async_graphql::ID, what: &'static str) -> Result<Uuid, crate::error::AppError> {
    Uuid::parse_str(id.as_str())
        .map_err(|_| crate::error::AppError::bad(format!("{:?} is not a valid {what} id", id.as_str())))
}

/// Sort direction of a list.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

impl OrderDirection {
    /// True for `DESC`.
    pub fn desc(self) -> bool {
        self == Self::Desc
    }
}

/// Converts a GraphQL "maybe undefined" into a service patch, checking the value.
pub fn patch<T, U>(
    value: async_graphql::MaybeUndefined<T>,
    f: impl FnOnce(T) -> Result<U, crate::error::AppError>,
) -> Result<Option<Option<U>>, crate::error::AppError> {
    use async_graphql::MaybeUndefined::*;
    match value {
        Undefined => Ok(None),
        Null => Ok(Some(None)),
        Value(v) => Ok(Some(Some(f(v)?))),
    }
}

/// Parses an optional `ID`.
pub fn parse_opt_id(
    id: Option<&async_graphql::ID>,
    what: &'static str,
) -> Result<Option<Uuid>, crate::error::AppError> {
    id.map(|id| parse_id(id, what)).transpose()
}

/// Complexity of a connection field: its page size times the cost of one
/// item, so `first: 100` costs ten times `first: 10`.
pub fn connection_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let page = first.or(last).unwrap_or(20).clamp(1, 1000) as usize;
    page.saturating_mul(child_complexity.max(1))
}
