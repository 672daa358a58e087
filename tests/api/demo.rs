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
