//! Customer 360 and customer value: what a rep needs before a visit, each
//! figure one statement over one customer.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{activity, audit_log, customer, enums::ActivityStatus, product};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{Actor, access, sql::Params};
use crate::error::AppResult;

/// The customer's contacts at one level.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelReach {
    /// The contact level key.
    pub level: String,
    /// Contacts at that level.
    pub contacts: i64,
    /// Of them, met in a done activity.
    pub met: i64,
    /// The latest such meeting.
    pub last_met_at: Option<DateTime<Utc>>,
}

/// The customer's contacts per level, and whom the activities (that the
/// actor may read) met. One statement.
pub async fn contact_levels(db: &impl ConnectionTrait, actor: &Actor, customer_id: Uuid) -> AppResult<Vec<LevelReach>> {
    let done = access::select::<activity::Entity>(actor)
        .select_only()
        .columns([activity::Column::Id, activity::Column::DoneAt])
        .filter(activity::Column::CustomerId.eq(customer_id))
        .filter(activity::Column::Status.eq(ActivityStatus::Done))
        .filter(activity::Column::DeletedAt.is_null())
        .into_query();
    let mut p = Params::new(db.get_database_backend(), actor.company_id);
    let done = p.embed(&done);
    let customer = p.push(customer_id);
    let sql = format!(
        "SELECT c.level, COUNT(DISTINCT c.id), COUNT(DISTINCT CASE WHEN a.id IS NOT NULL THEN c.id END), MAX(a.done_at)
         FROM contact c
         LEFT JOIN activity_contact ac ON ac.contact_id = c.id
         LEFT JOIN ({done}) a ON a.id = ac.activity_id
         WHERE c.company_id = $1 AND c.customer_id = {customer} AND c.deleted_at IS NULL
         GROUP BY c.level"
    );
    let mut out = Vec::new();
    for r in db.query_all_raw(p.statement(sql)).await? {
        out.push(LevelReach {
            level: r.try_get_by_index(0)?,
            contacts: r.try_get_by_index(1)?,
            met: r.try_get_by_index(2)?,
            last_met_at: r.try_get_by_index(3)?,
        });
    }
    Ok(out)
}

/// A change of the customer's owner, from the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnerChange {
    /// The owner before (`None`: the customer was created).
    pub from: Option<Uuid>,
    /// The owner after.
    pub to: Option<Uuid>,
    /// When.
    pub at: DateTime<Utc>,
    /// Who changed it (`None`: an API key).
    pub by: Option<Uuid>,
}

/// Every owner the customer had, oldest first: the audit rows that changed
/// `owner_id` (creation included). One statement.
pub async fn owner_history(db: &impl ConnectionTrait, actor: &Actor, customer_id: Uuid) -> AppResult<Vec<OwnerChange>> {
    let touched = match db.get_database_backend() {
        DbBackend::Postgres => "audit_log.changes -> 'owner_id' IS NOT NULL",
        _ => "json_extract(audit_log.changes, '$.owner_id') IS NOT NULL",
    };
    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::CompanyId.eq(actor.company_id))
        .filter(audit_log::Column::EntityType.eq("customer"))
        .filter(audit_log::Column::EntityId.eq(customer_id))
        .filter(Expr::cust(touched))
        .order_by_asc(audit_log::Column::CreatedAt)
        .order_by_asc(audit_log::Column::Id)
        .all(db)
        .await?;
    let id = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).and_then(|s| s.parse().ok());
    Ok(rows
        .into_iter()
        .map(|r| {
            let pair = r.changes.get("owner_id").and_then(|v| v.as_array());
            OwnerChange {
                from: id(pair.and_then(|p| p.first())),
                to: id(pair.and_then(|p| p.get(1))),
                at: r.created_at,
                by: r.actor_member_id.filter(|_| r.actor_api_key_id.is_none()),
            }
        })
        .collect())
}

