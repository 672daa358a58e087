//! The request's one `DataLoader`: every relation field goes through it.
//!
//! One loader value (scoped to the caller's company) answers three kinds of
//! keys: a row by id ([`ById`]), the small child list of a parent
//! ([`ListOf`]), and one page of a nested connection ([`ChildPage`]). Keys of
//! one kind collected while a level of the query resolves become one
//! statement (two with totals), whatever the number of parents.

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    marker::PhantomData,
    sync::Arc,
};

use async_graphql::dataloader::Loader;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Select,
};
use uuid::Uuid;

use crate::{
    pagination::{ChildQuery, Cursor, Page, PageRequest, Scoped, fetch_child_pages},
    service::{
        Actor,
        access::{self, Guarded},
    },
};

/// Loads rows of the caller's company that the caller may read.
pub struct AppLoader {
    db: DatabaseConnection,
    actor: Arc<Actor>,
    company_id: Uuid,
}

impl AppLoader {
    /// A loader acting for one caller.
    pub fn new(db: DatabaseConnection, actor: Arc<Actor>) -> Self {
        let company_id = actor.company_id;
        Self { db, actor, company_id }
    }
}

type LoadResult<K, V> = Result<HashMap<K, V>, async_graphql::Error>;

/// Key: the row of entity `E` with this id (deleted rows included, so a
/// deal still shows its since-deleted customer).
pub struct ById<E>(pub Uuid, PhantomData<fn() -> E>);

impl<E> ById<E> {
    /// Key for `id`.
    pub fn new(id: Uuid) -> Self {
        Self(id, PhantomData)
    }
}

impl<E> Clone for ById<E> {
    fn clone(&self) -> Self {
        Self::new(self.0)
    }
}
impl<E> PartialEq for ById<E> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<E> Eq for ById<E> {}
impl<E> Hash for ById<E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl<E> Loader<ById<E>> for AppLoader
where
    E: Scoped + Guarded + Send + Sync + 'static,
    E::Model: FromQueryResult + Sync + Send + Clone,
{
    type Value = E::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ById<E>]) -> LoadResult<ById<E>, E::Model> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = access::select::<E>(&self.actor)
            .filter(E::id_col().is_in(ids))
            .all(&self.db)
            .await
            .map_err(crate::error::AppError::from)?;
        Ok(rows.into_iter().map(|m| (ById::new(E::id_of(&m)), m)).collect())
    }
}

/// A small, unpaginated child list: which rows, in which order.
pub trait ListRelation: Send + Sync + 'static {
    /// The child entity.
    type Child: Guarded;
    /// Column of the child holding the parent id.
    fn parent_col() -> <Self::Child as EntityTrait>::Column;
    /// The child's `company_id` column.
    fn company_col() -> <Self::Child as EntityTrait>::Column;
    /// Filter and order of the list.
    fn shape(select: Select<Self::Child>) -> Select<Self::Child>;
}

/// Key: the children of parent `.0` through relation `R`.
pub struct ListOf<R>(pub Uuid, PhantomData<fn() -> R>);

impl<R> ListOf<R> {
    /// Key for the children of `parent`.
    pub fn new(parent: Uuid) -> Self {
        Self(parent, PhantomData)
    }
}
impl<R> Clone for ListOf<R> {
    fn clone(&self) -> Self {
        Self::new(self.0)
    }
}
impl<R> PartialEq for ListOf<R> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<R> Eq for ListOf<R> {}
impl<R> Hash for ListOf<R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl<R: ListRelation> Loader<ListOf<R>> for AppLoader
where
    <R::Child as EntityTrait>::Model: FromQueryResult + Sync + Send + Clone,
{
    type Value = Arc<Vec<<R::Child as EntityTrait>::Model>>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ListOf<R>]) -> LoadResult<ListOf<R>, Self::Value> {
        let parents: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut select = <R::Child as EntityTrait>::find()
            .filter(R::company_col().eq(self.company_id))
            .filter(R::parent_col().is_in(parents));
        if let Some(cond) = R::Child::readable(&self.actor) {
            select = select.filter(cond);
        }
        let rows = R::shape(select)
            .all(&self.db)
            .await
            .map_err(crate::error::AppError::from)?;
        let mut grouped: HashMap<Uuid, Vec<_>> = keys.iter().map(|k| (k.0, Vec::new())).collect();
        for row in rows {
            if let sea_orm::Value::Uuid(Some(parent)) = sea_orm::ModelTrait::get(&row, R::parent_col()) {
                grouped.entry(parent).or_default().push(row);
            }
        }
        Ok(grouped
            .into_iter()
            .map(|(p, rows)| (ListOf::new(p), Arc::new(rows)))
            .collect())
    }
}

