//! The pipeline view. Every expected figure is worked out by hand from the
//! fixture (the default process: inquiry 5 %, hearing 20 %, proposal 50 %,
//! negotiation 75 %, won, lost).

use chrono::{Duration, SubsecRound, Utc};
use entity::enums::DealStatus;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{DealFixture, Tenant, TestApp, insert_customer};

struct Fixture {
    t: Tenant,
    d4: Uuid,
}

/// A company in Tokyo. The deals, their moves (UTC) and why they matter:
/// - D1 (rep, X, 1,000): inquiry 09-01, hearing 09-11, proposal 10-01; open.
/// - D2 (rep, X, 2,000): inquiry 10-05, negotiation 10-09 (skips two stages), won 10-29.
/// - D3 (rep, Y, 500): hearing 10-10, lost 10-20 for "price".
/// - D4 (rep, Y, no amount): inquiry 10-31 16:00 UTC, which is November 1st in Tokyo.
/// - D5 (manager, Z, 3,000): inquiry 09-15, lost 10-15 for "price".
/// - D6 (rep, Y, 9,999): deleted; counts nowhere.
/// - D7 (rep, X, 700): inquiry 10-02, lost 10-12 for "timing".
async fn fixture(app: &TestApp) -> Fixture {
    let t = app.tenant("funnel").await;
    app.ok(
        &t.admin,
        "mutation { updateCompanySettings(timeZone: \"Asia/Tokyo\") { timeZone } }",
        json!({}),
    )
    .await;
    let (rep, manager) = (t.rep.member_id, t.manager.member_id);
    let x = insert_customer(app, t.company_id, rep, "X", false, None).await;
    let y = insert_customer(app, t.company_id, rep, "Y", false, None).await;
    let z = insert_customer(app, t.company_id, manager, "Z", false, None).await;
    let (won, lost) = (Some(DealStatus::Won), Some(DealStatus::Lost));
    let deals = [
        DealFixture {
            customer: x,
            owner: rep,
            amount: Some(1_000),
            moves: &[
                ("inquiry", "2026-09-01T00:00:00Z"),
                ("hearing", "2026-09-11T00:00:00Z"),
                ("proposal", "2026-10-01T00:00:00Z"),
            ],
            ..Default::default()
        },
        DealFixture {
            customer: x,
            owner: rep,
            amount: Some(2_000),
            moves: &[
                ("inquiry", "2026-10-05T00:00:00Z"),
                ("negotiation", "2026-10-09T00:00:00Z"),
                ("won", "2026-10-29T00:00:00Z"),
            ],
            status: won,
            closed_at: Some("2026-10-29T00:00:00Z"),
            ..Default::default()
        },
        DealFixture {
            customer: y,
            owner: rep,
            amount: Some(500),
            moves: &[("hearing", "2026-10-10T00:00:00Z"), ("lost", "2026-10-20T00:00:00Z")],
            status: lost,
            closed_at: Some("2026-10-20T00:00:00Z"),
            lost_reason: Some("price"),
            ..Default::default()
        },
        DealFixture {
            customer: z,
            owner: manager,
            amount: Some(3_000),
            moves: &[("inquiry", "2026-09-15T00:00:00Z"), ("lost", "2026-10-15T00:00:00Z")],
            status: lost,
            closed_at: Some("2026-10-15T00:00:00Z"),
            lost_reason: Some("price"),
            ..Default::default()
        },
        DealFixture {
            customer: y,
            owner: rep,
            amount: Some(9_999),
            moves: &[("inquiry", "2026-09-01T00:00:00Z")],
            deleted: true,
            ..Default::default()
        },
        DealFixture {
            customer: x,
            owner: rep,
            amount: Some(700),
            moves: &[("inquiry", "2026-10-02T00:00:00Z"), ("lost", "2026-10-12T00:00:00Z")],
            status: lost,
            closed_at: Some("2026-10-12T00:00:00Z"),
            lost_reason: Some("timing"),
            ..Default::default()
        },
    ];
    for d in &deals {
        d.insert(app, t.company_id).await;
    }
    let d4 = DealFixture {
        customer: y,
        owner: rep,
        moves: &[("inquiry", "2026-10-31T16:00:00Z")],
        ..Default::default()
    }
    .insert(app, t.company_id)
    .await;
    Fixture { t, d4 }
}