/// Sales of one month.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthSales {
    /// First day of the month.
    pub month: NaiveDate,
    /// Sales.
    pub amount: i64,
    /// Gross profit.
    pub gross_profit: i64,
}

/// The customer's sales per month for the given months (each `[start,
/// end)`), months without sales included. One statement.
pub async fn sales_by_month(
    db: &impl ConnectionTrait,
    actor: &Actor,
    customer_id: Uuid,
    months: &[(NaiveDate, NaiveDate)],
) -> AppResult<Vec<MonthSales>> {
    let mut out: Vec<MonthSales> = months
        .iter()
        .map(|(m, _)| MonthSales {
            month: *m,
            amount: 0,
            gross_profit: 0,
        })
        .collect();
    if months.is_empty() {
        return Ok(out);
    }
    let mut p = Params::new(db.get_database_backend(), actor.company_id);
    let b: Vec<String> = months
        .iter()
        .enumerate()
        .map(|(i, (lo, hi))| format!("({i}, {}, {})", p.push(*lo), p.push(*hi)))
        .collect();
    let customer = p.push(customer_id);
    let sql = format!(
        "WITH b(bk, d0, d1) AS (VALUES {})
         SELECT CAST(b.bk AS BIGINT), CAST(SUM(s.amount) AS BIGINT), CAST(SUM(s.gross_profit) AS BIGINT)
         FROM sales_record s JOIN b ON s.sold_on >= b.d0 AND s.sold_on < b.d1
         WHERE s.company_id = $1 AND s.customer_id = {customer}
         GROUP BY b.bk",
        b.join(", ")
    );
    for r in db.query_all_raw(p.statement(sql)).await? {
        let bk: i64 = r.try_get_by_index(0)?;
        let m = &mut out[bk as usize];
        m.amount = r.try_get_by_index(1)?;
        m.gross_profit = r.try_get_by_index(2)?;
    }
    Ok(out)
}

/// Focus products nobody has proposed to the customer yet in a done
/// activity (seed 000's 未提案商材), by name. Every activity of the customer
/// counts, whoever recorded it, so that a rep never pitches twice what a
/// colleague already did; the list names products only, never activities.
pub async fn unproposed_focus_products(
    db: &impl ConnectionTrait,
    actor: &Actor,
    customer_id: Uuid,
) -> AppResult<Vec<product::Model>> {
    let placeholder = if db.get_database_backend() == DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    Ok(product::Entity::find()
        .filter(product::Column::CompanyId.eq(actor.company_id))
        .filter(product::Column::IsFocus.eq(true))
        .filter(product::Column::DeletedAt.is_null())
        .filter(Expr::cust_with_values(
            format!(
                "NOT EXISTS (SELECT 1 FROM activity_product ap JOIN activity a ON a.id = ap.activity_id \
                 WHERE ap.company_id = product.company_id AND ap.product_id = product.id \
                 AND a.customer_id = {placeholder} AND a.status = 'done' AND a.deleted_at IS NULL)"
            ),
            [customer_id],
        ))
        .order_by_asc(product::Column::Name)
        .order_by_asc(product::Column::Id)
        .all(db)
        .await?)
}

/// What a customer has brought in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerValue {
    /// Sales over the customer's whole history (lifetime value).
    pub lifetime_sales: i64,
    /// Gross profit over it.
    pub lifetime_gross_profit: i64,
    /// Sales records.
    pub sales_records: i64,
    /// The first sale.
    pub first_sale_on: Option<NaiveDate>,
    /// The latest sale.
    pub last_sale_on: Option<NaiveDate>,
    /// Sales of the last twelve months up to today.
    pub last_12_months_sales: i64,
    /// Distinct products bought.
    pub products_bought: i64,
}

