use serde_json::json;

use crate::common::{TestApp, customer, deal};

#[tokio::test(flavor = "multi_thread")]
async fn one_company_never_sees_or_writes_another() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let cust = customer(&app, &a.rep, "Alpha's customer").await;
    let (deal_id, _) = deal(&app, &a.rep, &cust, "Alpha's deal").await;

    // Reads: a foreign id answers exactly like a missing one.
    let q = "query($id: ID!) { customer(id: $id) { name } }";
    assert_eq!(app.err(&b.admin, q, json!({"id": cust})).await, "NOT_FOUND");
    let missing = uuid::Uuid::now_v7().to_string();
    let foreign = app.gql(Some(&b.admin.token), q, json!({"id": cust})).await;
    let absent = app.gql(Some(&b.admin.token), q, json!({"id": missing})).await;
    assert_eq!(foreign["errors"][0]["message"], absent["errors"][0]["message"]);
    assert_eq!(
        app.err(
            &b.admin,
            "query($id: ID!) { deal(id: $id) { name } }",
            json!({"id": deal_id})
        )
        .await,
        "NOT_FOUND"
    );
    let lists = app
        .ok(
            &b.admin,
            "{ customers { totalCount nodes { id } } deals { totalCount } members { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(lists["customers"]["totalCount"], 0);
    assert_eq!(lists["deals"]["totalCount"], 0);
    assert_eq!(lists["members"]["totalCount"], 3, "only beta's own three members");

    // Writes: nothing of alpha's can be changed or referenced from beta.
    let upd = "mutation($id: ID!) { updateCustomer(input: {id: $id, version: 1, name: \"hijacked\"}) { id } }";
    assert_eq!(app.err(&b.admin, upd, json!({"id": cust})).await, "NOT_FOUND");
    let link = "mutation($c: ID!) { createDeal(input: {customerId: $c, name: \"x\", stage: \"hearing\"}) { id } }";
    assert_eq!(app.err(&b.admin, link, json!({"c": cust})).await, "NOT_FOUND");
    let comment = "mutation($id: ID!) { addComment(subjectType: DEAL, subjectId: $id, body: \"hi\") { id } }";
    assert_eq!(app.err(&b.admin, comment, json!({"id": deal_id})).await, "NOT_FOUND");
    let assign = "mutation($m: ID!) { createTask(input: {title: \"t\", assigneeId: $m}) { id } }";
    assert_eq!(
        app.err(&b.admin, assign, json!({"m": a.rep.member_id.to_string()}))
            .await,
        "NOT_FOUND"
    );

    let still = app
        .ok(
            &a.rep,
            "query($id: ID!) { customer(id: $id) { name version } }",
            json!({"id": cust}),
        )
        .await;
    assert_eq!(still["customer"]["name"], "Alpha's customer");
    assert_eq!(still["customer"]["version"], 1);
}
