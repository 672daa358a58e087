//! Relay cursor connections on keyset pagination.
//!
//! Every list orders by one sort key plus `id` (UUID v7, unique), and a cursor
//! carries that pair, so a page costs one indexed range scan however deep it
//! is. Nested connections (a customer's activities…) use the same cursors and
//! are batched for many parents at once with `ROW_NUMBER() OVER (PARTITION BY
//! parent …)`, so a page of 100 parents costs the same statements as 10.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, ModelTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Value,
    sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Order, Query, SelectStatement, WindowStatement},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    config::GraphqlConfig,
    error::{AppError, AppResult},
};

/// An entity whose rows belong to one company and are identified by a UUID.
pub trait Scoped: EntityTrait {
    /// Name used in messages ("Deal not found").
    const NAME: &'static str;
    /// The primary key column.
    fn id_col() -> Self::Column;
    /// The `company_id` column.
    fn company_col() -> Self::Column;
    /// The primary key of a row.
    fn id_of(model: &Self::Model) -> Uuid;
}

/// The connection arguments of a GraphQL list field.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// Items after this cursor.
    pub after: Option<String>,
    /// Items before this cursor.
    pub before: Option<String>,
    /// The first N items.
    pub first: Option<i32>,
    /// The last N items.
    pub last: Option<i32>,
}

/// Validated page arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// Number of items wanted.
    pub limit: u64,
    /// `true` for `first/after`, `false` for `last/before`.
    pub forward: bool,
    /// Decoded `after` (forward) or `before` (backward) cursor.
    pub cursor: Option<Cursor>,
}

impl PageArgs {
    /// Checks the arguments against the configured limits.
    pub fn resolve(&self, cfg: &GraphqlConfig) -> AppResult<PageRequest> {
        if self.first.is_some() && self.last.is_some() {
            return Err(AppError::bad("pass either `first` or `last`, not both"));
        }
        if self.after.is_some() && self.before.is_some() {
            return Err(AppError::bad("pass either `after` or `before`, not both"));
        }
        let (count, forward, cursor) = match (self.last, &self.before) {
            (Some(_), _) | (None, Some(_)) if self.after.is_none() && self.first.is_none() => {
                (self.last, false, self.before.as_deref())
            }
            _ => (self.first, true, self.after.as_deref()),
        };
        let limit = match count {
            None => cfg.default_page_size as u64,
            Some(n) if n < 0 => return Err(AppError::bad("`first` and `last` must not be negative")),
            Some(n) if n as u32 > cfg.max_page_size => {
                return Err(AppError::Limited(
                    "PAGE_TOO_LARGE",
                    format!(
                        "a page holds at most {} items; ask for fewer and follow the cursor",
                        cfg.max_page_size
                    ),
                ));
            }
            Some(n) => n as u64,
        };
        let cursor = cursor.map(Cursor::decode).transpose()?;
        Ok(PageRequest { limit, forward, cursor })
    }
}

/// How a sort key compares; decides how cursor values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKind {
    /// Strings.
    Text,
    /// Integers (money, counts).
    Int,
    /// Calendar dates.
    Date,
    /// UTC timestamps.
    Time,
}

/// The sort key of a list; `id` in the same direction breaks ties.
#[derive(Debug, Clone, Copy)]
pub struct Sort<C> {
    /// Column sorted on.
    pub column: C,
    /// Its type.
    pub kind: SortKind,
    /// Descending order.
    pub desc: bool,
    /// The column may be NULL: NULLs sort last.
    pub nullable: bool,
}

impl<C: ColumnTrait> Sort<C> {
    /// A sort on a NOT NULL column.
    pub fn new(column: C, kind: SortKind, desc: bool) -> Self {
        Self {
            column,
            kind,
            desc,
            nullable: false,
        }
    }

    /// A sort on a nullable column.
    pub fn nullable(column: C, kind: SortKind, desc: bool) -> Self {
        Self {
            column,
            kind,
            desc,
            nullable: true,
        }
    }

    fn expr(&self) -> Expr {
        let col = Expr::col(self.column);
        if self.nullable {
            Func::coalesce([col, self.sentinel()]).into()
        } else {
            col
        }
    }

    fn sentinel(&self) -> Expr {
        Expr::val(self.value_of(&CursorValue::Null))
    }

    /// The SQL value of a cursor value for this sort. NULL maps to a
    /// sentinel beyond every real value, so NULLs sort last either way.
    fn value_of(&self, v: &CursorValue) -> Value {
        let low = self.desc;
        match (self.kind, v) {
            (SortKind::Int, CursorValue::Int(i)) => Value::BigInt(Some(*i)),
            (SortKind::Int, _) => Value::BigInt(Some(if low { i64::MIN } else { i64::MAX })),
            (SortKind::Text, CursorValue::Text(s)) => Value::String(Some(s.clone())),
            (SortKind::Text, _) => Value::String(Some(if low { String::new() } else { "\u{10FFFF}".into() })),
            (SortKind::Date, CursorValue::Text(s)) => Value::ChronoDate(Some(s.parse().unwrap_or(NaiveDate::MIN))),
            (SortKind::Date, _) => Value::ChronoDate(Some(if low { date(1, 1, 1) } else { date(9999, 12, 31) })),
            (SortKind::Time, CursorValue::Text(s)) => Value::ChronoDateTimeUtc(Some(
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            )),
            (SortKind::Time, _) => Value::ChronoDateTimeUtc(Some(
                date(if low { 1 } else { 9999 }, 1, 1)
                    .and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc(),
            )),
        }
    }