const STAGES: &str = "query($asOf: DateTime, $owner: ID) { pipeline(ownerId: $owner) { stages(asOf: $asOf) {
  stage { key } deals customers amount weightedAmount averageAgeDays oldestAgeDays } } }";

/// (key, deals, customers, amount, weighted) per stage.
fn figures(data: &Value) -> Vec<(String, i64, i64, i64, i64)> {
    data["pipeline"]["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["stage"]["key"].as_str().expect("key").to_string(),
                s["deals"].as_i64().expect("deals"),
                s["customers"].as_i64().expect("customers"),
                s["amount"].as_i64().expect("amount"),
                s["weightedAmount"].as_i64().expect("weighted"),
            )
        })
        .collect()
}

fn row(key: &str, deals: i64, customers: i64, amount: i64, weighted: i64) -> (String, i64, i64, i64, i64) {
    (key.to_string(), deals, customers, amount, weighted)
}

fn near(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|v| (v - expected).abs() < 1e-6)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_funnel_now_and_as_it_stood_on_a_past_date() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let now = app.ok(&f.t.manager, STAGES, json!({})).await;
    assert_eq!(
        figures(&now),
        [
            row("inquiry", 1, 1, 0, 0),
            row("hearing", 0, 0, 0, 0),
            row("proposal", 1, 1, 1_000, 500),
            row("negotiation", 0, 0, 0, 0),
            row("won", 1, 1, 2_000, 2_000),
            row("lost", 3, 3, 4_200, 0),
        ]
    );

    // October 10th, 12:00 UTC: D4 did not exist, D2 was in negotiation, D5 and D7 in inquiry.
    let then = app
        .ok(&f.t.manager, STAGES, json!({"asOf": "2026-10-10T12:00:00Z"}))
        .await;
    assert_eq!(
        figures(&then),
        [
            row("inquiry", 2, 2, 3_700, 185),
            row("hearing", 1, 1, 500, 100),
            row("proposal", 1, 1, 1_000, 500),
            row("negotiation", 1, 1, 2_000, 1_500),
            row("won", 0, 0, 0, 0),
            row("lost", 0, 0, 0, 0),
        ]
    );
    let inquiry = &then["pipeline"]["stages"][0];
    assert!(near(&inquiry["averageAgeDays"], 17.0), "{inquiry}");
    assert!(near(&inquiry["oldestAgeDays"], 25.5), "{inquiry}");
    assert!(near(&then["pipeline"]["stages"][2]["averageAgeDays"], 9.5));
    assert!(then["pipeline"]["stages"][4]["averageAgeDays"].is_null());

    // The rep reads neither the manager's deal nor its customer.
    let rep = app.ok(&f.t.rep, STAGES, json!({"asOf": "2026-10-10T12:00:00Z"})).await;
    assert_eq!(figures(&rep)[0], row("inquiry", 1, 1, 700, 35));
    // The manager narrowed to their own deals.
    let own = app
        .ok(
            &f.t.manager,
            STAGES,
            json!({"asOf": "2026-10-10T12:00:00Z", "owner": f.t.manager.member_id}),
        )
        .await;
    assert_eq!(figures(&own)[0], row("inquiry", 1, 1, 3_000, 150));
    assert_eq!(figures(&own)[2], row("proposal", 0, 0, 0, 0));

    let future = app
        .err(&f.t.manager, STAGES, json!({"asOf": "2999-01-01T00:00:00Z"}))
        .await;
    assert_eq!(future, "BAD_USER_INPUT");
    let _ = f.d4;
}

