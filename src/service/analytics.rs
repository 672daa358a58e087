//! The manager's views, computed by the database and scoped by the caller's
//! read rules.

use chrono::{DateTime, Duration, Utc};
use entity::{customer, team};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{Actor, access, find_live, plan::Subject};
use crate::error::AppResult;

/// Which customers an uncontacted list covers.
#[derive(Debug, Default, Clone)]
pub struct UncontactedFilter {
    /// Customers of this customer group.
    pub group_id: Option<Uuid>,
    /// Customers owned by this member.
    pub owner_id: Option<Uuid>,
    /// Customers owned by members of this team or a team below it.
    pub team_id: Option<Uuid>,
    /// Priority customers only.
    pub priority_only: bool,
}

/// A customer nobody contacted lately.
#[derive(Debug, Clone)]
pub struct Uncontacted {
    /// The customer.
    pub customer_id: Uuid,
    /// Its latest done activity; `None`: never contacted.
    pub last_contact_at: Option<DateTime<Utc>>,
    /// Its open deals.
    pub open_deals: i64,
    /// Their amount.
    pub open_amount: i64,
    /// Energy points of the activities done on them.
    pub open_energy: i64,
}

/// How many uncontacted customers one owner has in one customer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UncontactedGroup {
    /// The customer group (`None`: customers in no group).
    pub group_id: Option<Uuid>,
    /// The owner.
    pub owner_id: Uuid,
    /// Customers.
    pub customers: i64,
    /// Of which priority customers.
    pub priority: i64,
}

/// The list and its summary.
#[derive(Debug, Clone)]
pub struct UncontactedReport {
    /// Contact since this instant counts.
    pub since: DateTime<Utc>,
    /// Every uncontacted customer the filter covers.
    pub total: u64,
    /// Per customer group and owner.
    pub groups: Vec<UncontactedGroup>,
    /// The requested page: priority customers first, then the longest without contact (never first).
    pub customers: Vec<Uncontacted>,
}

const LAST_CONTACT: &str = "(SELECT MAX(a.done_at) FROM activity a WHERE a.company_id = customer.company_id \
     AND a.customer_id = customer.id AND a.status = 'done' AND a.deleted_at IS NULL)";
const OPEN_DEALS: &str = "(SELECT COUNT(*) FROM deal d WHERE d.company_id = customer.company_id \
     AND d.customer_id = customer.id AND d.status = 'open' AND d.deleted_at IS NULL)";
const OPEN_AMOUNT: &str = "(SELECT CAST(COALESCE(SUM(d.amount), 0) AS BIGINT) FROM deal d \
     WHERE d.company_id = customer.company_id AND d.customer_id = customer.id AND d.status = 'open' \
     AND d.deleted_at IS NULL)";
const OPEN_ENERGY: &str = "(SELECT CAST(COALESCE(SUM(a.energy_points), 0) AS BIGINT) FROM activity a \
     JOIN deal d ON d.id = a.deal_id WHERE a.company_id = customer.company_id AND a.customer_id = customer.id \
     AND a.status = 'done' AND a.deleted_at IS NULL AND d.status = 'open' AND d.deleted_at IS NULL)";

/// Customer, last contact, open deals, their amount, their energy.
type UncontactedRow = (Uuid, Option<DateTime<Utc>>, i64, i64, i64);

