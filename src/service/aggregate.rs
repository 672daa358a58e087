//! The generic aggregate for BI tools: a fact, dimensions, measures and
//! filters become one GROUP BY statement over the rows the caller may read.
//! Dimensions and measures are named by strings (the same names in GraphQL
//! and in the CSV endpoint's URL); an unknown one is BAD_USER_INPUT listing
//! the known ones. Time buckets are days, weeks (from Monday), months,
//! quarters and years in the company's time zone.

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use entity::{activity, activity_product, customer, deal, sales_record, task};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    sea_query::SelectStatement,
};
use uuid::Uuid;

use super::{Actor, access, find_live, period, plan::Subject, sql::Params};
use crate::error::{AppError, AppResult};

/// Most dimensions in one aggregate.
pub const MAX_DIMENSIONS: usize = 5;
/// Most measures in one aggregate.
pub const MAX_MEASURES: usize = 10;
/// Most rows one aggregate returns.
pub const MAX_ROWS: u64 = 10_000;
/// Longest date range, in days.
const MAX_RANGE_DAYS: i64 = 7320;

/// What is aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// Activities, dated by when they were done (else when they are planned).
    Activities,
    /// Deals, dated by their creation.
    Deals,
    /// Tasks, dated by their due date.
    Tasks,
    /// Sales records, dated by their sale date.
    SalesRecords,
}

/// How a fact is dated.
enum Dating {
    /// An instant (UTC): bucketed in the company's time zone.
    Instant(&'static str),
    /// A calendar date.
    Date(&'static str),
}

impl Fact {
    /// Every fact with its name.
    pub const ALL: [(&'static str, Fact); 4] = [
        ("activities", Fact::Activities),
        ("deals", Fact::Deals),
        ("tasks", Fact::Tasks),
        ("sales_records", Fact::SalesRecords),
    ];

    /// Parses a fact name.
    pub fn parse(name: &str) -> AppResult<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name.trim())
            .map(|(_, f)| *f)
            .ok_or_else(|| AppError::bad(format!("unknown fact `{name}`; use one of: {}", names(&Self::ALL))))
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("")
    }

    fn dating(self) -> Dating {
        match self {
            Fact::Activities => Dating::Instant("COALESCE(f.done_at, f.scheduled_at)"),
            Fact::Deals => Dating::Instant("f.created_at"),
            Fact::Tasks => Dating::Date("f.due_date"),
            Fact::SalesRecords => Dating::Date("f.sold_on"),
        }
    }

    /// The column naming the member a row belongs to.
    fn member_col(self) -> &'static str {
        match self {
            Fact::Activities | Fact::SalesRecords => "member_id",
            Fact::Deals => "owner_id",
            Fact::Tasks => "assignee_id",
        }
    }

    /// The dimensions it can be grouped by.
    pub fn dimensions(self) -> Vec<&'static str> {
        let mut out = vec!["member", "team", "customer", "customer_group"];
        match self {
            Fact::Activities => out.extend(["product", "kind", "status", "deal"]),
            Fact::Deals => out.extend(["stage", "status"]),
            Fact::Tasks => out.extend(["kind", "status", "deal"]),
            Fact::SalesRecords => out.push("product"),
        }
        out.extend(TIME_DIMENSIONS);
        out
    }

    /// Fields that can be summed, averaged, and their min and max taken.
    pub fn numeric_fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Fact::Activities => &[
                ("energy_points", "f.energy_points"),
                ("attendee_count", "f.attendee_count"),
                ("duration_minutes", "f.duration_minutes"),
            ],
            Fact::Deals => &[("amount", "f.amount")],
            Fact::Tasks => &[],
            Fact::SalesRecords => &[
                ("amount", "f.amount"),
                ("gross_profit", "f.gross_profit"),
                ("quantity", "f.quantity"),
            ],
        }
    }

    /// Fields whose distinct values can be counted.
    pub fn distinct_fields(self) -> Vec<&'static str> {
        let mut out = vec!["member", "customer"];
        match self {
            Fact::Activities => out.extend(["deal", "product"]),
            Fact::Tasks => out.push("deal"),
            Fact::SalesRecords => out.push("product"),
            Fact::Deals => {}
        }
        out
    }

    /// Every measure name it accepts.
    pub fn measures(self) -> Vec<String> {
        let mut out = vec!["count".to_string()];
        for f in self.distinct_fields() {
            out.push(format!("count_distinct:{f}"));
        }
        for (f, _) in self.numeric_fields() {
            for func in ["sum", "avg", "min", "max"] {
                out.push(format!("{func}:{f}"));
            }
        }
        out
    }
}

