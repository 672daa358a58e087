//! CSV export of customers, deals, activities and tasks: the same filters and
//! read rules as the lists, every matching row, names instead of ids where a
//! person reads them.
//!
//! The file starts with a UTF-8 byte-order mark (so spreadsheet programs read
//! Japanese correctly), and a cell that would start a formula (`= + - @`) is
//! prefixed with `'` so that opening the file never runs anything.

use std::collections::{HashMap, HashSet};

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{activity, customer, deal, member, task};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{
    activity::{ActivityFilter, activity_select},
    context::{actor, db},
    customer::{CustomerFilter, customer_select},
    deal::{DealFilter, deal_select},
    task::{TaskFilter, task_select},
};
use crate::{
    error::{AppError, AppResult},
    service::Actor,
};

/// Most rows one export holds; narrow the filter for more.
pub const MAX_EXPORT_ROWS: u64 = 50_000;
const LOOKUP_CHUNK: usize = 1000;

/// A CSV file.
#[derive(SimpleObject)]
pub struct CsvExport {
    /// A name to save it under, such as `deals-2026-11-24.csv`.
    pub file_name: String,
    /// Data rows (the header not counted).
    pub rows: i32,
    /// The file: UTF-8 with a byte-order mark, CRLF line ends, a header row.
    pub csv: String,
}

/// Builds the CSV text.
struct Csv {
    out: String,
    rows: i32,
}

impl Csv {
    fn new(header: &[&str]) -> Self {
        let mut c = Self {
            out: String::from("\u{feff}"),
            rows: -1,
        };
        c.row(header.iter().map(|h| (*h).to_owned()));
        c
    }

    fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            // A number (a negative amount) is never a formula.
            csv_field(&mut self.out, &cell, cell.parse::<f64>().is_err());
        }
        self.out.push_str("\r\n");
        self.rows += 1;
    }

    fn finish(self, what: &str, actor: &Actor) -> CsvExport {
        let today = crate::service::period::today(actor.time_zone);
        CsvExport {
            file_name: format!("{what}-{today}.csv"),
            rows: self.rows,
            csv: self.out,
        }
    }
}

/// One CSV field: quoted when it must be; a text starting like a formula is
/// prefixed with `'` so that a spreadsheet never evaluates it.
pub fn csv_field(out: &mut String, value: &str, text: bool) {
    let guarded = text && starts_formula(value);
    let needs_quotes = guarded || value.contains([',', '"', '\n', '\r']);
    if needs_quotes {
        out.push('"');
    }
    if guarded {
        out.push('\'');
    }
    out.push_str(&value.replace('"', "\"\""));
    if needs_quotes {
        out.push('"');
    }
}

/// Whether a spreadsheet could read a cell as a formula: it starts (after
/// any spaces, which Excel skips) with `=`, `+`, `-`, `@`, a tab or a
/// carriage return, or their fullwidth forms, which Japanese input methods
/// type and Excel reads as the same.
fn starts_formula(value: &str) -> bool {
    const TRIGGERS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];
    value.starts_with(TRIGGERS) || value.trim_start_matches([' ', '\u{3000}']).starts_with(TRIGGERS)
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Refuses an export larger than [`MAX_EXPORT_ROWS`] before reading it.
async fn check_size<E: EntityTrait>(db: &DatabaseConnection, q: &sea_orm::Select<E>) -> AppResult<()>
where
    E::Model: Sync,
{
    let n = q.clone().count(db).await?;
    if n > MAX_EXPORT_ROWS {
        return Err(AppError::bad(format!(
            "{n} rows match; an export holds at most {MAX_EXPORT_ROWS}: narrow the filter (a period, a team)"
        )));
    }
    Ok(())
}

/// The company's members: (name, e-mail) by id.
async fn members(db: &DatabaseConnection, actor: &Actor) -> AppResult<HashMap<Uuid, (String, String)>> {
    let rows: Vec<(Uuid, String, String)> = member::Entity::find()
        .select_only()
        .columns([member::Column::Id, member::Column::Name, member::Column::Email])
        .filter(member::Column::CompanyId.eq(actor.company_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, n, e)| (id, (n, e))).collect())
}

