//! The benchmark dataset: one company generated from a seed, through the
//! server's own schema, with multi-row inserts streamed table by table (never
//! the whole dataset in memory). Skewed like a real company: the top 10 % of
//! members own about half the customers, activities spread over three years,
//! about 1 % of customers never contacted.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use entity::{enums::*, *};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The benchmark company's slug.
pub const BENCH_SLUG: &str = "bench";
/// Password of every benchmark member.
pub const BENCH_PASSWORD: &str = "bench-password";

/// How many rows of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Members (10 % managers, one admin).
    pub members: usize,
    /// Customers.
    pub customers: usize,
    /// Deals.
    pub deals: usize,
    /// Activities.
    pub activities: usize,
    /// Tasks.
    pub tasks: usize,
}

impl Size {
    /// S (CI), M (default) or L.
    pub fn named(name: &str) -> AppResult<Self> {
        let (members, customers, deals, activities, tasks) = match name.to_ascii_uppercase().as_str() {
            "S" => (10, 1_000, 5_000, 10_000, 5_000),
            "M" => (100, 10_000, 50_000, 100_000, 50_000),
            "L" => (1_000, 100_000, 250_000, 1_000_000, 500_000),
            other => return Err(AppError::bad(format!("unknown size `{other}`; use S, M or L"))),
        };
        Ok(Self {
            members,
            customers,
            deals,
            activities,
            tasks,
        })
    }
}

/// The process stages the default plugin set defines, open ones in order.
const OPEN_STAGES: [&str; 4] = ["inquiry", "hearing", "proposal", "negotiation"];
const KINDS: [ActivityKind; 5] = [
    ActivityKind::Visit,
    ActivityKind::Call,
    ActivityKind::Email,
    ActivityKind::WebMeeting,
    ActivityKind::Seminar,
];
const LEVELS: [&str; 3] = ["staff", "manager", "executive"];
const DEPARTMENTS: [&str; 5] = ["営業部", "総務部", "情報システム部", "経営企画部", "購買部"];
const LOST_REASONS: [&str; 4] = ["price", "timing", "competitor", "no budget"];

/// Rows per INSERT: under both databases' parameter limits for the widest table.
const CHUNK: usize = 1_000;

/// An id from the RNG, time-ordered like UUID v7.
fn id_at(rng: &mut StdRng, at: DateTime<Utc>) -> Uuid {
    let bytes: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis().max(0) as u64, &bytes).into_uuid()
}

/// Buffers rows and inserts them `CHUNK` at a time.
struct Sink<A: ActiveModelTrait> {
    rows: Vec<A>,
    written: usize,
}

impl<A: ActiveModelTrait + Send> Sink<A> {
    fn new() -> Self {
        Self {
            rows: Vec::with_capacity(CHUNK),
            written: 0,
        }
    }

    async fn push(&mut self, db: &impl sea_orm::ConnectionTrait, row: A) -> AppResult<()> {
        self.rows.push(row);
        if self.rows.len() >= CHUNK {
            self.flush(db).await?;
        }
        Ok(())
    }

    /// Buffers a row that points at rows still buffered elsewhere: flushed
    /// only by an explicit `flush`, after its parents.
    fn hold(&mut self, row: A) {
        self.rows.push(row);
    }

    fn full(&self) -> bool {
        self.rows.len() >= CHUNK
    }

    async fn flush(&mut self, db: &impl sea_orm::ConnectionTrait) -> AppResult<()> {
        let mut rows = std::mem::take(&mut self.rows).into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
            self.written += chunk.len();
            A::Entity::insert_many(chunk).exec_without_returning(db).await?;
        }
        Ok(())
    }
}

struct Cust {
    id: Uuid,
    owner: u32,
    contacts: [Uuid; 2],
    deals: Vec<u32>,
}

