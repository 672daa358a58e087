//! The write path with and without its fan-out (`sfa bench write-path`): the
//! same daily report (five visits on five deals, submitted) by a rep of a
//! quiet company (no manager, deals without members, no webhooks: nothing to
//! notify, nothing to post) and of a busy one (a manager, three members on
//! every deal, a webhook wanting daily reports: 16 notifications and one
//! outbox row per report). Both run through the service layer in a write
//! transaction each, alternating, on the configured database.

use std::time::Instant;

use chrono::{Duration, NaiveDate};
use entity::{
    company, customer, deal, deal_member,
    enums::{ActivityKind, ActivityStatus, CustomerStatus, DealStatus, Role},
    member, team, webhook,
};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    plugins::Plugins,
    service::{
        self, Actor,
        activity::{Details, NewActivity, ReportSubmission},
        new_id, now,
    },
};

/// Latency figures of one variant, in milliseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// What `bench write-path` measured.
#[derive(Debug, Serialize)]
pub struct WriteReport {
    /// Reports submitted per variant.
    pub runs: usize,
    /// Without notifications and outbox rows.
    pub quiet: Latency,
    /// With them.
    pub busy: Latency,
    /// busy p50 / quiet p50.
    pub ratio: f64,
    /// Notification rows written per busy report.
    pub notifications_per_report: f64,
    /// Webhook outbox rows written per busy report.
    pub deliveries_per_report: f64,
}

impl WriteReport {
    /// A table for the terminal.
    pub fn table(&self) -> String {
        format!(
            "daily report (5 visits on 5 deals), {} runs each\n\
             {:<34} {:>8} {:>8}\n\
             {:<34} {:>8.2} {:>8.2}\n\
             {:<34} {:>8.2} {:>8.2}\n\
             ratio (p50): {:.2}; per busy report: {:.1} notifications, {:.1} webhook deliveries\n",
            self.runs,
            "variant",
            "p50 ms",
            "p99 ms",
            "quiet (nothing to notify or post)",
            self.quiet.p50,
            self.quiet.p99,
            "busy (16 notifications, 1 outbox)",
            self.busy.p50,
            self.busy.p99,
            self.ratio,
            self.notifications_per_report,
            self.deliveries_per_report
        )
    }
}

async fn insert<A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send>(
    db: &impl ConnectionTrait,
    am: A,
) -> AppResult<()>
where
    <A::Entity as sea_orm::EntityTrait>::Model: IntoActiveModel<A>,
{
    am.insert(db).await?;
    Ok(())
}

/// A company with one rep and five deals; `busy` adds a manager, three
/// members per deal and a webhook. Returns the rep as an actor and the deals
/// as (customer, deal).
async fn setup(db: &DatabaseConnection, plugins: &Plugins, busy: bool) -> AppResult<(Actor, Vec<(Uuid, Uuid)>)> {
    let t = now();
    let company_id = new_id();
    let slug = format!(
        "bench-write-{}-{}",
        if busy { "busy" } else { "quiet" },
        company_id.simple()
    );
    insert(
        db,
        company::Model {
            id: company_id,
            name: slug.clone(),
            slug: slug.clone(),
            plugin_set: None,
            currency: "JPY".into(),
            time_zone: "Asia/Tokyo".into(),
            settings: json!({}),
            created_at: t,
            updated_at: t,
            disabled_at: None,
            process_version: None,
        }
        .into_active_model()
        .reset_all(),
    )
    .await?;
    let ids: Vec<Uuid> = (0..5).map(|_| new_id()).collect();
    let (rep, manager, others) = (ids[0], ids[1], &ids[2..]);
    let team_id = new_id();
    insert(
        db,
        team::Model {
            id: team_id,
            company_id,
            parent_id: None,
            name: "sales".into(),
            manager_id: busy.then_some(manager),
            created_at: t,
            updated_at: t,
            deleted_at: None,
        }
        .into_active_model()
        .reset_all(),
    )
    .await?;
    for (i, id) in ids.iter().enumerate() {
        let role = if *id == manager { Role::Manager } else { Role::Rep };
        insert(
            db,
            member::Model {
                id: *id,
                company_id,
                team_id: Some(team_id),
                email: format!("m{i}@{slug}.bench"),
                name: format!("member {i}"),
                role,
                password_hash: "-".into(),
                active: true,
                token_version: 0,
                created_at: t,
                updated_at: t,
            }
            .into_active_model()
            .reset_all(),
        )
        .await?;
    }
    let mut deals = Vec::new();
    for i in 0..5 {
        let (customer_id, deal_id) = (new_id(), new_id());
        insert(
            db,
            customer::Model {
                id: customer_id,
                company_id,
                group_id: None,
                owner_id: rep,
                name: format!("customer {i}"),
                name_kana: None,
                external_code: None,
                is_priority: false,
                status: CustomerStatus::Active,
                industry: None,
                address: None,
                phone: None,
                website: None,
                custom_fields: json!({}),
                last_contact_at: None,
                version: 1,
                created_at: t,
                updated_at: t,
                deleted_at: None,
            }
            .into_active_model()
            .reset_all(),
        )
        .await?;
        insert(
            db,
            deal::Model {
                id: deal_id,
                company_id,
                customer_id,
                owner_id: rep,
                name: format!("deal {i}"),
                stage: "hearing".into(),
                stage_entered_at: t,
                amount: Some(1_000_000),
                expected_close_date: None,
                status: DealStatus::Open,
                lost_reason: None,
                origin: None,
                description: None,
                closed_at: None,
                last_activity_at: None,
                quality_maintainer_id: None,
                version: 1,
                created_at: t,
                updated_at: t,
                deleted_at: None,
                external_code: None,
            }
            .into_active_model()
            .reset_all(),
        )
        .await?;
        if busy {
            for m in others {
                insert(
                    db,
                    deal_member::Model {
                        deal_id,
                        member_id: *m,
                        company_id,
                        role: None,
                        added_at: t,
                    }
                    .into_active_model()
                    .reset_all(),
                )
                .await?;
            }
        }
        deals.push((customer_id, deal_id));
    }
    if busy {
        insert(
            db,
            webhook::Model {
                id: new_id(),
                company_id,
                name: "#sales".into(),
                url: "https://chat.example.com/hooks/bench".into(),
                secret: "whsec_bench".into(),
                events: json!(["daily_report"]),
                active: true,
                created_at: t,
                updated_at: t,
                deleted_at: None,
            }
            .into_active_model()
            .reset_all(),
        )
        .await?;
    }
    let m = member::Entity::find_by_id(rep)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Member"))?;
    Ok((service::auth::actor_of(db, plugins, &m, None).await?, deals))
}

