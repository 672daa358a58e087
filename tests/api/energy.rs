//! Energy figures and rankings, worked out by hand. Activity times are
//! relative to now: `weeks_ago(k)` falls in the k-th week before this one.

use chrono::{DateTime, Duration, Utc};
use entity::enums::{ActivityKind, ActivityStatus};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{DealFixture, Tenant, TestApp, insert_customer};

fn weeks_ago(k: i64) -> DateTime<Utc> {
    Utc::now() - Duration::weeks(k) - Duration::seconds(1)
}

async fn contact(app: &TestApp, t: &Tenant, customer: Uuid, level: &str, department: &str) -> Uuid {
    let now = Utc::now();
    entity::contact::ActiveModel {
        external_code: Set(None),
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        customer_id: Set(customer),
        name: Set(format!("{level} of {department}")),
        department: Set(Some(department.into())),
        level: Set(level.into()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("contact")
    .id
}

#[allow(clippy::too_many_arguments)]
async fn done(
    app: &TestApp,
    t: &Tenant,
    member: Uuid,
    customer: Uuid,
    deal: Option<Uuid>,
    at: DateTime<Utc>,
    points: i32,
    status: ActivityStatus,
    deleted: bool,
    contacts: &[Uuid],
) {
    let id = entity::activity::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        member_id: Set(member),
        customer_id: Set(customer),
        deal_id: Set(deal),
        kind: Set(ActivityKind::Visit),
        status: Set(status),
        subject: Set("fixture".into()),
        scheduled_at: Set(at),
        done_at: Set((status == ActivityStatus::Done).then_some(at)),
        attendee_count: Set(1),
        energy_points: Set(Some(points)),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(deleted.then_some(at)),
        external_ref: Set(None),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("activity")
    .id;
    for c in contacts {
        entity::activity_contact::ActiveModel {
            activity_id: Set(id),
            contact_id: Set(*c),
            company_id: Set(t.company_id),
        }
        .insert(&app.db)
        .await
        .expect("met");
    }
}

struct Fixture {
    t: Tenant,
    x: Uuid,
    y: Uuid,
    deal: Uuid,
}

/// Customer X (the rep's, code C-001) with contacts staff/Sales,
/// manager/Sales, staff/IT and an executive nobody met; deal D on X.
/// Done activities: rep on D this week (10, meeting the two Sales
/// contacts), rep on D last week (5, meeting IT), rep at X three weeks ago
/// (3), rep on D twenty weeks ago (100), the manager at X this week (7);
/// not counted: a planned one and a deleted one. Customer Y: rep last week
/// (30) and five weeks ago (4).
async fn fixture(app: &TestApp) -> Fixture {
    let t = app.tenant("energy").await;
    let (rep, manager) = (t.rep.member_id, t.manager.member_id);
    let x = insert_customer(app, t.company_id, rep, "X", false, None).await;
    entity::customer::ActiveModel {
        id: Set(x),
        external_code: Set(Some("C-001".into())),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("code");
    let y = insert_customer(app, t.company_id, rep, "Y", false, None).await;
    let sales_staff = contact(app, &t, x, "staff", "Sales").await;
    let sales_manager = contact(app, &t, x, "manager", "Sales").await;
    let it_staff = contact(app, &t, x, "staff", "IT").await;
    contact(app, &t, x, "executive", "Board").await;
    let deal = DealFixture {
        customer: x,
        owner: rep,
        moves: &[("proposal", "2026-01-01T00:00:00Z")],
        ..Default::default()
    }
    .insert(app, t.company_id)
    .await;
    let (ok, planned) = (ActivityStatus::Done, ActivityStatus::Planned);
    let d = Some(deal);
    done(
        app,
        &t,
        rep,
        x,
        d,
        weeks_ago(0),
        10,
        ok,
        false,
        &[sales_staff, sales_manager],
    )
    .await;
    done(app, &t, rep, x, d, weeks_ago(1), 5, ok, false, &[it_staff]).await;
    done(app, &t, rep, x, None, weeks_ago(3), 3, ok, false, &[]).await;
    done(app, &t, rep, x, d, weeks_ago(20), 100, ok, false, &[]).await;
    done(app, &t, manager, x, None, weeks_ago(0), 7, ok, false, &[]).await;
    done(app, &t, rep, x, d, weeks_ago(0), 40, planned, false, &[]).await;
    done(app, &t, rep, x, d, weeks_ago(1), 50, ok, true, &[]).await;
    done(app, &t, rep, y, None, weeks_ago(1), 30, ok, false, &[]).await;
    done(app, &t, rep, y, None, weeks_ago(5), 4, ok, false, &[]).await;
    Fixture { t, x, y, deal }
}

const ENERGY: &str = "query($d: ID, $c: ID, $code: String, $m: ID, $w: Int) {
  energy(dealId: $d, customerId: $c, customerCode: $code, memberId: $m, weeks: $w) {
    points activities weeksSinceLastActivity activeWeeks trend
    breadth { contacts departments levelsReached { key } levelsNotReached { key } }
    weekly { weekStart points activities } } }";

fn keys(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|l| l["key"].as_str().expect("key").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customers_points_breadth_continuity_and_trend() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let e = app.ok(&f.t.manager, ENERGY, json!({"c": f.x})).await["energy"].clone();
    assert_eq!((&e["points"], &e["activities"]), (&json!(125), &json!(5)));
    assert_eq!(e["weeksSinceLastActivity"], 0);
    let b = &e["breadth"];
    assert_eq!((&b["contacts"], &b["departments"]), (&json!(3), &json!(2)));
    assert_eq!(keys(&b["levelsReached"]), ["staff", "manager"]);
    assert_eq!(keys(&b["levelsNotReached"]), ["executive"]);
    let weekly: Vec<i64> = e["weekly"]
        .as_array()
        .expect("weekly")
        .iter()
        .map(|w| w["points"].as_i64().expect("points"))
        .collect();
    assert_eq!(weekly, [0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 5, 17]);
    assert_eq!(e["weekly"][11]["activities"], 2);
    assert_eq!(e["activeWeeks"], 3);
    // Slope over x = 0..11: Σ(x − 5.5)·y / Σ(x − 5.5)² = 123.5 / 143.
    assert!(
        (e["trend"].as_f64().expect("trend") - 123.5 / 143.0).abs() < 1e-9,
        "{e}"
    );

    // The same by the sales system's code, as a daily-report tool would ask.
    let by_code = app.ok(&f.t.rep, ENERGY, json!({"code": "C-001"})).await["energy"].clone();
    assert_eq!(by_code["points"], 125);
    let deal = app.ok(&f.t.rep, ENERGY, json!({"d": f.deal, "w": 4})).await["energy"].clone();
    assert_eq!(
        (&deal["points"], &deal["breadth"]["contacts"]),
        (&json!(115), &json!(3))
    );
    assert_eq!(deal["weekly"].as_array().map(Vec::len), Some(4));
    let me = app.ok(&f.t.rep, ENERGY, json!({"m": f.t.rep.member_id})).await["energy"].clone();
    assert_eq!(me["points"], 152, "X's 118 and Y's 34");
    assert_eq!(me["breadth"]["levelsNotReached"].as_array().map(Vec::len), Some(1));

    assert_eq!(
        app.err(&f.t.rep, ENERGY, json!({"m": f.t.manager.member_id})).await,
        "FORBIDDEN"
    );
    assert_eq!(app.err(&f.t.rep, ENERGY, json!({})).await, "BAD_USER_INPUT");
    assert_eq!(
        app.err(&f.t.rep, ENERGY, json!({"c": f.x, "d": f.deal})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(&f.t.rep, ENERGY, json!({"c": f.x, "w": 0})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.err(&f.t.rep, ENERGY, json!({"code": "nope"})).await, "NOT_FOUND");
    let other = app.tenant("energy-other").await;
    assert_eq!(app.err(&other.admin, ENERGY, json!({"c": f.x})).await, "NOT_FOUND");
    assert_eq!(
        app.err(&other.admin, ENERGY, json!({"code": "C-001"})).await,
        "NOT_FOUND"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rankings_over_the_last_weeks_with_the_change() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let q = "query($by: EnergyRankBy!) { energyRanking(by: $by, weeks: 4) {
      rank points previousPoints change activities customer { id } member { id } deal { id } } }";
    let customers = app.ok(&f.t.manager, q, json!({"by": "CUSTOMER"})).await["energyRanking"].clone();
    assert_eq!(
        customers,
        json!([
            {"rank": 1, "points": 30, "previousPoints": 4, "change": 26, "activities": 1,
             "customer": {"id": f.y}, "member": null, "deal": null},
            {"rank": 2, "points": 25, "previousPoints": 0, "change": 25, "activities": 4,
             "customer": {"id": f.x}, "member": null, "deal": null},
        ])
    );
    let members = app.ok(&f.t.manager, q, json!({"by": "MEMBER"})).await["energyRanking"].clone();
    let pairs: Vec<(String, i64, i64)> = members
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["member"]["id"].as_str().expect("id").to_string(),
                m["points"].as_i64().expect("points"),
                m["previousPoints"].as_i64().expect("previous"),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            (f.t.rep.member_id.to_string(), 48, 4),
            (f.t.manager.member_id.to_string(), 7, 0)
        ]
    );
    let deals = app.ok(&f.t.rep, q, json!({"by": "DEAL"})).await["energyRanking"].clone();
    assert_eq!(deals.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&deals[0]["deal"]["id"], &deals[0]["points"]),
        (&json!(f.deal), &json!(15))
    );
    // Another company ranks nothing of this one.
    let other = app.tenant("energy-rank-other").await;
    let none = app.ok(&other.admin, q, json!({"by": "CUSTOMER"})).await;
    assert_eq!(none["energyRanking"], json!([]));
}
