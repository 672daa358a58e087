//! Engagement ("energy") figures of a deal, customer or member: the points
//! their done activities scored (plugins' `scoring.rhai`), how broad the
//! contact is (levels and departments met), how continuous (points per week,
//! weeks since the last contact), the trend, and rankings. Computed by the
//! database over the activities the caller may read.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{activity, deal, enums::ActivityStatus};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Select};
use uuid::Uuid;

use super::{Actor, access, period, sql::Params};
use crate::error::AppResult;

/// Whose energy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergySubject {
    /// The activities on a deal.
    Deal(Uuid),
    /// The activities at a customer.
    Customer(Uuid),
    /// The activities of a member.
    Member(Uuid),
}

/// Points of one week.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekPoints {
    /// Monday of the week (company time zone).
    pub week_start: NaiveDate,
    /// Points scored.
    pub points: i64,
    /// Activities done.
    pub activities: i64,
}

/// The energy figures of one subject.
#[derive(Debug, Clone)]
pub struct Energy {
    /// Whose.
    pub subject: EnergySubject,
    /// Points of every done activity.
    pub points: i64,
    /// Done activities.
    pub activities: i64,
    /// The latest one.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Distinct contacts met.
    pub contacts: i64,
    /// Distinct departments of those contacts (contacts without one not counted).
    pub departments: i64,
    /// Contact levels met.
    pub levels: BTreeSet<String>,
    /// The last weeks, oldest first (the current week last).
    pub weekly: Vec<WeekPoints>,
}

impl Energy {
    /// Least-squares slope of the weekly points: how many points a week the
    /// subject gains (positive) or loses (negative) each week.
    pub fn trend(&self) -> f64 {
        let n = self.weekly.len() as f64;
        if n < 2.0 {
            return 0.0;
        }
        let mean_x = (n - 1.0) / 2.0;
        let mean_y = self.weekly.iter().map(|w| w.points as f64).sum::<f64>() / n;
        let (mut num, mut den) = (0.0, 0.0);
        for (i, w) in self.weekly.iter().enumerate() {
            let dx = i as f64 - mean_x;
            num += dx * (w.points as f64 - mean_y);
            den += dx * dx;
        }
        num / den
    }
}

/// The subject's done activities that the actor may read.
fn done_activities(actor: &Actor, subject: EnergySubject) -> Select<activity::Entity> {
    let q = access::select::<activity::Entity>(actor)
        .filter(activity::Column::DeletedAt.is_null())
        .filter(activity::Column::Status.eq(ActivityStatus::Done));
    match subject {
        EnergySubject::Deal(id) => q.filter(activity::Column::DealId.eq(id)),
        EnergySubject::Customer(id) => q.filter(activity::Column::CustomerId.eq(id)),
        EnergySubject::Member(id) => q.filter(activity::Column::MemberId.eq(id)),
    }
}

/// The Mondays of the last `weeks` weeks up to `today`'s, oldest first.
pub fn last_weeks(today: NaiveDate, weeks: u32) -> Vec<NaiveDate> {
    let this = period::Period::containing(entity::enums::PeriodKind::Week, today).start;
    (0..i64::from(weeks)).rev().map(|i| this - Duration::weeks(i)).collect()
}