/// Customers by id: (code, name).
async fn customers(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: HashSet<Uuid>,
) -> AppResult<HashMap<Uuid, (Option<String>, String)>> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let rows: Vec<(Uuid, Option<String>, String)> = customer::Entity::find()
            .select_only()
            .columns([
                customer::Column::Id,
                customer::Column::ExternalCode,
                customer::Column::Name,
            ])
            .filter(customer::Column::CompanyId.eq(actor.company_id))
            .filter(customer::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|(id, code, name)| (id, (code, name))));
    }
    Ok(out)
}

/// Deal names by id.
async fn deal_names(db: &DatabaseConnection, actor: &Actor, ids: HashSet<Uuid>) -> AppResult<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let rows: Vec<(Uuid, String)> = deal::Entity::find()
            .select_only()
            .columns([deal::Column::Id, deal::Column::Name])
            .filter(deal::Column::CompanyId.eq(actor.company_id))
            .filter(deal::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// CSV exports.
#[derive(Default)]
pub struct ExportQuery;

#[Object]
impl ExportQuery {
    /// The customers the list would show for `filter`, as CSV (at most 50,000 rows).
    async fn customers_csv(
        &self,
        ctx: &Context<'_>,
        filter: Option<CustomerFilter>,
    ) -> async_graphql::Result<CsvExport> {
        let (actor, db) = (actor(ctx)?, db(ctx)?);
        let q = customer_select(db, actor, filter.unwrap_or_default()).await?;
        check_size(db, &q).await?;
        let rows = q
            .order_by_asc(customer::Column::Name)
            .order_by_asc(customer::Column::Id)
            .all(db)
            .await
            .map_err(AppError::from)?;
        let people = members(db, actor).await?;
        let mut csv = Csv::new(&[
            "id",
            "code",
            "name",
            "name_kana",
            "status",
            "priority",
            "industry",
            "owner",
            "owner_email",
            "phone",
            "address",
            "website",
            "last_contact_at",
            "created_at",
        ]);
        for c in rows {
            let (owner, email) = people.get(&c.owner_id).cloned().unwrap_or_default();
            csv.row([
                c.id.to_string(),
                opt(c.external_code),
                c.name,
                opt(c.name_kana),
                c.status.as_str().to_owned(),
                c.is_priority.to_string(),
                opt(c.industry),
                owner,
                email,
                opt(c.phone),
                opt(c.address),
                opt(c.website),
                time(c.last_contact_at),
                time(Some(c.created_at)),
            ]);
        }
        Ok(csv.finish("customers", actor))
    }

    /// The deals the list would show for `filter`, as CSV (at most 50,000 rows).
    async fn deals_csv(&self, ctx: &Context<'_>, filter: Option<DealFilter>) -> async_graphql::Result<CsvExport> {
        let (actor, db) = (actor(ctx)?, db(ctx)?);
        let q = deal_select(db, actor, filter.unwrap_or_default()).await?;
        check_size(db, &q).await?;
        let rows = q
            .order_by_asc(deal::Column::CreatedAt)
            .order_by_asc(deal::Column::Id)
            .all(db)
            .await
            .map_err(AppError::from)?;
        let people = members(db, actor).await?;
        let custs = customers(db, actor, rows.iter().map(|d| d.customer_id).collect()).await?;
        let mut csv = Csv::new(&[
            "id",
            "name",
            "customer_code",
            "customer",
            "owner",
            "stage",
            "stage_name",
            "status",
            "amount",
            "expected_close_date",
            "stage_entered_at",
            "last_activity_at",
            "closed_at",
            "lost_reason",
            "created_at",
        ]);
        for d in rows {
            let (code, customer) = custs.get(&d.customer_id).cloned().unwrap_or_default();
            csv.row([
                d.id.to_string(),
                d.name,
                opt(code),
                customer,
                people.get(&d.owner_id).map(|p| p.0.clone()).unwrap_or_default(),
                d.stage.clone(),
                actor.plugins.process.stage_name(&d.stage),
                d.status.as_str().to_owned(),
                opt(d.amount),
                opt(d.expected_close_date),
                time(Some(d.stage_entered_at)),
                time(d.last_activity_at),
                time(d.closed_at),
                opt(d.lost_reason),
                time(Some(d.created_at)),
            ]);
        }
        Ok(csv.finish("deals", actor))
    }

    /// The activities the list would show for `filter`, as CSV (at most 50,000 rows).
    async fn activities_csv(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
    ) -> async_graphql::Result<CsvExport> {
        let (actor, db) = (actor(ctx)?, db(ctx)?);
        let q = activity_select(db, actor, filter.unwrap_or_default()).await?;
        check_size(db, &q).await?;
        let rows = q
            .order_by_asc(activity::Column::ScheduledAt)
            .order_by_asc(activity::Column::Id)
            .all(db)
            .await
            .map_err(AppError::from)?;
        let people = members(db, actor).await?;
        let custs = customers(db, actor, rows.iter().map(|a| a.customer_id).collect()).await?;
        let deals = deal_names(db, actor, rows.iter().filter_map(|a| a.deal_id).collect()).await?;
        let mut csv = Csv::new(&[
            "id",
            "scheduled_at",
            "done_at",
            "kind",
            "status",
            "member",
            "customer_code",
            "customer",
            "deal",
            "subject",
            "duration_minutes",
            "attendee_count",
            "energy_points",
            "outcome",
            "notes",
        ]);
        for a in rows {
            let (code, customer) = custs.get(&a.customer_id).cloned().unwrap_or_default();
            csv.row([
                a.id.to_string(),
                time(Some(a.scheduled_at)),
                time(a.done_at),
                a.kind.as_str().to_owned(),
                a.status.as_str().to_owned(),
                people.get(&a.member_id).map(|p| p.0.clone()).unwrap_or_default(),
                opt(code),
                customer,
                a.deal_id.and_then(|d| deals.get(&d).cloned()).unwrap_or_default(),
                a.subject,
                opt(a.duration_minutes),
                a.attendee_count.to_string(),
                opt(a.energy_points),
                opt(a.outcome),
                opt(a.notes),
            ]);
        }
        Ok(csv.finish("activities", actor))
    }

    /// The tasks the list would show for `filter`, as CSV (at most 50,000 rows).
    async fn tasks_csv(&self, ctx: &Context<'_>, filter: Option<TaskFilter>) -> async_graphql::Result<CsvExport> {
        let (actor, db) = (actor(ctx)?, db(ctx)?);
        let q = task_select(db, actor, filter.unwrap_or_default()).await?;
        check_size(db, &q).await?;
        let rows = q
            .order_by_asc(task::Column::DueDate)
            .order_by_asc(task::Column::Id)
            .all(db)
            .await
            .map_err(AppError::from)?;
        let people = members(db, actor).await?;
        let custs = customers(db, actor, rows.iter().filter_map(|t| t.customer_id).collect()).await?;
        let deals = deal_names(db, actor, rows.iter().filter_map(|t| t.deal_id).collect()).await?;
        let mut csv = Csv::new(&[
            "id",
            "title",
            "kind",
            "status",
            "due_date",
            "assignee",
            "creator",
            "customer_code",
            "customer",
            "deal",
            "completed_at",
            "created_at",
        ]);
        let name = |id: &Uuid| people.get(id).map(|p| p.0.clone()).unwrap_or_default();
        for t in rows {
            let (code, customer) = t.customer_id.and_then(|c| custs.get(&c).cloned()).unwrap_or_default();
            csv.row([
                t.id.to_string(),
                t.title,
                t.kind.as_str().to_owned(),
                t.status.as_str().to_owned(),
                opt(t.due_date),
                name(&t.assignee_id),
                name(&t.creator_id),
                opt(code),
                customer,
                t.deal_id.and_then(|d| deals.get(&d).cloned()).unwrap_or_default(),
                time(t.completed_at),
                time(Some(t.created_at)),
            ]);
        }
        Ok(csv.finish("tasks", actor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        let mut c = Csv::new(&["a", "b"]);
        c.row(["=HYPERLINK(\"x\")".to_owned(), "株式会社, \"テスト\"\n2行目".to_owned()]);
        c.row(["-5".to_owned(), "-x".to_owned()]);
        c.row(["＠SUM(A1)".to_owned(), " \u{3000}=1+1".to_owned()]);
        assert_eq!(c.rows, 3);
        assert_eq!(
            c.out,
            "\u{feff}a,b\r\n\"'=HYPERLINK(\"\"x\"\")\",\"株式会社, \"\"テスト\"\"\n2行目\"\r\n-5,\"'-x\"\r\n\"'＠SUM(A1)\",\"' \u{3000}=1+1\"\r\n"
        );
    }
}
