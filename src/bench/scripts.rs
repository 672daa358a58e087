//! Runaway company scripts under load (`sfa reliability plugins`): this
//! binary is started as the server on a copy of the plugin sets whose
//! `default` exit check misbehaves for deals of certain names (an endless
//! loop, a call to `sleep`, a string doubled without end, recursion a million
//! deep). While paced ordinary requests run, those deals are moved: each move
//! must be stopped with PLUGIN_ERROR within 250 ms, the ordinary requests
//! must keep a p99 under 50 ms, and the server's memory must grow by less
//! than 50 MB. Then the set is hot-reloaded 100 times under the same load,
//! every fourth time broken (a syntax error, or an `import`): broken ones are
//! refused with PLUGIN_ERROR, and no ordinary request may fail.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    http::{Http, Server},
    load::{Load, Stats, bench_company, op, sign_in},
};
use crate::error::{AppError, AppResult};

const STOPPED_MS: f64 = 250.0;
const P99_MS: f64 = 50.0;
const RSS_GROWTH_MB: f64 = 50.0;

/// The misbehaviours, by the deal name that triggers them.
const HOSTILE: [(&str, &str); 4] = [
    ("endless loop", "loop { }"),
    ("sleep", "sleep(10);"),
    ("string growing without end", "let s = \"x\"; loop { s += s; }"),
    ("recursion 1e6 deep", "return deep(0);"),
];

/// One misbehaviour, tried `repeats` times.
#[derive(Debug, Serialize)]
pub struct Case {
    /// What the script does.
    pub name: String,
    /// Codes answered (distinct).
    pub got: Vec<String>,
    /// The error's message (first).
    pub message: String,
    /// Milliseconds.
    pub p50_ms: f64,
    /// Milliseconds.
    pub max_ms: f64,
}

/// The run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Moves tried per misbehaviour.
    pub repeats: usize,
    /// Each misbehaviour.
    pub cases: Vec<Case>,
    /// Ordinary requests while the scripts misbehaved.
    pub load_during_scripts: Stats,
    /// Server memory growth over the misbehaving phase, MB.
    pub rss_growth_mb: f64,
    /// Good reloads taken.
    pub reloads_taken: usize,
    /// Broken reloads refused with PLUGIN_ERROR.
    pub reloads_refused: usize,
    /// Reloads answered otherwise.
    pub reloads_wrong: usize,
    /// Ordinary requests during the reloads.
    pub load_during_reloads: Stats,
}

impl Report {
    /// Every misbehaviour stopped with PLUGIN_ERROR, every reload as
    /// expected, no ordinary request failed.
    pub fn correct(&self) -> bool {
        self.cases.iter().all(|c| c.got == ["PLUGIN_ERROR"])
            && self.reloads_wrong == 0
            && self.load_during_scripts.failures == 0
            && self.load_during_reloads.failures == 0
    }

    /// Every time and memory target met.
    pub fn in_budget(&self) -> bool {
        self.cases.iter().all(|c| c.max_ms <= STOPPED_MS)
            && self.load_during_scripts.p99_ms < P99_MS
            && self.load_during_reloads.p99_ms < P99_MS
            && self.rss_growth_mb < RSS_GROWTH_MB
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "runaway scripts under load, each tried {} times (target: PLUGIN_ERROR within {STOPPED_MS} ms)\n\n{:<28} {:>7} {:>7}  {:<14} message\n",
            self.repeats, "script", "p50 ms", "max ms", "answered"
        );
        for c in &self.cases {
            out.push_str(&format!(
                "{:<28} {:>7.1} {:>7.1}  {:<14} {}\n",
                c.name,
                c.p50_ms,
                c.max_ms,
                c.got.join(", "),
                c.message.chars().take(90).collect::<String>()
            ));
        }
        let load = |name: &str, s: &Stats| {
            format!(
                "{name}: {} ordinary requests, {:.0}/s, p50 {:.1} ms, p99 {:.1} ms (target < {P99_MS}), {} failed{}\n",
                s.ops,
                s.per_sec,
                s.p50_ms,
                s.p99_ms,
                s.failures,
                s.first_failure
                    .as_ref()
                    .map(|f| format!(" (first: {f})"))
                    .unwrap_or_default()
            )
        };
        out.push('\n');
        out.push_str(&load("while the scripts ran", &self.load_during_scripts));
        out.push_str(&format!(
            "server memory growth: {:.1} MB (target < {RSS_GROWTH_MB})\n",
            self.rss_growth_mb
        ));
        out.push_str(&format!(
            "hot reloads: {} taken, {} broken ones refused, {} answered wrongly\n",
            self.reloads_taken, self.reloads_refused, self.reloads_wrong
        ));
        out.push_str(&load("during the reloads", &self.load_during_reloads));
        out.push_str(match (self.correct(), self.in_budget()) {
            (true, true) => "\nPASS\n",
            (true, false) => "\ncorrectness PASS, time or memory targets MISSED\n",
            _ => "\nFAIL\n",
        });
        out
    }
}

