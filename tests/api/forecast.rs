//! The landing forecast and its weekly snapshots. Every expected figure is
//! worked out by hand (default process: proposal 50 %, negotiation 75 %,
//! hearing 20 %).

use chrono::{NaiveDate, Utc};
use entity::enums::{DealStatus, PeriodKind, Role};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::common::{DealFixture, TestApp, insert_customer};

async fn sale(app: &TestApp, company: Uuid, member: Uuid, customer: Uuid, on: NaiveDate, amount: i64, profit: i64) {
    entity::sales_record::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company),
        customer_id: Set(customer),
        member_id: Set(Some(member)),
        sold_on: Set(on),
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

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

const FORECAST: &str = "query($m: ID, $t: ID, $month: Date) { forecast(memberId: $m, teamId: $t, month: $month) {
  member { id } team { id } month bookedSales grossProfit wonAmount pipelineDeals pipelineAmount weightedAmount
  overdueDeals landing target profitTarget attainment
  members { member { id } bookedSales weightedAmount landing }
  history { weekStart bookedSales landing } } }";

#[tokio::test(flavor = "multi_thread")]
async fn booked_sales_plus_the_weighted_pipeline_against_the_target() {
    let app = TestApp::spawn().await;
    let t = app.tenant("landing").await;
    app.ok(
        &t.admin,
        "mutation { updateCompanySettings(timeZone: \"Asia/Tokyo\") { timeZone } }",
        json!({}),
    )
    .await;
    let (rep, company) = (t.rep.member_id, t.company_id);
    let me = app.ok(&t.manager, "{ me { team { id } } }", json!({})).await;
    let team: Uuid = me["me"]["team"]["id"].as_str().expect("team").parse().expect("uuid");
    let now = Utc::now();
    let rep2 = entity::member::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company),
        team_id: Set(Some(team)),
        email: Set("rep2@landing.test".into()),
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
    let c = insert_customer(&app, company, rep, "C", false, None).await;

    sale(&app, company, rep, c, day("2026-11-01"), 300_000, 90_000).await;
    sale(&app, company, rep, c, day("2026-11-30"), 200_000, 60_000).await;
    sale(&app, company, rep, c, day("2026-12-01"), 999, 999).await;
    sale(&app, company, rep, c, day("2026-10-31"), 999, 999).await;
    sale(&app, company, rep2, c, day("2026-11-05"), 100_000, 10_000).await;

    let fixtures = [
        // 50 % of 1,000,001 is 500,000.5: rounded up to 500,001.
        DealFixture {
            customer: c,
            owner: rep,
            amount: Some(1_000_001),
            moves: &[("proposal", "2026-10-01T00:00:00Z")],
            expected_close_date: Some("2026-11-30"),
            ..Default::default()
        },
        DealFixture {
            customer: c,
            owner: rep,
            amount: Some(400_000),
            moves: &[("negotiation", "2026-10-01T00:00:00Z")],
            expected_close_date: Some("2026-11-05"),
            ..Default::default()
        },
        // A stage the process no longer has: counted, weighted at 0.
        DealFixture {
            customer: c,
            owner: rep,
            amount: Some(100),
            moves: &[("mystery", "2026-10-01T00:00:00Z")],
            expected_close_date: Some("2026-11-10"),
            ..Default::default()
        },
        // Not forecast: no date, next month, deleted, lost.
        DealFixture {
            customer: c,
            owner: rep,
            amount: Some(7),
            moves: &[("proposal", "2026-10-01T00:00:00Z")],
            ..Default::default()
        },
        DealFixture {
            customer: c,
            owner: rep,
            amount: Some(7),
            moves: &[("proposal", "2026-10-01T00:00:00Z")],
            expected_close_date: Some("2026-12-01"),
            ..Default::default()
        },
        DealFixture {
            customer: c,
            owner: rep,
            amount: Some(7),
            moves: &[("proposal", "2026-10-01T00:00:00Z")],
            expected_close_date: Some("2026-11-15"),
            deleted: true,
            ..Default::default()
        },
        DealFixture {
            customer: c,
            owner: rep,
            amount: Some(7),
            moves: &[("proposal", "2026-10-01T00:00:00Z"), ("lost", "2026-11-02T00:00:00Z")],
            expected_close_date: Some("2026-11-15"),
            status: Some(DealStatus::Lost),
            closed_at: Some("2026-11-02T00:00:00Z"),
            lost_reason: Some("price"),
            ..Default::default()
        },
        // Won on November 10th: in the won amount, not in the pipeline.
        DealFixture {
            customer: c,
            owner: rep,
            amount: Some(500_000),
            moves: &[("proposal", "2026-10-01T00:00:00Z"), ("won", "2026-11-10T00:00:00Z")],
            expected_close_date: Some("2026-11-10"),
            status: Some(DealStatus::Won),
            closed_at: Some("2026-11-10T00:00:00Z"),
            ..Default::default()
        },
        DealFixture {
            customer: c,
            owner: rep2,
            amount: Some(1_000),
            moves: &[("hearing", "2026-10-01T00:00:00Z")],
            expected_close_date: Some("2026-11-15"),
            ..Default::default()
        },
    ];
    for f in &fixtures {
        f.insert(&app, company).await;
    }
    entity::target::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(company),
        member_id: Set(Some(rep)),
        period_kind: Set(PeriodKind::Month),
        period_start: Set(day("2026-11-01")),
        metric: Set("sales_amount".into()),
        value: Set(2_000_000),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("target");

    let today = Utc::now().with_timezone(&chrono_tz::Asia::Tokyo).date_naive();
    let overdue = [day("2026-11-05"), day("2026-11-10"), day("2026-11-30")]
        .iter()
        .filter(|d| **d < today)
        .count();
    let f = app
        .ok(&t.manager, FORECAST, json!({"m": rep, "month": "2026-11-01"}))
        .await["forecast"]
        .clone();
    assert_eq!(f["member"]["id"], rep.to_string());
    assert_eq!(
        (
            &f["bookedSales"],
            &f["grossProfit"],
            &f["wonAmount"],
            &f["pipelineDeals"],
            &f["pipelineAmount"],
            &f["weightedAmount"]
        ),
        (
            &json!(500_000),
            &json!(150_000),
            &json!(500_000),
            &json!(3),
            &json!(1_400_101),
            &json!(800_001)
        )
    );
    assert_eq!(f["overdueDeals"], overdue);
    assert_eq!((&f["landing"], &f["target"]), (&json!(1_300_001), &json!(2_000_000)));
    assert!(f["profitTarget"].is_null());
    assert!((f["attainment"].as_f64().expect("attainment") - 0.6500005).abs() < 1e-9);
    assert_eq!(f["members"], json!([]));

    // The team: the rep and rep2 (and the manager, with nothing).
    let team_f = app
        .ok(&t.manager, FORECAST, json!({"t": team, "month": "2026-11-01"}))
        .await["forecast"]
        .clone();
    assert_eq!(
        (
            &team_f["bookedSales"],
            &team_f["pipelineDeals"],
            &team_f["weightedAmount"],
            &team_f["landing"]
        ),
        (&json!(600_000), &json!(4), &json!(800_201), &json!(1_400_201))
    );
    assert_eq!(team_f["target"], 2_000_000, "the members' targets summed");
    let mut members: Vec<(String, i64)> = team_f["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["member"]["id"].as_str().expect("id").to_string(),
                m["landing"].as_i64().expect("landing"),
            )
        })
        .collect();
    members.sort();
    let mut expected = vec![
        (rep.to_string(), 1_300_001),
        (rep2.to_string(), 100_200),
        (t.manager.member_id.to_string(), 0),
    ];
    expected.sort();
    assert_eq!(members, expected);

    // Who may look.
    assert_eq!(app.err(&t.rep, FORECAST, json!({"m": rep2})).await, "FORBIDDEN");
    assert_eq!(app.err(&t.rep, FORECAST, json!({"t": team})).await, "FORBIDDEN");
    assert_eq!(
        app.err(&t.rep, FORECAST, json!({"month": "2026-11-02"})).await,
        "BAD_USER_INPUT"
    );
    let other = app.tenant("landing-other").await;
    assert_eq!(app.err(&other.admin, FORECAST, json!({"m": rep})).await, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_weekly_snapshot_keeps_how_the_forecast_moved() {
    let app = TestApp::spawn().await;
    let t = app.tenant("weekly").await;
    let (rep, company) = (t.rep.member_id, t.company_id);
    let c = insert_customer(&app, company, rep, "C", false, None).await;
    let today = Utc::now().date_naive();
    sale(&app, company, rep, c, today, 1_000, 100).await;
    let take = "mutation { takeForecastSnapshots }";
    assert_eq!(app.err(&t.rep, take, json!({})).await, "FORBIDDEN");
    // Admin, manager and rep, and the team.
    assert_eq!(app.ok(&t.admin, take, json!({})).await["takeForecastSnapshots"], 4);
    let week = today - chrono::Duration::days(i64::from(chrono::Datelike::weekday(&today).num_days_from_monday()));
    let f = app.ok(&t.rep, FORECAST, json!({})).await["forecast"].clone();
    assert_eq!(
        f["history"],
        json!([{"weekStart": week.to_string(), "bookedSales": 1000, "landing": 1000}])
    );
    // Later in the same week: the week's row follows the forecast.
    sale(&app, company, rep, c, today, 500, 50).await;
    app.ok(&t.admin, take, json!({})).await;
    let f = app.ok(&t.rep, FORECAST, json!({})).await["forecast"].clone();
    assert_eq!(f["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(f["history"][0]["bookedSales"], 1500);
    assert_eq!(f["bookedSales"], 1500);
    // Another company's snapshots are its own.
    let other = app.tenant("weekly-other").await;
    let theirs = app.ok(&other.rep, FORECAST, json!({})).await["forecast"].clone();
    assert_eq!(theirs["history"], json!([]));
}
