//! SIGTERM on the real binary, on SQLite and on PostgreSQL: the request in
//! flight finishes, new connections are refused, subscriptions are closed
//! with 1001, and the process exits within its grace period; past the grace
//! period it exits anyway and the cut-off write leaves nothing behind.
//!
//! The request is held in flight by a lock another connection takes on the
//! table it writes (an exclusive transaction on SQLite, `LOCK TABLE` on
//! PostgreSQL), so the test decides when it may finish.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::subscriptions::Client;

/// A database of its own for a server process: a SQLite file in `dir`, or a
/// new PostgreSQL database when `TEST_DATABASE_URL` is set.
async fn database(dir: &std::path::Path) -> (String, Option<(String, String)>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let name = format!("sfa_shutdown_{}", Uuid::now_v7().simple());
            let admin = sfa::db::connect(&url).await.expect("connect");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create database");
            admin.close().await.ok();
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b).to_owned();
            (format!("{base}/{name}"), Some((url, name)))
        }
        _ => (format!("sqlite://{}?mode=rwc", dir.join("sfa.db").display()), None),
    }
}

async fn drop_database(pg: Option<(String, String)>) {
    if let Some((url, name)) = pg {
        let admin = sfa::db::connect(&url).await.expect("connect");
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

fn sfa(dir: &std::path::Path, db_url: &str, grace_secs: u64, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sfa"));
    cmd.args(args)
        .current_dir(dir)
        .env("DATABASE_URL", db_url)
        .env("SFA_LISTEN", "127.0.0.1:0")
        .env("SFA_SHUTDOWN_GRACE_SECS", grace_secs.to_string())
        .env("SFA_PLUGINS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/plugins"))
        .env("SFA_PLUGINS_POLL_MS", "0")
        .env("SFA_FORECAST_SNAPSHOT_MINUTES", "0")
        .env("SFA_TASK_REMINDER_MINUTES", "0")
        .env("SFA_WEBHOOKS__POLL_MS", "0")
        .env("RUST_LOG", "warn");
    cmd
}

/// A small demo company, then the server; returns it and its base URL.
async fn start(dir: &std::path::Path, db_url: &str, grace_secs: u64) -> (Child, String) {
    let seeded = sfa(
        dir,
        db_url,
        grace_secs,
        &["seed-demo", "--customers", "20", "--months", "1"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .expect("seed");
    assert!(seeded.success());
    let mut child = sfa(dir, db_url, grace_secs, &["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sfa");
    let stdout = child.stdout.take().expect("stdout");
    let url = tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, BufReader};
        BufReader::new(stdout).lines().map_while(Result::ok).find_map(|line| {
            line.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(|u| u.trim_end_matches("/graphql").to_owned())
        })
    })
    .await
    .expect("read stdout")
    .expect("the server prints its URL");
    (child, url)
}

async fn login(http: &reqwest::Client, base: &str) -> String {
    let body: Value = http
        .post(format!("{base}/graphql"))
        .json(&json!({"query": "mutation { login(email: \"rep01@demo.example\", password: \"demo-password\") { token } }"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    body["data"]["login"]["token"].as_str().expect("token").to_owned()
}

/// Another writer holding the customer table until the transaction ends:
/// an exclusive transaction on SQLite, `LOCK TABLE` on PostgreSQL.
async fn lock_customers(db_url: &str) -> (DatabaseConnection, DatabaseTransaction) {
    use sea_orm::{SqliteTransactionMode, TransactionOptions};
    let other = sfa::db::connect_with(db_url, |o| {
        o.max_connections(1).min_connections(1);
    })
    .await
    .expect("second connection");
    let txn = other
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Exclusive),
            ..Default::default()
        })
        .await
        .expect("begin");
    if !db_url.starts_with("sqlite") {
        txn.execute_unprepared("LOCK TABLE customer IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock");
    }
    (other, txn)
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

async fn exited_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            return exit;
        }
        assert!(Instant::now() < deadline, "the server did not exit within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const CREATE: &str = "mutation { createCustomer(input: {name: \"In flight\"}) { id } }";

async fn customers_named(db_url: &str) -> i64 {
    let db = sfa::db::connect(db_url).await.expect("connect");
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) FROM customer WHERE name = 'In flight'",
        ))
        .await
        .expect("count")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("n")
}

/// A server process on a database of its own, signed in as a rep.
struct Running {
    dir: std::path::PathBuf,
    db_url: String,
    pg: Option<(String, String)>,
    child: Child,
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Running {
    async fn start(grace_secs: u64) -> Self {
        let dir = std::env::temp_dir().join(format!("sfa-sigterm-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (db_url, pg) = database(&dir).await;
        let (child, base) = start(&dir, &db_url, grace_secs).await;
        let http = reqwest::Client::new();
        let token = login(&http, &base).await;
        Self {
            dir,
            db_url,
            pg,
            child,
            base,
            http,
            token,
        }
    }
}

/// Creates a customer in a task of its own (the test holds it in flight).
fn create_in_flight(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> tokio::task::JoinHandle<Result<reqwest::Response, reqwest::Error>> {
    let request = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": CREATE}));
    tokio::spawn(request.send())
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_the_request_in_flight_closes_subscriptions_and_refuses_new_ones() {
    let Running {
        dir,
        db_url,
        pg,
        mut child,
        base,
        http,
        token,
    } = Running::start(10).await;

    let ws = format!("{}/graphql/ws", base.replace("http://", "ws://"));
    let mut subscriber = Client::start(&ws, &token, "subscription { notificationAdded { id } }", json!({}));
    assert!(subscriber.next("connected", Duration::from_secs(10)).await.is_some());

    let (other, txn) = lock_customers(&db_url).await;
    let in_flight = create_in_flight(&http, &base, &token);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!in_flight.is_finished(), "the write waits for the lock");

    let stopped_at = Instant::now();
    sigterm(&child);
    let closed = subscriber.next("closed", Duration::from_secs(5)).await;
    assert_eq!(
        closed.as_ref().map(|c| c["closed"].clone()),
        Some(json!(1001)),
        "subscriptions closed as going away: {closed:?}"
    );
    let refused = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await;
    assert!(refused.is_err(), "new connections are refused: {refused:?}");
    assert!(child.try_wait().expect("wait").is_none(), "still finishing the request");

    txn.rollback().await.expect("unlock");
    let answer: Value = in_flight
        .await
        .expect("join")
        .expect("the request in flight is answered")
        .json()
        .await
        .expect("json");
    assert!(answer["data"]["createCustomer"]["id"].is_string(), "{answer}");
    let exit = exited_within(&mut child, Duration::from_secs(10)).await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        stopped_at.elapsed() < Duration::from_secs(10),
        "within the grace period"
    );
    assert_eq!(customers_named(&db_url).await, 1, "the finished write is kept");
    drop(other);
    drop_database(pg).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_grace_period_the_server_exits_and_the_cut_off_write_leaves_nothing() {
    let Running {
        dir,
        db_url,
        pg,
        mut child,
        base,
        http,
        token,
    } = Running::start(1).await;

    let (other, txn) = lock_customers(&db_url).await;
    let in_flight = create_in_flight(&http, &base, &token);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped_at = Instant::now();
    sigterm(&child);
    exited_within(&mut child, Duration::from_secs(4)).await;
    let took = stopped_at.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "waited for the grace period: {took:?}"
    );
    assert!(
        in_flight.await.expect("join").is_err(),
        "the cut-off request got no answer"
    );
    txn.rollback().await.expect("unlock");
    assert_eq!(customers_named(&db_url).await, 0, "nothing half written");
    drop(other);
    drop_database(pg).await;
    let _ = std::fs::remove_dir_all(&dir);
}
