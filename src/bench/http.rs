//! The scenarios users feel, over real HTTP (`sfa bench http`): this very
//! binary is started as the server on the configured database (background
//! tasks off, `/metrics` on), and N client tasks drive each scenario for a
//! fixed time. Beside every figure runs its physical limit, in the same run
//! on the same database: the best hand-written SQL for the same answer (one
//! statement building the whole JSON for the pages; the analytics suite's
//! statements for the manager's views; one transaction writing the same rows
//! for the write path), or for the framework floor a static JSON endpoint.
//!
//! Reported per scenario and client count: requests/s, p50/p99/p99.9,
//! SQL statements per request (the server's own counter), response bytes,
//! the server's peak RSS, and with `--rows-read` on PostgreSQL the rows the
//! database read per request beside the rows returned.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{Duration as Days, NaiveDate, Utc};
use futures_util::{FutureExt, future::BoxFuture};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{analytics, generate::BENCH_PASSWORD};
use crate::{
    error::{AppError, AppResult},
    metrics::{parse, proc_rss_kib},
    plugins::Plugins,
    service::{new_id, sql::Params},
};

/// What `bench http` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Concurrent clients per cell, e.g. 1, 8, 64.
    pub clients: Vec<usize>,
    /// Seconds each cell runs (after a short warm-up per scenario).
    pub secs: f64,
    /// Scenario names (or prefixes) to run; all when empty.
    pub only: Vec<String>,
    /// Also measure rows read per request (PostgreSQL; waits for its statistics).
    pub rows_read: bool,
    /// The CI smoke checks: statements per request may not grow with the
    /// page size, and the hand-written pages must return as many rows as ours.
    pub check: bool,
    /// The configuration file the server is started with.
    pub config: Option<PathBuf>,
    /// The database (the server is started on the same one).
    pub database_url: String,
}

/// Throughput and latency of one side of a cell.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    /// Operations completed without error.
    pub ops: usize,
    /// Operations per second.
    pub per_sec: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Response bytes per operation.
    pub bytes: f64,
    /// SQL statements per operation.
    pub statements: f64,
    /// Failed operations (any failure fails the run).
    pub errors: usize,
}

/// One scenario at one client count.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The scenario.
    pub scenario: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Our server over HTTP.
    pub ours: Load,
    /// The physical limit beside it.
    pub limit: Load,
    /// What the limit is.
    pub limit_kind: &'static str,
    /// ours / limit, in operations per second (1.0 = the limit).
    pub ratio: f64,
    /// The server's peak resident memory during the cell, MiB.
    pub server_peak_mib: f64,
}

/// Rows per operation, for the scenarios where the database tells.
#[derive(Debug, Clone, Serialize)]
pub struct Rows {
    /// The scenario.
    pub scenario: String,
    /// Objects in our answer (rows of the answer, wrappers not counted).
    pub returned: usize,
    /// Objects in the hand-written answer, when it builds the same JSON.
    pub returned_by_limit: Option<usize>,
    /// Rows PostgreSQL read per operation for ours (`tup_returned`).
    pub read: Option<f64>,
    /// The same for the hand-written SQL.
    pub read_by_limit: Option<f64>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `postgres` or `sqlite`.
    pub database: String,
    /// Seconds per cell.
    pub secs: f64,
    /// Every scenario at every client count.
    pub cells: Vec<Cell>,
    /// Rows returned and read.
    pub rows: Vec<Rows>,
    /// Statements of the nested deal page at 10 and at 100 deals.
    pub page_size_statements: Option<(u64, u64)>,
    /// The server's resident memory once started and warmed, MiB.
    pub server_idle_mib: f64,
}

/// One timed operation's outcome: bytes received and the answer when kept.
pub(super) struct Done {
    pub(super) bytes: usize,
    pub(super) answer: Option<Value>,
}

/// One operation of client `c`; `keep` asks for the answer (to count its rows).
type Op = Arc<dyn Fn(usize, bool) -> BoxFuture<'static, Result<Done, String>> + Send + Sync>;

/// A scenario: our operation and its limit.
struct Scenario {
    name: &'static str,
    ours: Op,
    limit: Op,
    limit_kind: &'static str,
    /// Statements one limit operation runs.
    limit_statements: f64,
    /// Whether the limit builds the same JSON as ours (rows compared).
    same_shape: bool,
}

// ---------------------------------------------------------------- HTTP

/// A client of the server under test.
#[derive(Clone)]
pub(super) struct Http {
    client: reqwest::Client,
    base: Arc<str>,
}

impl Http {
    /// `http://127.0.0.1:port`.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    pub(super) async fn post(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        keep: bool,
    ) -> Result<Done, String> {
        let body = serde_json::to_vec(&json!({"query": query, "variables": variables})).map_err(|e| e.to_string())?;
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| format!("reading the answer: {e}"))?;
        let text = || String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", text()));
        }
        // The answer is parsed only when asked for: the client shares the
        // machine with the server, and JSON parsing would be its main cost.
        if bytes.windows(9).any(|w| w == b"\"errors\":") {
            return Err(format!("GraphQL error: {}", text()));
        }
        let answer = if keep {
            let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            Some(v["data"].clone())
        } else {
            None
        };
        Ok(Done {
            bytes: bytes.len(),
            answer,
        })
    }

    pub(super) async fn get(&self, path: &str) -> Result<String, String> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {path}: HTTP {}", resp.status()));
        }
        resp.text().await.map_err(|e| e.to_string())
    }

    pub(super) async fn login(&self, email: &str) -> AppResult<Arc<str>> {
        let q = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }";
        let done = self
            .post(None, q, json!({"e": email, "p": BENCH_PASSWORD}), true)
            .await
            .map_err(|e| AppError::bad(format!("log in as {email}: {e}")))?;
        let token = done.answer.as_ref().and_then(|a| a["login"]["token"].as_str());
        token
            .map(Arc::from)
            .ok_or_else(|| AppError::bad(format!("log in as {email}: no token")))
    }
}

/// The server under test: this binary, `serve`, on a free loopback port.
pub(super) struct Server {
    child: tokio::process::Child,
    pub(super) pid: u32,
    pub(super) http: Http,
    log: PathBuf,
}

impl Server {
    pub(super) async fn start(config: Option<&Path>) -> AppResult<Self> {
        Self::start_with(config, &[]).await
    }

