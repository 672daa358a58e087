//! The manager's views timed against the best hand-written SQL for the same
//! figures, on the same database, in the same run, as the benchmark
//! company's admin (no read rule narrows anything: the comparison is of the
//! statements, not of the access rules).

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use entity::{company, enums::PeriodKind, member, team};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::generate::BENCH_SLUG;
use crate::{
    error::{AppError, AppResult},
    plugins::Plugins,
    service::{
        Actor, aggregate, analytics, energy, forecast, kpi,
        period::{self, Period},
        pipeline::{self, DealScope},
        plan::Subject,
        sql::Params,
    },
};

/// One view's timings.
#[derive(Debug, Serialize)]
pub struct CaseResult {
    /// The view.
    pub name: &'static str,
    /// Our median, in milliseconds.
    pub ours_ms: f64,
    /// The hand-written SQL's median.
    pub hand_ms: f64,
    /// Ours over hand-written (1.0 = as fast).
    pub ratio: f64,
    /// Rows our answer holds (a sanity check).
    pub rows: usize,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `postgres` or `sqlite`.
    pub database: String,
    /// Timed runs per side.
    pub runs: usize,
    /// Per view.
    pub cases: Vec<CaseResult>,
    /// Resident memory before the runs (KiB).
    pub rss_before_kib: u64,
    /// Peak resident memory of the process at the end (KiB).
    pub rss_peak_kib: u64,
}

const CASES: [&str; 8] = [
    "kpi: team x month",
    "uncontacted: 30 days, page of 50",
    "pipeline: stages now",
    "pipeline: stages 6 months ago",
    "pipeline: conversion, last year",
    "forecast: team x month",
    "aggregate: activities by member x month, 1 year",
    "energy ranking: customers, 4 weeks",
];

/// Who the views run as (the company's admin) and for which team (the root).
pub(super) struct Ctx {
    pub(super) actor: Actor,
    pub(super) root: uuid::Uuid,
    backend: DbBackend,
}

async fn ours(db: &DatabaseConnection, c: &Ctx, case: usize) -> AppResult<usize> {
    let a = &c.actor;
    let tz = a.time_zone;
    let today = period::today(tz);
    let month = Period::containing(PeriodKind::Month, today);
    let year_ago = Utc::now() - Duration::days(365);
    Ok(match case {
        0 => kpi::rows(db, a.company_id, tz, today, &[Subject::Team(c.root)], &[month])
            .await?
            .len(),
        1 => {
            let r = analytics::uncontacted(db, a, 30, &Default::default(), 50, 0).await?;
            r.customers.len() + r.groups.len()
        }
        2 => pipeline::stages(db, a, &DealScope::default(), None).await?.len(),
        3 => {
            let t = Utc::now() - Duration::days(182);
            pipeline::stages(db, a, &DealScope::default(), Some(t)).await?.len()
        }
        4 => {
            let c = pipeline::conversion(db, a, &DealScope::default(), year_ago, Utc::now()).await?;
            c.reached.len()
        }
        5 => {
            let stages = &a.plugins.process.stages;
            forecast::rows(db, a.company_id, tz, today, stages, &[Subject::Team(c.root)], month)
                .await?
                .len()
        }
        6 => {
            let req = aggregate::AggregateRequest {
                fact: aggregate::Fact::Activities,
                dimensions: vec!["member".into(), "month".into()],
                measures: vec!["count".into(), "sum:energy_points".into()],
                filter: aggregate::AggregateFilter {
                    from: Some(today - Duration::days(365)),
                    to: Some(today),
                    ..Default::default()
                },
                limit: 10_000,
            };
            aggregate::run(db, a, &req).await?.rows.len()
        }
        _ => energy::ranking(db, a, energy::RankBy::Customer, 4, &Default::default(), 20)
            .await?
            .len(),
    })
}

