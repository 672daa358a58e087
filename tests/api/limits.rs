//! Each endpoint limit, triggered by a crafted request, answers with its own
//! code, and the server keeps answering ordinary requests.

use serde_json::{Value, json};

use crate::common::{Session, TestApp};

async fn still_serving(app: &TestApp, s: &Session) {
    let ok = app.ok(s, "{ me { id } }", json!({})).await;
    assert!(ok["me"]["id"].is_string());
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("none")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_limit_has_its_code() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let tok = Some(t.rep.token.as_str());

    // Deep nesting: deal → customer → owner → team → parent → … beyond max_depth.
    let deep = format!("{{ me {{ team {}id{} }} }}", "parent { ".repeat(20), " }".repeat(20));
    let body = app.gql(tok, &deep, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_DEEP", "{body}");
    still_serving(&app, &t.rep).await;

    let body = app.gql(tok, "{ deals(first: 100000) { totalCount } }", json!({})).await;
    assert_eq!(code(&body), "PAGE_TOO_LARGE");

    // Nested pages multiply: 100 × 100 × 100 items is far too complex.
    let complex = "{ customers(first: 100) { nodes { deals(first: 100) { nodes { activities(first: 100) { nodes { subject notes outcome kind status } } } } } } }";
    let body = app.gql(tok, complex, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");

    let aliases: String = (0..200).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app.gql(tok, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code(&body), "TOO_MANY_ALIASES");
    still_serving(&app, &t.rep).await;

    let fields: String = (0..2000).map(|_| "__typename ").collect();
    let body = app.gql(tok, &format!("{{ {fields} }}"), json!({})).await;
    assert!(["TOO_MANY_FIELDS", "QUERY_TOO_LARGE"].contains(&code(&body)), "{body}");

    let huge = format!("{{ me {{ id }} }} # {}", "x".repeat(100_000));
    let body = app.gql(tok, &huge, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_LARGE");

    let cycle = "query { me { ...A } } fragment A on Member { team { members { ...B } } } fragment B on Member { team { members { ...A } } }";
    let body = app.gql(tok, cycle, json!({})).await;
    // Refused either by the depth limit (it unrolls first) or as a cycle.
    assert!(["QUERY_TOO_DEEP", "BAD_USER_INPUT"].contains(&code(&body)), "{body}");
    still_serving(&app, &t.rep).await;

    let directives: String = (0..50).map(|_| "@include(if: true) ").collect();
    let body = app
        .gql(tok, &format!("{{ me {{ id {directives} }} }}"), json!({}))
        .await;
    assert_eq!(code(&body), "TOO_MANY_DIRECTIVES", "{body}");

    // A 10 MB body is refused before it is read.
    let resp = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(vec![b' '; 10 * 1024 * 1024])
        .send()
        .await;
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), 413);
    }
    still_serving(&app, &t.rep).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn production_hides_introspection_and_suggestions() {
    let app = TestApp::spawn_with(|c| c.environment = sfa::config::Environment::Production).await;
    let t = app.tenant("acme").await;
    let body = app
        .gql(Some(&t.rep.token), "{ __schema { types { name } } }", json!({}))
        .await;
    assert!(
        body.get("errors").is_some() || body["data"]["__schema"].is_null(),
        "{body}"
    );
    let typo = app
        .gql(Some(&t.rep.token), "{ custmers { totalCount } }", json!({}))
        .await;
    assert!(!typo.to_string().contains("Did you mean"), "{typo}");

    let dev = TestApp::spawn().await;
    let t = dev.tenant("acme").await;
    let body = dev
        .gql(Some(&t.rep.token), "{ __schema { types { name } } }", json!({}))
        .await;
    assert!(body["data"]["__schema"]["types"].is_array());
}