/// Whether a dimension has names besides its keys (ids of members, teams…).
pub fn has_label(dimension: &str) -> bool {
    matches!(
        dimension.trim(),
        "member" | "team" | "customer" | "customer_group" | "product" | "deal"
    )
}

const TIME_DIMENSIONS: [&str; 5] = ["day", "week", "month", "quarter", "year"];

fn names<T>(list: &[(&str, T)]) -> String {
    list.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// What to keep.
#[derive(Debug, Default, Clone)]
pub struct AggregateFilter {
    /// First day (company time zone), included.
    pub from: Option<NaiveDate>,
    /// Last day, included.
    pub to: Option<NaiveDate>,
    /// Rows of this member.
    pub member_id: Option<Uuid>,
    /// Rows of members of this team or a team below it.
    pub team_id: Option<Uuid>,
    /// Rows of this customer.
    pub customer_id: Option<Uuid>,
    /// Rows of customers in this group.
    pub group_id: Option<Uuid>,
    /// Activities proposing this product; sales of it.
    pub product_id: Option<Uuid>,
    /// Deals in this stage.
    pub stage: Option<String>,
    /// Activities or tasks of this kind (`visit`, `call`…).
    pub kind: Option<String>,
    /// Rows with this status (`done`, `open`, `won`…).
    pub status: Option<String>,
}

/// The request.
#[derive(Debug, Clone)]
pub struct AggregateRequest {
    /// What is aggregated.
    pub fact: Fact,
    /// What to group by, in order.
    pub dimensions: Vec<String>,
    /// What to compute per group.
    pub measures: Vec<String>,
    /// What to keep.
    pub filter: AggregateFilter,
    /// Most rows returned.
    pub limit: u64,
}

/// One group.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    /// Per dimension: the id, key or bucket's first day (`None`: no value, such as a customer in no group).
    pub keys: Vec<Option<String>>,
    /// Per dimension: a name to show (member, team, customer, group or product name; the key otherwise).
    pub labels: Vec<Option<String>>,
    /// Per measure (`None`: nothing to average).
    pub values: Vec<Option<f64>>,
}

/// The answer.
#[derive(Debug, Clone)]
pub struct AggregateResult {
    /// The groups, ordered by the dimensions.
    pub rows: Vec<AggregateRow>,
    /// More groups exist than `limit`.
    pub truncated: bool,
    /// The first day covered.
    pub from: NaiveDate,
    /// The last day covered.
    pub to: NaiveDate,
}

/// A dimension's SQL: the key, an optional label, whether the key is an id.
struct Dim {
    key: String,
    label: Option<&'static str>,
    id: bool,
}

/// A measure's SQL and whether it is a float.
struct Measure {
    sql: String,
    float: bool,
}

fn measure(fact: Fact, name: &str) -> AppResult<Measure> {
    let unknown = || {
        AppError::bad(format!(
            "unknown measure `{name}` for {}; use one of: {}",
            fact.name(),
            fact.measures().join(", ")
        ))
    };
    let name = name.trim();
    if name == "count" {
        return Ok(Measure {
            sql: "COUNT(*)".into(),
            float: false,
        });
    }
    let (func, field) = name.split_once(':').ok_or_else(unknown)?;
    if func == "count_distinct" {
        if !fact.distinct_fields().contains(&field) {
            return Err(unknown());
        }
        return Ok(Measure {
            sql: format!("COUNT(DISTINCT {})", distinct_expr(fact, field)),
            float: false,
        });
    }
    let col = fact
        .numeric_fields()
        .iter()
        .find(|(n, _)| *n == field)
        .map(|(_, c)| *c)
        .ok_or_else(unknown)?;
    let (sql, float) = match func {
        "sum" => (format!("CAST(SUM({col}) AS BIGINT)"), false),
        "avg" => (format!("CAST(AVG({col}) AS DOUBLE PRECISION)"), true),
        "min" => (format!("CAST(MIN({col}) AS BIGINT)"), false),
        "max" => (format!("CAST(MAX({col}) AS BIGINT)"), false),
        _ => return Err(unknown()),
    };
    Ok(Measure { sql, float })
}

