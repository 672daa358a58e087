use serde_json::json;

use crate::common::{TestApp, customer};

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_code_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let (customers, deals, audits) = (
        app.rows("customer").await,
        app.rows("deal").await,
        app.rows("audit_log").await,
    );

    let create_customer = "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }";
    assert_eq!(
        app.err(&t.rep, create_customer, json!({"n": "   "})).await,
        "BAD_USER_INPUT"
    );
    let huge = "x".repeat(1_000_000);
    assert_eq!(
        app.err(&t.rep, create_customer, json!({"n": huge})).await,
        "BAD_USER_INPUT"
    );

    let create_deal = "mutation($c: ID!, $a: Money, $d: Date) { createDeal(input: {customerId: $c, name: \"d\", stage: \"hearing\", amount: $a, expectedCloseDate: $d}) { id } }";
    assert_eq!(
        app.err(&t.rep, create_deal, json!({"c": cust, "a": -5})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(&t.rep, create_deal, json!({"c": cust, "a": 1.5})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(&t.rep, create_deal, json!({"c": cust, "d": "2026-13-45"}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(&t.rep, create_deal, json!({"c": "not-a-uuid"})).await,
        "BAD_USER_INPUT"
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_eq!(app.err(&t.rep, create_deal, json!({"c": unknown})).await, "NOT_FOUND");
    let bad_stage =
        "mutation($c: ID!) { createDeal(input: {customerId: $c, name: \"d\", stage: \"Not A Key!\"}) { id } }";
    assert_eq!(app.err(&t.rep, bad_stage, json!({"c": cust})).await, "BAD_USER_INPUT");

    let bad_enum = "{ customers(filter: {status: SLEEPING}) { totalCount } }";
    assert_eq!(app.err(&t.rep, bad_enum, json!({})).await, "BAD_USER_INPUT");
    let bad_enum_var = "query($s: CustomerStatus) { customers(filter: {status: $s}) { totalCount } }";
    assert_eq!(
        app.err(&t.rep, bad_enum_var, json!({"s": "SLEEPING"})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.err(&t.rep, "{ nonsense }", json!({})).await, "BAD_USER_INPUT");
    assert_eq!(
        app.err(&t.rep, "{ customers(first: 1000) { totalCount } }", json!({}))
            .await,
        "PAGE_TOO_LARGE"
    );
    assert_eq!(
        app.err(&t.rep, "{ customers(after: \"garbage\") { totalCount } }", json!({}))
            .await,
        "BAD_USER_INPUT"
    );

    assert_eq!(app.rows("customer").await, customers);
    assert_eq!(app.rows("deal").await, deals);
    assert_eq!(app.rows("audit_log").await, audits);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_never_leak_sql() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let q = "mutation { createCustomer(input: {name: \"A\", externalCode: \"C1\"}) { id } }";
    app.ok(&t.rep, q, json!({})).await;
    let body = app.gql(Some(&t.rep.token), q, json!({})).await;
    assert_eq!(crate::common::error_code(&body), "CONFLICT", "duplicate external code");
    let text = body.to_string().to_lowercase();
    for word in ["insert", "select", "constraint", "sqlite", "postgres", "unique"] {
        assert!(
            !text.contains(word) || word == "unique" && text.contains("unique value"),
            "leaked {word}: {text}"
        );
    }
}
