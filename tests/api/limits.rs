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

/// Documents an attacker would send: each is refused with its code, on the
/// default limits (most are refused by size) and with the size limit lifted
/// (so that the parser's own recursion limit and the counting limits answer).
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_level_bombs_are_refused_with_their_codes() {
    const N: usize = 10_000;
    let depth = format!("{{{}b{}", "a{".repeat(N), "}".repeat(N + 1));
    let fragments = {
        let mut q = "query { ...F0 }".to_owned();
        for i in 0..N {
            q.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        q.push_str(&format!(" fragment F{N} on Query {{ __typename }}"));
        q
    };
    // Exponential: each fragment spreads the next twice, 2^60 fields unrolled.
    let doubling = {
        let mut q = "query { ...F0 }".to_owned();
        for i in 0..60 {
            q.push_str(&format!(" fragment F{i} on Query {{ ...F{n} ...F{n} }}", n = i + 1));
        }
        q + " fragment F60 on Query { __typename }"
    };
    let directives = format!("{{ __typename {} }}", "@include(if: true) ".repeat(N));
    let aliases: String = (0..N).map(|i| format!("a{i}: __typename ")).collect();
    let aliases = format!("{{ {aliases} }}");

    for lifted in [false, true] {
        let app = if lifted {
            TestApp::spawn_with(|c| c.graphql.max_query_bytes = 2 * 1024 * 1024).await
        } else {
            TestApp::spawn().await
        };
        let t = app.tenant("acme").await;
        let tok = Some(t.rep.token.as_str());
        let cases: [(&str, &str, &[&str]); 5] = [
            ("depth", &depth, &["QUERY_TOO_DEEP"]),
            ("fragment chain", &fragments, &["QUERY_TOO_DEEP", "BAD_USER_INPUT"]),
            (
                "doubling fragments",
                &doubling,
                &["QUERY_TOO_DEEP", "QUERY_TOO_COMPLEX", "TOO_MANY_FIELDS"],
            ),
            ("directives", &directives, &["TOO_MANY_DIRECTIVES"]),
            ("aliases", &aliases, &["TOO_MANY_ALIASES"]),
        ];
        for (name, query, codes) in cases {
            let body = app.gql(tok, query, json!({})).await;
            let got = code(&body);
            let expected = if !lifted && query.len() > 32 * 1024 {
                &["QUERY_TOO_LARGE"][..]
            } else {
                codes
            };
            assert!(
                expected.contains(&got),
                "{name} (lifted: {lifted}): {got} not in {expected:?}: {}",
                body["errors"][0]["message"]
                    .as_str()
                    .map(|m| m.chars().rev().take(200).collect::<String>())
                    .unwrap_or_default()
            );
            assert!(body["data"].is_null(), "{name}: nothing executed");
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                message.len() < 300,
                "{name}: a short message, not the document: {}",
                &message[..300]
            );
        }
        still_serving(&app, &t.rep).await;
    }
}