#[tokio::test(flavor = "multi_thread")]
async fn time_in_stage_conversion_and_outcomes_over_a_month_in_tokyo() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let q = "query($from: Date, $to: Date) { pipeline {
      stageDurations(from: $from, to: $to) { stage { key } stays averageDays medianDays }
      conversion(from: $from, to: $to) { cohort won lost winRate steps { stage { key } reached rateToNext } }
      outcomes(from: $from, to: $to) { won wonAmount lost lostAmount lostReasons { reason deals amount } }
    } }";
    let october = app
        .ok(&f.t.manager, q, json!({"from": "2026-10-01", "to": "2026-10-31"}))
        .await["pipeline"]
        .clone();

    // Stays that ended in October (Tokyo): inquiry 4, 30 and 10 days; hearing 20 and 10; negotiation 20.
    let durations: Vec<(String, i64)> = october["stageDurations"]
        .as_array()
        .expect("durations")
        .iter()
        .map(|d| {
            (
                d["stage"]["key"].as_str().expect("key").to_string(),
                d["stays"].as_i64().expect("stays"),
            )
        })
        .collect();
    let stays = |k: &str, n: i64| (k.to_string(), n);
    assert_eq!(
        durations,
        [
            stays("inquiry", 3),
            stays("hearing", 2),
            stays("proposal", 0),
            stays("negotiation", 1),
            stays("won", 0),
            stays("lost", 0)
        ]
    );
    let d = &october["stageDurations"];
    assert!(
        near(&d[0]["averageDays"], 44.0 / 3.0) && near(&d[0]["medianDays"], 10.0),
        "{}",
        d[0]
    );
    assert!(
        near(&d[1]["averageDays"], 15.0) && near(&d[1]["medianDays"], 15.0),
        "{}",
        d[1]
    );
    assert!(near(&d[3]["medianDays"], 20.0));
    assert!(d[2]["medianDays"].is_null());

    // Created in October in Tokyo: D2, D3, D7 (D4 is November's there).
    // D2 skipped hearing and proposal: it passed them.
    let c = &october["conversion"];
    assert_eq!(
        (c["cohort"].as_i64(), c["won"].as_i64(), c["lost"].as_i64()),
        (Some(3), Some(1), Some(2))
    );
    assert!(near(&c["winRate"], 1.0 / 3.0));
    let steps: Vec<(String, i64)> = c["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["stage"]["key"].as_str().expect("key").to_string(),
                s["reached"].as_i64().expect("reached"),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            stays("inquiry", 3),
            stays("hearing", 2),
            stays("proposal", 1),
            stays("negotiation", 1)
        ]
    );
    let rates: Vec<f64> = c["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["rateToNext"].as_f64().expect("rate"))
        .collect();
    assert_eq!(rates, [2.0 / 3.0, 0.5, 1.0, 1.0]);

    assert_eq!(
        october["outcomes"],
        json!({"won": 1, "wonAmount": 2000, "lost": 3, "lostAmount": 4200, "lostReasons": [
            {"reason": "price", "deals": 2, "amount": 3500},
            {"reason": "timing", "deals": 1, "amount": 700},
        ]})
    );

    let november = app
        .ok(&f.t.manager, q, json!({"from": "2026-11-01", "to": "2026-11-30"}))
        .await["pipeline"]
        .clone();
    assert_eq!(
        november["conversion"]["cohort"], 1,
        "D4, created on November 1st in Tokyo"
    );
    assert!(
        november["conversion"]["steps"][1]["rateToNext"].is_null(),
        "nobody reached hearing"
    );
    assert_eq!(november["outcomes"]["won"], 0);

    // The rep: only their own deals (D5 is the manager's on the manager's customer).
    let rep = app
        .ok(&f.t.rep, q, json!({"from": "2026-10-01", "to": "2026-10-31"}))
        .await["pipeline"]
        .clone();
    assert_eq!(rep["outcomes"]["lost"], 2);
    assert_eq!(rep["stageDurations"][0]["stays"], 2);

    let backwards = app
        .err(&f.t.rep, q, json!({"from": "2026-10-31", "to": "2026-10-01"}))
        .await;
    assert_eq!(backwards, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_deals_by_stage_age_or_silence() {
    let app = TestApp::spawn().await;
    let t = app.tenant("stalled").await;
    let now = Utc::now().trunc_subsecs(0);
    let group = entity::customer_group::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        name: Set("Kansai".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("group")
    .id;
    let rep = t.rep.member_id;
    let w = insert_customer(&app, t.company_id, rep, "W", false, Some(group)).await;
    let v = insert_customer(&app, t.company_id, rep, "V", false, None).await;
    let ago = |days: i64| (now - Duration::days(days)).to_rfc3339();
    let (a40, a5, a60) = (ago(40), ago(5), ago(60));
    let stalled_by_age = DealFixture {
        customer: w,
        owner: rep,
        moves: &[("inquiry", &a60), ("hearing", &a40)],
        last_activity_at: Some(now - Duration::days(1)),
        ..Default::default()
    }
    .insert(&app, t.company_id)
    .await;
    let silent = DealFixture {
        customer: w,
        owner: rep,
        moves: &[("inquiry", &a60), ("proposal", &a5)],
        last_activity_at: Some(now - Duration::days(40)),
        ..Default::default()
    }
    .insert(&app, t.company_id)
    .await;
    // Never any activity, created 60 days ago: silent too, but in no group.
    let never = DealFixture {
        customer: v,
        owner: rep,
        moves: &[("inquiry", &a60), ("hearing", &a5)],
        ..Default::default()
    }
    .insert(&app, t.company_id)
    .await;
    // Moving and worked on: not stalled. Closed long ago: not stalled.
    DealFixture {
        customer: w,
        owner: rep,
        moves: &[("inquiry", &a60), ("hearing", &a5)],
        last_activity_at: Some(now - Duration::days(2)),
        ..Default::default()
    }
    .insert(&app, t.company_id)
    .await;
    DealFixture {
        customer: w,
        owner: rep,
        moves: &[("inquiry", &a60), ("lost", &a40)],
        status: Some(DealStatus::Lost),
        closed_at: Some(&a40),
        lost_reason: Some("budget"),
        ..Default::default()
    }
    .insert(&app, t.company_id)
    .await;

    let q = "query($group: ID, $first: Int) { pipeline(groupId: $group) { stalled(days: 30, first: $first) {
      totalCount nodes { deal { id } daysInStage daysSinceActivity } } } }";
    let all = app.ok(&t.manager, q, json!({})).await["pipeline"]["stalled"].clone();
    assert_eq!(all["totalCount"], 3);
    let ids: Vec<&str> = all["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["deal"]["id"].as_str())
        .collect();
    let (a, b, c) = (stalled_by_age.to_string(), silent.to_string(), never.to_string());
    assert_eq!(ids[0], a, "the longest in its stage first");
    assert_eq!(all["nodes"][0]["daysInStage"], 40);
    assert_eq!(all["nodes"][0]["daysSinceActivity"], 1);
    assert!(ids.contains(&b.as_str()) && ids.contains(&c.as_str()));
    let never_node = all["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["deal"]["id"] == c.as_str())
        .expect("never");
    assert!(never_node["daysSinceActivity"].is_null());

    let kansai = app.ok(&t.rep, q, json!({"group": group, "first": 1})).await["pipeline"]["stalled"].clone();
    assert_eq!(kansai["totalCount"], 2, "the group's customers only");
    assert_eq!(kansai["nodes"].as_array().map(Vec::len), Some(1));

    let other = app.tenant("stalled-other").await;
    let none = app.ok(&other.admin, q, json!({})).await;
    assert_eq!(
        none["pipeline"]["stalled"]["totalCount"], 0,
        "another company sees nothing"
    );
    let zero = "{ pipeline { stalled(days: 0) { totalCount } } }";
    assert_eq!(app.err(&t.rep, zero, json!({})).await, "BAD_USER_INPUT");
}
