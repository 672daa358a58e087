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

/// `PRAGMA max_page_count` no connection would ever reach.
const UNLIMITED_PAGES: u64 = 1_073_741_823;

/// What one writer of the disk-full test had acknowledged, and every answer it got.
#[derive(Default)]
struct Writes {
    customers: Vec<String>,
    reports: Vec<String>,
    /// The deal this writer owns, the last version the server acknowledged and its amount.
    deal: Option<(String, i64, i64)>,
    /// `(seconds since the start, code or "ok", reason)`.
    answers: Vec<(f64, String, String)>,
    /// HTTP statuses other than 200, and requests that got no answer.
    broken: Vec<String>,
}

/// The disk fills up under concurrent writers, then space comes back.
/// SQLite's `max_page_count`, set on each connection as the pool hands it
/// out, stands in for the disk: SQLite answers SQLITE_FULL and rolls the whole
/// transaction back by itself, exactly as on a full file system (the real
/// thing, a tmpfs filled with `dd`, is `sfa reliability disk-full`). Every
/// write the server acknowledged is in the database, read afterwards over a
/// connection of its own; a write that could not be made was answered
/// UNAVAILABLE with reason DISK_FULL, never INTERNAL, a 500 or a dropped
/// connection; a writer's own deal never goes back a version; and once space
/// is back every write succeeds again, without a restart. Some writers send
/// stale versions all along: a transaction that fails for a reason of the
/// server's own, on a connection whose transaction SQLite already rolled
/// back, is what used to leave a transaction open for good.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_loses_no_acknowledged_write_and_the_server_recovers_by_itself() {
    use std::sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    };
    let limit = Arc::new(AtomicU64::new(UNLIMITED_PAGES));
    let hook = limit.clone();
    let app = TestApp::spawn_with_pool(
        |_| {},
        move |o| {
            // One connection, which meets every fault: a full disk, then a
            // write refused for a reason of the server's own, then writes.
            o.max_connections(1);
            o.map_sqlx_sqlite_before_acquire(move |conn, _| {
                let sql = format!("PRAGMA max_page_count = {}", hook.load(Ordering::SeqCst));
                Box::pin(async move {
                    sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(sql))
                        .execute(&mut *conn)
                        .await?;
                    Ok(true)
                })
            });
        },
    )
    .await;
    let Some(file) = app.sqlite_file.clone() else {
        return; // PostgreSQL's disk is the database server's; nothing to inject here.
    };
    let t = app.tenant("acme").await;
    let customer = crate::common::customer(&app, &t.rep, "Visited").await;
    let app = Arc::new(app);
    let started = Instant::now();
    let stop_at = Duration::from_millis(6500);
    let mut writers = Vec::new();
    for w in 0..8usize {
        let (app, token, customer) = (app.clone(), t.rep.token.clone(), customer.clone());
        let deal = if w % 4 == 1 || w % 4 == 3 {
            let (id, version) = crate::common::deal(&app, &t.rep, &customer, &format!("Deal {w}")).await;
            Some((id, version, 1_000_000))
        } else {
            None
        };
        writers.push(tokio::spawn(async move {
            let mut out = Writes { deal, ..Writes::default() };
            let mut i = 0i64;
            while started.elapsed() < stop_at {
                i += 1;
                let (query, variables) = match (w % 4, &out.deal) {
                    (0, _) => (
                        "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }".to_owned(),
                        json!({"n": format!("c-{w}-{i}")}),
                    ),
                    (1, Some((id, version, _))) => (
                        "mutation($id: ID!, $v: Int!, $a: Money!) { updateDeal(input: {id: $id, version: $v, amount: $a}) { version amount } }".to_owned(),
                        json!({"id": id, "v": version, "a": 1_000_000 + i}),
                    ),
                    (3, Some((id, version, _))) => (
                        "mutation($id: ID!, $v: Int!) { updateDeal(input: {id: $id, version: $v, amount: 1}) { version } }".to_owned(),
                        json!({"id": id, "v": version - 1}),
                    ),
                    _ => {
                        let day = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).expect("date")
                            + chrono::Duration::days(w as i64 * 10_000 + i);
                        (
                            "mutation($d: Date!, $c: ID!, $at: DateTime!) { submitDailyReport(input: {reportDate: $d, body: \"visited\", activities: [{customerId: $c, kind: VISIT, subject: \"visit\", scheduledAt: $at}]}) { id } }".to_owned(),
                            json!({"d": day.to_string(), "c": customer, "at": format!("{day}T01:00:00Z")}),
                        )
                    }
                };
                let sent = app
                    .http
                    .post(app.url("/graphql"))
                    .bearer_auth(&token)
                    .json(&json!({"query": query, "variables": variables}))
                    .send()
                    .await;
                let at = started.elapsed().as_secs_f64();
                let resp = match sent {
                    Ok(r) if r.status().is_success() => r,
                    Ok(r) => {
                        out.broken.push(format!("HTTP {} at {at:.2}s", r.status()));
                        continue;
                    }
                    Err(e) => {
                        out.broken.push(format!("no answer at {at:.2}s: {e}"));
                        continue;
                    }
                };
                let body: serde_json::Value = match resp.json().await {
                    Ok(b) => b,
                    Err(e) => {
                        out.broken.push(format!("no JSON at {at:.2}s: {e}"));
                        continue;
                    }
                };
                if let Some(err) = body["errors"].get(0) {
                    let mut code = err["extensions"]["code"].as_str().unwrap_or("(none)").to_owned();
                    if w % 4 == 3 && code == "CONFLICT" {
                        code = "ok".into(); // what this writer asks for
                    }
                    let reason = err["extensions"]["reason"].as_str().unwrap_or_default().to_owned();
                    out.answers.push((at, code, reason));
                    continue;
                }
                out.answers.push((at, "ok".into(), String::new()));
                let data = &body["data"];
                if let Some(id) = data["createCustomer"]["id"].as_str() {
                    let _ = id;
                    out.customers.push(format!("c-{w}-{i}"));
                } else if let Some(id) = data["submitDailyReport"]["id"].as_str() {
                    out.reports.push(id.to_owned());
                } else if w % 4 == 3 {
                    out.broken.push(format!("a stale version was accepted at {at:.2}s"));
                } else if let Some(v) = data["updateDeal"]["version"].as_i64()
                    && let Some(deal) = out.deal.as_mut()
                {
                    deal.1 = v;
                    deal.2 = data["updateDeal"]["amount"].as_i64().expect("amount");
                }
            }
            out
        }));
    }

    // 1 s of normal writing, then the disk is full for 2.5 s, then space is back.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let pages: i64 = {
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "PRAGMA page_count",
            ))
            .await
            .expect("page count")
            .expect("row");
        row.try_get_by_index(0).expect("pages")
    };
    limit.store(pages as u64, Ordering::SeqCst);
    let full_from = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    limit.store(UNLIMITED_PAGES, Ordering::SeqCst);
    let freed_at = started.elapsed().as_secs_f64();

    let mut all = Vec::new();
    for w in writers {
        all.push(w.await.expect("writer"));
    }
    let broken: Vec<&String> = all.iter().flat_map(|w| &w.broken).collect();
    assert!(broken.is_empty(), "every request answered 200 with JSON: {broken:?}");
    let answers: Vec<&(f64, String, String)> = all.iter().flat_map(|w| &w.answers).collect();
    let disk_full = answers
        .iter()
        .filter(|(_, code, reason)| code == "UNAVAILABLE" && reason == "DISK_FULL")
        .count();
    assert!(
        disk_full > 0,
        "the disk filled up (else the test proves nothing): {answers:?}"
    );
    let unexpected: Vec<_> = answers
        .iter()
        .filter(|(_, code, reason)| code != "ok" && !(code == "UNAVAILABLE" && reason == "DISK_FULL"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "a write is either made or refused as DISK_FULL (no INTERNAL, no lock, no CONFLICT on a writer's own deal); full from {full_from:.2}s to {freed_at:.2}s: {unexpected:?}"
    );
    // Back to normal within a second of the space coming back, without a restart.
    let late_failures: Vec<_> = answers
        .iter()
        .filter(|(at, code, _)| *at > freed_at + 1.0 && code != "ok")
        .collect();
    assert!(late_failures.is_empty(), "recovered by itself: {late_failures:?}");
    let late_ok = answers
        .iter()
        .filter(|(at, code, _)| *at > freed_at + 1.0 && code == "ok")
        .count();
    assert!(late_ok > 10, "kept writing after the space came back: {late_ok}");

    // Every acknowledged write, read over a connection of the test's own.
    let check = sfa::db::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("second connection");
    let names: std::collections::HashSet<String> = {
        use sea_orm::{EntityTrait, QuerySelect};
        entity::customer::Entity::find()
            .select_only()
            .column(entity::customer::Column::Name)
            .into_tuple::<String>()
            .all(&check)
            .await
            .expect("customers")
            .into_iter()
            .collect()
    };
    let reports: std::collections::HashSet<String> = {
        use sea_orm::{EntityTrait, QuerySelect};
        entity::daily_report::Entity::find()
            .select_only()
            .column(entity::daily_report::Column::Id)
            .into_tuple::<uuid::Uuid>()
            .all(&check)
            .await
            .expect("reports")
            .into_iter()
            .map(|id| id.to_string())
            .collect()
    };
    let mut acknowledged = 0;
    for w in &all {
        for name in &w.customers {
            assert!(names.contains(name), "acknowledged customer {name} is in the database");
        }
        for id in &w.reports {
            assert!(
                reports.contains(id),
                "acknowledged daily report {id} is in the database"
            );
        }
        acknowledged += w.customers.len() + w.reports.len();
        if let Some((id, version, amount)) = &w.deal {
            use sea_orm::EntityTrait;
            let stored = entity::deal::Entity::find_by_id(id.parse::<uuid::Uuid>().expect("id"))
                .one(&check)
                .await
                .expect("deal")
                .expect("row");
            assert_eq!(
                (stored.version as i64, stored.amount),
                (*version, Some(*amount)),
                "the deal as last acknowledged"
            );
        }
    }
    assert!(acknowledged > 20, "enough writes to mean something: {acknowledged}");
}

/// Every pooled connection is busy (a saturated replica): `/healthz` still
/// answers 200 at once, from the monitor's own connection, so a load
/// balancer does not pull a replica that is busy but healthy.
#[tokio::test(flavor = "multi_thread")]
async fn health_does_not_wait_for_a_saturated_pool() {
    use sea_orm::TransactionTrait;
    // A short acquire timeout: the pool is saturated when a checkout fails.
    // (On PostgreSQL the event bus keeps one of the five for LISTEN.)
    let app = TestApp::spawn_with_pool(
        |_| {},
        |o| {
            o.acquire_timeout(Duration::from_millis(300));
        },
    )
    .await;
    let mut held = Vec::new();
    while let Ok(txn) = app.db.begin().await {
        held.push(txn);
        assert!(held.len() <= 5, "the pool holds five connections");
    }
    assert!(held.len() >= 4, "every free connection held: {}", held.len());
    for _ in 0..3 {
        let asked = Instant::now();
        let health = app.http.get(app.url("/healthz")).send().await.expect("healthz");
        assert_eq!(health.status(), 200, "healthy while the pool is saturated");
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "answered at once: {:?}",
            asked.elapsed()
        );
    }
    drop(held);
}
