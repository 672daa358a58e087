use serde_json::json;

use crate::common::{TestApp, error_code};

#[tokio::test(flavor = "multi_thread")]
async fn health_graphiql_and_login() {
    let app = TestApp::spawn().await;
    let health = app.http.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    let page = app.http.get(app.url("/graphql")).send().await.expect("graphiql");
    assert!(page.text().await.expect("html").contains("graphiql"));

    let t = app.tenant("acme").await;
    let me = app.ok(&t.rep, "{ me { id email role } }", json!({})).await;
    assert_eq!(me["me"]["email"], "rep@acme.test");
    assert_eq!(me["me"]["role"], "REP");

    let q = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";
    let wrong = app.gql(None, q, json!({"e": "rep@acme.test", "p": "nope"})).await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    let unknown = app
        .gql(None, q, json!({"e": "ghost@acme.test", "p": "pw-123456"}))
        .await;
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"], unknown["errors"][0]["message"],
        "no e-mail oracle"
    );

    let anonymous = app.gql(None, "{ customers { totalCount } }", json!({})).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    let forged = app.gql(Some("sfa1.eyJ4IjoxfQ.AAAA"), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&forged), "UNAUTHENTICATED");
    let mut tampered = t.rep.token.clone();
    tampered.pop();
    let body = app.gql(Some(&tampered), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivated_member_token_stops_working() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    app.ok(&t.rep, "{ me { id } }", json!({})).await;
    entity::member::Entity::update_many()
        .col_expr(entity::member::Column::Active, Expr::value(false))
        .filter(entity::member::Column::Id.eq(t.rep.member_id))
        .exec(&app.db)
        .await
        .expect("deactivate");
    assert_eq!(app.err(&t.rep, "{ me { id } }", json!({})).await, "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn version_and_metrics_endpoints() {
    let app = TestApp::spawn().await;
    let version: serde_json::Value = app
        .http
        .get(app.url("/version"))
        .send()
        .await
        .expect("version")
        .json()
        .await
        .expect("json");
    assert_eq!(version["name"], "sfa");
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    let t = app.tenant("acme").await;
    let counter = |text: &str, name: &str| sfa::metrics::parse(text, name).expect(name);
    let metrics = || async {
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    };
    let before = metrics().await;
    app.ok(&t.rep, "{ me { id } }", json!({})).await;
    app.gql(Some(&t.rep.token), "{ nope }", json!({})).await;
    let after = metrics().await;
    let requests = counter(&after, "sfa_graphql_requests_total") - counter(&before, "sfa_graphql_requests_total");
    let errors = counter(&after, "sfa_graphql_errors_total") - counter(&before, "sfa_graphql_errors_total");
    assert_eq!((requests, errors), (2, 1));
    assert!(counter(&after, "process_resident_memory_bytes") > 0);

    let off = TestApp::spawn_with(|c| c.metrics = Some(false)).await;
    let status = off
        .http
        .get(off.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .status();
    assert_eq!(status, 404);
}

/// In production GraphiQL and `/metrics` are off unless turned on, and a
/// metrics token keeps `/metrics` from anyone without it.
#[tokio::test(flavor = "multi_thread")]
async fn production_serves_neither_graphiql_nor_metrics_by_default() {
    use sfa::config::Environment::Production;
    let app = TestApp::spawn_with(|c| c.environment = Production).await;
    let page = app.http.get(app.url("/graphql")).send().await.expect("graphiql");
    assert_eq!(page.status(), 404);
    let body: serde_json::Value = page.json().await.expect("a JSON error");
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let metrics = app.http.get(app.url("/metrics")).send().await.expect("metrics");
    assert_eq!(metrics.status(), 404);
    let body: serde_json::Value = metrics.json().await.expect("a JSON error");
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    // The API itself still serves.
    let t = app.tenant("acme").await;
    app.ok(&t.rep, "{ me { id } }", json!({})).await;

    let app = TestApp::spawn_with(|c| {
        c.environment = Production;
        c.metrics = Some(true);
        c.metrics_token = Some("s3cret-scrape".into());
        c.graphql.graphiql = Some(true);
    })
    .await;
    let page = app.http.get(app.url("/graphql")).send().await.expect("graphiql");
    assert!(page.text().await.expect("html").contains("graphiql"), "turned on");
    for auth in [None, Some("Bearer wrong"), Some("s3cret-scrape")] {
        let mut req = app.http.get(app.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("metrics");
        assert_eq!(resp.status(), 401, "{auth:?}");
    }
    let resp = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("s3cret-scrape")
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("text").contains("sfa_graphql_requests_total"));
}