fn submission(day: NaiveDate, deals: &[(Uuid, Uuid)]) -> ReportSubmission {
    let at = day.and_hms_opt(1, 0, 0).unwrap_or_default().and_utc();
    ReportSubmission {
        date: day,
        body: "今日は5社を訪問。提案の反応は上々。".into(),
        version: None,
        submit: true,
        activities: deals
            .iter()
            .enumerate()
            .map(|(i, (customer_id, deal_id))| NewActivity {
                member_id: None,
                customer_id: *customer_id,
                deal_id: Some(*deal_id),
                kind: ActivityKind::Visit,
                status: ActivityStatus::Done,
                subject: format!("visit {i}"),
                scheduled_at: at + Duration::hours(i as i64),
                done_at: Some(at + Duration::hours(i as i64)),
                duration_minutes: Some(60),
                attendee_count: None,
                notes: None,
                outcome: None,
                details: Details::default(),
            })
            .collect(),
        completed: Vec::new(),
    }
}

async fn submit(db: &DatabaseConnection, actor: &Actor, s: ReportSubmission) -> AppResult<f64> {
    let started = Instant::now();
    let txn = crate::db::begin_write(db).await?;
    service::activity::submit_report(&txn, actor, s).await?;
    txn.commit().await?;
    actor.outbox.take();
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

fn latency(mut ms: Vec<f64>) -> Latency {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    Latency {
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// Runs `runs` submissions of each variant, alternating.
pub async fn run(db: &DatabaseConnection, plugins: &Plugins, runs: usize) -> AppResult<WriteReport> {
    let (quiet, quiet_deals) = setup(db, plugins, false).await?;
    let (busy, busy_deals) = setup(db, plugins, true).await?;
    let start = NaiveDate::from_ymd_opt(2020, 1, 1).ok_or_else(|| AppError::Internal("date".into()))?;
    let (mut q, mut b) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    // A few unmeasured rounds warm the pool and the statement caches.
    for i in 0..runs + 5 {
        let day = start + Duration::days(i as i64);
        let tq = submit(db, &quiet, submission(day, &quiet_deals)).await?;
        let tb = submit(db, &busy, submission(day, &busy_deals)).await?;
        if i >= 5 {
            q.push(tq);
            b.push(tb);
        }
    }
    let count = |table: &str, company: Uuid| {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE company_id = $1");
        let stmt = sea_orm::Statement::from_sql_and_values(db.get_database_backend(), sql, [company.into()]);
        async move {
            let row = db.query_one_raw(stmt).await?;
            Ok::<i64, AppError>(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
        }
    };
    let reports = (runs + 5) as f64;
    let notifications = count("notification", busy.company_id).await? as f64 / reports;
    let deliveries = count("webhook_delivery", busy.company_id).await? as f64 / reports;
    let (quiet, busy) = (latency(q), latency(b));
    Ok(WriteReport {
        runs,
        ratio: busy.p50 / quiet.p50,
        quiet,
        busy,
        notifications_per_report: notifications,
        deliveries_per_report: deliveries,
    })
}