    fn cursor_value<M: ModelTrait<Entity = E>, E: EntityTrait<Column = C>>(&self, m: &M) -> CursorValue {
        match m.get(self.column) {
            Value::String(Some(s)) => CursorValue::Text(s),
            Value::BigInt(Some(i)) => CursorValue::Int(i),
            Value::Int(Some(i)) => CursorValue::Int(i.into()),
            Value::ChronoDate(Some(d)) => CursorValue::Text(d.to_string()),
            Value::ChronoDateTimeUtc(Some(t)) => CursorValue::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            _ => CursorValue::Null,
        }
    }

    /// Rows strictly after `cursor` in the direction `desc`.
    fn after(&self, cursor: &Cursor, desc: bool, id_col: C) -> Condition {
        let v = Expr::val(self.value_of(&cursor.value));
        let (key, id) = (self.expr(), Expr::col(id_col));
        let cursor_id = Expr::val(cursor.id);
        if desc {
            Condition::any()
                .add(key.clone().lt(v.clone()))
                .add(Condition::all().add(key.eq(v)).add(id.lt(cursor_id)))
        } else {
            Condition::any()
                .add(key.clone().gt(v.clone()))
                .add(Condition::all().add(key.eq(v)).add(id.gt(cursor_id)))
        }
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// A sort value inside a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CursorValue {
    /// Integer sort value.
    Int(i64),
    /// Text, date or time sort value.
    Text(String),
    /// A NULL sort value.
    Null,
}

/// An opaque position in a list: the sort value and id of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    value: CursorValue,
    id: Uuid,
}

impl Cursor {
    /// The opaque string handed to clients.
    pub fn encode(&self) -> String {
        B64.encode(serde_json::to_vec(&(&self.value, self.id)).unwrap_or_default())
    }

    /// Parses a cursor string from a client.
    pub fn decode(s: &str) -> AppResult<Self> {
        let bad = || AppError::bad("invalid cursor; use a cursor returned by this list");
        let bytes = B64.decode(s.as_bytes()).map_err(|_| bad())?;
        let (value, id): (CursorValue, Uuid) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        Ok(Self { value, id })
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<M> {
    /// Items with their cursors, in list order.
    pub edges: Vec<(String, M)>,
    /// More items follow the last one.
    pub has_next: bool,
    /// More items precede the first one.
    pub has_prev: bool,
    /// Size of the whole list, when asked for.
    pub total: Option<i64>,
}

impl<M> Page<M> {
    fn build<E>(mut rows: Vec<M>, sort: &Sort<E::Column>, req: &PageRequest, total: Option<i64>) -> Self
    where
        E: Scoped<Model = M>,
        M: ModelTrait<Entity = E>,
    {
        let has_more = rows.len() as u64 > req.limit;
        rows.truncate(req.limit as usize);
        if !req.forward {
            rows.reverse();
        }
        let edges = rows
            .into_iter()
            .map(|m| {
                (
                    Cursor {
                        value: sort.cursor_value(&m),
                        id: E::id_of(&m),
                    }
                    .encode(),
                    m,
                )
            })
            .collect();
        let had_cursor = req.cursor.is_some();
        let (has_next, has_prev) = if req.forward {
            (has_more, had_cursor)
        } else {
            (had_cursor, has_more)
        };
        Self {
            edges,
            has_next,
            has_prev,
            total,
        }
    }
}

/// Fetches one page of `select` (already filtered and scoped by the caller).
pub async fn fetch_page<E: Scoped>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    sort: &Sort<E::Column>,
    req: &PageRequest,
    with_total: bool,
) -> AppResult<Page<E::Model>>
where
    E::Model: FromQueryResult + Sync,
{
    let total = if with_total {
        Some(select.clone().count(db).await? as i64)
    } else {
        None
    };
    // Walking backwards reads the list in reverse, then flips the page.
    let desc = sort.desc == req.forward;
    let mut select = select;
    if let Some(cursor) = &req.cursor {
        select = select.filter(sort.after(cursor, desc, E::id_col()));
    }
    let order = if desc { Order::Desc } else { Order::Asc };
    let rows = select
        .order_by(sort.expr(), order.clone())
        .order_by(E::id_col(), order)
        .limit(req.limit + 1)
        .all(db)
        .await?;
    Ok(Page::build(rows, sort, req, total))
}

/// A nested list: the children of many parents, one page each, in one statement.
pub struct ChildQuery<E: EntityTrait> {
    /// Column holding the parent id.
    pub parent_col: E::Column,
    /// Extra filter on the children (company scope is added by the loader).
    pub filter: Condition,
    /// Sort key.
    pub sort: Sort<E::Column>,
}

/// Loads one page of children for each `(parent, cursor)` (all with the same
/// page size and direction), plus the total per parent when `with_total`.
pub async fn fetch_child_pages<E: Scoped>(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    query: &ChildQuery<E>,
    req: &PageRequest,
    parents: &[(Uuid, Option<Cursor>)],
    with_total: bool,
) -> AppResult<Vec<Page<E::Model>>>
where
    E::Model: FromQueryResult + Sync,
{
    let desc = query.sort.desc == req.forward;
    let order = if desc { Order::Desc } else { Order::Asc };
    let mut by_parent = Condition::any();
    let plain: Vec<Uuid> = parents.iter().filter(|(_, c)| c.is_none()).map(|(p, _)| *p).collect();
    if !plain.is_empty() {
        by_parent = by_parent.add(query.parent_col.is_in(plain));
    }
    for (parent, cursor) in parents {
        if let Some(cursor) = cursor {
            by_parent = by_parent.add(Condition::all().add(query.parent_col.eq(*parent)).add(query.sort.after(
                cursor,
                desc,
                E::id_col(),
            )));
        }
    }
    let scoped = |s: Select<E>| s.filter(E::company_col().eq(company_id)).filter(query.filter.clone());
    let mut inner: SelectStatement = scoped(E::find()).filter(by_parent).into_query();
    let window = WindowStatement::partition_by(query.parent_col)
        .order_by_expr(query.sort.expr(), order.clone())
        .order_by_expr(Expr::col(E::id_col()), order)
        .to_owned();
    inner.expr_window_as(Func::cust("ROW_NUMBER"), window, "rn");
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, "page")
        .and_where(Expr::col(Alias::new("rn")).lte((req.limit + 1) as i64))
        .order_by(Alias::new("rn"), Order::Asc)
        .to_owned();
    let stmt = db.get_database_backend().build(&outer);
    let rows = E::Model::find_by_statement(stmt).all(db).await?;