    /// Like [`Server::start`], with more environment for the server.
    pub(super) async fn start_with(config: Option<&Path>, env: &[(&str, String)]) -> AppResult<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| AppError::bad(format!("no free port: {e}")))?
            .port();
        let log = std::env::temp_dir().join(format!("sfa-bench-server-{}.log", std::process::id()));
        let file = std::fs::File::create(&log).map_err(|e| AppError::bad(format!("{}: {e}", log.display())))?;
        let err = file.try_clone().map_err(|e| AppError::bad(e.to_string()))?;
        let exe = std::env::current_exe().map_err(|e| AppError::bad(e.to_string()))?;
        let mut cmd = tokio::process::Command::new(exe);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        // Background work off, so that the statement counter sees requests only.
        cmd.arg("serve")
            .env("SFA_LISTEN", format!("127.0.0.1:{port}"))
            .env("SFA_METRICS", "true")
            .env("SFA_PLUGINS_POLL_MS", "0")
            .env("SFA_FORECAST_SNAPSHOT_MINUTES", "0")
            .env("SFA_TASK_REMINDER_MINUTES", "0")
            .env("SFA_WEBHOOKS__POLL_MS", "0")
            // Every load comes from this one address, 10,000 subscribers included.
            .env("SFA_MAX_CONNECTIONS", "1000000")
            .env("SFA_MAX_CONNECTIONS_PER_CLIENT", "1000000")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(file)
            .stderr(err)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| AppError::bad(format!("cannot start the server: {e}")))?;
        let pid = child.id().unwrap_or(0);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| AppError::bad(e.to_string()))?;
        let server = Server {
            child,
            pid,
            http: Http {
                client,
                base: format!("http://127.0.0.1:{port}").into(),
            },
            log,
        };
        let started = Instant::now();
        while server.http.get("/healthz").await.is_err() {
            if started.elapsed() > Duration::from_secs(120) {
                return Err(server.failed("did not answer /healthz within 120 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// The server's GraphQL endpoint.
    pub(super) fn graphql_url(&self) -> String {
        format!("{}/graphql", self.http.base)
    }

    /// What the server has written to its log so far.
    pub(super) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn failed(&self, what: &str) -> AppError {
        AppError::bad(format!("the server {what}; its log: {}", self.log.display()))
    }

    /// (statements, GraphQL requests) so far.
    pub(super) async fn counters(&self) -> AppResult<(u64, u64)> {
        let text = self.http.get("/metrics").await.map_err(|e| self.failed(&e))?;
        let read = |name| parse(&text, name).ok_or_else(|| self.failed("serves no counters at /metrics"));
        Ok((read("sfa_sql_statements_total")?, read("sfa_graphql_requests_total")?))
    }

    /// Starts a new peak-memory window (Linux: `clear_refs` 5 resets VmHWM).
    pub(super) fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
    }

    pub(super) fn memory_kib(&self) -> (u64, u64) {
        proc_rss_kib(&self.pid.to_string())
    }

    /// Stops the server; its log is kept (and named) when operations failed.
    pub(super) async fn stop(mut self, keep_log: bool) {
        let _ = self.child.kill().await;
        if keep_log {
            eprintln!("the server's log: {}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

// ---------------------------------------------------------------- load

/// Runs `op` from `clients` tasks for `secs` seconds.
async fn drive(op: &Op, clients: usize, secs: f64) -> Load {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let op = op.clone();
            tokio::spawn(async move {
                let (mut lat, mut bytes, mut errors) = (Vec::new(), 0usize, Vec::new());
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match op(c, false).await {
                        Ok(done) => {
                            lat.push(t.elapsed().as_micros() as u64);
                            bytes += done.bytes;
                        }
                        Err(e) => errors.push(e),
                    }
                }
                (lat, bytes, errors)
            })
        })
        .collect();
    let (mut lat, mut bytes, mut errors) = (Vec::new(), 0, Vec::new());
    for t in tasks {
        if let Ok((l, b, e)) = t.await {
            lat.extend(l);
            bytes += b;
            errors.extend(e);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i] as f64 / 1000.0
    };
    if let Some(e) = errors.first() {
        eprintln!("  {} failed operations; the first: {e}", errors.len());
    }
    Load {
        ops: lat.len(),
        per_sec: lat.len() as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        p999_ms: pct(0.999),
        bytes: if lat.is_empty() {
            0.0
        } else {
            bytes as f64 / lat.len() as f64
        },
        statements: 0.0,
        errors: errors.len(),
    }
}

/// Objects in an answer: the rows it returns (connection wrappers, objects
/// holding only `nodes`, are not rows).
fn objects(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(objects).sum(),
        Value::Object(map) => {
            let own = usize::from(!(map.len() == 1 && map.contains_key("nodes")));
            own + map.values().map(objects).sum::<usize>()
        }
        _ => 0,
    }
}

// ---------------------------------------------------------------- the company

/// Who and what the scenarios use, read from the generated company.
struct World {
    backend: DbBackend,
    company_id: Uuid,
    /// The admin's token (the pages, the detail and the views run as the admin,
    /// as their hand-written SQL applies no read rule).
    admin: Arc<str>,
    /// The reps owning the most customers, most first: (id, e-mail).
    reps: Vec<(Uuid, String)>,
    /// Open deals for the detail view.
    deals: Vec<Uuid>,
}

pub(super) async fn ids(db: &DatabaseConnection, st: Statement) -> AppResult<Vec<Uuid>> {
    let rows = db.query_all_raw(st).await?;
    rows.iter()
        .map(|r| r.try_get_by_index::<Uuid>(0).map_err(AppError::from))
        .collect()
}

/// The e-mail of the benchmark company's admin (its password is the generator's).
pub(super) async fn admin_email(db: &DatabaseConnection, ctx: &analytics::Ctx) -> AppResult<String> {
    let mut p = Params::new(db.get_database_backend(), ctx.actor.company_id);
    let admin = p.push(ctx.actor.member_id);
    Ok(db
        .query_one_raw(p.statement(format!(
            "SELECT email FROM member WHERE company_id = $1 AND id = {admin}"
        )))
        .await?
        .ok_or(AppError::NotFound("Member"))?
        .try_get_by_index::<String>(0)?)
}

async fn world(db: &DatabaseConnection, http: &Http, ctx: &analytics::Ctx) -> AppResult<World> {
    let backend = db.get_database_backend();
    let company_id = ctx.actor.company_id;
    let admin_email = admin_email(db, ctx).await?;
    let rows = db
        .query_all_raw(Params::new(backend, company_id).statement(
            "SELECT c.owner_id, MAX(m.email) FROM customer c JOIN member m ON m.id = c.owner_id
             WHERE c.company_id = $1 AND c.deleted_at IS NULL AND m.role = 'rep' AND m.active
               AND EXISTS (SELECT 1 FROM deal d WHERE d.owner_id = c.owner_id AND d.status = 'open')
             GROUP BY c.owner_id HAVING COUNT(*) >= 5 ORDER BY COUNT(*) DESC, c.owner_id LIMIT 64",
        ))
        .await?;
    let reps = rows
        .iter()
        .map(|r| Ok((r.try_get_by_index::<Uuid>(0)?, r.try_get_by_index::<String>(1)?)))
        .collect::<AppResult<Vec<_>>>()?;
    if reps.is_empty() {
        return Err(AppError::bad(
            "the benchmark company has no rep with customers and open deals",
        ));
    }
    let deals = ids(
        db,
        Params::new(backend, company_id).statement(
            "SELECT id FROM deal WHERE company_id = $1 AND status = 'open' AND deleted_at IS NULL
             ORDER BY id LIMIT 512",
        ),
    )
    .await?;
    Ok(World {
        backend,
        company_id,
        admin: http.login(&admin_email).await?,
        reps,
        deals,
    })
}

// ---------------------------------------------------------------- hand-written JSON

/// Builds the same JSON as our answers, in each database's dialect.
#[derive(Clone, Copy)]
struct Json(DbBackend);

impl Json {
    fn pg(self) -> bool {
        self.0 == DbBackend::Postgres
    }

    /// An object of `(key, expression)` pairs.
    fn obj(self, pairs: &[(&str, String)]) -> String {
        let f = if self.pg() { "json_build_object" } else { "json_object" };
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("'{k}', {v}")).collect();
        format!("{f}({})", body.join(", "))
    }

    /// A column holding an id (SQLite keeps UUIDs as 16-byte blobs; JSON wants text).
    fn id(self, col: &str) -> String {
        if self.pg() {
            col.to_owned()
        } else {
            format!("lower(hex({col}))")
        }
    }

    /// A nested value (an object or array built by `obj` or `list`).
    fn nested(self, expr: String) -> String {
        if self.pg() { expr } else { format!("json({expr})") }
    }

    /// The array of `obj` (over alias `alias`) for the rows of `from`, in `order`.
    fn list(self, obj: String, from: &str, alias: &str, order: &str) -> String {
        if self.pg() {
            format!("(SELECT COALESCE(json_agg({obj} ORDER BY {order}), '[]'::json) FROM ({from}) {alias})")
        } else {
            // SQLite aggregates in the subquery's order.
            format!("json((SELECT json_group_array(json({obj})) FROM ({from}) {alias}))")
        }
    }

    /// `{"nodes": list}`, as a connection.
    fn nodes(self, list: String) -> String {
        self.obj(&[("nodes", list)])
    }

    /// The one statement answering `{field: {"nodes": […]}}` of `obj` over the page.
    fn page(self, p: Params, field: &str, obj: String, from: &str, alias: &str, order: &str) -> Statement {
        let list = self.list(obj, from, alias, order);
        p.statement(format!("SELECT {}", self.obj(&[(field, self.nodes(list))])))
    }
}

/// The last activities of parent `of` (a column of the outer row), as ours lists them.
fn hand_activities(j: Json, parent_col: &str, of: &str, n: usize) -> String {
    j.nodes(j.list(
        j.obj(&[
            ("id", j.id("x.id")),
            ("kind", "x.kind".into()),
            ("subject", "x.subject".into()),
            ("scheduledAt", "x.scheduled_at".into()),
            ("energyPoints", "x.energy_points".into()),
        ]),
        &format!(
            "SELECT id, kind, subject, scheduled_at, energy_points FROM activity WHERE company_id = $1
             AND {parent_col} = {of} AND deleted_at IS NULL ORDER BY scheduled_at DESC, id DESC LIMIT {n}"
        ),
        "x",
        "x.scheduled_at DESC, x.id DESC",
    ))
}

/// The open tasks of deal `of`, by deadline (undated last), as ours lists them.
fn hand_tasks(j: Json, of: &str, n: usize) -> String {
    let due = if j.pg() {
        "due_date ASC NULLS LAST, id"
    } else {
        "due_date IS NULL, due_date, id"
    };
    j.nodes(j.list(
        j.obj(&[
            ("id", j.id("x.id")),
            ("title", "x.title".into()),
            ("dueDate", "x.due_date".into()),
        ]),
        &format!(
            "SELECT id, title, due_date FROM task WHERE company_id = $1 AND deal_id = {of}
             AND status = 'open' AND deleted_at IS NULL ORDER BY {due} LIMIT {n}"
        ),
        "x",
        if j.pg() {
            "x.due_date ASC NULLS LAST, x.id"
        } else {
            "x.due_date IS NULL, x.due_date, x.id"
        },
    ))
}

pub(super) const CUSTOMERS_PAGE: &str = "query($owner: ID!, $n: Int!) {
  customers(filter: {ownerId: $owner}, orderBy: {field: NAME, direction: ASC}, first: $n) { nodes {
    id name isPriority lastContactAt
    deals(status: OPEN, first: 10) { nodes { id name stage amount } }
    activities(first: 5) { nodes { id kind subject scheduledAt energyPoints } } } } }";

