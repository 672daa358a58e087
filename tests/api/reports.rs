use serde_json::json;

use crate::common::{TestApp, customer};

const SUBMIT: &str = "mutation($in: DailyReportInput!) { submitDailyReport(input: $in) { id version submittedAt body
    activities { id status kind customer { id lastContactAt } contacts { name level } products { name } reactions } } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_report_in_one_call_and_planned_activities_completed_later() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let contact = app.ok(&t.rep, "mutation($c: ID!) { createContact(customerId: $c, input: {name: \"部長\", level: \"executive\", department: \"購買部\"}) { id } }", json!({"c": cust})).await;
    let contact = contact["createContact"]["id"].clone();
    let product = app
        .ok(
            &t.admin,
            "mutation { createProduct(input: {name: \"Cloud\", isFocus: true}) { id } }",
            json!({}),
        )
        .await;
    let product = product["createProduct"]["id"].clone();

    let planned = app.ok(&t.rep, "mutation($c: ID!) { createActivity(input: {customerId: $c, kind: VISIT, status: PLANNED, subject: \"訪問\", scheduledAt: \"2026-11-20T01:00:00Z\"}) { id version status } }", json!({"c": cust})).await;
    let planned = planned["createActivity"].clone();
    assert_eq!(planned["status"], "PLANNED");

    let input = json!({
        "reportDate": "2026-11-20",
        "body": "訪問とオンライン商談",
        "activities": [{"customerId": cust, "kind": "WEB_MEETING", "subject": "オンライン", "scheduledAt": "2026-11-20T05:00:00Z",
                        "contactIds": [contact], "productIds": [product], "reactions": ["asked_questions", "welcomed"]}],
        "completed": [{"id": planned["id"], "version": planned["version"], "doneAt": "2026-11-20T02:00:00Z", "outcome": "見積依頼", "reactions": ["requested_quote"]}]
    });
    let report = app.ok(&t.rep, SUBMIT, json!({"in": input})).await;
    let report = &report["submitDailyReport"];
    assert!(report["submittedAt"].is_string());
    let acts = report["activities"].as_array().expect("activities");
    assert_eq!(acts.len(), 2);
    assert!(acts.iter().all(|a| a["status"] == "DONE"));
    let web = acts.iter().find(|a| a["kind"] == "WEB_MEETING").expect("web meeting");
    assert_eq!(web["contacts"][0]["level"], "executive");
    assert_eq!(web["products"][0]["name"], "Cloud");
    assert_eq!(web["reactions"], json!(["asked_questions", "welcomed"]));
    assert_eq!(web["customer"]["lastContactAt"], "2026-11-20T05:00:00+00:00");

    // Writing the same day again needs the report's version.
    let again = json!({"reportDate": "2026-11-20", "body": "追記"});
    assert_eq!(app.err(&t.rep, SUBMIT, json!({"in": again})).await, "CONFLICT");
    let fixed = json!({"reportDate": "2026-11-20", "body": "追記", "version": report["version"]});
    let updated = app.ok(&t.rep, SUBMIT, json!({"in": fixed})).await;
    assert_eq!(updated["submitDailyReport"]["body"], "追記");
    assert_eq!(
        updated["submitDailyReport"]["activities"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_report_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let other = customer(&app, &t.rep, "Other").await;
    let contact = app
        .ok(
            &t.rep,
            "mutation($c: ID!) { createContact(customerId: $c, input: {name: \"K\"}) { id } }",
            json!({"c": other}),
        )
        .await;
    let before = (
        app.rows("daily_report").await,
        app.rows("activity").await,
        app.rows("audit_log").await,
    );
    let input = json!({
        "reportDate": "2026-11-21",
        "body": "x",
        "activities": [
            {"customerId": cust, "kind": "CALL", "subject": "ok", "scheduledAt": "2026-11-21T01:00:00Z"},
            {"customerId": cust, "kind": "VISIT", "subject": "bad", "scheduledAt": "2026-11-21T02:00:00Z", "contactIds": [contact["createContact"]["id"]]}
        ]
    });
    assert_eq!(app.err(&t.rep, SUBMIT, json!({"in": input})).await, "BAD_USER_INPUT");
    assert_eq!(
        (
            app.rows("daily_report").await,
            app.rows("activity").await,
            app.rows("audit_log").await
        ),
        before
    );
    let last = app
        .ok(
            &t.rep,
            "query($id: ID!) { customer(id: $id) { lastContactAt } }",
            json!({"id": cust}),
        )
        .await;
    assert_eq!(last["customer"]["lastContactAt"], json!(null));
}
