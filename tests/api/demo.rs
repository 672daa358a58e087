use serde_json::json;
use sfa::seed::{DEMO_PASSWORD, DemoSize, ensure_demo};

use crate::common::{Session, TestApp};

/// The README's first query.
const DASHBOARD: &str = include_str!("../../docs/first-query.graphql");

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_company_answers_the_dashboard_query() {
    let app = TestApp::spawn().await;
    let created = ensure_demo(
        &app.db,
        &app.plugins,
        7,
        DemoSize {
            customers: 120,
            months: 2,
        },
    )
    .await
    .expect("seed");
    assert!(created.is_some());
    assert!(
        ensure_demo(
            &app.db,
            &app.plugins,
            7,
            DemoSize {
                customers: 120,
                months: 2
            }
        )
        .await
        .expect("again")
        .is_none()
    );

    let token = app.login("rep01@demo.example", DEMO_PASSWORD).await;
    let rep = Session {
        member_id: uuid::Uuid::nil(),
        token,
    };
    let data = app.ok(&rep, DASHBOARD, json!({})).await;
    let deals = data["deals"]["nodes"].as_array().expect("deals");
    assert!(!deals.is_empty());
    assert!(
        deals
            .iter()
            .all(|d| d["customer"]["name"].is_string() && d["owner"]["name"].is_string())
    );
    assert!(
        deals
            .iter()
            .any(|d| !d["activities"]["nodes"].as_array().expect("activities").is_empty())
    );

    // The demo runs the seven-stage process with after-sales stages, and its activities are scored.
    let process = app
        .ok(&rep, "{ process { pluginSet stages { key afterSales } } activities(first: 50, filter: {status: DONE}) { nodes { energyPoints } } }", json!({}))
        .await;
    assert_eq!(process["process"]["pluginSet"], "sfa7");
    let stages = process["process"]["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 10);
    assert!(stages.iter().any(|s| s["key"] == "contract") && stages.iter().any(|s| s["afterSales"] == true));
    let scored = process["activities"]["nodes"].as_array().expect("activities");
    assert!(
        !scored.is_empty() && scored.iter().all(|a| a["energyPoints"].as_i64() > Some(0)),
        "{scored:?}"
    );

    let admin = Session {
        member_id: uuid::Uuid::nil(),
        token: app.login("admin@demo.example", DEMO_PASSWORD).await,
    };
    let org = app.ok(&admin, "{ teams { name manager { name } } members { totalCount } customers { totalCount } tasks(filter: {overdue: true}) { totalCount } }", json!({})).await;
    assert_eq!(org["customers"]["totalCount"], 120);
    assert!(org["members"]["totalCount"].as_i64() > Some(20));
    assert!(
        org["teams"]
            .as_array()
            .is_some_and(|t| t.iter().all(|t| t["manager"]["name"].is_string()))
    );
}

/// The demo looks like a company at work: customers spread across the reps,
/// sales booked month after month, past months' attainment between about
/// 50 % and 130 %, and no stage move in the future.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_company_is_believable() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn().await;
    ensure_demo(
        &app.db,
        &app.plugins,
        11,
        DemoSize {
            customers: 1000,
            months: 3,
        },
    )
    .await
    .expect("seed");
    let backend = app.db.get_database_backend();
    let db = &app.db;
    let all = |sql: &str| {
        let stmt = Statement::from_string(backend, sql.to_owned());
        async move { db.query_all_raw(stmt).await.expect("query") }
    };
    let owners: Vec<i64> = all("SELECT COUNT(*) AS n FROM customer GROUP BY owner_id")
        .await
        .iter()
        .map(|r| r.try_get::<i64>("", "n").expect("n"))
        .collect();
    let (max, mean) = (
        *owners.iter().max().expect("owners"),
        owners.iter().sum::<i64>() / owners.len() as i64,
    );
    assert!(owners.len() >= 20 && max <= 2 * mean, "customers per rep: {owners:?}");

    let today = chrono::Utc::now().date_naive();
    let this_month = today.with_day(1).expect("first");
    let targets = all(
        "SELECT t.member_id AS m, t.period_start AS p, t.value AS v FROM target t
         WHERE t.metric = 'sales_amount' AND t.member_id IS NOT NULL",
    )
    .await;
    let sales = all("SELECT member_id AS m, sold_on AS d, amount AS a FROM sales_record").await;
    use chrono::Datelike;
    let mut booked: std::collections::HashMap<(uuid::Uuid, chrono::NaiveDate), i64> = Default::default();
    let mut days = std::collections::HashSet::new();
    for s in &sales {
        let day: chrono::NaiveDate = s.try_get("", "d").expect("day");
        assert!(day <= today, "a sale in the future: {day}");
        days.insert(day);
        let member: Option<uuid::Uuid> = s.try_get("", "m").expect("member");
        *booked
            .entry((member.expect("seller"), day.with_day(1).expect("first")))
            .or_default() += s.try_get::<i64>("", "a").expect("amount");
    }
    assert!(days.len() > 60, "sales spread over the months: {} days", days.len());
    let mut rates = Vec::new();
    for t in &targets {
        let start: chrono::NaiveDate = t.try_get("", "p").expect("start");
        if start >= this_month {
            continue;
        }
        let member: uuid::Uuid = t.try_get("", "m").expect("member");
        let value: i64 = t.try_get("", "v").expect("value");
        rates.push(booked.get(&(member, start)).copied().unwrap_or(0) as f64 / value as f64);
    }
    let within = rates.iter().filter(|r| (0.495..=1.305).contains(*r)).count();
    assert!(rates.len() >= 48, "{} past rep-months", rates.len());
    assert!(
        within * 100 >= rates.len() * 95 && rates.iter().all(|r| *r <= 1.305),
        "attainment of past months: {rates:?}"
    );
    let latest: chrono::DateTime<chrono::Utc> = all("SELECT MAX(changed_at) AS t FROM deal_stage_history").await[0]
        .try_get("", "t")
        .expect("latest move");
    assert!(latest <= chrono::Utc::now(), "a stage move in the future: {latest}");
}

