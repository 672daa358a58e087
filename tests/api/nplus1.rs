use serde_json::json;

use crate::common::{Session, TestApp};

const PAGE: &str = "query($n: Int!) { deals(first: $n) { totalCount edges { cursor node {
    name customer { name owner { name } contacts { name } } owner { name team { name } }
    members { role member { name } }
    activities(first: 5) { totalCount nodes { subject member { name } contacts { name } products { name } reactions } }
    tasks(status: OPEN, first: 5) { totalCount nodes { title assignee { name } } }
    stageHistory(first: 3) { nodes { toStage changedBy { name } } }
    comments(first: 3) { totalCount nodes { body author { name } } }
} } } }";

async fn seed(app: &TestApp, s: &Session, deals: usize) {
    let product = app
        .ok(
            s,
            "mutation { createProduct(input: {name: \"P\", isFocus: true}) { id } }",
            json!({}),
        )
        .await;
    let product = product["createProduct"]["id"].clone();
    for i in 0..deals {
        let c = app
            .ok(
                s,
                "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }",
                json!({"n": format!("C{i}")}),
            )
            .await;
        let c = c["createCustomer"]["id"].clone();
        let contact = app
            .ok(
                s,
                "mutation($c: ID!) { createContact(customerId: $c, input: {name: \"K\", level: \"manager\"}) { id } }",
                json!({"c": c}),
            )
            .await;
        let d = app
            .ok(
                s,
                "mutation($c: ID!) { createDeal(input: {customerId: $c, name: \"D\", stage: \"hearing\"}) { id } }",
                json!({"c": c}),
            )
            .await;
        let d = d["createDeal"]["id"].clone();
        let a = app.ok(s, "mutation($c: ID!, $d: ID!, $k: ID!, $p: ID!) { createActivity(input: {customerId: $c, dealId: $d, kind: VISIT, subject: \"v\", scheduledAt: \"2026-11-01T01:00:00Z\", contactIds: [$k], productIds: [$p], reactions: [\"welcomed\"]}) { id } }",
            json!({"c": c, "d": d, "k": contact["createContact"]["id"], "p": product})).await;
        app.ok(
            s,
            "mutation($a: ID!) { createTask(input: {title: \"T\", activityId: $a, dueDate: \"2026-12-01\"}) { id } }",
            json!({"a": a["createActivity"]["id"]}),
        )
        .await;
        app.ok(
            s,
            "mutation($d: ID!) { addComment(subjectType: DEAL, subjectId: $d, body: \"go\") { id } }",
            json!({"d": d}),
        )
        .await;
    }
}

async fn statements_for(app: &TestApp, s: &Session, n: usize) -> usize {
    eprintln!("=== page of {n}");
    let before = app.statements();
    let data = app.ok(s, PAGE, json!({"n": n})).await;
    let after = app.statements();
    let edges = data["deals"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), n);
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["activities"]["nodes"][0]["contacts"][0]["name"] == "K")
    );
    assert!(edges.iter().all(|e| e["node"]["tasks"]["totalCount"] == 1));
    after - before
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_100_costs_the_statements_of_a_page_of_10() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    seed(&app, &t.admin, 100).await;
    let ten = statements_for(&app, &t.admin, 10).await;
    let hundred = statements_for(&app, &t.admin, 100).await;
    assert_eq!(ten, hundred, "statements for 10 deals: {ten}, for 100: {hundred}");
    assert!(ten < 40, "{ten} statements for one nested page");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deal_detail_reads_the_deal_once_and_the_breadth_only_when_asked() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    seed(&app, &t.admin, 2).await;
    let deals = app
        .ok(&t.admin, "{ deals(first: 1) { nodes { id } } }", json!({}))
        .await;
    let id = deals["deals"]["nodes"][0]["id"].clone();
    let detail = "query($id: ID!) {
      deal(id: $id) { name customer { name contacts { name } }
        activities(first: 20) { nodes { subject } } tasks(status: OPEN, first: 20) { nodes { title } }
        quality { indicator } }
      energy(dealId: $id) { points activities weekly { points } } }";
    let before = app.statements();
    let data = app.ok(&t.admin, detail, json!({"id": id})).await;
    let spent = app.statements() - before;
    assert_eq!(data["deal"]["customer"]["contacts"][0]["name"], "K");
    assert_eq!(data["energy"]["weekly"].as_array().map(Vec::len), Some(12));
    // Token (member and company joined), the deal (once, for both fields),
    // the energy (totals and weeks together), then one statement per
    // relation: customer, activities, tasks, quality, contacts.
    assert_eq!(spent, 8, "statements for a deal detail");

    let with_breadth = "query($id: ID!) { energy(dealId: $id) { points breadth { contacts } } }";
    let before = app.statements();
    let data = app.ok(&t.admin, with_breadth, json!({"id": id})).await;
    assert_eq!(app.statements() - before, 4, "token, deal, energy, breadth");
    assert_eq!(data["energy"]["breadth"]["contacts"], 1, "the contact met on the deal");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_report_of_five_visits_costs_a_bounded_number_of_statements() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let mut customers = Vec::new();
    for i in 0..5 {
        customers.push(crate::common::customer(&app, &t.rep, &format!("C{i}")).await);
    }
    let visits: Vec<_> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"customerId": c, "kind": "VISIT", "status": "DONE", "subject": format!("visit {i}"),
                   "scheduledAt": format!("2026-11-20T0{i}:00:00Z"), "doneAt": format!("2026-11-20T0{i}:30:00Z")})
        })
        .collect();
    let q = "mutation($in: DailyReportInput!) { submitDailyReport(input: $in) { id } }";
    let before = app.statements();
    app.ok(
        &t.rep,
        q,
        json!({"in": {"reportDate": "2026-11-20", "body": "five visits", "activities": visits}}),
    )
    .await;
    let spent = app.statements() - before;
    // Per visit: the customer checked, the row (scored before it is written)
    // with its audit row, the customer's last contact; then the report's
    // notifications (and on PostgreSQL the event bus's NOTIFY). Was 65 when
    // each visit was scored after its insert and its (new, empty) links were
    // deleted first.
    assert!(spent <= 36, "{spent} statements for a daily report of five visits");
}
