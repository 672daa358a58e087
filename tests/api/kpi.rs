//! KPIs: base metrics summed in SQL for a member or team and a period, in the
//! company's time zone, with targets and the company's formulas. Every
//! expected figure below is counted by hand from the fixture.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::enums::{ActivityKind, ActivityStatus, DealStatus, PeriodKind, Role};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Tenant, TestApp, insert_customer};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

struct Fixture {
    t: Tenant,
    team: Uuid,
    sub_team: Uuid,
    rep2: Uuid,
}

async fn customer(app: &TestApp, t: &Tenant, priority: bool) -> Uuid {
    let name = format!("Customer {priority}");
    insert_customer(app, t.company_id, t.rep.member_id, &name, priority, None).await
}

/// An activity; `done` is when it was done (its scheduled time too), else it is planned at `scheduled`.
#[allow(clippy::too_many_arguments)]
async fn activity(
    app: &TestApp,
    t: &Tenant,
    member: Uuid,
    customer: Uuid,
    kind: ActivityKind,
    status: ActivityStatus,
    scheduled: &str,
    created: DateTime<Utc>,
    energy: Option<i32>,
) -> Uuid {
    let scheduled = at(scheduled);
    entity::activity::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        member_id: Set(member),
        customer_id: Set(customer),
        kind: Set(kind),
        status: Set(status),
        subject: Set("fixture".into()),
        scheduled_at: Set(scheduled),
        done_at: Set((status == ActivityStatus::Done).then_some(scheduled)),
        attendee_count: Set(1),
        energy_points: Set(energy),
        version: Set(1),
        created_at: Set(created),
        updated_at: Set(created),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("activity")
    .id
}

