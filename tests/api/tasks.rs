use serde_json::json;

use crate::common::{TestApp, customer, deal};

#[tokio::test(flavor = "multi_thread")]
async fn tasks_from_activities_overdue_complete_reassign() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let (deal_id, _) = deal(&app, &t.rep, &cust, "Deal").await;
    let act = app.ok(&t.rep, "mutation($c: ID!, $d: ID!) { createActivity(input: {customerId: $c, dealId: $d, kind: VISIT, subject: \"v\", scheduledAt: \"2026-11-01T01:00:00Z\"}) { id } }", json!({"c": cust, "d": deal_id})).await;
    let act = act["createActivity"]["id"].clone();

    let create = "mutation($in: CreateTaskInput!) { createTask(input: $in) { id version kind isOverdue customer { id } deal { id } activity { id } assignee { id } } }";
    let promise = app
        .ok(
            &t.rep,
            create,
            json!({"in": {"title": "見積を送る", "activityId": act, "dueDate": "2020-01-01"}}),
        )
        .await;
    let promise = promise["createTask"].clone();
    assert_eq!(promise["kind"], "CUSTOMER_PROMISE");
    assert_eq!(promise["customer"]["id"], json!(cust));
    assert_eq!(promise["deal"]["id"], deal_id);
    assert_eq!(promise["isOverdue"], true);
    let internal = app
        .ok(
            &t.rep,
            create,
            json!({"in": {"title": "週報", "dueDate": "2999-01-01"}}),
        )
        .await;
    assert_eq!(internal["createTask"]["kind"], "INTERNAL");

    // Everyone in the company sees everyone's tasks, overdue ones listed apart.
    let overdue = app
        .ok(
            &t.manager,
            "{ tasks(filter: {overdue: true}) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(overdue["tasks"]["totalCount"], 1);
    assert_eq!(overdue["tasks"]["nodes"][0]["id"], promise["id"]);

    let reassign = "mutation($id: ID!, $v: Int!, $m: ID!) { reassignTask(id: $id, version: $v, assigneeId: $m) { version assignee { id } } }";
    let moved = app
        .ok(
            &t.rep,
            reassign,
            json!({"id": promise["id"], "v": promise["version"], "m": t.manager.member_id.to_string()}),
        )
        .await;
    assert_eq!(moved["reassignTask"]["assignee"]["id"], t.manager.member_id.to_string());
    let done = app
        .ok(
            &t.manager,
            "mutation($id: ID!, $v: Int!) { completeTask(id: $id, version: $v) { status completedAt isOverdue } }",
            json!({"id": promise["id"], "v": moved["reassignTask"]["version"]}),
        )
        .await;
    assert_eq!(done["completeTask"]["status"], "DONE");
    assert_eq!(done["completeTask"]["isOverdue"], false);
    let overdue = app
        .ok(
            &t.manager,
            "{ tasks(filter: {overdue: true}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(overdue["tasks"]["totalCount"], 0);

    let on_deal = app
        .ok(
            &t.rep,
            "query($id: ID!) { deal(id: $id) { tasks { totalCount } } }",
            json!({"id": deal_id}),
        )
        .await;
    assert_eq!(on_deal["deal"]["tasks"]["totalCount"], 1);
    let audit = app.rows("audit_log").await;
    assert!(audit >= 7, "every mutation is audited ({audit} rows)");
}