/// The hand-written statements for the same figures.
pub(super) fn hand(c: &Ctx, case: usize) -> Vec<sea_orm::Statement> {
    let a = &c.actor;
    let pg = c.backend == DbBackend::Postgres;
    let tz = a.time_zone;
    let today = period::today(tz);
    let month = Period::containing(PeriodKind::Month, today);
    let (lo, hi) = month.bounds(tz);
    let mut p = Params::new(c.backend, a.company_id);
    let local_day = |col: &str| {
        if pg {
            format!("CAST({col} AT TIME ZONE 'Asia/Tokyo' AS DATE)")
        } else {
            format!("date({col}, '+9 hours')")
        }
    };
    let one = |p: Params, sql: String| vec![p.statement(sql)];
    match case {
        0 => {
            let (lo, hi, d0, d1) = (p.push(lo), p.push(hi), p.push(month.start), p.push(month.end));
            let day = local_day("a.done_at");
            let sql = format!(
                "WITH m AS (SELECT id FROM member WHERE company_id = $1 AND team_id IS NOT NULL)
                 SELECT * FROM
                 (SELECT COUNT(*) AS planned, SUM(CASE WHEN kind = 'visit' THEN 1 ELSE 0 END) AS vp FROM activity
                  WHERE company_id = $1 AND member_id IN (SELECT id FROM m) AND deleted_at IS NULL
                    AND status <> 'cancelled' AND scheduled_at >= {lo} AND scheduled_at < {hi}) s,
                 (SELECT COUNT(*) AS booked FROM activity WHERE company_id = $1 AND member_id IN (SELECT id FROM m)
                    AND deleted_at IS NULL AND status <> 'cancelled' AND kind = 'visit' AND scheduled_at > created_at
                    AND created_at >= {lo} AND created_at < {hi}) b,
                 (SELECT COUNT(*) AS done, SUM(CASE WHEN a.kind = 'visit' THEN 1 ELSE 0 END) AS visits,
                         SUM(CASE WHEN a.kind = 'call' THEN 1 ELSE 0 END) AS calls,
                         SUM(CASE WHEN a.kind = 'visit' AND c.is_priority THEN 1 ELSE 0 END) AS pv,
                         COUNT(DISTINCT CASE WHEN a.kind = 'visit' AND c.is_priority THEN {day} END) AS pdays,
                         COUNT(DISTINCT a.customer_id) AS customers, SUM(a.energy_points) AS energy
                  FROM activity a JOIN customer c ON c.id = a.customer_id
                  WHERE a.company_id = $1 AND a.member_id IN (SELECT id FROM m) AND a.deleted_at IS NULL
                    AND a.status = 'done' AND a.done_at >= {lo} AND a.done_at < {hi}) d,
                 (SELECT COUNT(*) AS fp, COUNT(DISTINCT ap.product_id) AS fprod FROM activity_product ap
                  JOIN activity a ON a.id = ap.activity_id JOIN product pr ON pr.id = ap.product_id
                  WHERE a.company_id = $1 AND a.member_id IN (SELECT id FROM m) AND a.deleted_at IS NULL
                    AND a.status = 'done' AND pr.is_focus AND a.done_at >= {lo} AND a.done_at < {hi}) f,
                 (SELECT COUNT(*) AS created, SUM(amount) AS created_amount FROM deal WHERE company_id = $1
                    AND owner_id IN (SELECT id FROM m) AND deleted_at IS NULL
                    AND created_at >= {lo} AND created_at < {hi}) o,
                 (SELECT SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END) AS won,
                         SUM(CASE WHEN status = 'won' THEN amount ELSE 0 END) AS won_amount,
                         SUM(CASE WHEN status = 'lost' THEN 1 ELSE 0 END) AS lost FROM deal WHERE company_id = $1
                    AND owner_id IN (SELECT id FROM m) AND deleted_at IS NULL AND status IN ('won', 'lost')
                    AND closed_at >= {lo} AND closed_at < {hi}) cl,
                 (SELECT SUM(amount) AS sales, SUM(gross_profit) AS profit FROM sales_record WHERE company_id = $1
                    AND member_id IN (SELECT id FROM m) AND sold_on >= {d0} AND sold_on < {d1}) sa,
                 (SELECT SUM(CASE WHEN metric = 'visits_done' THEN value END) AS tv,
                         SUM(CASE WHEN metric = 'sales_amount' THEN value END) AS ts FROM target
                  WHERE company_id = $1 AND member_id IN (SELECT id FROM m) AND period_kind = 'month'
                    AND period_start >= {d0} AND period_start < {d1}) t"
            );
            one(p, sql)
        }
        1 => {
            let since = p.push(Utc::now() - Duration::days(30));
            let q = "WITH q AS (SELECT c.id, c.group_id, c.owner_id, c.is_priority, c.name,
                   (SELECT MAX(a.done_at) FROM activity a WHERE a.company_id = $1 AND a.customer_id = c.id
                      AND a.status = 'done' AND a.deleted_at IS NULL) AS last_at
                 FROM customer c WHERE c.company_id = $1 AND c.deleted_at IS NULL)";
            let filter = format!("last_at IS NULL OR last_at < {since}");
            let groups = format!(
                "{q} SELECT group_id, owner_id, COUNT(*), SUM(CASE WHEN is_priority THEN 1 ELSE 0 END)
                 FROM q WHERE {filter} GROUP BY group_id, owner_id"
            );
            let page = format!(
                "{q} SELECT q.id, q.last_at,
                   (SELECT COUNT(*) FROM deal d WHERE d.company_id = $1 AND d.customer_id = q.id
                      AND d.status = 'open' AND d.deleted_at IS NULL),
                   (SELECT SUM(d.amount) FROM deal d WHERE d.company_id = $1 AND d.customer_id = q.id
                      AND d.status = 'open' AND d.deleted_at IS NULL),
                   (SELECT SUM(a.energy_points) FROM activity a JOIN deal d ON d.id = a.deal_id
                      WHERE a.company_id = $1 AND a.customer_id = q.id AND a.status = 'done'
                        AND a.deleted_at IS NULL AND d.status = 'open')
                 FROM q WHERE {filter}
                 ORDER BY q.is_priority DESC, q.last_at IS NOT NULL, q.last_at, q.name, q.id LIMIT 50"
            );
            let values = p.values.clone();
            vec![
                sea_orm::Statement::from_sql_and_values(c.backend, groups, values),
                p.statement(page),
            ]
        }
        2 | 3 => {
            let st = stage_values(&mut p, a);
            let at = p.push(if case == 2 {
                Utc::now()
            } else {
                Utc::now() - Duration::days(182)
            });
            let age = p.days_between(&at, "cur.entered");
            let cur = match (case, pg) {
                (2, _) => "SELECT customer_id, amount, stage, stage_entered_at AS entered FROM deal
                           WHERE company_id = $1 AND deleted_at IS NULL"
                    .to_string(),
                // As ours: deals not moved since come from the deal row, the others' latest move by index.
                (_, true) => format!(
                    "SELECT customer_id, amount, stage, stage_entered_at AS entered FROM deal
                     WHERE company_id = $1 AND deleted_at IS NULL AND stage_entered_at <= {at}
                     UNION ALL
                     SELECT d.customer_id, d.amount, h.to_stage, h.changed_at FROM deal d CROSS JOIN LATERAL (
                       SELECT to_stage, changed_at FROM deal_stage_history WHERE deal_id = d.id AND changed_at <= {at}
                       ORDER BY changed_at DESC, id DESC LIMIT 1) h
                     WHERE d.company_id = $1 AND d.deleted_at IS NULL AND d.stage_entered_at > {at} AND d.created_at <= {at}"
                ),
                _ => format!(
                    "SELECT customer_id, amount, stage, stage_entered_at AS entered FROM deal
                     WHERE company_id = $1 AND deleted_at IS NULL AND stage_entered_at <= {at}
                     UNION ALL
                     SELECT d.customer_id, d.amount, h.to_stage, h.changed_at FROM deal d
                     JOIN deal_stage_history h ON h.id = (SELECT id FROM deal_stage_history
                       WHERE deal_id = d.id AND changed_at <= {at} ORDER BY changed_at DESC, id DESC LIMIT 1)
                     WHERE d.company_id = $1 AND d.deleted_at IS NULL AND d.stage_entered_at > {at} AND d.created_at <= {at}"
                ),
            };
            let sql = format!(
                "WITH st(stage, ord, prob) AS (VALUES {st}), cur AS ({cur})
                 SELECT cur.stage, COUNT(*), COUNT(DISTINCT cur.customer_id), SUM(cur.amount),
                        SUM(cur.amount * st.prob) / 100.0, AVG({age}), MAX({age})
                 FROM cur LEFT JOIN st ON st.stage = cur.stage GROUP BY cur.stage"
            );
            one(p, sql)
        }
        4 => {
            let st = stage_values(&mut p, a);
            let (lo, hi) = (p.push(Utc::now() - Duration::days(365)), p.push(Utc::now()));
            let sql = format!(
                "WITH st(stage, ord, prob) AS (VALUES {st})
                 SELECT r.top, r.status, COUNT(*) FROM (
                   SELECT d.id, d.status, COALESCE(MAX(st.ord), -1) AS top
                   FROM deal d LEFT JOIN deal_stage_history h ON h.deal_id = d.id
                   LEFT JOIN st ON st.stage = h.to_stage
                   WHERE d.company_id = $1 AND d.deleted_at IS NULL AND d.created_at >= {lo} AND d.created_at < {hi}
                   GROUP BY d.id, d.status) r
                 GROUP BY r.top, r.status"
            );
            one(p, sql)
        }
        5 => {
            let st = stage_values(&mut p, a);
            let (lo, hi, d0, d1, day) = (
                p.push(lo),
                p.push(hi),
                p.push(month.start),
                p.push(month.end),
                p.push(today),
            );
            let sql = format!(
                "WITH st(stage, ord, prob) AS (VALUES {st}),
                      m AS (SELECT id FROM member WHERE company_id = $1 AND team_id IS NOT NULL)
                 SELECT * FROM
                 (SELECT SUM(amount) AS booked, SUM(gross_profit) AS profit FROM sales_record
                  WHERE company_id = $1 AND member_id IN (SELECT id FROM m) AND sold_on >= {d0} AND sold_on < {d1}) s,
                 (SELECT SUM(amount) AS won FROM deal WHERE company_id = $1 AND owner_id IN (SELECT id FROM m)
                    AND deleted_at IS NULL AND status = 'won' AND closed_at >= {lo} AND closed_at < {hi}) w,
                 (SELECT COUNT(*) AS n, SUM(d.amount) AS amount, SUM(d.amount * st.prob) AS weighted,
                         SUM(CASE WHEN d.expected_close_date < {day} THEN 1 ELSE 0 END) AS overdue
                  FROM deal d LEFT JOIN st ON st.stage = d.stage
                  WHERE d.company_id = $1 AND d.owner_id IN (SELECT id FROM m) AND d.deleted_at IS NULL
                    AND d.status = 'open' AND d.expected_close_date >= {d0} AND d.expected_close_date < {d1}) o,
                 (SELECT SUM(value) AS target FROM target WHERE company_id = $1 AND member_id IN (SELECT id FROM m)
                    AND metric = 'sales_amount' AND period_kind = 'month' AND period_start = {d0}) t"
            );
            one(p, sql)
        }
        6 => {
            let (lo, hi) = (
                p.push(period::midnight(tz, today - Duration::days(365))),
                p.push(period::midnight(tz, today + Duration::days(1))),
            );
            let bucket = if pg {
                "to_char(date_trunc('month', a.t AT TIME ZONE 'Asia/Tokyo'), 'YYYY-MM-DD')"
            } else {
                "strftime('%Y-%m-01', a.t, '+9 hours')"
            };
            let sql = format!(
                "SELECT a.member_id, MAX(m.name), {bucket} AS month, COUNT(*), SUM(a.energy_points)
                 FROM (SELECT member_id, energy_points, COALESCE(done_at, scheduled_at) AS t FROM activity
                       WHERE company_id = $1 AND deleted_at IS NULL) a
                 LEFT JOIN member m ON m.id = a.member_id
                 WHERE a.t >= {lo} AND a.t < {hi}
                 GROUP BY a.member_id, {bucket} ORDER BY 1, 3"
            );
            one(p, sql)
        }
        _ => {
            let this_monday = Period::containing(PeriodKind::Week, today).start;
            let start = this_monday - Duration::weeks(3);
            let (lo, mid) = (
                p.push(period::midnight(tz, start - Duration::weeks(4))),
                p.push(period::midnight(tz, start)),
            );
            let sql = format!(
                "SELECT customer_id,
                   SUM(CASE WHEN done_at >= {mid} THEN energy_points ELSE 0 END) AS pts,
                   SUM(CASE WHEN done_at < {mid} THEN energy_points ELSE 0 END),
                   SUM(CASE WHEN done_at >= {mid} THEN 1 ELSE 0 END)
                 FROM activity WHERE company_id = $1 AND status = 'done' AND deleted_at IS NULL AND done_at >= {lo}
                 GROUP BY customer_id HAVING SUM(CASE WHEN done_at >= {mid} THEN 1 ELSE 0 END) > 0
                 ORDER BY pts DESC, customer_id LIMIT 20"
            );
            one(p, sql)
        }
    }
}