/// The `default` set's process script with the hostile exit check wrapped
/// around the shipped one; `tag` changes the source (a new version).
fn hostile_process(shipped: &str, tag: usize) -> String {
    let renamed = shipped.replace("fn exit_check(", "fn shipped_exit_check(");
    let has_shipped = renamed != shipped;
    let mut out = format!(
        "{renamed}\n// reliability harness, version {tag}\nfn deep(n) {{ if n >= 1000000 {{ n }} else {{ deep(n + 1) }} }}\n"
    );
    out.push_str("fn exit_check(deal, from, to) {\n");
    for (name, body) in HOSTILE {
        out.push_str(&format!("    if deal.name == \"hostile: {name}\" {{ {body} }}\n"));
    }
    out.push_str(if has_shipped {
        "    shipped_exit_check(deal, from, to)\n}\n"
    } else {
        "}\n"
    });
    out
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs the harness (see the module's doc).
pub async fn run(
    db: &sea_orm::DatabaseConnection,
    config: Option<&Path>,
    plugins_dir: &Path,
    repeats: usize,
    reloads: usize,
) -> AppResult<Report> {
    let dir = std::env::temp_dir().join(format!("sfa-plugins-harness-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(plugins_dir, &dir).map_err(|e| AppError::bad(format!("copy {}: {e}", plugins_dir.display())))?;
    let process = dir.join("default/process.rhai");
    let shipped =
        std::fs::read_to_string(&process).map_err(|e| AppError::bad(format!("{}: {e}", process.display())))?;
    std::fs::write(&process, hostile_process(&shipped, 0)).map_err(|e| AppError::bad(e.to_string()))?;
    let server = Server::start_with(config, &[("SFA_PLUGINS_DIR", dir.display().to_string())]).await?;
    let result = exercise(db, &server, &process, &shipped, repeats, reloads).await;
    server.stop(result.as_ref().map_or(true, |r| !r.correct())).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Paced ordinary requests: who am I, a page of deals, one deal's detail.
fn ordinary(http: &Http, token: Arc<str>, deal: Uuid) -> Load {
    let http = http.clone();
    Load::start(
        op(move |_, n| {
            let (http, token) = (http.clone(), token.clone());
            async move {
                let (q, vars) = match n % 3 {
                    0 => ("{ me { id name } }", json!({})),
                    1 => (
                        "{ deals(first: 10) { nodes { id name stage customer { name } } } }",
                        json!({}),
                    ),
                    _ => (
                        "query($id: ID!) { deal(id: $id) { name stage activities(first: 5) { nodes { subject } } } }",
                        json!({"id": deal}),
                    ),
                };
                http.post(Some(&token), q, vars, false).await.map(|_| ())
            }
        }),
        4,
        Some(100.0),
    )
}

async fn exercise(
    db: &sea_orm::DatabaseConnection,
    server: &Server,
    process: &PathBuf,
    shipped: &str,
    repeats: usize,
    reloads: usize,
) -> AppResult<Report> {
    let http = &server.http;
    let company = bench_company(db).await?;
    let rep = sign_in(db, http, company, "rep").await?;
    let admin = sign_in(db, http, company, "admin").await?;
    let customer = http
        .post(Some(&rep), "{ customers(first: 1) { nodes { id } } }", json!({}), true)
        .await
        .map_err(AppError::bad)?
        .answer
        .and_then(|a| a["customers"]["nodes"][0]["id"].as_str().map(str::to_owned))
        .ok_or_else(|| AppError::bad("the rep has no customer"))?;
    let mut deals = Vec::new();
    for (name, _) in HOSTILE {
        let made = http
            .post(
                Some(&rep),
                "mutation($c: ID!, $n: String!) { createDeal(input: {customerId: $c, name: $n, stage: \"inquiry\"}) { id version } }",
                json!({"c": customer, "n": format!("hostile: {name}")}),
                true,
            )
            .await
            .map_err(AppError::bad)?
            .answer
            .unwrap_or_default();
        let id: Uuid = made["createDeal"]["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| AppError::bad("createDeal gave no id"))?;
        deals.push((name, id, made["createDeal"]["version"].as_i64().unwrap_or(1)));
    }

    // Warm up, then the misbehaving scripts under the load.
    let warm = ordinary(http, rep.clone(), deals[0].1);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    warm.finish().await;
    let rss_before = server.memory_kib().0;
    let load = ordinary(http, rep.clone(), deals[0].1);
    let mut cases = Vec::new();
    const MOVE: &str =
        "mutation($id: ID!, $v: Int!) { moveDealStage(id: $id, version: $v, stage: \"hearing\") { version } }";
    for (name, id, version) in &deals {
        let (mut lat, mut got, mut message) = (Vec::new(), Vec::<String>::new(), String::new());
        for _ in 0..repeats.max(1) {
            let t0 = Instant::now();
            let answer = http.post(Some(&rep), MOVE, json!({"id": id, "v": version}), true).await;
            lat.push(t0.elapsed().as_micros() as u64);
            let (code, text) = match answer {
                Ok(_) => ("moved".to_owned(), String::new()),
                Err(e) => {
                    let body: serde_json::Value = e
                        .find('{')
                        .and_then(|i| serde_json::from_str(&e[i..]).ok())
                        .unwrap_or_default();
                    let code = body["errors"][0]["extensions"]["code"]
                        .as_str()
                        .unwrap_or("other")
                        .to_owned();
                    let text = body["errors"][0]["message"].as_str().unwrap_or(&e).to_owned();
                    (code, text)
                }
            };
            if !got.contains(&code) {
                got.push(code);
            }
            if message.is_empty() {
                message = text;
            }
        }
        let s = Stats::of(lat, vec![], 1.0);
        cases.push(Case {
            name: (*name).to_owned(),
            got,
            message,
            p50_ms: s.p50_ms,
            max_ms: s.max_ms,
        });
    }
    let load_during_scripts = load.finish().await;
    let rss_growth_mb = server.memory_kib().0.saturating_sub(rss_before) as f64 / 1024.0;

    // Hot reloads under the same load; every fourth one broken.
    let load = ordinary(http, rep.clone(), deals[0].1);
    let (mut taken, mut refused, mut wrong) = (0, 0, 0);
    for k in 1..=reloads {
        let broken = k % 4 == 0;
        let source = match (broken, k % 8 == 0) {
            (false, _) => hostile_process(shipped, k),
            (true, false) => format!("{}\nfn broken( {{", hostile_process(shipped, k)),
            (true, true) => format!("import \"/etc/passwd\" as p;\n{}", hostile_process(shipped, k)),
        };
        std::fs::write(process, source).map_err(|e| AppError::bad(e.to_string()))?;
        let answer = http
            .post(Some(&admin), "mutation { reloadPlugins { version } }", json!({}), false)
            .await;
        match (broken, answer) {
            (false, Ok(_)) => taken += 1,
            (true, Err(e)) if e.contains("PLUGIN_ERROR") => refused += 1,
            _ => wrong += 1,
        }
    }
    let load_during_reloads = load.finish().await;
    std::fs::write(process, hostile_process(shipped, 0)).map_err(|e| AppError::bad(e.to_string()))?;
    Ok(Report {
        repeats: repeats.max(1),
        cases,
        load_during_scripts,
        rss_growth_mb,
        reloads_taken: taken,
        reloads_refused: refused,
        reloads_wrong: wrong,
        load_during_reloads,
    })
}