/// The energy of a subject over its whole history, with the last `weeks`
/// weeks one by one: one statement, and one more for the breadth (contacts,
/// departments and levels met) when `breadth` is asked for.
pub async fn energy(
    db: &impl ConnectionTrait,
    actor: &Actor,
    subject: EnergySubject,
    weeks: u32,
    breadth: bool,
) -> AppResult<Energy> {
    let base = done_activities(actor, subject);
    let backend = db.get_database_backend();
    let tz = actor.time_zone;
    let mondays = last_weeks(period::today(tz), weeks);
    let mut weekly: Vec<WeekPoints> = mondays
        .iter()
        .map(|m| WeekPoints {
            week_start: *m,
            points: 0,
            activities: 0,
        })
        .collect();

    // The whole history (bucket -1) and each of the last weeks, in one pass.
    let rows = base
        .clone()
        .select_only()
        .columns([activity::Column::DoneAt, activity::Column::EnergyPoints])
        .into_query();
    let mut p = Params::new(backend, actor.company_id);
    let rows = p.embed(&rows);
    let mut b: Vec<String> = mondays
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let (lo, hi) = (period::midnight(tz, *m), period::midnight(tz, *m + Duration::days(7)));
            format!("({i}, {}, {})", p.push(lo), p.push(hi))
        })
        .collect();
    // The all-time bucket: from the epoch to far ahead, so one join serves both.
    let (lo, hi) = (
        p.push(DateTime::<Utc>::UNIX_EPOCH),
        p.push(Utc::now() + Duration::days(365 * 100)),
    );
    b.push(format!("(-1, {lo}, {hi})"));
    let sql = format!(
        "WITH b(bk, lo, hi) AS (VALUES {})
         SELECT CAST(b.bk AS BIGINT), CAST(COALESCE(SUM(x.energy_points), 0) AS BIGINT), COUNT(*), MAX(x.done_at)
         FROM ({rows}) x JOIN b ON x.done_at >= b.lo AND x.done_at < b.hi
         GROUP BY b.bk",
        b.join(", ")
    );
    let (mut points, mut activities, mut last) = (0, 0, None);
    for r in db.query_all_raw(p.statement(sql)).await? {
        let bk: i64 = r.try_get_by_index(0)?;
        let (pts, n): (i64, i64) = (r.try_get_by_index(1)?, r.try_get_by_index(2)?);
        match usize::try_from(bk).ok().and_then(|i| weekly.get_mut(i)) {
            Some(w) => {
                w.points = pts;
                w.activities = n;
            }
            None => {
                points = pts;
                activities = n;
                last = r.try_get_by_index::<Option<DateTime<Utc>>>(3)?;
            }
        }
    }

    // Contacts met, by level and department.
    let (mut contacts, mut departments, mut levels) = (0, BTreeSet::new(), BTreeSet::new());
    if breadth {
        let ids = base.select_only().column(activity::Column::Id).into_query();
        let mut p = Params::new(backend, actor.company_id);
        let ids = p.embed(&ids);
        let sql = format!(
            "SELECT c.level, c.department, COUNT(DISTINCT c.id)
             FROM activity_contact ac JOIN contact c ON c.id = ac.contact_id
             WHERE ac.company_id = $1 AND ac.activity_id IN ({ids})
             GROUP BY c.level, c.department"
        );
        for r in db.query_all_raw(p.statement(sql)).await? {
            let level: String = r.try_get_by_index(0)?;
            let department: Option<String> = r.try_get_by_index(1)?;
            let n: i64 = r.try_get_by_index(2)?;
            contacts += n;
            levels.insert(level);
            if let Some(d) = department.filter(|d| !d.trim().is_empty()) {
                departments.insert(d);
            }
        }
    }
    Ok(Energy {
        subject,
        points,
        activities,
        last_activity_at: last,
        contacts,
        departments: departments.len() as i64,
        levels,
        weekly,
    })
}

/// What a ranking ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    /// Open deals.
    Deal,
    /// Customers.
    Customer,
    /// Members.
    Member,
}

/// One place of a ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The deal, customer or member.
    pub id: Uuid,
    /// Points in the window.
    pub points: i64,
    /// Points in the window before it (same length).
    pub previous_points: i64,
    /// Activities done in the window.
    pub activities: i64,
}

/// Who a ranking covers.
#[derive(Debug, Default, Clone)]
pub struct RankFilter {
    /// Activities of members of this team or a team below it.
    pub team_id: Option<Uuid>,
    /// Activities at customers of this group.
    pub group_id: Option<Uuid>,
}

