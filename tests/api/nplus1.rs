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