/// What was generated.
#[derive(Debug, Default)]
pub struct Generated {
    /// The company.
    pub company_id: Uuid,
    /// Rows per table.
    pub counts: Vec<(&'static str, usize)>,
}

/// Generates the benchmark company (refused when one exists: use a fresh database).
pub async fn generate(db: &DatabaseConnection, size: Size, seed: u64) -> AppResult<Generated> {
    if company::Entity::find()
        .filter(company::Column::Slug.eq(BENCH_SLUG))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::bad(
            "this database already holds the benchmark company; use a fresh database",
        ));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now();
    let today = now.date_naive();
    let start = now - Duration::days(3 * 365);
    let span = (now - start).num_seconds();
    let when = |rng: &mut StdRng| start + Duration::seconds(rng.random_range(0..span));
    let hash = crate::auth::hash_password(BENCH_PASSWORD)?;
    let db_conn = db;
    let txn = db.begin().await?;
    let db = &txn;

    let company_id = id_at(&mut rng, start);
    company::ActiveModel {
        id: Set(company_id),
        name: Set("Bench Inc.".into()),
        slug: Set(BENCH_SLUG.into()),
        plugin_set: Set(None),
        currency: Set("JPY".into()),
        time_zone: Set("Asia/Tokyo".into()),
        settings: Set(serde_json::json!({})),
        created_at: Set(start),
        updated_at: Set(start),
        disabled_at: Set(None),
        process_version: Set(None),
    }
    .insert(db)
    .await?;

    // Teams of ten under one root; a manager leads each.
    let team_count = (size.members / 10).max(1);
    let team_ids: Vec<Uuid> = (0..team_count).map(|_| id_at(&mut rng, start)).collect();
    let member_ids: Vec<Uuid> = (0..size.members).map(|_| id_at(&mut rng, start)).collect();
    let mut teams = Sink::new();
    for (i, t) in team_ids.iter().enumerate() {
        teams
            .push(
                db,
                team::ActiveModel {
                    id: Set(*t),
                    company_id: Set(company_id),
                    parent_id: Set((i > 0).then_some(team_ids[0])),
                    name: Set(format!("Team {i}")),
                    manager_id: Set(None),
                    created_at: Set(start),
                    updated_at: Set(start),
                    deleted_at: Set(None),
                },
            )
            .await?;
    }
    teams.flush(db).await?;
    let mut members = Sink::new();
    for (i, m) in member_ids.iter().enumerate() {
        let role = match i {
            0 => Role::Admin,
            i if i % 10 == 1 => Role::Manager,
            _ => Role::Rep,
        };
        members
            .push(
                db,
                member::ActiveModel {
                    id: Set(*m),
                    company_id: Set(company_id),
                    team_id: Set((i > 0).then(|| team_ids[(i / 10).min(team_count - 1)])),
                    email: Set(format!("member{i}@bench.example")),
                    name: Set(format!("Member {i:04}")),
                    role: Set(role),
                    password_hash: Set(hash.clone()),
                    active: Set(true),
                    token_version: Set(0),
                    created_at: Set(start),
                    updated_at: Set(start),
                },
            )
            .await?;
    }
    members.flush(db).await?;
    for (i, t) in team_ids.iter().enumerate() {
        if let Some(manager) = member_ids.get(i * 10 + 1) {
            team::ActiveModel {
                id: Set(*t),
                manager_id: Set(Some(*manager)),
                ..Default::default()
            }
            .update(db)
            .await?;
        }
    }

    let group_ids: Vec<Uuid> = (0..20).map(|_| id_at(&mut rng, start)).collect();
    let mut groups = Sink::new();
    for (i, g) in group_ids.iter().enumerate() {
        groups
            .push(
                db,
                customer_group::ActiveModel {
                    id: Set(*g),
                    company_id: Set(company_id),
                    name: Set(format!("Group {i:02}")),
                    description: Set(None),
                    created_at: Set(start),
                    updated_at: Set(start),
                    deleted_at: Set(None),
                },
            )
            .await?;
    }
    groups.flush(db).await?;
    let product_ids: Vec<Uuid> = (0..50).map(|_| id_at(&mut rng, start)).collect();
    let mut products = Sink::new();
    for (i, p) in product_ids.iter().enumerate() {
        products
            .push(
                db,
                product::ActiveModel {
                    id: Set(*p),
                    company_id: Set(company_id),
                    code: Set(Some(format!("P{i:03}"))),
                    name: Set(format!("Product {i:03}")),
                    category: Set(None),
                    is_focus: Set(i < 10),
                    unit_price: Set(Some(10_000 * (i as i64 + 1))),
                    created_at: Set(start),
                    updated_at: Set(start),
                    deleted_at: Set(None),
                },
            )
            .await?;
    }
    products.flush(db).await?;