/// The demo has the forecast's weekly snapshots of the past months, each as
/// the month stood that day: a manager opening last month's forecast for
/// the team sees it start from nothing booked on the 1st, bookings only
/// grow week by week up to what the month finally booked, and the month's
/// target beside each point.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_has_last_months_forecast_week_by_week() {
    use chrono::Datelike;
    let app = TestApp::spawn().await;
    ensure_demo(
        &app.db,
        &app.plugins,
        5,
        DemoSize {
            customers: 600,
            months: 4,
        },
    )
    .await
    .expect("seed");
    let token = app.login("manager1@demo.example", DEMO_PASSWORD).await;
    let manager = Session {
        member_id: uuid::Uuid::nil(),
        token,
    };
    let team = app.ok(&manager, "{ me { team { id } } }", json!({})).await["me"]["team"]["id"]
        .as_str()
        .expect("the manager's team")
        .to_owned();
    let first = chrono::Utc::now().date_naive().with_day(1).expect("first");
    let last_month = (first - chrono::Duration::days(1)).with_day(1).expect("first");
    let data = app
        .ok(
            &manager,
            "query($t: ID!, $m: Date!) { forecast(teamId: $t, month: $m) { bookedSales target
               history { weekStart bookedSales pipelineDeals landing target } } }",
            json!({"t": team, "m": last_month.to_string()}),
        )
        .await;
    let f = &data["forecast"];
    let history = f["history"].as_array().expect("history");
    assert!(history.len() >= 4, "one point a week: {f:#}");
    let weeks: Vec<&str> = history.iter().map(|h| h["weekStart"].as_str().expect("week")).collect();
    assert!(weeks.windows(2).all(|w| w[0] < w[1]), "{weeks:?}");
    let booked: Vec<i64> = history
        .iter()
        .map(|h| h["bookedSales"].as_i64().expect("booked"))
        .collect();
    assert_eq!(booked[0], 0, "nothing booked on the 1st: {f:#}");
    let total = f["bookedSales"].as_i64().expect("month's bookings");
    assert!(
        booked.windows(2).all(|w| w[0] <= w[1]) && booked.iter().all(|b| *b <= total) && booked[booked.len() - 1] > 0,
        "bookings grow to at most the month's {total}: {booked:?}"
    );
    assert!(history.iter().any(|h| h["pipelineDeals"].as_i64() > Some(0)), "{f:#}");
    assert!(
        history
            .iter()
            .all(|h| h["target"] == f["target"] && h["target"].is_i64()),
        "{f:#}"
    );
}
