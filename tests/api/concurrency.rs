//! Many writers on one record: optimistic versions lose no update, every
//! refused write is a CONFLICT, and PostgreSQL's deadlock and serialization
//! aborts are retried instead of reaching the client.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common::{Session, TestApp, customer, deal, error_code};

const READ: &str = "query($id: ID!) { deal(id: $id) { stage version } }";
const MOVE: &str =
    "mutation($id: ID!, $v: Int!, $s: String!) { moveDealStage(id: $id, version: $v, stage: $s) { stage version } }";
const RENAME: &str =
    "mutation($id: ID!, $v: Int!, $n: String!) { updateDeal(input: {id: $id, version: $v, name: $n}) { version } }";

/// The other of the two stages the deals go back and forth between.
fn next_stage(stage: &Value) -> &'static str {
    if stage == "proposal" { "hearing" } else { "proposal" }
}

/// One client: `moves` times, read the deal and move it from the version it
/// read. Returns (successes, refusals); anything but CONFLICT fails the test.
async fn mover(app: &TestApp, s: &Session, id: &str, moves: usize) -> (i64, i64) {
    let (mut won, mut lost) = (0, 0);
    for _ in 0..moves {
        let now = app.ok(s, READ, json!({"id": id})).await;
        let (v, stage) = (&now["deal"]["version"], &now["deal"]["stage"]);
        let body = app
            .gql(Some(&s.token), MOVE, json!({"id": id, "v": v, "s": next_stage(stage)}))
            .await;
        if body.get("errors").is_some() {
            assert_eq!(error_code(&body), "CONFLICT", "a refused move is a CONFLICT: {body}");
            lost += 1;
        } else {
            assert_eq!(body["data"]["moveDealStage"]["version"], v.as_i64().unwrap_or(0) + 1);
            won += 1;
        }
    }
    (won, lost)
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_clients_moving_one_deal_lose_no_update() {
    const CLIENTS: usize = 50;
    const MOVES: usize = 200;
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let (id, v0) = deal(&app, &t.rep, &cust, "Contested").await;
    let (audits, history) = (app.rows("audit_log").await, app.rows("deal_stage_history").await);

    let sessions = [&t.rep, &t.manager, &t.admin];
    let results = join_all((0..CLIENTS).map(|c| mover(&app, sessions[c % sessions.len()], &id, MOVES))).await;
    let won: i64 = results.iter().map(|r| r.0).sum();
    let lost: i64 = results.iter().map(|r| r.1).sum();
    assert_eq!(won + lost, (CLIENTS * MOVES) as i64);
    assert!(won > 0, "some moves succeed");

    let now = app.ok(&t.rep, READ, json!({"id": id})).await;
    assert_eq!(
        now["deal"]["version"],
        v0 + won,
        "final version = successful moves: no lost update"
    );
    assert_eq!(
        app.rows("audit_log").await - audits,
        won,
        "one audit row per successful move"
    );
    assert_eq!(
        app.rows("deal_stage_history").await - history,
        won,
        "one history row per successful move"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_racing_pairs_have_one_winner_each() {
    const PAIRS: usize = 1000;
    const AT_ONCE: usize = 25;
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let mut deals = Vec::new();
    for d in 0..AT_ONCE {
        deals.push(deal(&app, &t.rep, &cust, &format!("Raced {d}")).await);
    }
    let audits = app.rows("audit_log").await;

    // Each round races one pair on each of AT_ONCE deals; each pair sends
    // two renames from the same version, from two members.
    let mut winners = 0;
    let (app, t) = (&app, &t);
    for round in 0..PAIRS / AT_ONCE {
        let outcomes = join_all(deals.iter().map(|(id, _)| async move {
            let v = app.ok(&t.rep, READ, json!({"id": id})).await["deal"]["version"].clone();
            let (a, b) = tokio::join!(
                app.gql(
                    Some(&t.rep.token),
                    RENAME,
                    json!({"id": id, "v": v, "n": format!("rep {round}")})
                ),
                app.gql(
                    Some(&t.manager.token),
                    RENAME,
                    json!({"id": id, "v": v, "n": format!("manager {round}")})
                ),
            );
            (a, b)
        }))
        .await;
        for (a, b) in outcomes {
            let ok = [&a, &b].iter().filter(|r| r.get("errors").is_none()).count();
            assert_eq!(ok, 1, "exactly one winner per pair: {a} {b}");
            let loser = if a.get("errors").is_some() { &a } else { &b };
            assert_eq!(error_code(loser), "CONFLICT");
            winners += 1;
        }
    }
    assert_eq!(winners, PAIRS);
    let mut versions = 0;
    for (id, v0) in &deals {
        versions += app.ok(&t.rep, READ, json!({"id": id})).await["deal"]["version"]
            .as_i64()
            .unwrap_or(0)
            - v0;
    }
    assert_eq!(versions, PAIRS as i64, "every winner's change is there, no loser's");
    assert_eq!(app.rows("audit_log").await - audits, PAIRS as i64);
}

/// A trigger makes PostgreSQL abort the first `n` stage moves as deadlocks
/// (40P01) or serialization failures (40001): a sequence counts them, since
/// it does not roll back with the aborted transaction.
async fn abort_first_moves(app: &TestApp, n: i64, sqlstate: &str) {
    use sea_orm::ConnectionTrait;
    for sql in [
        "DROP TRIGGER IF EXISTS abort_moves ON deal".to_owned(),
        "DROP SEQUENCE IF EXISTS aborted_moves".to_owned(),
        "CREATE SEQUENCE aborted_moves".to_owned(),
        format!(
            "CREATE OR REPLACE FUNCTION abort_moves() RETURNS trigger AS $$
             BEGIN
               IF NEW.stage <> OLD.stage AND nextval('aborted_moves') <= {n} THEN
                 RAISE EXCEPTION 'simulated abort' USING ERRCODE = '{sqlstate}';
               END IF;
               RETURN NEW;
             END $$ LANGUAGE plpgsql"
        ),
        "CREATE TRIGGER abort_moves BEFORE UPDATE ON deal FOR EACH ROW EXECUTE FUNCTION abort_moves()".to_owned(),
    ] {
        app.db.execute_unprepared(&sql).await.expect("install the trigger");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_deadlocks_and_serialization_failures_are_retried_then_conflict() {
    let app = TestApp::spawn().await;
    if app.db.get_database_backend() != sea_orm::DbBackend::Postgres {
        // SQLite has one writer at a time (BEGIN IMMEDIATE): no deadlock to retry.
        return;
    }
    let t = app.tenant("acme").await;
    let cust = customer(&app, &t.rep, "ACME").await;
    let (id, v0) = deal(&app, &t.rep, &cust, "Unlucky").await;
    let (audits, history) = (app.rows("audit_log").await, app.rows("deal_stage_history").await);

    // Two aborts, then success: the client sees one clean move.
    for (sqlstate, version) in [("40P01", v0), ("40001", v0 + 1)] {
        abort_first_moves(&app, 2, sqlstate).await;
        let now = app.ok(&t.rep, READ, json!({"id": id})).await;
        let to = next_stage(&now["deal"]["stage"]);
        let moved = app.ok(&t.rep, MOVE, json!({"id": id, "v": version, "s": to})).await;
        assert_eq!(moved["moveDealStage"]["version"], version + 1, "{sqlstate} retried");
    }
    assert_eq!(app.rows("audit_log").await - audits, 2, "each move recorded once");
    assert_eq!(app.rows("deal_stage_history").await - history, 2);

    // Aborted every time: a bounded number of tries, then CONFLICT, nothing written.
    abort_first_moves(&app, 1000, "40P01").await;
    let now = app.ok(&t.rep, READ, json!({"id": id})).await;
    let to = next_stage(&now["deal"]["stage"]);
    let body = app
        .gql(Some(&t.rep.token), MOVE, json!({"id": id, "v": v0 + 2, "s": to}))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("simulated"), "no database text: {message}");
    use sea_orm::ConnectionTrait;
    let tries = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT last_value FROM aborted_moves",
        ))
        .await
        .expect("read the sequence")
        .and_then(|r| r.try_get_by_index::<i64>(0).ok());
    assert_eq!(
        tries,
        Some(1 + sfa::db::WRITE_RETRIES as i64),
        "tried once plus the retries"
    );
    assert_eq!(
        app.rows("audit_log").await - audits,
        2,
        "nothing written by the failed move"
    );
    let now = app.ok(&t.rep, READ, json!({"id": id})).await;
    assert_eq!(now["deal"]["version"], v0 + 2);
}

/// Daily reports of many reps over the same customers, listed in opposite
/// orders: every report is written, each in well under a second. (Rows were
/// locked in the order of the report's visits, so on PostgreSQL two such
/// reports deadlocked, waited a second for the detector and were retried,
/// again and again.)
#[tokio::test(flavor = "multi_thread")]
async fn reports_over_the_same_customers_in_opposite_orders_do_not_deadlock() {
    const REPS: usize = 8;
    const REPORTS: usize = 3;
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let customers = [
        customer(&app, &t.rep, "First").await,
        customer(&app, &t.rep, "Second").await,
    ];
    let mut reps = Vec::new();
    for i in 0..REPS {
        let email = format!("rep{i}@acme.test");
        app.ok(
            &t.admin,
            "mutation($e: String!) { createMember(input: {email: $e, name: \"Rep\", role: REP, password: \"pw-1234567890\"}) { member { id } } }",
            json!({"e": email}),
        )
        .await;
        reps.push(app.login(&email, "pw-1234567890").await);
    }
    const SUBMIT: &str = "mutation($in: DailyReportInput!) { submitDailyReport(input: $in) { id } }";
    let started = std::time::Instant::now();
    let runs = reps.iter().enumerate().map(|(i, token)| {
        let (app, customers) = (&app, &customers);
        async move {
            let mut slowest = std::time::Duration::ZERO;
            for r in 0..REPORTS {
                let order: Vec<&String> = if i % 2 == 0 {
                    customers.iter().collect()
                } else {
                    customers.iter().rev().collect()
                };
                let day = format!("2030-02-{:02}", r + 1);
                let visits: Vec<Value> = order
                    .iter()
                    .enumerate()
                    .map(|(k, c)| {
                        json!({"customerId": c, "kind": "VISIT", "subject": format!("visit {k}"),
                               "scheduledAt": format!("{day}T0{}:00:00Z", k + 1)})
                    })
                    .collect();
                let sent = std::time::Instant::now();
                let body = app
                    .gql(
                        Some(token),
                        SUBMIT,
                        json!({"in": {"reportDate": day, "activities": visits}}),
                    )
                    .await;
                slowest = slowest.max(sent.elapsed());
                assert!(body.get("errors").is_none(), "rep {i}'s report {r} is written: {body}");
            }
            slowest
        }
    });
    let slowest = join_all(runs).await.into_iter().max().unwrap_or_default();
    assert_eq!(app.rows("daily_report").await, (REPS * REPORTS) as i64);
    assert!(
        slowest < std::time::Duration::from_secs(1),
        "no report waited for a deadlock to be broken: slowest {slowest:?}, all in {:?}",
        started.elapsed()
    );
}