/// The customer's lifetime figures. One statement.
pub async fn value(
    db: &impl ConnectionTrait,
    actor: &Actor,
    customer_id: Uuid,
    today: NaiveDate,
) -> AppResult<CustomerValue> {
    let mut p = Params::new(db.get_database_backend(), actor.company_id);
    let customer = p.push(customer_id);
    let since = p.push(today - Duration::days(365));
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(s.amount), 0) AS BIGINT), CAST(COALESCE(SUM(s.gross_profit), 0) AS BIGINT),
                COUNT(*), MIN(s.sold_on), MAX(s.sold_on),
                CAST(COALESCE(SUM(CASE WHEN s.sold_on > {since} THEN s.amount ELSE 0 END), 0) AS BIGINT),
                COUNT(DISTINCT s.product_id)
         FROM sales_record s WHERE s.company_id = $1 AND s.customer_id = {customer}"
    );
    let Some(r) = db.query_one_raw(p.statement(sql)).await? else {
        return Ok(CustomerValue::default());
    };
    Ok(CustomerValue {
        lifetime_sales: r.try_get_by_index(0)?,
        lifetime_gross_profit: r.try_get_by_index(1)?,
        sales_records: r.try_get_by_index(2)?,
        first_sale_on: r.try_get_by_index(3)?,
        last_sale_on: r.try_get_by_index(4)?,
        last_12_months_sales: r.try_get_by_index(5)?,
        products_bought: r.try_get_by_index(6)?,
    })
}

/// A product the customer has not bought but similar customers have.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossSell {
    /// The product.
    pub product_id: Uuid,
    /// Similar customers who bought it.
    pub buyers: i64,
    /// Their purchases of it.
    pub amount: i64,
}

/// Up-sell and cross-sell candidates: products bought by similar customers
/// (same customer group, else same industry; only customers the actor may
/// read) and never by this one, most buyers first. One statement; the number
/// of similar customers is returned alongside to give a share.
pub async fn cross_sell(
    db: &impl ConnectionTrait,
    actor: &Actor,
    customer: &customer::Model,
    first: u64,
) -> AppResult<(i64, Vec<CrossSell>)> {
    let mut similar = access::select::<customer::Entity>(actor)
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::DeletedAt.is_null())
        .filter(customer::Column::Id.ne(customer.id));
    similar = match (&customer.group_id, &customer.industry) {
        (Some(g), _) => similar.filter(customer::Column::GroupId.eq(*g)),
        (None, Some(i)) if !i.trim().is_empty() => similar.filter(customer::Column::Industry.eq(i.as_str())),
        _ => return Ok((0, Vec::new())),
    };
    let similar = similar.into_query();
    let mut p = Params::new(db.get_database_backend(), actor.company_id);
    let similar = p.embed(&similar);
    let me = p.push(customer.id);
    // One row even without candidates, to carry the number of similar customers.
    let sql = format!(
        "WITH sim AS ({similar}),
         cand AS (
           SELECT s.product_id, COUNT(DISTINCT s.customer_id) AS buyers, CAST(SUM(s.amount) AS BIGINT) AS amount
           FROM sales_record s JOIN sim ON sim.id = s.customer_id
           JOIN product p ON p.id = s.product_id AND p.deleted_at IS NULL
           WHERE s.company_id = $1 AND s.product_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM sales_record mine WHERE mine.company_id = $1
                             AND mine.customer_id = {me} AND mine.product_id = s.product_id)
           GROUP BY s.product_id)
         SELECT (SELECT COUNT(*) FROM sim), cand.product_id, cand.buyers, cand.amount
         FROM (SELECT 1 AS one) o LEFT JOIN cand ON 1 = 1
         ORDER BY cand.buyers DESC, cand.amount DESC, cand.product_id
         LIMIT {first}"
    );
    let mut peers = 0;
    let mut out = Vec::new();
    for r in db.query_all_raw(p.statement(sql)).await? {
        peers = r.try_get_by_index(0)?;
        let product: Option<Uuid> = r.try_get_by_index(1)?;
        if let Some(product_id) = product {
            out.push(CrossSell {
                product_id,
                buyers: r.try_get_by_index(2)?,
                amount: r.try_get_by_index(3)?,
            });
        }
    }
    Ok((peers, out))
}