fn hand_customers_page(j: Json, company_id: Uuid, owner: Uuid) -> Statement {
    let mut p = Params::new(j.0, company_id);
    let owner = p.push(owner);
    let deals = j.nodes(j.list(
        j.obj(&[
            ("id", j.id("x.id")),
            ("name", "x.name".into()),
            ("stage", "x.stage".into()),
            ("amount", "x.amount".into()),
        ]),
        "SELECT id, name, stage, amount, created_at FROM deal WHERE company_id = $1 AND customer_id = c.id
         AND status = 'open' AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 10",
        "x",
        "x.created_at DESC, x.id DESC",
    ));
    let customer = j.obj(&[
        ("id", j.id("c.id")),
        ("name", "c.name".into()),
        ("isPriority", "c.is_priority".into()),
        ("lastContactAt", "c.last_contact_at".into()),
        ("deals", deals),
        ("activities", hand_activities(j, "customer_id", "c.id", 5)),
    ]);
    let from = format!(
        "SELECT id, name, is_priority, last_contact_at FROM customer WHERE company_id = $1 AND owner_id = {owner}
         AND deleted_at IS NULL ORDER BY name, id LIMIT 50"
    );
    j.page(p, "customers", customer, &from, "c", "c.name, c.id")
}

pub(super) const DEALS_PAGE: &str = "query($owner: ID!, $n: Int!) {
  deals(filter: {ownerId: $owner, status: OPEN}, orderBy: {field: CREATED_AT, direction: DESC}, first: $n) { nodes {
    id name stage amount
    customer { id name }
    owner { id name }
    members { role member { id name } }
    activities(first: 5) { nodes { id kind subject scheduledAt energyPoints } }
    tasks(status: OPEN, first: 5) { nodes { id title dueDate } } } } }";