fn stage_values(p: &mut Params, a: &Actor) -> String {
    a.plugins
        .process
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| format!("({}, {i}, {})", p.push(s.key.clone()), s.probability))
        .collect::<Vec<_>>()
        .join(", ")
}

fn median(mut v: Vec<StdDuration>) -> f64 {
    v.sort();
    v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The benchmark company's admin as an actor, and its root team.
pub(super) async fn context(db: &DatabaseConnection, plugins: &Plugins) -> AppResult<Ctx> {
    let company = company::Entity::find()
        .filter(company::Column::Slug.eq(BENCH_SLUG))
        .one(db)
        .await?
        .ok_or_else(|| AppError::bad("no benchmark company here; run `sfa bench generate` first"))?;
    let admin = member::Entity::find()
        .filter(member::Column::CompanyId.eq(company.id))
        .filter(member::Column::Role.eq(entity::enums::Role::Admin))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Member"))?;
    let root = team::Entity::find()
        .filter(team::Column::CompanyId.eq(company.id))
        .filter(team::Column::ParentId.is_null())
        .order_by_asc(team::Column::Id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("Team"))?;
    let c = Ctx {
        actor: crate::service::auth::actor_of(db, plugins, &admin, None).await?,
        root: root.id,
        backend: db.get_database_backend(),
    };
    Ok(c)
}

/// Times every view `runs` times against its hand-written SQL, alternating.
pub async fn run(db: &DatabaseConnection, plugins: &Plugins, runs: usize) -> AppResult<Report> {
    let c = context(db, plugins).await?;
    let rss_before_kib = super::rss_kib().0;
    let mut cases = Vec::new();
    for (i, name) in CASES.iter().enumerate() {
        let rows = ours(db, &c, i).await?;
        for s in hand(&c, i) {
            db.query_all_raw(s).await?;
        }
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            ours(db, &c, i).await?;
            mine.push(t.elapsed());
            let t = Instant::now();
            for s in hand(&c, i) {
                db.query_all_raw(s).await?;
            }
            theirs.push(t.elapsed());
        }
        let (ours_ms, hand_ms) = (median(mine), median(theirs));
        cases.push(CaseResult {
            name,
            ours_ms,
            hand_ms,
            ratio: if hand_ms > 0.0 { ours_ms / hand_ms } else { 0.0 },
            rows,
        });
    }
    Ok(Report {
        database: match c.backend {
            DbBackend::Postgres => "postgres".into(),
            _ => "sqlite".into(),
        },
        runs,
        cases,
        rss_before_kib,
        rss_peak_kib: super::rss_kib().1,
    })
}

impl Report {
    /// The report as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} database, median of {} runs\n{:<50} {:>10} {:>10} {:>7} {:>6}\n",
            self.database, self.runs, "view", "ours ms", "SQL ms", "ratio", "rows"
        );
        for c in &self.cases {
            out.push_str(&format!(
                "{:<50} {:>10.1} {:>10.1} {:>7.2} {:>6}\n",
                c.name, c.ours_ms, c.hand_ms, c.ratio, c.rows
            ));
        }
        out.push_str(&format!(
            "server process RSS: {} MiB before the views, {} MiB peak\n",
            self.rss_before_kib / 1024,
            self.rss_peak_kib / 1024
        ));
        out
    }
}
