//! Subscriptions with the real `graphql-ws` client (Node, `tests/ws`):
//! authentication, each subscription, and — on PostgreSQL — two server
//! processes on one database, a subscriber on one hearing a write on the
//! other, and its client reconnecting after that server restarts.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::common::{Session, TestApp, customer, deal};

fn ws_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws"))
}

/// Installs the client from `tests/ws/package-lock.json` once.
fn node_client() {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if ws_dir().join("node_modules/graphql-ws").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(ws_dir())
        .status()
        .expect("npm (Node.js) is needed for the graphql-ws client tests");
    assert!(status.success(), "npm ci in tests/ws failed");
}

/// A running `graphql-ws` client and the lines it reports.
pub(crate) struct Client {
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl Client {
    pub(crate) fn start(url: &str, token: &str, query: &str, variables: Value) -> Self {
        node_client();
        let mut child = Command::new("node")
            .arg(ws_dir().join("client.mjs"))
            .args([url, token, query, &variables.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line with `key` (or keys separated by `|`), skipping
    /// others; `None` after `wait`.
    pub(crate) async fn next(&mut self, key: &str, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(v)) if key.split('|').any(|k| v.get(k).is_some()) => return Some(v),
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    }

    /// Repeats `act` until the subscription delivers (the server may not
    /// have registered the subscription when the first write lands).
    async fn deliver<F, Fut>(&mut self, mut act: F) -> Value
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        for _ in 0..30 {
            act().await;
            if let Some(v) = self.next("next", Duration::from_millis(700)).await {
                return v["next"].clone();
            }
        }
        panic!("the subscription delivered nothing");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ws_url(app: &TestApp) -> String {
    format!("ws://{}/graphql/ws", app.addr)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_is_refused_with_4403() {
    let app = TestApp::spawn().await;
    let mut c = Client::start(
        &ws_url(&app),
        "not-a-token",
        "subscription { notificationAdded { id } }",
        json!({}),
    );
    let closed = c.next("closed", Duration::from_secs(20)).await.expect("closed");
    assert_eq!(closed["closed"], 4403, "{closed}");
    assert!(closed["reason"].as_str().unwrap_or("").contains("token"), "{closed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deactivated_member_loses_their_open_subscriptions() {
    let app = TestApp::spawn_with(|c| c.graphql.ws_auth_recheck_secs = 1).await;
    let t = app.tenant("revoke").await;
    let mut c = Client::start(
        &ws_url(&app),
        &t.rep.token,
        "subscription { notificationAdded { id } }",
        json!({}),
    );
    assert!(c.next("connected", Duration::from_secs(20)).await.is_some());
    // Still open after a recheck while the token is good.
    assert!(c.next("closed", Duration::from_millis(1500)).await.is_none());
    app.ok(
        &t.admin,
        "mutation($m: ID!) { deactivateMember(id: $m) { id } }",
        json!({"m": t.rep.member_id}),
    )
    .await;
    // Closed within the recheck; the client's reconnect is then refused.
    let mut codes = Vec::new();
    while let Some(closed) = c.next("closed", Duration::from_secs(5)).await {
        codes.push(closed["closed"].clone());
        if closed["closed"] == 4403 {
            assert!(
                closed["reason"].as_str().unwrap_or("").contains("no longer valid"),
                "{closed}"
            );
            return;
        }
    }
    panic!("the subscription stayed open or was never refused: {codes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_subscription_delivers_what_its_subscriber_may_read() {
    let app = TestApp::spawn().await;
    let t = app.tenant("live").await;
    let url = ws_url(&app);
    let c = customer(&app, &t.rep, "Initech").await;
    let (d, _) = deal(&app, &t.rep, &c, "Initech rollout").await;

    // The rep's inbox: a task the manager gives them.
    let mut inbox = Client::start(
        &url,
        &t.rep.token,
        "subscription { notificationAdded { kind summary actor { id } } }",
        json!({}),
    );
    assert!(inbox.next("connected", Duration::from_secs(20)).await.is_some());
    let task = "mutation($a: ID!) { createTask(input: {title: \"call Initech\", assigneeId: $a}) { id } }";
    let got = inbox
        .deliver(|| async {
            app.ok(&t.manager, task, json!({"a": t.rep.member_id})).await;
        })
        .await;
    assert_eq!(got["data"]["notificationAdded"]["kind"], "TASK_ASSIGNED", "{got}");
    assert_eq!(
        got["data"]["notificationAdded"]["actor"]["id"],
        json!(t.manager.member_id.to_string())
    );

    // A deal's changes, as its owner reads them.
    let mut changes = Client::start(
        &url,
        &t.rep.token,
        "subscription($d: ID!) { dealChanged(id: $d) { name stage version } }",
        json!({"d": d}),
    );
    let got = changes
        .deliver(|| async {
            let v = app
                .ok(&t.rep, "query($d: ID!) { deal(id: $d) { version } }", json!({"d": d}))
                .await;
            let stage = if v["deal"]["version"].as_i64().unwrap_or(0) % 2 == 1 {
                "proposal"
            } else {
                "hearing"
            };
            app.ok(
                &t.rep,
                "mutation($d: ID!, $v: Int!, $s: String!) { moveDealStage(id: $d, version: $v, stage: $s) { id } }",
                json!({"d": d, "v": v["deal"]["version"], "s": stage}),
            )
            .await;
        })
        .await;
    assert_eq!(got["data"]["dealChanged"]["name"], "Initech rollout", "{got}");

    // Someone outside the company cannot subscribe to the deal.
    let other = app.tenant("elsewhere").await;
    let mut foreign = Client::start(
        &url,
        &other.admin.token,
        "subscription($d: ID!) { dealChanged(id: $d) { name } }",
        json!({"d": d}),
    );
    // (an error message, or a result carrying the error, by protocol version)
    let refused = foreign
        .next("error|next", Duration::from_secs(20))
        .await
        .expect("refused");
    assert!(refused.to_string().contains("NOT_FOUND"), "{refused}");
    assert!(!refused.to_string().contains("Initech"), "{refused}");

    // The manager's team feed: the rep records a call.
    let mut feed = Client::start(
        &url,
        &t.manager.token,
        "subscription { teamActivity { subject member { id } } }",
        json!({}),
    );
    assert!(feed.next("connected", Duration::from_secs(20)).await.is_some());
    let call = "mutation($c: ID!) { createActivity(input: {customerId: $c, kind: CALL, subject: \"follow-up call\", scheduledAt: \"2026-11-20T01:00:00Z\"}) { id } }";
    let got = feed
        .deliver(|| async {
            app.ok(&t.rep, call, json!({"c": c})).await;
        })
        .await;
    assert_eq!(got["data"]["teamActivity"]["subject"], "follow-up call", "{got}");
    assert_eq!(
        got["data"]["teamActivity"]["member"]["id"],
        json!(t.rep.member_id.to_string())
    );
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `sfa serve` on `port` over `database_url`.
struct Server(Child);

impl Server {
    async fn start(database_url: &str, port: u16, demo: bool) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sfa"));
        cmd.arg("serve");
        if demo {
            cmd.arg("--demo");
        }
        // Wrapped at once: dropping the `Server` kills and reaps it on every path.
        let server = Self(
            cmd.env("DATABASE_URL", database_url)
                .env("SFA_LISTEN", format!("127.0.0.1:{port}"))
                .env("SFA_PLUGINS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/plugins"))
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start sfa"),
        );
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/healthz")).send().await
                && r.status().is_success()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("sfa did not start on port {port}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn gql(port: u16, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = req.send().await.expect("request").json().await.expect("json");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

async fn login(port: u16, email: &str) -> Session {
    let data = gql(
        port,
        None,
        "mutation($e: String!) { login(email: $e, password: \"demo-password\") { token } }",
        json!({"e": email}),
    )
    .await;
    let token = data["login"]["token"].as_str().expect("token").to_owned();
    let me = gql(port, Some(&token), "{ me { id } }", json!({})).await;
    Session {
        member_id: me["me"]["id"].as_str().expect("id").parse().expect("uuid"),
        token,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_share_events_and_clients_reconnect_after_a_restart() {
    let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
        return; // PostgreSQL only: SQLite runs one process.
    };
    if !base.starts_with("postgres") {
        return;
    }
    let name = format!("sfa_ws_{}", uuid::Uuid::now_v7().simple());
    let admin = sfa::db::connect(&base).await.expect("connect");
    use sea_orm::ConnectionTrait;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create db");
    let url = match base.rfind('/') {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => panic!("TEST_DATABASE_URL has no database name"),
    };
    let (pa, pb) = (free_port(), free_port());
    let a = Server::start(&url, pa, true).await;
    let mut b = Server::start(&url, pb, false).await;
    let rep = login(pb, "rep01@demo.example").await;
    let boss = login(pa, "admin@demo.example").await;
    let task = "mutation($a: ID!) { createTask(input: {title: \"replicated\", assigneeId: $a}) { id } }";

    let mut client = Client::start(
        &format!("ws://127.0.0.1:{pb}/graphql/ws"),
        &rep.token,
        "subscription { notificationAdded { kind summary } }",
        json!({}),
    );
    assert_eq!(
        client
            .next("connected", Duration::from_secs(20))
            .await
            .expect("connected")["connected"],
        1
    );
    // Written on A, heard on B.
    let got = client
        .deliver(|| async {
            gql(pa, Some(&boss.token), task, json!({"a": rep.member_id})).await;
        })
        .await;
    assert_eq!(got["data"]["notificationAdded"]["kind"], "TASK_ASSIGNED", "{got}");

    // B dies; a new B on the same port; the client reconnects by itself
    // and resubscribes, and hears A's writes again.
    drop(b);
    b = Server::start(&url, pb, false).await;
    let again = client
        .next("connected", Duration::from_secs(30))
        .await
        .expect("reconnected");
    assert_eq!(again["connected"], 2);
    let got = client
        .deliver(|| async {
            gql(pa, Some(&boss.token), task, json!({"a": rep.member_id})).await;
        })
        .await;
    assert_eq!(
        got["data"]["notificationAdded"]["summary"], "New task for you: replicated",
        "{got}"
    );

    drop(client);
    drop(b);
    drop(a);
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .ok();
}