async fn done_visit(app: &TestApp, t: &Tenant, member: Uuid, customer: Uuid, when: &str, energy: i32) -> Uuid {
    let recorded = at(when) + Duration::hours(1);
    let kind = ActivityKind::Visit;
    activity(
        app,
        t,
        member,
        customer,
        kind,
        ActivityStatus::Done,
        when,
        recorded,
        Some(energy),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn deal(
    app: &TestApp,
    t: &Tenant,
    customer: Uuid,
    created: &str,
    status: DealStatus,
    closed: Option<&str>,
    amount: Option<i64>,
    deleted: bool,
) {
    let created = at(created);
    entity::deal::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        customer_id: Set(customer),
        owner_id: Set(t.rep.member_id),
        name: Set("fixture deal".into()),
        stage: Set(match status {
            DealStatus::Open => "hearing",
            DealStatus::Won => "won",
            DealStatus::Lost => "lost",
        }
        .into()),
        stage_entered_at: Set(created),
        amount: Set(amount),
        status: Set(status),
        closed_at: Set(closed.map(at)),
        version: Set(1),
        created_at: Set(created),
        updated_at: Set(created),
        deleted_at: Set(deleted.then_some(created)),
        external_code: Set(None),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("deal");
}

async fn sale(app: &TestApp, t: &Tenant, member: Uuid, customer: Uuid, on: &str, amount: i64, profit: i64) {
    entity::sales_record::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        customer_id: Set(customer),
        member_id: Set(Some(member)),
        sold_on: Set(day(on)),
        amount: Set(amount),
        gross_profit: Set(profit),
        external_ref: Set(Uuid::now_v7().to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("sale");
}

async fn target(app: &TestApp, t: &Tenant, member: Option<Uuid>, team: Option<Uuid>, metric: &str, value: i64) {
    entity::target::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        member_id: Set(member),
        team_id: Set(team),
        period_kind: Set(PeriodKind::Month),
        period_start: Set(day("2026-11-01")),
        metric: Set(metric.into()),
        value: Set(value),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(&app.db)
    .await
    .expect("target");
}

/// A company in Tokyo: the rep's November, with activities on both sides of
/// every month boundary, and a sub-team's rep under the manager's team.
async fn fixture(app: &TestApp) -> Fixture {
    let t = app.tenant("kpi").await;
    app.ok(
        &t.admin,
        "mutation { updateCompanySettings(timeZone: \"Asia/Tokyo\") { timeZone } }",
        json!({}),
    )
    .await;
    let me = app.ok(&t.manager, "{ me { team { id } } }", json!({})).await;
    let team: Uuid = me["me"]["team"]["id"].as_str().expect("team").parse().expect("uuid");
    let now = Utc::now();
    let sub_team = entity::team::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        parent_id: Set(Some(team)),
        name: Set("sub".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("sub-team")
    .id;
    let rep2 = entity::member::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        team_id: Set(Some(sub_team)),
        email: Set("rep2@kpi.test".into()),
        name: Set("rep2".into()),
        role: Set(Role::Rep),
        password_hash: Set("x".into()),
        active: Set(true),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.db)
    .await
    .expect("rep2")
    .id;

    let rep = t.rep.member_id;
    let key_account = customer(app, &t, true).await;
    let other = customer(app, &t, false).await;
    let product = |name: &str, is_focus: bool| entity::product::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        name: Set(name.into()),
        is_focus: Set(is_focus),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let focus = product("Focus", true).insert(&app.db).await.expect("product").id;
    let plain = product("Plain", false).insert(&app.db).await.expect("product").id;
    let propose = |activity: Uuid, product: Uuid| entity::activity_product::ActiveModel {
        activity_id: Set(activity),
        product_id: Set(product),
        company_id: Set(t.company_id),
    };

    // 01:00 on Nov 1st in Tokyo is still October 31st in UTC: November's.
    let first = done_visit(app, &t, rep, key_account, "2026-10-31T16:00:00Z", 10).await;
    propose(first, focus).insert(&app.db).await.expect("proposal");
    propose(first, plain).insert(&app.db).await.expect("proposal");
    // Same Tokyo day, same priority customer: still one day with a priority visit.
    let second = done_visit(app, &t, rep, key_account, "2026-11-01T03:00:00Z", 5).await;
    propose(second, focus).insert(&app.db).await.expect("proposal");
    // 23:30 on Nov 30th in Tokyo: November's; 00:30 on Dec 1st: not.
    done_visit(app, &t, rep, other, "2026-11-30T14:30:00Z", 7).await;
    done_visit(app, &t, rep, key_account, "2026-11-30T15:30:00Z", 100).await;
    done_visit(app, &t, rep, key_account, "2026-11-15T02:00:00Z", 3).await;
    // A visit booked on Nov 5th for Nov 20th: planned, and an appointment gained.
    let (visit, call) = (ActivityKind::Visit, ActivityKind::Call);
    let (planned, done, cancelled) = (ActivityStatus::Planned, ActivityStatus::Done, ActivityStatus::Cancelled);
    activity(
        app,
        &t,
        rep,
        other,
        visit,
        planned,
        "2026-11-20T01:00:00Z",
        at("2026-11-05T00:00:00Z"),
        None,
    )
    .await;
    // Booked in October for November: planned in November, but not gained in it.
    activity(
        app,
        &t,
        rep,
        other,
        visit,
        planned,
        "2026-11-25T01:00:00Z",
        at("2026-10-20T00:00:00Z"),
        None,
    )
    .await;
    activity(
        app,
        &t,
        rep,
        other,
        visit,
        cancelled,
        "2026-11-21T01:00:00Z",
        at("2026-11-06T00:00:00Z"),
        None,
    )
    .await;
    activity(
        app,
        &t,
        rep,
        other,
        call,
        done,
        "2026-11-10T01:00:00Z",
        at("2026-11-10T02:00:00Z"),
        Some(2),
    )
    .await;
    let deleted = done_visit(app, &t, rep, other, "2026-11-12T01:00:00Z", 50).await;
    entity::activity::Entity::update_many()
        .col_expr(entity::activity::Column::DeletedAt, Expr::value(Utc::now()))
        .filter(entity::activity::Column::Id.eq(deleted))
        .exec(&app.db)
        .await
        .expect("delete");
    // The sub-team's rep.
    done_visit(app, &t, rep2, other, "2026-11-05T01:00:00Z", 4).await;

    deal(
        app,
        &t,
        other,
        "2026-11-02T00:00:00Z",
        DealStatus::Open,
        None,
        Some(1_000_000),
        false,
    )
    .await;
    let won = DealStatus::Won;
    deal(
        app,
        &t,
        other,
        "2026-10-15T00:00:00Z",
        won,
        Some("2026-11-10T00:00:00Z"),
        Some(500_000),
        false,
    )
    .await;
    let lost = DealStatus::Lost;
    deal(
        app,
        &t,
        other,
        "2026-11-03T00:00:00Z",
        lost,
        Some("2026-11-20T00:00:00Z"),
        None,
        false,
    )
    .await;
    deal(
        app,
        &t,
        other,
        "2026-11-04T00:00:00Z",
        DealStatus::Open,
        None,
        Some(9_999),
        true,
    )
    .await;
    deal(
        app,
        &t,
        other,
        "2026-10-01T00:00:00Z",
        won,
        Some("2026-11-30T15:30:00Z"),
        Some(77),
        false,
    )
    .await;

    sale(app, &t, rep, other, "2026-11-01", 300_000, 90_000).await;
    sale(app, &t, rep, other, "2026-11-30", 200_000, 60_000).await;
    sale(app, &t, rep, other, "2026-12-01", 999, 999).await;
    sale(app, &t, rep, other, "2026-10-31", 999, 999).await;
    sale(app, &t, rep2, other, "2026-11-05", 100_000, 10_000).await;

    target(app, &t, Some(rep), None, "visits_done", 40).await;
    target(app, &t, Some(rep), None, "sales_amount", 1_000_000).await;
    target(app, &t, Some(rep2), None, "visits_done", 20).await;
    target(app, &t, None, Some(team), "sales_amount", 3_000_000).await;
    Fixture {
        t,
        team,
        sub_team,
        rep2,
    }
}

const REPORT: &str = "query($m: ID, $t: ID, $s: Date) {
  kpiReport(memberId: $m, teamId: $t, periodKind: MONTH, periodStart: $s) {
    member { id } team { id } periodStart periodEnd daysTotal daysElapsed
    metrics { key value target }
    kpis { key name unit value error }
  }
}";

fn metric(report: &Value, key: &str) -> (f64, Option<f64>) {
    let m = report["metrics"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["key"] == key))
        .unwrap_or_else(|| panic!("no metric {key}: {report:#}"));
    (m["value"].as_f64().expect("value"), m["target"].as_f64())
}

fn kpi(report: &Value, key: &str) -> Option<f64> {
    let k = report["kpis"]
        .as_array()
        .and_then(|ks| ks.iter().find(|k| k["key"] == key))
        .unwrap_or_else(|| panic!("no KPI {key}: {report:#}"));
    assert!(k["error"].is_null(), "{k}");
    k["value"].as_f64()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_members_month_in_the_companys_time_zone() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let vars = json!({"m": f.t.rep.member_id, "s": "2026-11-01"});
    let report = app.ok(&f.t.manager, REPORT, vars.clone()).await["kpiReport"].clone();
    assert_eq!(report["member"]["id"], f.t.rep.member_id.to_string());
    assert_eq!(
        (&report["periodStart"], &report["periodEnd"], &report["daysTotal"]),
        (&json!("2026-11-01"), &json!("2026-11-30"), &json!(30))
    );
    let expected = [
        ("activities_planned", 7.0),
        ("visits_planned", 6.0),
        ("appointments", 1.0),
        ("activities_done", 5.0),
        ("visits_done", 4.0),
        ("calls_done", 1.0),
        ("emails_done", 0.0),
        ("priority_visits", 3.0),
        ("priority_visit_days", 2.0),
        ("customers_contacted", 2.0),
        ("energy", 27.0),
        ("focus_proposals", 2.0),
        ("focus_products", 1.0),
        ("deals_created", 2.0),
        ("deals_created_amount", 1_000_000.0),
        ("deals_won", 1.0),
        ("deals_won_amount", 500_000.0),
        ("deals_lost", 1.0),
        ("deals_lost_amount", 0.0),
        ("sales_amount", 500_000.0),
        ("gross_profit", 150_000.0),
    ];
    for (key, value) in expected {
        assert_eq!(metric(&report, key).0, value, "{key}");
    }
    assert_eq!(metric(&report, "visits_done").1, Some(40.0));
    assert_eq!(metric(&report, "sales_amount").1, Some(1_000_000.0));
    assert_eq!(metric(&report, "energy").1, None);

    // The default set's formulas, once over this row.
    assert!(close(kpi(&report, "visit_plan_rate"), 100.0 * 4.0 / 6.0));
    assert!(close(kpi(&report, "visit_attainment"), 10.0));
    assert!(close(kpi(&report, "sales_attainment"), 50.0));
    assert!(close(kpi(&report, "gross_margin"), 30.0));
    assert!(close(kpi(&report, "win_rate"), 50.0));
    assert!(close(kpi(&report, "energy_per_activity"), 27.0 / 5.0));
    let today = Utc::now().with_timezone(&chrono_tz::Asia::Tokyo).date_naive();
    let elapsed = ((today - day("2026-11-01")).num_days() + 1).clamp(0, 30);
    assert_eq!(report["daysElapsed"], json!(elapsed));
    let pace = kpi(&report, "visit_pace_needed");
    if elapsed < 30 {
        assert!(close(pace, 36.0 / (30 - elapsed) as f64), "{pace:?}");
    } else {
        assert_eq!(pace, None, "no days left");
    }

    // The rep sees the same figures for themselves; October holds only what fell in it.
    let own = app.ok(&f.t.rep, REPORT, json!({"s": "2026-11-01"})).await;
    assert_eq!(own["kpiReport"]["metrics"], report["metrics"]);
    let october = app.ok(&f.t.rep, REPORT, json!({"s": "2026-10-01"})).await["kpiReport"].clone();
    assert_eq!(
        metric(&october, "visits_done").0,
        0.0,
        "Oct 31 16:00 UTC is November in Tokyo"
    );
    assert_eq!(metric(&october, "sales_amount").0, 999.0);
    assert_eq!(metric(&october, "appointments").0, 1.0, "the visit booked in October");
    assert_eq!(kpi(&october, "visit_attainment"), None, "no October target");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_sums_its_subtree_and_prefers_its_own_targets() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let report = app
        .ok(&f.t.manager, REPORT, json!({"t": f.team, "s": "2026-11-01"}))
        .await["kpiReport"]
        .clone();
    assert_eq!(report["team"]["id"], f.team.to_string());
    assert_eq!(
        metric(&report, "visits_done"),
        (5.0, Some(60.0)),
        "members' targets summed"
    );
    assert_eq!(
        metric(&report, "sales_amount"),
        (600_000.0, Some(3_000_000.0)),
        "the team's own target"
    );
    assert_eq!(metric(&report, "energy").0, 31.0);
    assert_eq!(metric(&report, "customers_contacted").0, 2.0);
    assert!(close(kpi(&report, "visit_attainment"), 100.0 * 5.0 / 60.0));
    assert!(close(kpi(&report, "sales_attainment"), 20.0));

    let sub = app
        .ok(&f.t.manager, REPORT, json!({"t": f.sub_team, "s": "2026-11-01"}))
        .await["kpiReport"]
        .clone();
    assert_eq!(metric(&sub, "visits_done"), (1.0, Some(20.0)));
    assert_eq!(metric(&sub, "gross_profit").0, 10_000.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn kpis_are_for_yourself_and_those_you_lead() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let rep = &f.t.rep;
    let code = |vars: Value, who| {
        let app = &app;
        async move { app.err(who, REPORT, vars).await }
    };
    assert_eq!(code(json!({"m": f.rep2}), rep).await, "FORBIDDEN");
    assert_eq!(code(json!({"m": f.t.manager.member_id}), rep).await, "FORBIDDEN");
    assert_eq!(code(json!({"t": f.team}), rep).await, "FORBIDDEN");
    assert_eq!(code(json!({"m": f.t.admin.member_id}), &f.t.manager).await, "FORBIDDEN");
    let led = app
        .ok(&f.t.manager, REPORT, json!({"m": f.rep2, "s": "2026-11-01"}))
        .await;
    assert_eq!(
        metric(&led["kpiReport"], "visits_done").0,
        1.0,
        "a manager sees the sub-team's members"
    );
    let admin = app
        .ok(&f.t.admin, REPORT, json!({"t": f.sub_team, "s": "2026-11-01"}))
        .await;
    assert_eq!(metric(&admin["kpiReport"], "visits_done").0, 1.0);

    let other = app.tenant("other").await;
    assert_eq!(code(json!({"m": f.t.rep.member_id}), &other.admin).await, "NOT_FOUND");
    assert_eq!(code(json!({"t": f.team}), &other.admin).await, "NOT_FOUND");
    assert_eq!(
        code(json!({"s": "2026-11-02"}), rep).await,
        "BAD_USER_INPUT",
        "not a month's first day"
    );
    let both = json!({"m": rep.member_id, "t": f.team});
    assert_eq!(code(both, rep).await, "BAD_USER_INPUT");
    assert_eq!(code(json!({"m": "nope"}), rep).await, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_shipped_set_exposes_its_kpis() {
    let app = TestApp::spawn().await;
    let t = app.tenant("sets").await;
    for (set, key) in [
        ("default", "energy_per_activity"),
        ("sfa7", "priority_visit_share"),
        ("b2b8", "win_rate"),
    ] {
        entity::company::Entity::update_many()
            .col_expr(entity::company::Column::PluginSet, Expr::value(set))
            .filter(entity::company::Column::Id.eq(t.company_id))
            .exec(&app.db)
            .await
            .expect("set");
        let p = app
            .ok(&t.rep, "{ process { pluginSet kpis { key name unit description } baseMetrics { key } } kpiReport { kpis { key error } } }", json!({}))
            .await;
        assert_eq!(p["process"]["pluginSet"], set);
        let defined: Vec<&str> = p["process"]["kpis"]
            .as_array()
            .expect("kpis")
            .iter()
            .filter_map(|k| k["key"].as_str())
            .collect();
        assert!(defined.contains(&key), "{set}: {defined:?}");
        let evaluated: Vec<&str> = p["kpiReport"]["kpis"]
            .as_array()
            .expect("kpis")
            .iter()
            .filter_map(|k| k["key"].as_str())
            .collect();
        assert_eq!(evaluated, defined, "{set}: every KPI evaluated, in order");
        assert!(
            p["kpiReport"]["kpis"]
                .as_array()
                .expect("kpis")
                .iter()
                .all(|k| k["error"].is_null()),
            "{p}"
        );
        let metrics = p["process"]["baseMetrics"].as_array().expect("metrics");
        assert!(
            metrics.iter().any(|m| m["key"] == "visits_done") && metrics.iter().any(|m| m["key"] == "days_elapsed")
        );
    }
}

const BREAKDOWN: &str = "query($m: ID, $t: ID, $by: KpiSplit!) {
  kpiBreakdown(memberId: $m, teamId: $t, periodKind: MONTH, periodStart: \"2026-11-01\", by: $by) {
    member { id } periodKind periodStart periodEnd daysTotal
    metrics { key value target expectedByNow onPace remaining neededPerDay }
    kpis { key value error }
  }
}";

fn visits(rows: &Value) -> Vec<f64> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| metric(r, "visits_done").0)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn breakdowns_by_week_day_and_member_add_up_to_the_month() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let rep = f.t.rep.member_id;

    // November 2026 in Tokyo starts on a Sunday: weeks are cut at the month's edges.
    let weeks = app.ok(&f.t.manager, BREAKDOWN, json!({"m": rep, "by": "WEEK"})).await["kpiBreakdown"].clone();
    let spans: Vec<(&str, &str)> = weeks
        .as_array()
        .expect("weeks")
        .iter()
        .map(|w| {
            (
                w["periodStart"].as_str().expect("start"),
                w["periodEnd"].as_str().expect("end"),
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            ("2026-11-01", "2026-11-01"),
            ("2026-11-02", "2026-11-08"),
            ("2026-11-09", "2026-11-15"),
            ("2026-11-16", "2026-11-22"),
            ("2026-11-23", "2026-11-29"),
            ("2026-11-30", "2026-11-30")
        ]
    );
    assert_eq!(weeks[0]["periodKind"], "WEEK");
    assert_eq!(visits(&weeks), [2.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    let calls: Vec<f64> = weeks
        .as_array()
        .expect("weeks")
        .iter()
        .map(|w| metric(w, "calls_done").0)
        .collect();
    assert_eq!(calls, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0], "the call of Nov 10th");
    assert_eq!(
        metric(&weeks[1], "visits_done").1,
        None,
        "a monthly target is not a week's"
    );

    let days = app.ok(&f.t.rep, BREAKDOWN, json!({"by": "DAY"})).await["kpiBreakdown"].clone();
    let per_day = visits(&days);
    assert_eq!(per_day.len(), 30);
    let busy: Vec<(usize, f64)> = per_day.iter().copied().enumerate().filter(|(_, v)| *v > 0.0).collect();
    assert_eq!(
        busy,
        [(0, 2.0), (14, 1.0), (29, 1.0)],
        "Nov 1st, 15th and 30th in Tokyo"
    );
    assert_eq!(metric(&days[0], "priority_visit_days").0, 1.0);
    assert_eq!(days[0]["daysTotal"], 1);

    // Per member of the team and its sub-team.
    let members = app
        .ok(&f.t.manager, BREAKDOWN, json!({"t": f.team, "by": "MEMBER"}))
        .await["kpiBreakdown"]
        .clone();
    let mut by_member: Vec<(String, (f64, Option<f64>))> = members
        .as_array()
        .expect("members")
        .iter()
        .map(|r| {
            (
                r["member"]["id"].as_str().expect("id").to_string(),
                metric(r, "visits_done"),
            )
        })
        .collect();
    by_member.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (f.t.manager.member_id.to_string(), (0.0, None)),
        (rep.to_string(), (4.0, Some(40.0))),
        (f.rep2.to_string(), (1.0, Some(20.0))),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by_member, expected);

    // The pace: 40 visits in 30 days, 4 done.
    let row = members
        .as_array()
        .expect("members")
        .iter()
        .find(|r| r["member"]["id"] == rep.to_string())
        .expect("rep row")
        .clone();
    let pace = row["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["key"] == "visits_done")
        .expect("visits")
        .clone();
    let today = Utc::now().with_timezone(&chrono_tz::Asia::Tokyo).date_naive();
    let elapsed = ((today - day("2026-11-01")).num_days() + 1).clamp(0, 30);
    assert!(
        close(pace["expectedByNow"].as_f64(), 40.0 * elapsed as f64 / 30.0),
        "{pace}"
    );
    assert_eq!(pace["onPace"], json!(4.0 >= 40.0 * elapsed as f64 / 30.0));
    assert_eq!(pace["remaining"], json!(36.0));
    if elapsed < 30 {
        assert!(
            close(pace["neededPerDay"].as_f64(), 36.0 / (30 - elapsed) as f64),
            "{pace}"
        );
    } else {
        assert!(pace["neededPerDay"].is_null());
    }

    // A member who moves to another team takes their work with them.
    let elsewhere = entity::team::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(f.t.company_id),
        name: Set("elsewhere".into()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("team")
    .id;
    entity::member::Entity::update_many()
        .col_expr(entity::member::Column::TeamId, Expr::value(elsewhere))
        .filter(entity::member::Column::Id.eq(f.rep2))
        .exec(&app.db)
        .await
        .expect("move");
    let team = app
        .ok(&f.t.admin, REPORT, json!({"t": f.team, "s": "2026-11-01"}))
        .await["kpiReport"]
        .clone();
    assert_eq!(
        metric(&team, "visits_done"),
        (4.0, Some(40.0)),
        "rep2's visit left with rep2"
    );
    let members = app
        .ok(&f.t.admin, BREAKDOWN, json!({"t": f.team, "by": "MEMBER"}))
        .await["kpiBreakdown"]
        .clone();
    assert_eq!(members.as_array().map(Vec::len), Some(2));

    // Bad requests.
    let by_member_alone = app.err(&f.t.rep, BREAKDOWN, json!({"by": "MEMBER"})).await;
    assert_eq!(by_member_alone, "BAD_USER_INPUT");
    let not_led = app.err(&f.t.rep, BREAKDOWN, json!({"t": f.team, "by": "DAY"})).await;
    assert_eq!(not_led, "FORBIDDEN");
    let year_by_day = "{ kpiBreakdown(periodKind: YEAR, periodStart: \"2026-01-01\", by: DAY) { daysTotal } }";
    let year = app.ok(&f.t.rep, year_by_day, json!({})).await;
    assert_eq!(year["kpiBreakdown"].as_array().map(Vec::len), Some(365));
}