    // Customers: the top 10 % of members own about half of them.
    let owners = member_ids.len().max(1);
    let top = (owners / 10).max(1);
    let mut custs: Vec<Cust> = Vec::with_capacity(size.customers);
    let mut customers = Sink::new();
    let mut contacts = Sink::new();
    for i in 0..size.customers {
        let owner = if rng.random_bool(0.5) {
            rng.random_range(0..top)
        } else {
            rng.random_range(0..owners)
        } as u32;
        let created = when(&mut rng);
        let id = id_at(&mut rng, created);
        let mut cs = [Uuid::nil(); 2];
        for (k, c) in cs.iter_mut().enumerate() {
            *c = id_at(&mut rng, created);
            contacts.hold(contact::ActiveModel {
                external_code: Set(None),
                id: Set(*c),
                company_id: Set(company_id),
                customer_id: Set(id),
                name: Set(format!("Contact {i}-{k}")),
                name_kana: Set(None),
                department: Set(Some(DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())].into())),
                title: Set(None),
                level: Set(LEVELS[rng.random_range(0..LEVELS.len())].into()),
                email: Set(None),
                phone: Set(None),
                version: Set(1),
                created_at: Set(created),
                updated_at: Set(created),
                deleted_at: Set(None),
            });
        }
        customers.hold(customer::ActiveModel {
            id: Set(id),
            company_id: Set(company_id),
            group_id: Set(Some(group_ids[rng.random_range(0..group_ids.len())])),
            owner_id: Set(member_ids[owner as usize]),
            name: Set(format!("Customer {i:06}")),
            name_kana: Set(None),
            external_code: Set(Some(format!("C{i:06}"))),
            is_priority: Set(rng.random_bool(0.2)),
            status: Set(CustomerStatus::Active),
            industry: Set(None),
            address: Set(None),
            phone: Set(None),
            website: Set(None),
            custom_fields: Set(serde_json::json!({})),
            last_contact_at: Set(None),
            version: Set(1),
            created_at: Set(created),
            updated_at: Set(created),
            deleted_at: Set(None),
        });
        if customers.full() {
            customers.flush(db).await?;
            contacts.flush(db).await?;
        }
        custs.push(Cust {
            id,
            owner,
            contacts: cs,
            deals: Vec::new(),
        });
    }
    customers.flush(db).await?;
    contacts.flush(db).await?;
    // The last 1 % of customers are never contacted.
    let contacted = (size.customers - size.customers / 100).max(1);

    // Deals, each with its stage history; won ones booked as sales.
    let mut deal_ids: Vec<Uuid> = Vec::with_capacity(size.deals);
    let mut deals = Sink::new();
    let mut deal_members = Sink::new();
    let mut history = Sink::new();
    let mut sales = Sink::new();
    for i in 0..size.deals {
        let c = rng.random_range(0..contacted);
        let owner = member_ids[custs[c].owner as usize];
        let created = when(&mut rng);
        let id = id_at(&mut rng, created);
        let roll: f64 = rng.random();
        let (status, reached) = if roll < 0.6 {
            (DealStatus::Open, rng.random_range(0..OPEN_STAGES.len()))
        } else if roll < 0.85 {
            (DealStatus::Won, OPEN_STAGES.len() - 1)
        } else {
            (DealStatus::Lost, rng.random_range(0..OPEN_STAGES.len()))
        };
        let mut path: Vec<&str> = OPEN_STAGES[..=reached].to_vec();
        match status {
            DealStatus::Won => path.push("won"),
            DealStatus::Lost => path.push("lost"),
            DealStatus::Open => {}
        }
        let mut t = created;
        let mut from: Option<&str> = None;
        for stage in &path {
            if from.is_some() {
                t = (t + Duration::days(rng.random_range(1..40))).min(now);
            }
            history.hold(deal_stage_history::ActiveModel {
                id: Set(id_at(&mut rng, t)),
                company_id: Set(company_id),
                deal_id: Set(id),
                from_stage: Set(from.map(Into::into)),
                to_stage: Set((*stage).into()),
                changed_by: Set(owner),
                changed_at: Set(t),
            });
            from = Some(stage);
        }
        let amount = rng.random_bool(0.9).then(|| rng.random_range(1..1_000) * 10_000);
        let closed = (status != DealStatus::Open).then_some(t);
        let expected = match status {
            DealStatus::Open => Some(today + Duration::days(rng.random_range(-60..120))),
            _ => closed.map(|c| c.date_naive()),
        };
        deals.hold(deal::ActiveModel {
            id: Set(id),
            company_id: Set(company_id),
            customer_id: Set(custs[c].id),
            owner_id: Set(owner),
            name: Set(format!("Deal {i:07}")),
            stage: Set(path[path.len() - 1].into()),
            stage_entered_at: Set(t),
            amount: Set(amount),
            expected_close_date: Set(expected),
            status: Set(status),
            lost_reason: Set(
                (status == DealStatus::Lost).then(|| LOST_REASONS[rng.random_range(0..LOST_REASONS.len())].into())
            ),
            origin: Set(None),
            description: Set(None),
            closed_at: Set(closed),
            last_activity_at: Set(None),
            quality_maintainer_id: Set(None),
            version: Set(1),
            created_at: Set(created),
            updated_at: Set(t),
            deleted_at: Set(None),
            external_code: Set(None),
        });
        deal_members.hold(deal_member::ActiveModel {
            deal_id: Set(id),
            member_id: Set(owner),
            company_id: Set(company_id),
            role: Set(None),
            added_at: Set(created),
        });
        if status == DealStatus::Won {
            let amount = amount.unwrap_or(100_000);
            sales.hold(sales_record::ActiveModel {
                id: Set(id_at(&mut rng, t)),
                company_id: Set(company_id),
                customer_id: Set(custs[c].id),
                product_id: Set(Some(product_ids[rng.random_range(0..product_ids.len())])),
                member_id: Set(Some(owner)),
                sold_on: Set(t.date_naive()),
                amount: Set(amount),
                gross_profit: Set(amount * 3 / 10),
                quantity: Set(Some(1)),
                external_ref: Set(format!("S{i:07}")),
                created_at: Set(t),
            });
        }
        custs[c].deals.push(i as u32);
        deal_ids.push(id);
        if deals.full() {
            deals.flush(db).await?;
            deal_members.flush(db).await?;
            history.flush(db).await?;
            sales.flush(db).await?;
        }
    }
    deals.flush(db).await?;
    deal_members.flush(db).await?;
    history.flush(db).await?;
    sales.flush(db).await?;

    // Activities: mostly by the customer's owner; 80 % done over three
    // years, 15 % planned in the next month, 5 % cancelled.
    let mut activities = Sink::new();
    let mut met = Sink::new();
    let mut proposed = Sink::new();
    for _ in 0..size.activities {
        let c = &custs[rng.random_range(0..contacted)];
        let member = if rng.random_bool(0.9) {
            member_ids[c.owner as usize]
        } else {
            member_ids[rng.random_range(0..owners)]
        };
        let roll: f64 = rng.random();
        let (status, at) = if roll < 0.8 {
            (ActivityStatus::Done, when(&mut rng))
        } else if roll < 0.95 {
            (
                ActivityStatus::Planned,
                now + Duration::seconds(rng.random_range(0..30 * 86_400)),
            )
        } else {
            (ActivityStatus::Cancelled, when(&mut rng))
        };
        let done = status == ActivityStatus::Done;
        let id = id_at(&mut rng, at);
        let deal = (!c.deals.is_empty() && rng.random_bool(0.5))
            .then(|| deal_ids[c.deals[rng.random_range(0..c.deals.len())] as usize]);
        activities.hold(activity::ActiveModel {
            id: Set(id),
            company_id: Set(company_id),
            member_id: Set(member),
            customer_id: Set(c.id),
            deal_id: Set(deal),
            daily_report_id: Set(None),
            kind: Set(KINDS[rng.random_range(0..KINDS.len())]),
            status: Set(status),
            subject: Set("visit".into()),
            scheduled_at: Set(at),
            done_at: Set(done.then_some(at)),
            duration_minutes: Set(Some(30 * rng.random_range(1..5))),
            attendee_count: Set(1),
            notes: Set(None),
            outcome: Set(None),
            energy_points: Set(done.then(|| rng.random_range(1..20))),
            energy_version: Set(None),
            version: Set(1),
            created_at: Set(at - Duration::days(rng.random_range(0..14))),
            updated_at: Set(at),
            deleted_at: Set(None),
            external_ref: Set(None),
        });
        if done && rng.random_bool(0.3) {
            met.hold(activity_contact::ActiveModel {
                activity_id: Set(id),
                contact_id: Set(c.contacts[rng.random_range(0..2)]),
                company_id: Set(company_id),
            });
        }
        if done && rng.random_bool(0.2) {
            proposed.hold(activity_product::ActiveModel {
                activity_id: Set(id),
                product_id: Set(product_ids[rng.random_range(0..product_ids.len())]),
                company_id: Set(company_id),
            });
        }
        if activities.full() {
            activities.flush(db).await?;
            met.flush(db).await?;
            proposed.flush(db).await?;
        }
    }
    activities.flush(db).await?;
    met.flush(db).await?;
    proposed.flush(db).await?;

    let kinds = [TaskKind::CustomerPromise, TaskKind::Internal];
    let mut tasks = Sink::new();
    for i in 0..size.tasks {
        let c = &custs[rng.random_range(0..size.customers)];
        let created = when(&mut rng);
        let done = rng.random_bool(0.6);
        let assignee = member_ids[c.owner as usize];
        // Most promises are made on a deal.
        let deal = (!c.deals.is_empty() && rng.random_bool(0.6))
            .then(|| deal_ids[c.deals[rng.random_range(0..c.deals.len())] as usize]);
        tasks
            .push(
                db,
                task::ActiveModel {
                    id: Set(id_at(&mut rng, created)),
                    company_id: Set(company_id),
                    title: Set(format!("Task {i}")),
                    description: Set(None),
                    kind: Set(kinds[rng.random_range(0..kinds.len())]),
                    status: Set(if done { TaskStatus::Done } else { TaskStatus::Open }),
                    assignee_id: Set(assignee),
                    creator_id: Set(assignee),
                    due_date: Set(Some(today + Duration::days(rng.random_range(-60..60)))),
                    customer_id: Set(Some(c.id)),
                    deal_id: Set(deal),
                    activity_id: Set(None),
                    quote_id: Set(None),
                    completed_at: Set(done.then_some(created)),
                    version: Set(1),
                    created_at: Set(created),
                    updated_at: Set(created),
                    deleted_at: Set(None),
                    external_ref: Set(None),
                },
            )
            .await?;
    }
    tasks.flush(db).await?;

    // Monthly targets of every member for the last twelve months and the next.
    let mut targets = Sink::new();
    let this_month = month_start(today);
    for m in &member_ids {
        for back in -1..12 {
            let month = if back >= 0 {
                this_month - chrono::Months::new(back as u32)
            } else {
                this_month + chrono::Months::new(1)
            };
            for (metric, value) in [("visits_done", 40), ("sales_amount", 5_000_000)] {
                targets
                    .push(
                        db,
                        target::ActiveModel {
                            id: Set(id_at(&mut rng, start)),
                            company_id: Set(company_id),
                            member_id: Set(Some(*m)),
                            team_id: Set(None),
                            period_kind: Set(PeriodKind::Month),
                            period_start: Set(month),
                            metric: Set(metric.into()),
                            value: Set(value),
                            created_at: Set(start),
                            updated_at: Set(start),
                        },
                    )
                    .await?;
            }
        }
    }
    targets.flush(db).await?;
    txn.commit().await?;
    // Fresh statistics, as autovacuum would gather on a live database: the
    // planner needs them to choose index ranges over scans.
    db_conn.execute_unprepared("ANALYZE").await?;
    Ok(Generated {
        company_id,
        counts: vec![
            ("members", members.written),
            ("customers", customers.written),
            ("contacts", contacts.written),
            ("deals", size.deals),
            ("stage history", history.written),
            ("activities", activities.written),
            ("activity contacts", met.written),
            ("activity products", proposed.written),
            ("tasks", tasks.written),
            ("sales records", sales.written),
            ("targets", targets.written),
        ],
    })
}

fn month_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d)
}