fn hand_deals_page(j: Json, company_id: Uuid, owner: Uuid) -> Statement {
    let mut p = Params::new(j.0, company_id);
    let owner = p.push(owner);
    let one = |table: &str, col: &str| {
        j.nested(format!(
            "(SELECT {} FROM {table} y WHERE y.id = d.{col})",
            j.obj(&[("id", j.id("y.id")), ("name", "y.name".into())])
        ))
    };
    let members = j.list(
        j.obj(&[
            ("role", "x.role".into()),
            (
                "member",
                j.obj(&[("id", j.id("x.member_id")), ("name", "x.name".into())]),
            ),
        ]),
        "SELECT dm.role, dm.member_id, m.name, dm.added_at FROM deal_member dm JOIN member m ON m.id = dm.member_id
         WHERE dm.deal_id = d.id ORDER BY dm.added_at, dm.member_id",
        "x",
        "x.added_at, x.member_id",
    );
    let deal = j.obj(&[
        ("id", j.id("d.id")),
        ("name", "d.name".into()),
        ("stage", "d.stage".into()),
        ("amount", "d.amount".into()),
        ("customer", one("customer", "customer_id")),
        ("owner", one("member", "owner_id")),
        ("members", members),
        ("activities", hand_activities(j, "deal_id", "d.id", 5)),
        ("tasks", hand_tasks(j, "d.id", 5)),
    ]);
    let from = format!(
        "SELECT id, name, stage, amount, customer_id, owner_id, created_at FROM deal WHERE company_id = $1
         AND owner_id = {owner} AND status = 'open' AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 50"
    );
    j.page(p, "deals", deal, &from, "d", "d.created_at DESC, d.id DESC")
}

pub(super) const DEAL_DETAIL: &str = "query($id: ID!) {
  deal(id: $id) {
    id name stage amount status
    customer { id name contacts { id name level } }
    activities(first: 20) { nodes { id kind subject scheduledAt energyPoints } }
    tasks(status: OPEN, first: 20) { nodes { id title dueDate } }
    quality { indicator checked } }
  energy(dealId: $id, weeks: 12) { points activities weekly { weekStart points } } }";

fn hand_deal_detail(j: Json, company_id: Uuid, deal: Uuid) -> Statement {
    let mut p = Params::new(j.0, company_id);
    let id = p.push(deal);
    let since = p.push(Utc::now() - Days::weeks(12));
    let contacts = j.list(
        j.obj(&[
            ("id", j.id("x.id")),
            ("name", "x.name".into()),
            ("level", "x.level".into()),
        ]),
        "SELECT id, name, level FROM contact WHERE customer_id = y.id AND deleted_at IS NULL ORDER BY name, id",
        "x",
        "x.name, x.id",
    );
    let customer = j.nested(format!(
        "(SELECT {} FROM customer y WHERE y.id = d.customer_id)",
        j.obj(&[("id", j.id("y.id")), ("name", "y.name".into()), ("contacts", contacts)])
    ));
    let quality = j.list(
        j.obj(&[("indicator", "x.indicator".into()), ("checked", "x.checked".into())]),
        "SELECT indicator, checked FROM deal_quality WHERE deal_id = d.id ORDER BY indicator",
        "x",
        "x.indicator",
    );
    let week = if j.pg() {
        "CAST(date_trunc('week', done_at AT TIME ZONE 'Asia/Tokyo') AS DATE)"
    } else {
        "date(done_at, '+9 hours', 'weekday 0', '-6 days')"
    };
    let done = "company_id = $1 AND deal_id = d.id AND status = 'done' AND deleted_at IS NULL";
    let weekly = j.list(
        j.obj(&[("weekStart", "x.w".into()), ("points", "x.pts".into())]),
        &format!(
            "SELECT {week} AS w, SUM(energy_points) AS pts FROM activity WHERE {done} AND done_at >= {since}
             GROUP BY {week} ORDER BY 1"
        ),
        "x",
        "x.w",
    );
    let energy = j.obj(&[
        (
            "points",
            format!("(SELECT COALESCE(SUM(energy_points), 0) FROM activity WHERE {done})"),
        ),
        ("activities", format!("(SELECT COUNT(*) FROM activity WHERE {done})")),
        ("weekly", weekly),
    ]);
    let obj = j.obj(&[
        (
            "deal",
            j.obj(&[
                ("id", j.id("d.id")),
                ("name", "d.name".into()),
                ("stage", "d.stage".into()),
                ("amount", "d.amount".into()),
                ("status", "d.status".into()),
                ("customer", customer),
                ("activities", hand_activities(j, "deal_id", "d.id", 20)),
                ("tasks", hand_tasks(j, "d.id", 20)),
                ("quality", quality),
            ]),
        ),
        ("energy", energy),
    ]);
    p.statement(format!(
        "SELECT {obj} FROM deal d WHERE d.company_id = $1 AND d.id = {id} AND d.deleted_at IS NULL"
    ))
}

/// Runs a hand-written statement; its first column's JSON when `keep`.
async fn run_hand(db: &DatabaseConnection, st: Statement, keep: bool) -> Result<Done, String> {
    let row = db.query_one_raw(st).await.map_err(|e| e.to_string())?.ok_or("no row")?;
    let text = if row.try_get_by_index::<String>(0).is_ok() {
        row.try_get_by_index::<String>(0).map_err(|e| e.to_string())?
    } else {
        row.try_get_by_index::<Value>(0).map_err(|e| e.to_string())?.to_string()
    };
    let answer = if keep {
        Some(serde_json::from_str(&text).map_err(|e| e.to_string())?)
    } else {
        None
    };
    Ok(Done {
        bytes: text.len(),
        answer,
    })
}

// ---------------------------------------------------------------- scenarios

fn op<F, Fut>(f: F) -> Op
where
    F: Fn(usize, bool) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Done, String>> + Send + 'static,
{
    Arc::new(move |c, keep| f(c, keep).boxed())
}