fn distinct_expr(fact: Fact, field: &str) -> String {
    match field {
        "member" => format!("f.{}", fact.member_col()),
        "customer" => "f.customer_id".into(),
        "deal" => "f.deal_id".into(),
        "product" if fact == Fact::Activities => "ap.product_id".into(),
        _ => "f.product_id".into(),
    }
}

/// The SQL of the row's local date (company time zone).
fn local_date(backend: DbBackend, dating: &Dating, tz_param: &str) -> String {
    match (dating, backend) {
        (Dating::Date(col), _) => (*col).to_string(),
        (Dating::Instant(ts), DbBackend::Postgres) => format!("CAST(({ts}) AT TIME ZONE {tz_param} AS DATE)"),
        (Dating::Instant(ts), _) => format!("date({ts}, sp.off)"),
    }
}

/// The first day of the bucket holding the date `d`, as `YYYY-MM-DD` text.
fn bucket(backend: DbBackend, unit: &str, d: &str) -> String {
    match backend {
        DbBackend::Postgres if unit == "day" => format!("to_char({d}, 'YYYY-MM-DD')"),
        DbBackend::Postgres => format!("to_char(date_trunc('{unit}', CAST({d} AS TIMESTAMP)), 'YYYY-MM-DD')"),
        _ => match unit {
            "day" => format!("date({d})"),
            "week" => format!("date({d}, 'weekday 0', '-6 days')"),
            "month" => format!("strftime('%Y-%m-01', {d})"),
            "quarter" => format!(
                "printf('%s-%02d-01', strftime('%Y', {d}), ((CAST(strftime('%m', {d}) AS INTEGER) - 1) / 3) * 3 + 1)"
            ),
            _ => format!("strftime('%Y-01-01', {d})"),
        },
    }
}