    let mut totals = std::collections::HashMap::new();
    if with_total {
        let ids: Vec<Uuid> = parents.iter().map(|(p, _)| *p).collect();
        let counts: Vec<(Uuid, i64)> = scoped(E::find())
            .filter(query.parent_col.is_in(ids))
            .select_only()
            .column(query.parent_col)
            .column_as(Expr::col(E::id_col()).count(), "n")
            .group_by(query.parent_col)
            .into_tuple()
            .all(db)
            .await?;
        totals.extend(counts);
    }
    let mut grouped: std::collections::HashMap<Uuid, Vec<E::Model>> = std::collections::HashMap::new();
    for row in rows {
        if let Value::Uuid(Some(parent)) = row.get(query.parent_col) {
            grouped.entry(parent).or_default().push(row);
        }
    }
    Ok(parents
        .iter()
        .map(|(parent, cursor)| {
            let rows = grouped.get(parent).cloned().unwrap_or_default();
            let req = PageRequest {
                cursor: cursor.clone(),
                ..req.clone()
            };
            let total = with_total.then(|| totals.get(parent).copied().unwrap_or(0));
            Page::build(rows, &query.sort, &req, total)
        })
        .collect())
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::{Cursor, CursorValue};

    fn value() -> impl Strategy<Value = CursorValue> {
        prop_oneof![
            any::<i64>().prop_map(CursorValue::Int),
            "\\PC{0,30}".prop_map(CursorValue::Text),
            Just(CursorValue::Null),
        ]
    }

    proptest! {
        /// What a client sends as a cursor: decoded or refused as bad input, never a panic.
        #[test]
        fn any_cursor_string_is_decoded_or_refused(s in "\\PC{0,80}|[A-Za-z0-9_-]{0,80}") {
            if let Err(e) = Cursor::decode(&s) {
                prop_assert_eq!(e.code(), "BAD_USER_INPUT");
            }
        }

        /// Every cursor the server hands out decodes to itself.
        #[test]
        fn handed_out_cursors_round_trip(value in value(), id in any::<u128>()) {
            let c = Cursor { value, id: uuid::Uuid::from_u128(id) };
            prop_assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c));
        }

        /// Ids: a UUID in any of its spellings parses to itself; anything else is BAD_USER_INPUT.
        #[test]
        fn ids_parse_or_are_refused(s in "\\PC{0,40}", id in any::<u128>()) {
            let uuid = uuid::Uuid::from_u128(id);
            for spelling in [uuid.to_string(), uuid.simple().to_string(), uuid.to_string().to_uppercase()] {
                let parsed = crate::graphql::connection::parse_id(&async_graphql::ID(spelling), "Deal");
                prop_assert_eq!(parsed.ok(), Some(uuid));
            }
            if let Err(e) = crate::graphql::connection::parse_id(&async_graphql::ID(s.clone()), "Deal") {
                prop_assert_eq!(e.code(), "BAD_USER_INPUT");
                prop_assert!(e.message().len() < 200 + s.len() * 4);
            }
        }
    }
}