/// The deals, customers or members with the most points over the last
/// `weeks` weeks (from Monday of the first, company time zone), with the
/// points of the same span before for the trend. One statement.
pub async fn ranking(
    db: &impl ConnectionTrait,
    actor: &Actor,
    by: RankBy,
    weeks: u32,
    filter: &RankFilter,
    first: u64,
) -> AppResult<Vec<Ranked>> {
    let tz = actor.time_zone;
    let today = period::today(tz);
    let start = last_weeks(today, weeks).first().copied().unwrap_or(today);
    let (lo, mid) = (
        period::midnight(tz, start - Duration::weeks(i64::from(weeks))),
        period::midnight(tz, start),
    );
    let mut q = access::select::<activity::Entity>(actor)
        .filter(activity::Column::DeletedAt.is_null())
        .filter(activity::Column::Status.eq(ActivityStatus::Done))
        .filter(activity::Column::DoneAt.gte(lo));
    if let Some(t) = filter.team_id {
        super::find_live::<entity::team::Entity>(db, actor, t).await?;
        let members = super::kpi::members_of(db, actor.company_id, &[super::plan::Subject::Team(t)]).await?;
        q = q.filter(activity::Column::MemberId.is_in(members.concat()));
    }
    if let Some(g) = filter.group_id {
        let customers = entity::customer::Entity::find()
            .select_only()
            .column(entity::customer::Column::Id)
            .filter(entity::customer::Column::CompanyId.eq(actor.company_id))
            .filter(entity::customer::Column::GroupId.eq(g))
            .into_query();
        q = q.filter(sea_orm::Condition::all().add(activity::Column::CustomerId.in_subquery(customers)));
    }
    let key = match by {
        RankBy::Deal => {
            let open = deal::Entity::find()
                .select_only()
                .column(deal::Column::Id)
                .filter(deal::Column::CompanyId.eq(actor.company_id))
                .filter(deal::Column::Status.eq(entity::enums::DealStatus::Open))
                .filter(deal::Column::DeletedAt.is_null())
                .into_query();
            q = q.filter(sea_orm::Condition::all().add(activity::Column::DealId.in_subquery(open)));
            activity::Column::DealId
        }
        RankBy::Customer => activity::Column::CustomerId,
        RankBy::Member => activity::Column::MemberId,
    };
    let rows = q
        .select_only()
        .columns([key, activity::Column::DoneAt, activity::Column::EnergyPoints])
        .into_query();
    let mut p = Params::new(db.get_database_backend(), actor.company_id);
    let rows = p.embed(&rows);
    let mid = p.push(mid);
    let column = match by {
        RankBy::Deal => "deal_id",
        RankBy::Customer => "customer_id",
        RankBy::Member => "member_id",
    };
    let sql = format!(
        "SELECT x.{column},
           CAST(COALESCE(SUM(CASE WHEN x.done_at >= {mid} THEN x.energy_points ELSE 0 END), 0) AS BIGINT) AS pts,
           CAST(COALESCE(SUM(CASE WHEN x.done_at < {mid} THEN x.energy_points ELSE 0 END), 0) AS BIGINT),
           CAST(SUM(CASE WHEN x.done_at >= {mid} THEN 1 ELSE 0 END) AS BIGINT)
         FROM ({rows}) x
         GROUP BY x.{column}
         HAVING SUM(CASE WHEN x.done_at >= {mid} THEN 1 ELSE 0 END) > 0
         ORDER BY pts DESC, x.{column}
         LIMIT {first}"
    );
    let mut out = Vec::new();
    for r in db.query_all_raw(p.statement(sql)).await? {
        out.push(Ranked {
            id: r.try_get_by_index(0)?,
            points: r.try_get_by_index(1)?,
            previous_points: r.try_get_by_index(2)?,
            activities: r.try_get_by_index(3)?,
        });
    }
    Ok(out)
}