/// The spans of constant UTC offset covering `[lo, hi)`, for SQLite, which
/// has no time zones: each row is shifted by the offset of its span.
fn offset_spans(tz: Tz, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>, i32)> {
    let offset = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc();
    let mut spans = Vec::new();
    let (mut start, mut current) = (lo, offset(lo));
    let mut t = lo;
    while t < hi {
        let next = (t + Duration::days(1)).min(hi);
        if offset(next) != current {
            // The change lies in (t, next]: find its second (zones change on whole seconds).
            let (mut a, mut b) = (t.timestamp(), next.timestamp());
            let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or(next);
            while b - a > 1 {
                let mid = a + (b - a) / 2;
                if offset(at(mid)) == current {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            let b = at(b);
            spans.push((start, b, current));
            start = b;
            current = offset(b);
        }
        t = next;
    }
    spans.push((start, hi, current));
    spans
}

/// The base rows: the fact's rows the actor may read, with the filters that
/// are plain conditions (the date range is applied by the statement).
async fn scope(
    db: &impl ConnectionTrait,
    actor: &Actor,
    fact: Fact,
    f: &AggregateFilter,
) -> AppResult<SelectStatement> {
    let members = match f.team_id {
        Some(t) => {
            find_live::<entity::team::Entity>(db, actor, t).await?;
            Some(
                super::kpi::members_of(db, actor.company_id, &[Subject::Team(t)])
                    .await?
                    .concat(),
            )
        }
        None => None,
    };
    let group_customers = f.group_id.map(|g| {
        customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::CompanyId.eq(actor.company_id))
            .filter(customer::Column::GroupId.eq(g))
            .into_query()
    });
    let not_for = |what: &str| AppError::bad(format!("`{what}` does not apply to {}", fact.name()));
    macro_rules! narrow {
        ($entity:ident, $member:ident, $customer:expr) => {{
            let mut q = access::select::<$entity::Entity>(actor);
            if let Some(m) = f.member_id {
                q = q.filter($entity::Column::$member.eq(m));
            }
            if let Some(ms) = members {
                q = q.filter($entity::Column::$member.is_in(ms));
            }
            if let Some(c) = f.customer_id {
                q = q.filter($customer.eq(c));
            }
            if let Some(sub) = group_customers {
                q = q.filter(Condition::all().add($customer.in_subquery(sub)));
            }
            q
        }};
    }
    let query = match fact {
        Fact::Activities => {
            let mut q =
                narrow!(activity, MemberId, activity::Column::CustomerId).filter(activity::Column::DeletedAt.is_null());
            if let Some(p) = f.product_id {
                let proposing = activity_product::Entity::find()
                    .select_only()
                    .column(activity_product::Column::ActivityId)
                    .filter(activity_product::Column::CompanyId.eq(actor.company_id))
                    .filter(activity_product::Column::ProductId.eq(p))
                    .into_query();
                q = q.filter(Condition::all().add(activity::Column::Id.in_subquery(proposing)));
            }
            if let Some(k) = &f.kind {
                q = q.filter(activity::Column::Kind.eq(k.as_str()));
            }
            if let Some(s) = &f.status {
                q = q.filter(activity::Column::Status.eq(s.as_str()));
            }
            if f.stage.is_some() {
                return Err(not_for("stage"));
            }
            q.into_query()
        }
        Fact::Deals => {
            let mut q = narrow!(deal, OwnerId, deal::Column::CustomerId).filter(deal::Column::DeletedAt.is_null());
            if let Some(s) = &f.stage {
                q = q.filter(deal::Column::Stage.eq(s.as_str()));
            }
            if let Some(s) = &f.status {
                q = q.filter(deal::Column::Status.eq(s.as_str()));
            }
            if f.product_id.is_some() {
                return Err(not_for("productId"));
            }
            if f.kind.is_some() {
                return Err(not_for("kind"));
            }
            q.into_query()
        }
        Fact::Tasks => {
            let mut q = narrow!(task, AssigneeId, task::Column::CustomerId).filter(task::Column::DeletedAt.is_null());
            if let Some(k) = &f.kind {
                q = q.filter(task::Column::Kind.eq(k.as_str()));
            }
            if let Some(s) = &f.status {
                q = q.filter(task::Column::Status.eq(s.as_str()));
            }
            if f.product_id.is_some() {
                return Err(not_for("productId"));
            }
            if f.stage.is_some() {
                return Err(not_for("stage"));
            }
            q.into_query()
        }
        Fact::SalesRecords => {
            let mut q = narrow!(sales_record, MemberId, sales_record::Column::CustomerId);
            if let Some(p) = f.product_id {
                q = q.filter(sales_record::Column::ProductId.eq(p));
            }
            for (name, set) in [
                ("stage", f.stage.is_some()),
                ("kind", f.kind.is_some()),
                ("status", f.status.is_some()),
            ] {
                if set {
                    return Err(not_for(name));
                }
            }
            q.into_query()
        }
    };
    Ok(query)
}

/// Runs an aggregate: one statement (plus the team's members when a team
/// filters it).
pub async fn run(db: &impl ConnectionTrait, actor: &Actor, req: &AggregateRequest) -> AppResult<AggregateResult> {
    let fact = req.fact;
    if req.dimensions.len() > MAX_DIMENSIONS {
        return Err(AppError::bad(format!("at most {MAX_DIMENSIONS} dimensions")));
    }
    if req.measures.is_empty() || req.measures.len() > MAX_MEASURES {
        return Err(AppError::bad(format!("ask for 1 to {MAX_MEASURES} measures")));
    }
    if req.limit == 0 || req.limit > MAX_ROWS {
        return Err(AppError::bad(format!("`limit` must be between 1 and {MAX_ROWS}")));
    }
    let known = fact.dimensions();
    for d in &req.dimensions {
        if !known.contains(&d.trim()) {
            return Err(AppError::bad(format!(
                "unknown dimension `{d}` for {}; use one of: {}",
                fact.name(),
                known.join(", ")
            )));
        }
    }
    let measures = req
        .measures
        .iter()
        .map(|m| measure(fact, m))
        .collect::<AppResult<Vec<_>>>()?;
    let to = req.filter.to.unwrap_or_else(|| period::today(actor.time_zone));
    let from = req.filter.from.unwrap_or(to - Duration::days(365));
    if from > to {
        return Err(AppError::bad("`from` must not be after `to`"));
    }
    if (to - from).num_days() > MAX_RANGE_DAYS {
        return Err(AppError::bad("a range spans at most twenty years"));
    }

    let backend = db.get_database_backend();
    let base = scope(db, actor, fact, &req.filter).await?;
    let mut p = Params::new(backend, actor.company_id);
    let base = p.embed(&base);
    let dating = fact.dating();
    let (lo, hi) = (
        period::midnight(actor.time_zone, from),
        period::midnight(actor.time_zone, to + Duration::days(1)),
    );
    let uses_product = req.dimensions.iter().any(|d| d == "product")
        || req.measures.iter().any(|m| m.trim() == "count_distinct:product");
    let mut ctes = Vec::new();
    let mut joins = Vec::new();
    let mut wheres = Vec::new();
    // Only what the statement uses is bound (SQLite refuses extra values).
    let tz = match (&dating, backend) {
        (Dating::Instant(_), DbBackend::Postgres)
            if req.dimensions.iter().any(|d| TIME_DIMENSIONS.contains(&d.trim())) =>
        {
            p.push(actor.time_zone.name().to_string())
        }
        _ => String::new(),
    };
    match (&dating, backend) {
        (Dating::Instant(ts), DbBackend::Postgres) => {
            wheres.push(format!("{ts} >= {} AND {ts} < {}", p.push(lo), p.push(hi)));
        }
        (Dating::Instant(ts), _) => {
            let spans: Vec<String> = offset_spans(actor.time_zone, lo, hi)
                .into_iter()
                .map(|(a, b, off)| format!("({}, {}, {})", p.push(a), p.push(b), p.push(format!("{off:+} seconds"))))
                .collect();
            ctes.push(format!("sp(lo, hi, off) AS (VALUES {})", spans.join(", ")));
            joins.push(format!("JOIN sp ON {ts} >= sp.lo AND {ts} < sp.hi"));
        }
        (Dating::Date(col), _) => {
            wheres.push(format!("{col} >= {} AND {col} <= {}", p.push(from), p.push(to)));
        }
    }
    let day = local_date(backend, &dating, &tz);
    let dims: Vec<Dim> = req
        .dimensions
        .iter()
        .map(|d| match d.trim() {
            "member" => Dim {
                key: format!("f.{}", fact.member_col()),
                label: Some("dm.name"),
                id: true,
            },
            "team" => Dim {
                key: "dm.team_id".into(),
                label: Some("dt.name"),
                id: true,
            },
            "customer" => Dim {
                key: "f.customer_id".into(),
                label: Some("dc.name"),
                id: true,
            },
            "customer_group" => Dim {
                key: "dc.group_id".into(),
                label: Some("dg.name"),
                id: true,
            },
            "product" => Dim {
                key: distinct_expr(fact, "product"),
                label: Some("dp.name"),
                id: true,
            },
            "deal" => Dim {
                key: "f.deal_id".into(),
                label: Some("dd.name"),
                id: true,
            },
            "stage" => Dim {
                key: "f.stage".into(),
                label: None,
                id: false,
            },
            "kind" => Dim {
                key: "f.kind".into(),
                label: None,
                id: false,
            },
            "status" => Dim {
                key: "f.status".into(),
                label: None,
                id: false,
            },
            unit => Dim {
                key: bucket(backend, unit, &day),
                label: None,
                id: false,
            },
        })
        .collect();
    let has = |names: &[&str]| req.dimensions.iter().any(|d| names.contains(&d.trim()));
    if has(&["member", "team"]) {
        joins.push(format!("LEFT JOIN member dm ON dm.id = f.{}", fact.member_col()));
    }
    if has(&["team"]) {
        joins.push("LEFT JOIN team dt ON dt.id = dm.team_id".into());
    }
    if has(&["customer", "customer_group"]) {
        joins.push("LEFT JOIN customer dc ON dc.id = f.customer_id".into());
    }
    if has(&["customer_group"]) {
        joins.push("LEFT JOIN customer_group dg ON dg.id = dc.group_id".into());
    }
    if uses_product && fact == Fact::Activities {
        joins.push("LEFT JOIN activity_product ap ON ap.activity_id = f.id".into());
    }
    if has(&["product"]) {
        joins.push(format!(
            "LEFT JOIN product dp ON dp.id = {}",
            distinct_expr(fact, "product")
        ));
    }
    if has(&["deal"]) {
        joins.push("LEFT JOIN deal dd ON dd.id = f.deal_id".into());
    }

    let mut select = Vec::new();
    for (i, d) in dims.iter().enumerate() {
        select.push(format!("{} AS k{i}", d.key));
        if let Some(l) = d.label {
            select.push(format!("MAX({l}) AS l{i}"));
        }
    }
    for (i, m) in measures.iter().enumerate() {
        select.push(format!("{} AS m{i}", m.sql));
    }
    let group = if dims.is_empty() {
        String::new()
    } else {
        let keys: Vec<&str> = dims.iter().map(|d| d.key.as_str()).collect();
        let order: Vec<String> = (0..dims.len()).map(|i| format!("k{i}")).collect();
        format!("GROUP BY {} ORDER BY {}", keys.join(", "), order.join(", "))
    };
    let sql = format!(
        "{}SELECT {} FROM ({base}) f {} {} {group} LIMIT {}",
        if ctes.is_empty() {
            String::new()
        } else {
            format!("WITH {} ", ctes.join(", "))
        },
        select.join(", "),
        joins.join(" "),
        if wheres.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wheres.join(" AND "))
        },
        req.limit + 1,
    );
    let found = db.query_all_raw(p.statement(sql)).await?;
    let truncated = found.len() as u64 > req.limit;
    let mut rows = Vec::with_capacity(found.len().min(req.limit as usize));
    for r in found.into_iter().take(req.limit as usize) {
        let mut keys = Vec::with_capacity(dims.len());
        let mut labels = Vec::with_capacity(dims.len());
        for (i, d) in dims.iter().enumerate() {
            let key = if d.id {
                r.try_get::<Option<Uuid>>("", &format!("k{i}"))?.map(|u| u.to_string())
            } else {
                r.try_get::<Option<String>>("", &format!("k{i}"))?
            };
            let label = match d.label {
                Some(_) => r.try_get::<Option<String>>("", &format!("l{i}"))?,
                None => key.clone(),
            };
            keys.push(key);
            labels.push(label);
        }
        let mut values = Vec::with_capacity(measures.len());
        for (i, m) in measures.iter().enumerate() {
            let col = format!("m{i}");
            values.push(if m.float {
                r.try_get::<Option<f64>>("", &col)?
            } else {
                r.try_get::<Option<i64>>("", &col)?.map(|v| v as f64)
            });
        }
        rows.push(AggregateRow { keys, labels, values });
    }
    Ok(AggregateResult {
        rows,
        truncated,
        from,
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_spans_follow_dst() {
        let ny: Tz = "America/New_York".parse().expect("zone");
        let lo = "2026-01-01T05:00:00Z".parse().expect("lo");
        let hi = "2027-01-01T05:00:00Z".parse().expect("hi");
        let spans = offset_spans(ny, lo, hi);
        assert_eq!(spans.len(), 3, "{spans:?}");
        assert_eq!(spans[0].2, -5 * 3600);
        assert_eq!(spans[1].0.to_rfc3339(), "2026-03-08T07:00:00+00:00", "2am EST");
        assert_eq!(spans[1].2, -4 * 3600);
        assert_eq!(spans[2].0.to_rfc3339(), "2026-11-01T06:00:00+00:00", "2am EDT");
        let tokyo: Tz = "Asia/Tokyo".parse().expect("zone");
        assert_eq!(offset_spans(tokyo, lo, hi).len(), 1);
    }

    #[test]
    fn measures_are_checked_against_the_fact() {
        assert!(measure(Fact::Activities, "sum:energy_points").is_ok());
        assert!(measure(Fact::Deals, "sum:energy_points").is_err());
        assert!(measure(Fact::SalesRecords, "count_distinct:product").is_ok());
        assert!(measure(Fact::Tasks, "avg:amount").is_err());
        assert!(measure(Fact::Tasks, "median:amount").is_err());
        assert!(Fact::parse("visits").is_err());
    }
}