/// A GraphQL query as the admin, its variables chosen per call.
fn graphql(
    http: &Http,
    token: &Arc<str>,
    query: &'static str,
    vars: impl Fn(bool) -> Value + Send + Sync + 'static,
) -> Op {
    let (http, token) = (http.clone(), token.clone());
    let vars = Arc::new(vars);
    op(move |_, keep| {
        let (http, token, v) = (http.clone(), token.clone(), vars(keep));
        async move { http.post(Some(&token), query, v, keep).await }
    })
}

/// Hand-written statements, run one after the other (`db` outside any transaction).
fn statements(db: &DatabaseConnection, make: impl Fn(usize) -> Vec<Statement> + Send + Sync + 'static) -> Op {
    let db = db.clone();
    let make = Arc::new(make);
    op(move |c, keep| {
        let (db, sts) = (db.clone(), make(c));
        async move {
            // The rows stay in the driver's types: no answer is serialized, so no bytes.
            let mut rows = 0;
            for st in sts {
                rows += db.query_all_raw(st).await.map_err(|e| e.to_string())?.len();
            }
            Ok(Done {
                bytes: 0,
                answer: keep.then(|| json!(rows)),
            })
        }
    })
}

/// Picks the next of `items`, round robin across calls; the first when
/// `keep` (the answers compared between ours and the limit are for the same item).
fn rotate<T: Clone + Send + Sync + 'static>(items: Vec<T>) -> impl Fn(bool) -> T + Send + Sync + 'static {
    let next = AtomicU64::new(0);
    move |keep| {
        if keep {
            return items[0].clone();
        }
        items[next.fetch_add(1, Ordering::Relaxed) as usize % items.len()].clone()
    }
}

fn page_scenarios(db: &DatabaseConnection, http: &Http, w: &World) -> Vec<Scenario> {
    let j = Json(w.backend);
    let company = w.company_id;
    let owners: Vec<Uuid> = w.reps.iter().take(8).map(|r| r.0).collect();
    let deals = w.deals.clone();
    let (pick_a, pick_b, pick_c, pick_d) = (
        rotate(owners.clone()),
        rotate(owners.clone()),
        rotate(owners.clone()),
        rotate(owners),
    );
    let (pick_e, pick_f) = (rotate(deals.clone()), rotate(deals));
    vec![
        Scenario {
            name: "1a nested page: 50 customers",
            ours: graphql(
                http,
                &w.admin,
                CUSTOMERS_PAGE,
                move |keep| json!({"owner": pick_a(keep), "n": 50}),
            ),
            limit: hand_json(db, move |keep| hand_customers_page(j, company, pick_b(keep))),
            limit_kind: "one SQL statement",
            limit_statements: 1.0,
            same_shape: true,
        },
        Scenario {
            name: "1b nested page: 50 deals",
            ours: graphql(
                http,
                &w.admin,
                DEALS_PAGE,
                move |keep| json!({"owner": pick_c(keep), "n": 50}),
            ),
            limit: hand_json(db, move |keep| hand_deals_page(j, company, pick_d(keep))),
            limit_kind: "one SQL statement",
            limit_statements: 1.0,
            same_shape: true,
        },
        Scenario {
            name: "2 deal detail",
            ours: graphql(http, &w.admin, DEAL_DETAIL, move |keep| json!({"id": pick_e(keep)})),
            limit: hand_json(db, move |keep| hand_deal_detail(j, company, pick_f(keep))),
            limit_kind: "one SQL statement",
            limit_statements: 1.0,
            same_shape: false,
        },
    ]
}

fn hand_json(db: &DatabaseConnection, make: impl Fn(bool) -> Statement + Send + Sync + 'static) -> Op {
    let db = db.clone();
    let make = Arc::new(make);
    op(move |_, keep| {
        let (db, st) = (db.clone(), make(keep));
        async move { run_hand(&db, st, keep).await }
    })
}

const VIEWS: [(&str, usize, &str); 4] = [
    (
        "3a manager: KPI team x month",
        0,
        "query($team: ID!) { kpiReport(teamId: $team) { periodStart metrics { key value target } kpis { key value } } }",
    ),
    (
        "3b manager: uncontacted 30 days",
        1,
        "{ uncontactedCustomers(days: 30, first: 50) { totalCount groups { count priorityCount owner { id name } }
           nodes { customer { id name } lastContactAt openDeals openDealsAmount openDealsEnergy } } }",
    ),
    (
        "3c manager: pipeline funnel",
        2,
        "{ pipeline { stages { stage { key } deals customers amount weightedAmount averageAgeDays oldestAgeDays } } }",
    ),
    (
        "3d manager: forecast team x month",
        5,
        "query($team: ID!) { forecast(teamId: $team) { bookedSales wonAmount pipelineDeals pipelineAmount
           weightedAmount landing target } }",
    ),
];

fn view_scenarios(db: &DatabaseConnection, http: &Http, w: &World, ctx: Arc<analytics::Ctx>) -> Vec<Scenario> {
    VIEWS
        .iter()
        .map(|&(name, case, query)| {
            let team = ctx.root;
            let c2 = ctx.clone();
            let n = analytics::hand(&ctx, case).len() as f64;
            Scenario {
                name,
                ours: graphql(http, &w.admin, query, move |_| json!({"team": team})),
                limit: statements(db, move |_| analytics::hand(&c2, case)),
                limit_kind: "hand-written SQL (GROUP BY)",
                limit_statements: n,
                same_shape: false,
            }
        })
        .collect()
}

fn floor_scenario(http: &Http) -> Scenario {
    let (h1, h2) = (http.clone(), http.clone());
    Scenario {
        name: "7 framework floor: { __typename }",
        ours: op(move |_, keep| {
            let h = h1.clone();
            async move { h.post(None, "{ __typename }", json!({}), keep).await }
        }),
        limit: op(move |_, _| {
            let h = h2.clone();
            async move {
                let text = h.get("/version").await?;
                Ok(Done {
                    bytes: text.len(),
                    answer: None,
                })
            }
        }),
        limit_kind: "static JSON endpoint",
        limit_statements: 0.0,
        same_shape: false,
    }
}

/// One rep's desk for the write path: five customers to visit, a deal to
/// move, and that deal's version and stage (moves of one deal take turns).
struct Desk {
    member: Uuid,
    token: Arc<str>,
    customers: Vec<Uuid>,
    deal: Uuid,
    state: tokio::sync::Mutex<(i32, usize)>,
}

/// Daily reports go on days no report of the company has: one per rep and
/// day, counting back from before the oldest one.
struct Writes {
    desks: Vec<Desk>,
    seq: AtomicU64,
    last_day: NaiveDate,
    /// Audit and notification rows one of our operations writes (the hand-written transaction writes as many).
    audits: usize,
    notifications: usize,
}