/// What a nested connection asks for, shared by all its parents.
pub struct ChildSpec<E: EntityTrait> {
    /// Identity of everything below (relation, filter, sort, page shape):
    /// keys with equal identity are loaded together.
    pub ident: String,
    /// Which children, in which order.
    pub query: ChildQuery<E>,
    /// Page size and direction (the cursor is per key).
    pub page: PageRequest,
    /// Whether `totalCount` was asked for.
    pub with_total: bool,
}

/// Key: one page of a parent's children.
pub struct ChildPage<E: EntityTrait> {
    /// Parent id.
    pub parent: Uuid,
    /// Shared description of the page.
    pub spec: Arc<ChildSpec<E>>,
}

impl<E: EntityTrait> Clone for ChildPage<E> {
    fn clone(&self) -> Self {
        Self {
            parent: self.parent,
            spec: self.spec.clone(),
        }
    }
}
impl<E: EntityTrait> PartialEq for ChildPage<E> {
    fn eq(&self, other: &Self) -> bool {
        self.parent == other.parent && self.spec.ident == other.spec.ident && self.spec.page == other.spec.page
    }
}
impl<E: EntityTrait> Eq for ChildPage<E> {}
impl<E: EntityTrait> Hash for ChildPage<E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
        self.spec.ident.hash(state);
        self.spec.page.hash(state);
    }
}

impl<E> Loader<ChildPage<E>> for AppLoader
where
    E: Scoped + Send + Sync + 'static,
    E::Model: FromQueryResult + Sync + Send + Clone,
    E::Column: Send + Sync,
{
    type Value = Arc<Page<E::Model>>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ChildPage<E>]) -> LoadResult<ChildPage<E>, Self::Value> {
        // Keys differ only by parent and cursor within one group.
        let mut groups: HashMap<(&str, u64, bool, bool), Vec<&ChildPage<E>>> = HashMap::new();
        for key in keys {
            let s = &key.spec;
            groups
                .entry((s.ident.as_str(), s.page.limit, s.page.forward, s.with_total))
                .or_default()
                .push(key);
        }
        let mut out = HashMap::new();
        for group in groups.into_values() {
            let spec = &group[0].spec;
            let parents: Vec<(Uuid, Option<Cursor>)> =
                group.iter().map(|k| (k.parent, k.spec.page.cursor.clone())).collect();
            let pages = fetch_child_pages(
                &self.db,
                self.company_id,
                &spec.query,
                &spec.page,
                &parents,
                spec.with_total,
            )
            .await?;
            for (key, page) in group.into_iter().zip(pages) {
                out.insert(key.clone(), Arc::new(page));
            }
        }
        Ok(out)
    }
}

/// The related row `id` of `E`. Rows point only at rows of their own
/// company, so a missing one is a row the caller may not read: FORBIDDEN,
/// never a silent null that would hide that it exists.
pub async fn related<E>(ctx: &async_graphql::Context<'_>, id: Uuid) -> async_graphql::Result<E::Model>
where
    E: Scoped + Guarded + Send + Sync + 'static,
    E::Model: FromQueryResult + Sync + Send + Clone,
{
    let found = super::context::loader(ctx)?.load_one(ById::<E>::new(id)).await?;
    found.ok_or_else(|| access::forbidden_read(E::NAME).into())
}

/// Row `id` of `E` that the caller may read and that is not deleted
/// (`deleted` tells), through the request's loader: a second lookup of the
/// same row in one request (`deal(id)` beside `energy(dealId)`) costs no
/// statement. When the loader finds nothing, `access::find_readable` tells
/// NOT_FOUND from FORBIDDEN (a statement on the error path only).
pub async fn readable<E>(
    ctx: &async_graphql::Context<'_>,
    id: Uuid,
    live: E::Column,
    deleted: impl Fn(&E::Model) -> bool,
) -> async_graphql::Result<E::Model>
where
    E: Scoped + Guarded + Send + Sync + 'static,
    E::Model: FromQueryResult + Sync + Send + Clone,
{
    match super::context::loader(ctx)?.load_one(ById::<E>::new(id)).await? {
        Some(row) if !deleted(&row) => Ok(row),
        Some(_) => Err(crate::error::AppError::NotFound(E::NAME).into()),
        None => {
            let (db, actor) = (super::context::db(ctx)?, super::context::actor(ctx)?);
            Ok(access::find_readable::<E>(db, actor, id, Some(live)).await?)
        }
    }
}

/// A filter that keeps rows not soft-deleted.
pub fn not_deleted(col: impl ColumnTrait) -> Condition {
    Condition::all().add(col.is_null())
}

/// Orders by `col` ascending then by id (stable lists).
pub fn ordered<E: Scoped>(select: Select<E>, col: E::Column) -> Select<E> {
    select.order_by_asc(col).order_by_asc(E::id_col())
}