/// Customers whose latest done activity is older than `days` days, or who
/// were never contacted (seed 003's manager routine, seed 001's list per
/// customer group): three statements, whatever the number of customers.
pub async fn uncontacted(
    db: &impl ConnectionTrait,
    actor: &Actor,
    days: i64,
    filter: &UncontactedFilter,
    first: u64,
    offset: u64,
) -> AppResult<UncontactedReport> {
    let since = super::now() - Duration::days(days);
    let placeholder = if db.get_database_backend() == DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let mut q = access::select::<customer::Entity>(actor)
        .filter(customer::Column::DeletedAt.is_null())
        .filter(Expr::cust_with_values(
            format!(
                "NOT EXISTS (SELECT 1 FROM activity a WHERE a.company_id = customer.company_id \
                 AND a.customer_id = customer.id AND a.status = 'done' AND a.deleted_at IS NULL \
                 AND a.done_at >= {placeholder})"
            ),
            [since],
        ));
    if let Some(g) = filter.group_id {
        q = q.filter(customer::Column::GroupId.eq(g));
    }
    if let Some(o) = filter.owner_id {
        q = q.filter(customer::Column::OwnerId.eq(o));
    }
    if let Some(t) = filter.team_id {
        find_live::<team::Entity>(db, actor, t).await?;
        let members = super::kpi::members_of(db, actor.company_id, &[Subject::Team(t)]).await?;
        q = q.filter(customer::Column::OwnerId.is_in(members.into_iter().flatten()));
    }
    if filter.priority_only {
        q = q.filter(customer::Column::IsPriority.eq(true));
    }
    let total = q.clone().count(db).await?;
    let groups: Vec<(Option<Uuid>, Uuid, i64, i64)> = q
        .clone()
        .select_only()
        .column(customer::Column::GroupId)
        .column(customer::Column::OwnerId)
        .expr(Expr::cust("COUNT(*)"))
        .expr(Expr::cust(
            "CAST(SUM(CASE WHEN customer.is_priority THEN 1 ELSE 0 END) AS BIGINT)",
        ))
        .group_by(customer::Column::GroupId)
        .group_by(customer::Column::OwnerId)
        .into_tuple()
        .all(db)
        .await?;
    // Customers in no group last, the same on both databases.
    let mut groups = groups;
    groups.sort_by_key(|g| (g.0.is_none(), g.0, g.1));
    let rows: Vec<UncontactedRow> = q
        .select_only()
        .column(customer::Column::Id)
        .expr(Expr::cust(LAST_CONTACT))
        .expr(Expr::cust(OPEN_DEALS))
        .expr(Expr::cust(OPEN_AMOUNT))
        .expr(Expr::cust(OPEN_ENERGY))
        .order_by(customer::Column::IsPriority, Order::Desc)
        .order_by(Expr::cust(format!("{LAST_CONTACT} IS NOT NULL")), Order::Asc)
        .order_by(Expr::cust(LAST_CONTACT), Order::Asc)
        .order_by(customer::Column::Name, Order::Asc)
        .order_by(customer::Column::Id, Order::Asc)
        .limit(first)
        .offset(offset)
        .into_tuple()
        .all(db)
        .await?;
    Ok(UncontactedReport {
        since,
        total,
        groups: groups
            .into_iter()
            .map(|(group_id, owner_id, customers, priority)| UncontactedGroup {
                group_id,
                owner_id,
                customers,
                priority,
            })
            .collect(),
        customers: rows
            .into_iter()
            .map(
                |(customer_id, last_contact_at, open_deals, open_amount, open_energy)| Uncontacted {
                    customer_id,
                    last_contact_at,
                    open_deals,
                    open_amount,
                    open_energy,
                },
            )
            .collect(),
    })
}

/// Most events one calendar answer holds.
pub const MAX_CALENDAR_EVENTS: u64 = 5_000;

/// The activities of `members` that fall between `lo` and `hi`: planned ones
/// by when they are scheduled, done ones by when they were done; cancelled
/// ones only when asked. Ordered by that time. One statement.
pub async fn calendar(
    db: &impl ConnectionTrait,
    actor: &Actor,
    members: Vec<Uuid>,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    include_cancelled: bool,
) -> AppResult<Vec<entity::activity::Model>> {
    use entity::{activity, enums::ActivityStatus};
    use sea_orm::Condition;
    let done = Condition::all()
        .add(activity::Column::Status.eq(ActivityStatus::Done))
        .add(activity::Column::DoneAt.gte(lo))
        .add(activity::Column::DoneAt.lt(hi));
    let mut other = Condition::all()
        .add(activity::Column::Status.ne(ActivityStatus::Done))
        .add(activity::Column::ScheduledAt.gte(lo))
        .add(activity::Column::ScheduledAt.lt(hi));
    if !include_cancelled {
        other = other.add(activity::Column::Status.ne(ActivityStatus::Cancelled));
    }
    let found = access::select::<activity::Entity>(actor)
        .filter(activity::Column::DeletedAt.is_null())
        .filter(activity::Column::MemberId.is_in(members))
        .filter(Condition::any().add(done).add(other))
        .order_by(
            Expr::cust("COALESCE(activity.done_at, activity.scheduled_at)"),
            Order::Asc,
        )
        .order_by(activity::Column::Id, Order::Asc)
        .limit(MAX_CALENDAR_EVENTS + 1)
        .all(db)
        .await?;
    if found.len() as u64 > MAX_CALENDAR_EVENTS {
        return Err(crate::error::AppError::bad(format!(
            "more than {MAX_CALENDAR_EVENTS} events; choose a shorter range or fewer members"
        )));
    }
    Ok(found)
}