/// The stages the moved deals go back and forth between (later ones have
/// exit criteria, such as an amount before a proposal).
const OPEN_STAGES: [&str; 2] = ["inquiry", "hearing"];

impl Writes {
    fn next(&self) -> (&Desk, NaiveDate) {
        let g = self.seq.fetch_add(1, Ordering::Relaxed) as usize;
        let n = self.desks.len();
        (&self.desks[g % n], self.last_day - Days::days((g / n) as i64))
    }
}

async fn writes(db: &DatabaseConnection, http: &Http, w: &World) -> AppResult<Writes> {
    let mut desks = Vec::new();
    for (member, email) in &w.reps {
        let mut p = Params::new(w.backend, w.company_id);
        let m = p.push(*member);
        let customers = ids(
            db,
            p.statement(format!(
                "SELECT id FROM customer WHERE company_id = $1 AND owner_id = {m} AND deleted_at IS NULL
                 ORDER BY id LIMIT 5"
            )),
        )
        .await?;
        let mut p = Params::new(w.backend, w.company_id);
        let m = p.push(*member);
        let Some(deal) = db
            .query_one_raw(p.statement(format!(
                "SELECT id, version, stage FROM deal WHERE company_id = $1 AND owner_id = {m} AND status = 'open'
                 AND deleted_at IS NULL ORDER BY id LIMIT 1"
            )))
            .await?
        else {
            continue;
        };
        let stage: String = deal.try_get_by_index(2)?;
        desks.push(Desk {
            member: *member,
            token: http.login(email).await?,
            customers,
            deal: deal.try_get_by_index(0)?,
            state: tokio::sync::Mutex::new((
                deal.try_get_by_index(1)?,
                OPEN_STAGES.iter().position(|s| *s == stage).unwrap_or(0),
            )),
        });
    }
    let oldest = db
        .query_one_raw(
            Params::new(w.backend, w.company_id)
                .statement("SELECT MIN(report_date) FROM daily_report WHERE company_id = $1"),
        )
        .await?
        .and_then(|r| r.try_get_by_index::<Option<NaiveDate>>(0).ok().flatten());
    let floor = Utc::now().date_naive() - Days::days(4 * 366);
    Ok(Writes {
        desks,
        seq: AtomicU64::new(0),
        last_day: oldest.map_or(floor, |d| d.min(floor)) - Days::days(1),
        audits: 0,
        notifications: 0,
    })
}

const SUBMIT: &str = "mutation($in: DailyReportInput!) { submitDailyReport(input: $in) { id version } }";
const MOVE: &str =
    "mutation($id: ID!, $v: Int!, $s: String!) { moveDealStage(id: $id, version: $v, stage: $s) { version } }";

/// Ours: the report (five visits done, scored, the manager notified) and a stage move, over HTTP.
async fn write_ours(http: Http, writes: Arc<Writes>) -> Result<Done, String> {
    let (desk, day) = writes.next();
    let activities: Vec<Value> = desk
        .customers
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let at = day.and_hms_opt(1 + k as u32, 0, 0).unwrap_or_default().and_utc();
            json!({"customerId": c, "kind": "VISIT", "status": "DONE", "subject": format!("visit {k}"),
                   "scheduledAt": at, "doneAt": at + Days::minutes(45)})
        })
        .collect();
    let vars = json!({"in": {"reportDate": day, "body": "benchmark report", "activities": activities}});
    let report = http.post(Some(&desk.token), SUBMIT, vars, false).await?;
    let mut state = desk.state.lock().await;
    let to = (state.1 + 1) % OPEN_STAGES.len();
    let vars = json!({"id": desk.deal, "v": state.0, "s": OPEN_STAGES[to]});
    let moved = http.post(Some(&desk.token), MOVE, vars, true).await?;
    let version = moved
        .answer
        .as_ref()
        .and_then(|a| a["moveDealStage"]["version"].as_i64());
    *state = (version.ok_or("no version in the answer")? as i32, to);
    Ok(Done {
        bytes: report.bytes + moved.bytes,
        answer: None,
    })
}

/// The limit: one transaction writing the same rows with the fewest statements.
async fn write_hand(db: DatabaseConnection, company_id: Uuid, writes: Arc<Writes>) -> Result<Done, String> {
    use entity::{
        activity, audit_log, daily_report, deal_stage_history,
        enums::{ActivityKind, ActivityStatus, NotificationKind, NotificationSubject},
        notification,
    };
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};
    let (desk, day) = writes.next();
    let t = Utc::now();
    let report_id = new_id();
    let txn = crate::db::begin_write(&db).await.map_err(|e| e.to_string())?;
    let res: Result<(), sea_orm::DbErr> = async {
        daily_report::Entity::insert(
            daily_report::Model {
                id: report_id,
                company_id,
                member_id: desk.member,
                report_date: day,
                body: "benchmark report".into(),
                submitted_at: Some(t),
                version: 1,
                created_at: t,
                updated_at: t,
            }
            .into_active_model()
            .reset_all(),
        )
        .exec_without_returning(&txn)
        .await?;
        let acts = desk.customers.iter().enumerate().map(|(k, c)| {
            let at = day.and_hms_opt(1 + k as u32, 0, 0).unwrap_or_default().and_utc();
            activity::Model {
                id: new_id(),
                company_id,
                member_id: desk.member,
                customer_id: *c,
                deal_id: None,
                daily_report_id: Some(report_id),
                kind: ActivityKind::Visit,
                status: ActivityStatus::Done,
                subject: format!("visit {k}"),
                scheduled_at: at,
                done_at: Some(at + Days::minutes(45)),
                duration_minutes: None,
                attendee_count: 1,
                notes: None,
                outcome: None,
                energy_points: Some(10),
                energy_version: Some("bench".into()),
                version: 1,
                created_at: t,
                updated_at: t,
                deleted_at: None,
                external_ref: None,
            }
            .into_active_model()
            .reset_all()
        });
        activity::Entity::insert_many(acts).exec_without_returning(&txn).await?;
        let mut state = desk.state.lock().await;
        let to = (state.1 + 1) % OPEN_STAGES.len();
        let mut p = Params::new(txn.get_database_backend(), company_id);
        let (stage, at, id, version) = (p.push(OPEN_STAGES[to]), p.push(t), p.push(desk.deal), p.push(state.0));
        txn.execute_raw(p.statement(format!(
            "UPDATE deal SET stage = {stage}, stage_entered_at = {at}, updated_at = {at}, version = version + 1
             WHERE company_id = $1 AND id = {id} AND version = {version}"
        )))
        .await?;
        deal_stage_history::Entity::insert(
            deal_stage_history::Model {
                id: new_id(),
                company_id,
                deal_id: desk.deal,
                from_stage: Some(OPEN_STAGES[state.1].into()),
                to_stage: OPEN_STAGES[to].into(),
                changed_by: desk.member,
                changed_at: t,
            }
            .into_active_model()
            .reset_all(),
        )
        .exec_without_returning(&txn)
        .await?;
        *state = (state.0 + 1, to);
        let audits = (0..writes.audits.max(1)).map(|_| {
            audit_log::Model {
                id: new_id(),
                company_id,
                actor_member_id: Some(desk.member),
                actor_api_key_id: None,
                action: "create".into(),
                entity_type: "activity".into(),
                entity_id: report_id,
                changes: json!({"subject": "visit"}),
                created_at: t,
            }
            .into_active_model()
            .reset_all()
        });
        audit_log::Entity::insert_many(audits)
            .exec_without_returning(&txn)
            .await?;
        if writes.notifications > 0 {
            let notes = (0..writes.notifications).map(|_| {
                notification::Model {
                    id: new_id(),
                    company_id,
                    recipient_id: desk.member,
                    kind: NotificationKind::DailyReport,
                    subject_type: NotificationSubject::DailyReport,
                    subject_id: report_id,
                    comment_id: None,
                    actor_id: Some(desk.member),
                    summary: "submitted a daily report".into(),
                    dedupe_key: None,
                    created_at: t,
                    read_at: None,
                }
                .into_active_model()
                .reset_all()
            });
            notification::Entity::insert_many(notes)
                .exec_without_returning(&txn)
                .await?;
        }
        Ok(())
    }
    .await;
    match res {
        Ok(()) => txn.commit().await.map_err(|e| e.to_string())?,
        Err(e) => {
            let _ = txn.rollback().await;
            return Err(e.to_string());
        }
    }
    Ok(Done { bytes: 0, answer: None })
}

