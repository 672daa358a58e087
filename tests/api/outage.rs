//! The database becomes unusable: the server answers with a clear
//! UNAVAILABLE error within its timeouts and recovers by itself. (A
//! PostgreSQL outage, which needs the server stopped, is run by
//! `sfa reliability outage`.)

use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::common::{TestApp, error_code};

const CREATE: &str = "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_file_locked_by_another_writer_gets_unavailable_after_the_busy_timeout() {
    let app = TestApp::spawn().await;
    let Some(file) = app.sqlite_file.clone() else {
        return; // PostgreSQL has no file lock to take.
    };
    let t = app.tenant("acme").await;
    let customers = app.rows("customer").await;

    // Another writer (one connection of its own) takes the write lock and keeps it.
    let other = sfa::db::connect_with(&format!("sqlite://{}", file.display()), |o| {
        o.max_connections(1).min_connections(1);
    })
    .await
    .expect("second connection");
    other
        .execute_unprepared("BEGIN EXCLUSIVE")
        .await
        .expect("lock the file");

    let started = Instant::now();
    let body = app.gql(Some(&t.rep.token), CREATE, json!({"n": "Blocked"})).await;
    let waited = started.elapsed();
    assert_eq!(error_code(&body), "UNAVAILABLE", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("busy"), "says why: {message}");
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(8),
        "waited the 5 s busy timeout, no longer: {waited:?}"
    );
    // Readers are not blocked by a writer (WAL).
    let read = Instant::now();
    app.ok(&t.rep, "{ me { id } }", json!({})).await;
    assert!(
        read.elapsed() < Duration::from_secs(1),
        "reads go on: {:?}",
        read.elapsed()
    );

    other.execute_unprepared("ROLLBACK").await.expect("unlock");
    app.ok(&t.rep, CREATE, json!({"n": "After"})).await;
    assert_eq!(
        app.rows("customer").await,
        customers + 1,
        "only the write after the lock"
    );
}
