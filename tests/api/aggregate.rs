//! The BI aggregate, in GraphQL and as CSV. Every expected figure is worked
//! out by hand from the fixture; the company is in Tokyo.

use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{ActivityKind, ActivityStatus, DealStatus, Role};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{DealFixture, Tenant, TestApp, insert_customer};

struct Fixture {
    t: Tenant,
    rep2: Uuid,
    p1: Uuid,
    p2: Uuid,
}

#[allow(clippy::too_many_arguments)]
async fn activity(
    app: &TestApp,
    t: &Tenant,
    member: Uuid,
    customer: Uuid,
    kind: ActivityKind,
    status: ActivityStatus,
    at: &str,
    energy: Option<i32>,
    deleted: bool,
) -> Uuid {
    let at: DateTime<Utc> = at.parse().expect("instant");
    entity::activity::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        member_id: Set(member),
        customer_id: Set(customer),
        kind: Set(kind),
        status: Set(status),
        subject: Set("fixture".into()),
        scheduled_at: Set(at),
        done_at: Set((status == ActivityStatus::Done).then_some(at)),
        attendee_count: Set(1),
        energy_points: Set(energy),
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
    .id
}

async fn sale(app: &TestApp, t: &Tenant, customer: Uuid, on: &str, amount: i64, profit: i64) {
    entity::sales_record::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        customer_id: Set(customer),
        member_id: Set(Some(t.rep.member_id)),
        sold_on: Set(on.parse::<NaiveDate>().expect("date")),
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

/// Customers X (rep, group G), Y (rep, no group, named like a formula), Z
/// (manager, group G). Activities (UTC):
/// - a1 rep X visit done 10-31 16:00 (Nov 1st in Tokyo), 10 points, products P1 and P2;
/// - a2 rep X call done 11-15, 5 points, P1;
/// - a3 rep Y visit done 11-30 15:30 (Dec 1st in Tokyo), 7 points;
/// - a4 manager Z visit done 11-20, 3 points;
/// - a5 rep Y visit planned for 11-25, no points;
/// - a6 rep X visit done 11-10, 100 points, deleted;
/// - a7 rep2 (sub-team) Z visit done 11-05, 4 points.
async fn fixture(app: &TestApp) -> Fixture {
    let t = app.tenant("agg").await;
    app.ok(
        &t.admin,
        "mutation { updateCompanySettings(timeZone: \"Asia/Tokyo\") { timeZone } }",
        json!({}),
    )
    .await;
    let me = app.ok(&t.manager, "{ me { team { id } } }", json!({})).await;
    let team: Uuid = me["me"]["team"]["id"].as_str().expect("team").parse().expect("uuid");
    let now = Utc::now();
    let sub = entity::team::ActiveModel {
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
    .expect("sub")
    .id;
    let rep2 = entity::member::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        team_id: Set(Some(sub)),
        email: Set("rep2@agg.test".into()),
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
    let group = entity::customer_group::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        name: Set("G".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("group")
    .id;
    let (rep, manager) = (t.rep.member_id, t.manager.member_id);
    let x = insert_customer(app, t.company_id, rep, "X", false, Some(group)).await;
    let y = insert_customer(app, t.company_id, rep, "=Y", false, None).await;
    let z = insert_customer(app, t.company_id, manager, "Z", false, Some(group)).await;
    let product = |name: &str| entity::product::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(t.company_id),
        name: Set(name.into()),
        is_focus: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let p1 = product("P1").insert(&app.db).await.expect("p1").id;
    let p2 = product("P2").insert(&app.db).await.expect("p2").id;
    let propose = |a: Uuid, p: Uuid| entity::activity_product::ActiveModel {
        activity_id: Set(a),
        product_id: Set(p),
        company_id: Set(t.company_id),
    };
    let (visit, call) = (ActivityKind::Visit, ActivityKind::Call);
    let (done, planned) = (ActivityStatus::Done, ActivityStatus::Planned);
    let a1 = activity(app, &t, rep, x, visit, done, "2026-10-31T16:00:00Z", Some(10), false).await;
    propose(a1, p1).insert(&app.db).await.expect("proposal");
    propose(a1, p2).insert(&app.db).await.expect("proposal");
    let a2 = activity(app, &t, rep, x, call, done, "2026-11-15T02:00:00Z", Some(5), false).await;
    propose(a2, p1).insert(&app.db).await.expect("proposal");
    activity(app, &t, rep, y, visit, done, "2026-11-30T15:30:00Z", Some(7), false).await;
    activity(app, &t, manager, z, visit, done, "2026-11-20T00:00:00Z", Some(3), false).await;
    activity(app, &t, rep, y, visit, planned, "2026-11-25T01:00:00Z", None, false).await;
    activity(app, &t, rep, x, visit, done, "2026-11-10T00:00:00Z", Some(100), true).await;
    activity(app, &t, rep2, z, visit, done, "2026-11-05T00:00:00Z", Some(4), false).await;

    let deal = |amount: Option<i64>, moves: &'static [(&'static str, &'static str)]| DealFixture {
        customer: x,
        owner: rep,
        amount,
        moves,
        ..Default::default()
    };
    deal(Some(1_000), &[("proposal", "2026-11-02T00:00:00Z")])
        .insert(app, t.company_id)
        .await;
    deal(Some(3_000), &[("proposal", "2026-11-03T00:00:00Z")])
        .insert(app, t.company_id)
        .await;
    deal(None, &[("hearing", "2026-11-04T00:00:00Z")])
        .insert(app, t.company_id)
        .await;
    DealFixture {
        status: Some(DealStatus::Won),
        closed_at: Some("2026-11-20T00:00:00Z"),
        ..deal(
            Some(500),
            &[("proposal", "2026-11-05T00:00:00Z"), ("won", "2026-11-20T00:00:00Z")],
        )
    }
    .insert(app, t.company_id)
    .await;

    sale(app, &t, x, "2026-11-01", 100, 10).await;
    sale(app, &t, z, "2026-12-31", 200, 20).await;
    sale(app, &t, y, "2026-10-01", 50, 5).await;
    sale(app, &t, x, "2026-09-30", 999, 99).await;
    Fixture { t, rep2, p1, p2 }
}

const AGGREGATE: &str =
    "query($fact: String!, $dims: [String!]!, $measures: [String!]!, $filter: AggregateFilterInput, $limit: Int) {
  aggregate(fact: $fact, dimensions: $dims, measures: $measures, filter: $filter, limit: $limit) {
    fact dimensions measures from to truncated rows { keys labels values } } }";

fn rows(data: &Value) -> Vec<Value> {
    data["aggregate"]["rows"].as_array().expect("rows").clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn activities_by_member_and_month_in_the_companys_time_zone() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let (rep, manager) = (f.t.rep.member_id.to_string(), f.t.manager.member_id.to_string());
    let vars = json!({"fact": "activities", "dims": ["member", "month"],
        "measures": ["count", "sum:energy_points", "count_distinct:customer"],
        "filter": {"from": "2026-10-01", "to": "2026-12-31"}});
    let data = app.ok(&f.t.manager, AGGREGATE, vars.clone()).await;
    assert_eq!(data["aggregate"]["from"], "2026-10-01");
    assert_eq!(data["aggregate"]["truncated"], false);
    // Member ids are time-ordered: the manager's, the rep's, then rep2's.
    assert_eq!(
        rows(&data),
        [
            json!({"keys": [manager, "2026-11-01"], "labels": ["manager of agg", "2026-11-01"], "values": [1.0, 3.0, 1.0]}),
            json!({"keys": [rep, "2026-11-01"], "labels": ["rep of agg", "2026-11-01"], "values": [3.0, 15.0, 2.0]}),
            json!({"keys": [rep, "2026-12-01"], "labels": ["rep of agg", "2026-12-01"], "values": [1.0, 7.0, 1.0]}),
            json!({"keys": [f.rep2.to_string(), "2026-11-01"], "labels": ["rep2", "2026-11-01"], "values": [1.0, 4.0, 1.0]}),
        ]
    );

    // The rep reads neither the manager's nor rep2's activities on the manager's customer.
    let own = app
        .ok(
            &f.t.rep,
            AGGREGATE,
            json!({"fact": "activities", "dims": ["member"],
        "measures": ["count"], "filter": {"from": "2026-10-01", "to": "2026-12-31"}}),
        )
        .await;
    assert_eq!(
        rows(&own),
        [json!({"keys": [rep], "labels": ["rep of agg"], "values": [4.0]})]
    );

    // Weeks start on Monday: Nov 1st 2026 (Tokyo) is a Sunday.
    let weeks = app
        .ok(
            &f.t.rep,
            AGGREGATE,
            json!({"fact": "activities", "dims": ["week", "kind"],
        "measures": ["count"], "filter": {"from": "2026-11-01", "to": "2026-11-30", "status": "done"}}),
        )
        .await;
    assert_eq!(
        rows(&weeks),
        [
            json!({"keys": ["2026-10-26", "visit"], "labels": ["2026-10-26", "visit"], "values": [1.0]}),
            json!({"keys": ["2026-11-09", "call"], "labels": ["2026-11-09", "call"], "values": [1.0]}),
        ],
        "a3 is December's in Tokyo"
    );

    // Per product: an activity counts once per product it proposed.
    let products = app.ok(&f.t.admin, AGGREGATE, json!({"fact": "activities", "dims": ["product"],
        "measures": ["count", "sum:energy_points"], "filter": {"from": "2026-10-01", "to": "2026-12-31", "status": "done"}})).await;
    let mut found: Vec<(Option<String>, Vec<f64>)> = rows(&products)
        .iter()
        .map(|r| {
            (
                r["labels"][0].as_str().map(String::from),
                r["values"]
                    .as_array()
                    .expect("values")
                    .iter()
                    .map(|v| v.as_f64().expect("v"))
                    .collect(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        found,
        [
            (None, vec![3.0, 14.0]),
            (Some("P1".into()), vec![2.0, 15.0]),
            (Some("P2".into()), vec![1.0, 10.0])
        ]
    );
    let p2_only = app
        .ok(
            &f.t.admin,
            AGGREGATE,
            json!({"fact": "activities", "dims": [],
        "measures": ["count"], "filter": {"from": "2026-10-01", "to": "2026-12-31", "productId": f.p2}}),
        )
        .await;
    assert_eq!(rows(&p2_only), [json!({"keys": [], "labels": [], "values": [1.0]})]);
    let _ = f.p1;

    let first = app
        .ok(
            &f.t.manager,
            AGGREGATE,
            json!({"fact": "activities", "dims": ["member", "month"],
        "measures": ["count"], "filter": {"from": "2026-10-01", "to": "2026-12-31"}, "limit": 1}),
        )
        .await;
    assert_eq!(
        (rows(&first).len(), &first["aggregate"]["truncated"]),
        (1, &json!(true))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deals_by_stage_and_sales_by_group_and_quarter() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let deals = app.ok(&f.t.rep, AGGREGATE, json!({"fact": "deals", "dims": ["stage"],
        "measures": ["count", "sum:amount", "avg:amount", "max:amount"], "filter": {"from": "2026-11-01", "to": "2026-11-30"}})).await;
    let mut found: Vec<Value> = rows(&deals);
    found.sort_by_key(|r| r["keys"][0].as_str().map(String::from));
    assert_eq!(
        found,
        [
            json!({"keys": ["hearing"], "labels": ["hearing"], "values": [1.0, null, null, null]}),
            json!({"keys": ["proposal"], "labels": ["proposal"], "values": [2.0, 4000.0, 2000.0, 3000.0]}),
            json!({"keys": ["won"], "labels": ["won"], "values": [1.0, 500.0, 500.0, 500.0]}),
        ]
    );

    let sales = app
        .ok(
            &f.t.admin,
            AGGREGATE,
            json!({"fact": "sales_records", "dims": ["customer_group", "quarter"],
        "measures": ["sum:amount", "sum:gross_profit", "count_distinct:customer"],
        "filter": {"from": "2026-10-01", "to": "2026-12-31"}}),
        )
        .await;
    let mut found: Vec<(Option<String>, Value, Value)> = rows(&sales)
        .iter()
        .map(|r| {
            (
                r["labels"][0].as_str().map(String::from),
                r["keys"][1].clone(),
                r["values"].clone(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        found,
        [
            (None, json!("2026-10-01"), json!([50.0, 5.0, 1.0])),
            (Some("G".into()), json!("2026-10-01"), json!([300.0, 30.0, 2.0])),
        ]
    );

    let tasks = app
        .ok(
            &f.t.admin,
            AGGREGATE,
            json!({"fact": "tasks", "dims": ["status"], "measures": ["count"]}),
        )
        .await;
    assert_eq!(rows(&tasks), Vec::<Value>::new(), "no tasks in the fixture");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_names_and_misplaced_filters_are_bad_input() {
    let app = TestApp::spawn().await;
    let t = app.tenant("agg-bad").await;
    let bad = [
        json!({"fact": "visits", "dims": [], "measures": ["count"]}),
        json!({"fact": "activities", "dims": ["planet"], "measures": ["count"]}),
        json!({"fact": "activities", "dims": [], "measures": ["sum:amount"]}),
        json!({"fact": "activities", "dims": [], "measures": ["median:energy_points"]}),
        json!({"fact": "activities", "dims": [], "measures": []}),
        json!({"fact": "deals", "dims": ["product"], "measures": ["count"]}),
        json!({"fact": "deals", "dims": [], "measures": ["count"], "filter": {"productId": Uuid::now_v7()}}),
        json!({"fact": "deals", "dims": [], "measures": ["count"], "filter": {"from": "2026-02-01", "to": "2026-01-01"}}),
        json!({"fact": "deals", "dims": [], "measures": ["count"], "limit": 0}),
        json!({"fact": "deals", "dims": ["day", "week", "month", "quarter", "year", "stage"], "measures": ["count"]}),
    ];
    for vars in bad {
        assert_eq!(
            app.err(&t.rep, AGGREGATE, vars.clone()).await,
            "BAD_USER_INPUT",
            "{vars}"
        );
    }
    let message = app
        .gql(
            Some(&t.rep.token),
            AGGREGATE,
            json!({"fact": "activities", "dims": ["planet"], "measures": ["count"]}),
        )
        .await["errors"][0]["message"]
        .clone();
    assert!(
        message.as_str().is_some_and(|m| m.contains("customer_group")),
        "{message}"
    );
    let catalog = app
        .ok(&t.rep, "{ aggregateCatalog { name dimensions measures } }", json!({}))
        .await;
    let facts = catalog["aggregateCatalog"].as_array().expect("catalog");
    assert_eq!(facts.len(), 4);
    assert!(
        facts[0]["measures"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("sum:energy_points")))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_aggregate_as_csv_with_an_api_key() {
    let app = TestApp::spawn().await;
    let f = fixture(&app).await;
    let key = app
        .ok(
            &f.t.admin,
            "mutation { createApiKey(name: \"BI\", scope: READ_ONLY) { key } }",
            json!({}),
        )
        .await["createApiKey"]["key"]
        .as_str()
        .expect("key")
        .to_string();
    let get = |query: &'static str, auth: Option<String>| {
        let mut req = app.http.get(app.url(&format!("/api/aggregate.csv?{query}")));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        async move {
            let res = req.send().await.expect("send");
            let status = res.status().as_u16();
            let kind = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (status, kind, res.text().await.expect("body"))
        }
    };
    let (status, kind, body) = get(
        "fact=activities&dimensions=customer,month&measures=count,sum:energy_points&from=2026-10-01&to=2026-12-31&status=done",
        Some(key.clone()),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"), "{body}");
    let mut lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.remove(0), "customer,customer_name,month,count,sum:energy_points");
    let mut named: Vec<String> = lines
        .iter()
        .map(|l| l.split_once(',').expect("id").1.to_string())
        .collect();
    named.sort();
    // The formula-like name is quoted and defused.
    assert_eq!(
        named,
        ["\"'=Y\",2026-12-01,1,7", "X,2026-11-01,2,15", "Z,2026-11-01,2,7"]
    );

    let (status, _, body) = get("fact=activities&dimensions=planet&measures=count", Some(key.clone())).await;
    assert_eq!(status, 400);
    assert!(body.contains("BAD_USER_INPUT") && body.contains("planet"), "{body}");
    let (status, _, body) = get("fact=activities&measures=count&from=yesterday", Some(key.clone())).await;
    assert_eq!((status, body.contains("BAD_USER_INPUT")), (400, true));
    let edge = "fact=activities&measures=count&from=%2B262142-12-30&to=%2B262142-12-31";
    let (status, _, body) = get(edge, Some(key)).await;
    assert_eq!((status, body.contains("BAD_USER_INPUT")), (400, true), "{body}");
    let (status, _, body) = get("fact=activities&measures=count", None).await;
    assert_eq!((status, body.contains("UNAUTHENTICATED")), (401, true));
    let (status, _, _) = get("fact=activities&measures=count", Some("sfa_bogus".into())).await;
    assert_eq!(status, 401);

    // A member's token works too, and sees only what they may read.
    let (status, _, body) = get(
        "fact=activities&measures=count&from=2026-10-01&to=2026-12-31",
        Some(f.t.rep.token.clone()),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "count\r\n4\r\n"));
}