/// (notification, audit) rows of the company.
async fn written(db: &DatabaseConnection, company_id: Uuid) -> AppResult<(i64, i64)> {
    let row = db
        .query_one_raw(Params::new(db.get_database_backend(), company_id).statement(
            "SELECT (SELECT COUNT(*) FROM notification WHERE company_id = $1),
                    (SELECT COUNT(*) FROM audit_log WHERE company_id = $1)",
        ))
        .await?
        .ok_or(AppError::NotFound("counts"))?;
    Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
}

async fn write_scenario(db: &DatabaseConnection, http: &Http, w: &World) -> AppResult<Scenario> {
    let mut plan = writes(db, http, w).await?;
    if plan.desks.is_empty() {
        return Err(AppError::bad("no rep with an open deal for the write path"));
    }
    // Count what ours writes, so that the hand-written transaction writes as much.
    let before = written(db, w.company_id).await?;
    let probe = Arc::new(plan);
    const PROBES: i64 = 5;
    for _ in 0..PROBES {
        write_ours(http.clone(), probe.clone()).await.map_err(AppError::bad)?;
    }
    let after = written(db, w.company_id).await?;
    plan = Arc::into_inner(probe).ok_or_else(|| AppError::bad("write plan still shared"))?;
    plan.notifications = ((after.0 - before.0) as f64 / PROBES as f64).round() as usize;
    plan.audits = ((after.1 - before.1) as f64 / PROBES as f64).round() as usize;
    // BEGIN and COMMIT are not counted, on either side.
    let stmts = 5.0 + f64::from(u8::from(plan.notifications > 0));
    let plan = Arc::new(plan);
    let (p1, p2, h, db, company) = (plan.clone(), plan, http.clone(), db.clone(), w.company_id);
    Ok(Scenario {
        name: "4 write: daily report (5 visits) + stage move",
        ours: op(move |_, _| write_ours(h.clone(), p1.clone())),
        limit: op(move |_, _| write_hand(db.clone(), company, p2.clone())),
        limit_kind: "one transaction, same rows",
        limit_statements: stmts,
        same_shape: false,
    })
}

// ---------------------------------------------------------------- the run

/// Rows PostgreSQL has read in this database so far (`tup_returned`), once
/// every backend has flushed its statistics (an idle one does within 10 s).
async fn rows_read_so_far(db: &DatabaseConnection) -> AppResult<i64> {
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT tup_returned FROM pg_stat_database WHERE datname = current_database()",
        ))
        .await?
        .ok_or(AppError::NotFound("pg_stat_database"))?;
    Ok(row.try_get_by_index(0)?)
}

async fn rows_read(db: &DatabaseConnection, op: &Op, n: usize) -> AppResult<f64> {
    let before = rows_read_so_far(db).await?;
    for _ in 0..n {
        op(0, false).await.map_err(AppError::bad)?;
    }
    let after = rows_read_so_far(db).await?;
    Ok((after - before) as f64 / n as f64)
}

fn wanted(opts: &Options, name: &str) -> bool {
    opts.only.is_empty()
        || opts
            .only
            .iter()
            .any(|o| name.to_ascii_lowercase().starts_with(&o.to_ascii_lowercase()))
}

/// Starts the server and runs the scenarios (see the module's doc).
pub async fn run(db: &DatabaseConnection, plugins: &Plugins, opts: &Options) -> AppResult<Report> {
    let ctx = Arc::new(analytics::context(db, plugins).await?);
    // The limit's own pool, as large as the server's, but waiting as long as
    // it takes: at 64 clients the heaviest views queue for a connection.
    let url = opts.database_url.clone();
    let limit_db = crate::db::connect_with(&url, |o| {
        o.acquire_timeout(Duration::from_secs(600));
    })
    .await?;
    let server = Server::start(opts.config.as_deref()).await?;
    let result = scenarios(&limit_db, &server, ctx, opts).await;
    let failed = result
        .as_ref()
        .map_or(true, |r| r.cells.iter().any(|c| c.ours.errors > 0));
    server.stop(failed).await;
    result
}

