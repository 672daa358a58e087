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

/// A NUL character anywhere (literal, variable, JSON value or key, filter)
/// and a search longer than a person types are BAD_USER_INPUT before any
/// statement runs, the same on SQLite (which would store NUL) and
/// PostgreSQL (which refuses it as an internal error).
#[tokio::test(flavor = "multi_thread")]
async fn nul_characters_and_oversized_strings_are_bad_input_on_both_databases() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    customer(&app, &t.rep, "ACME").await;
    let customers = app.rows("customer").await;
    let bad = |q: &'static str, v: serde_json::Value| {
        let (app, rep) = (&app, &t.rep);
        async move {
            let body = app.gql(Some(&rep.token), q, v).await;
            assert_eq!(crate::common::error_code(&body), "BAD_USER_INPUT", "{q}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
            assert!(!message.contains("SQL") && !message.contains("0x00"), "{message}");
            message
        }
    };
    let create = "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }";
    let message = bad(create, json!({"n": "AC\u{0}ME"})).await;
    assert!(
        message.contains("NUL") && message.contains("$n"),
        "names the variable: {message}"
    );
    bad(
        "mutation { createCustomer(input: {name: \"AC\\u0000ME\"}) { id } }",
        json!({}),
    )
    .await;
    bad(
        "mutation($f: JSON) { createCustomer(input: {name: \"ok\", customFields: $f}) { id } }",
        json!({"f": {"note": "a\u{0}b"}}),
    )
    .await;
    bad(
        "mutation($f: JSON) { createCustomer(input: {name: \"ok\", customFields: $f}) { id } }",
        json!({"f": {"k\u{0}": 1}}),
    )
    .await;
    bad(
        "query($s: String) { customers(filter: {search: $s}) { totalCount } }",
        json!({"s": "\u{0}"}),
    )
    .await;
    bad(
        "query($s: String = \"\\u0000\") { deals(filter: {search: $s}) { totalCount } }",
        json!({}),
    )
    .await;
    // A string of megabytes reaches no field, wherever it is.
    let huge = "x".repeat(200_000);
    let message = bad(
        "query($s: String) { customers(filter: {search: $s}) { totalCount } }",
        json!({"s": huge}),
    )
    .await;
    assert!(message.contains("100000"), "{message}");
    assert_eq!(app.rows("customer").await, customers, "nothing written");

    // 50,000 characters of search on every list that searches (SQLite's LIKE
    // refuses patterns over 50,000 bytes): a clear limit, not INTERNAL.
    let long = "%".repeat(50_000);
    for q in [
        "query($s: String) { customers(filter: {search: $s}) { totalCount } }",
        "query($s: String) { contacts(search: $s) { totalCount } }",
        "query($s: String) { deals(filter: {search: $s}) { totalCount } }",
        "query($s: String) { activities(filter: {search: $s}) { totalCount } }",
        "query($s: String) { tasks(filter: {search: $s}) { totalCount } }",
        "query($s: String) { products(search: $s) { totalCount } }",
        "query($s: String) { members(filter: {search: $s}) { totalCount } }",
        "query($s: String) { questions(search: $s) { totalCount } }",
    ] {
        let message = bad(q, json!({"s": long})).await;
        assert!(message.contains("200 characters"), "{q}: {message}");
        let fine = app.ok(&t.rep, q, json!({"s": "x".repeat(200)})).await;
        assert!(fine.to_string().contains("totalCount"), "{q}: {fine}");
    }

    // A file is checked as a whole, uploaded or sent as text.
    let import = "mutation($t: String) { importData(kind: CUSTOMERS, text: $t) { created errors { line message } } }";
    let body = app
        .gql(Some(&t.admin.token), import, json!({"t": "code,name\nC1,AC\u{0}ME\n"}))
        .await;
    assert!(body.to_string().contains("NUL"), "the import names the NUL: {body}");
    assert_eq!(app.rows("customer").await, customers, "nothing imported");
}

/// A customer's website is rendered as a link by every frontend: only web
/// addresses are stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_website_is_a_web_address() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let create = "mutation($w: String) { createCustomer(input: {name: \"ACME\", website: $w}) { id version website } }";
    for bad in [
        "javascript:alert(document.cookie)",
        " JAVASCRIPT:alert(1)",
        "data:text/html,<script>",
        "file:///etc/passwd",
    ] {
        let body = app.gql(Some(&t.rep.token), create, json!({"w": bad})).await;
        assert_eq!(crate::common::error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
    }
    let made = app.ok(&t.rep, create, json!({"w": "https://acme.co.jp/"})).await;
    assert_eq!(made["createCustomer"]["website"], "https://acme.co.jp/");
    let bare = app.ok(&t.rep, create, json!({"w": "www.acme.co.jp"})).await;
    assert_eq!(bare["createCustomer"]["website"], "https://www.acme.co.jp");
    let id = made["createCustomer"]["id"].as_str().unwrap();
    let update = "mutation($id: ID!, $v: Int!, $w: String) { updateCustomer(input: {id: $id, version: $v, website: $w}) { id } }";
    let v = &made["createCustomer"]["version"];
    let body = app
        .gql(
            Some(&t.rep.token),
            update,
            json!({"id": id, "v": v, "w": "javascript:x"}),
        )
        .await;
    assert_eq!(crate::common::error_code(&body), "BAD_USER_INPUT", "{body}");
}