async fn scenarios(
    db: &DatabaseConnection,
    server: &Server,
    ctx: Arc<analytics::Ctx>,
    opts: &Options,
) -> AppResult<Report> {
    let http = &server.http;
    let w = world(db, http, &ctx).await?;
    let mut list = page_scenarios(db, http, &w);
    list.extend(view_scenarios(db, http, &w, ctx));
    if wanted(opts, "4") {
        list.push(write_scenario(db, http, &w).await?);
    }
    list.push(floor_scenario(http));
    list.retain(|s| wanted(opts, s.name));

    let page_size_statements = if opts.check || wanted(opts, "1b") {
        let owner = w.reps[0].0;
        let mut per = Vec::new();
        for n in [10, 100] {
            let (before, _) = server.counters().await?;
            http.post(Some(&w.admin), DEALS_PAGE, json!({"owner": owner, "n": n}), false)
                .await
                .map_err(AppError::bad)?;
            per.push(server.counters().await?.0 - before);
        }
        Some((per[0], per[1]))
    } else {
        None
    };

    let server_idle_mib = server.memory_kib().0 as f64 / 1024.0;
    let mut cells = Vec::new();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let warm = opts.secs.min(1.0);
    for s in &list {
        eprintln!("{}", s.name);
        drive(&s.ours, 1, warm).await;
        drive(&s.limit, 1, warm).await;
        let ours_answer = (s.ours)(0, true).await.map_err(AppError::bad)?.answer;
        let limit_answer = (s.limit)(0, true).await.map_err(AppError::bad)?.answer;
        let returned = ours_answer.as_ref().map_or(0, objects);
        let returned_by_limit = s.same_shape.then(|| limit_answer.as_ref().map_or(0, objects));
        let pg = db.get_database_backend() == DbBackend::Postgres;
        let (read, read_by_limit) = if opts.rows_read && pg && s.limit_statements > 0.0 {
            let n = 50;
            (
                Some(rows_read(db, &s.ours, n).await?),
                Some(rows_read(db, &s.limit, n).await?),
            )
        } else {
            (None, None)
        };
        rows.push(Rows {
            scenario: s.name.into(),
            returned,
            returned_by_limit,
            read,
            read_by_limit,
        });
        for &clients in &opts.clients {
            let (st0, _) = server.counters().await?;
            server.reset_peak();
            let mut ours = drive(&s.ours, clients, opts.secs).await;
            let (st1, _) = server.counters().await?;
            // The two /metrics calls are not statements; every operation's are.
            ours.statements = (st1 - st0) as f64 / ours.ops.max(1) as f64;
            let server_peak_mib = server.memory_kib().1 as f64 / 1024.0;
            let mut limit = drive(&s.limit, clients, opts.secs).await;
            limit.statements = s.limit_statements;
            if ours.errors + limit.errors > 0 {
                failures.push(format!("{} at {clients} clients", s.name));
            }
            let ratio = if limit.per_sec > 0.0 {
                ours.per_sec / limit.per_sec
            } else {
                0.0
            };
            eprintln!(
                "  {clients:>3} clients: {:>8.1}/s p50 {:.2} ms, {:.1} statements | limit {:>8.1}/s | ratio {ratio:.2}",
                ours.per_sec, ours.p50_ms, ours.statements, limit.per_sec
            );
            cells.push(Cell {
                scenario: s.name.into(),
                clients,
                ours,
                limit,
                limit_kind: s.limit_kind,
                ratio,
                server_peak_mib,
            });
        }
    }
    let report = Report {
        database: match db.get_database_backend() {
            DbBackend::Postgres => "postgres".into(),
            _ => "sqlite".into(),
        },
        secs: opts.secs,
        cells,
        rows,
        page_size_statements,
        server_idle_mib,
    };
    // Under overload the server sheds load with TIMEOUT (504) by design;
    // the table shows it. The smoke run allows no failure at all.
    if opts.check && !failures.is_empty() {
        return Err(AppError::bad(format!("operations failed: {}", failures.join("; "))));
    }
    if opts.check {
        report.check()?;
    }
    Ok(report)
}

impl Report {
    /// The CI smoke checks (never a time): statements per request do not
    /// grow with the page size, and the hand-written pages return as many
    /// rows as ours (so that the comparison is of the same answer).
    pub fn check(&self) -> AppResult<()> {
        if let Some((ten, hundred)) = self.page_size_statements
            && hundred > ten
        {
            return Err(AppError::bad(format!(
                "statements grow with the page size: {ten} for 10 deals, {hundred} for 100"
            )));
        }
        for r in &self.rows {
            if let Some(theirs) = r.returned_by_limit
                && theirs != r.returned
            {
                return Err(AppError::bad(format!(
                    "{}: ours returns {} rows, the hand-written SQL {theirs}",
                    r.scenario, r.returned
                )));
            }
        }
        Ok(())
    }

    /// The report as tables.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} database, {} s per cell; ratio = our ops/s over the limit's (1.00 = the limit)\n\
             {:<46} {:>3} {:>9} {:>7} {:>7} {:>8} {:>5} {:>8} {:>6} {:>5} | {:>9} {:>7} {:>5} | {:>5}\n",
            self.database,
            self.secs,
            "scenario",
            "cl",
            "ops/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "stmt",
            "KB/resp",
            "RSS MB",
            "errs",
            "limit/s",
            "p50 ms",
            "stmt",
            "ratio"
        );
        for c in &self.cells {
            out.push_str(&format!(
                "{:<46} {:>3} {:>9.1} {:>7.2} {:>7.2} {:>8.2} {:>5.1} {:>8.1} {:>6.0} {:>5} | {:>9.1} {:>7.2} {:>5.1} | {:>5.2}\n",
                c.scenario,
                c.clients,
                c.ours.per_sec,
                c.ours.p50_ms,
                c.ours.p99_ms,
                c.ours.p999_ms,
                c.ours.statements,
                c.ours.bytes / 1024.0,
                c.server_peak_mib,
                c.ours.errors + c.limit.errors,
                c.limit.per_sec,
                c.limit.p50_ms,
                c.limit.statements,
                c.ratio
            ));
        }
        out.push_str(&format!(
            "\n{:<46} {:>9} {:>9} {:>12} {:>12}\n",
            "rows per operation", "returned", "by limit", "read (PG)", "by limit"
        ));
        let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
        for r in &self.rows {
            out.push_str(&format!(
                "{:<46} {:>9} {:>9} {:>12} {:>12}\n",
                r.scenario,
                r.returned,
                r.returned_by_limit.map_or("-".to_owned(), |v| v.to_string()),
                opt(r.read),
                opt(r.read_by_limit)
            ));
        }
        if let Some((ten, hundred)) = self.page_size_statements {
            out.push_str(&format!(
                "statements for the nested deal page: {ten} at 10 deals, {hundred} at 100\n"
            ));
        }
        out
    }
}
