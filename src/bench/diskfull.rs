//! Disk full (`sfa reliability disk-full`, SQLite): the benchmark company is
//! copied onto a small file system (a tmpfs the harness mounts, or `--dir`),
//! this binary is started as the server on it, its reps write concurrently
//! (daily reports of three visits, stage moves, task edits, as in the crash
//! harness), and the file system is filled to the last byte for a while, then
//! freed, while they keep writing. Then the server is stopped and checked:
//!
//! - every write the client saw acknowledged is in the database, no report is
//!   half written, audit rows equal the changes, `integrity_check` is clean;
//! - every refused write was answered UNAVAILABLE with reason DISK_FULL (or
//!   STORAGE_ERROR): no INTERNAL, no HTTP 5xx, no connection closed without
//!   an answer, no panic in the server's log;
//! - every writer wrote again within 5 s of the space coming back, and
//!   nothing failed after that, without a restart.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DbBackend};
use serde::Serialize;
use serde_json::json;

use super::{
    crash::{self, Desk, Run},
    http::{Http, Server},
};
use crate::error::{AppError, AppResult};

/// What the harness does.
pub struct Options {
    /// Size of the tmpfs the harness mounts, in MiB.
    pub size_mb: u64,
    /// A folder on a small file system to use instead of mounting one.
    pub dir: Option<PathBuf>,
    /// Seconds of writing before the disk fills.
    pub warmup_secs: f64,
    /// Seconds the disk stays full.
    pub full_secs: f64,
    /// Seconds of writing after the space is freed.
    pub after_secs: f64,
    /// Concurrent writers.
    pub clients: usize,
}

/// One answer a writer got.
struct Answer {
    /// Seconds since the writers started.
    at: f64,
    /// `ok`, an error code (`UNAVAILABLE/DISK_FULL` with its reason), or
    /// `HTTP 5xx` / `no answer` for what must never happen.
    outcome: String,
    writer: usize,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Size of the database copied onto the small file system, in bytes.
    pub database_bytes: u64,
    /// Seconds since the start when the disk was full, and when it was freed.
    pub full_at: f64,
    /// See `full_at`.
    pub freed_at: f64,
    /// Answers by outcome over the whole run.
    pub outcomes: BTreeMap<String, usize>,
    /// Acknowledged writes (all checked in the database afterwards).
    pub acked: usize,
    /// Milliseconds from the freeing to the slowest writer's first success.
    pub recovered_ms: Option<u64>,
    /// Failed answers more than 5 s after the freeing.
    pub failed_after_recovery: usize,
    /// "panic" lines in the server's log.
    pub panics: usize,
    /// What the check of the database found wrong.
    pub problems: Vec<String>,
}

impl Report {
    /// Answers that must never happen: INTERNAL, 5xx, no answer, or an error without a code.
    pub fn wrong_answers(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(k, _)| {
                !(k.as_str() == "ok"
                    || k.starts_with("UNAVAILABLE/DISK_FULL")
                    || k.starts_with("UNAVAILABLE/STORAGE_ERROR"))
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// True when the run found nothing wrong and the disk really filled up.
    pub fn passed(&self) -> bool {
        let full = self.outcomes.get("UNAVAILABLE/DISK_FULL").copied().unwrap_or(0);
        self.problems.is_empty()
            && self.wrong_answers() == 0
            && self.panics == 0
            && full > 0
            && self.recovered_ms.is_some_and(|ms| ms <= 5_000)
            && self.failed_after_recovery == 0
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "disk full on SQLite ({:.1} MB database): full at {:.1} s, freed at {:.1} s\n\n  answers\n",
            self.database_bytes as f64 / 1e6,
            self.full_at,
            self.freed_at
        );
        for (k, n) in &self.outcomes {
            out.push_str(&format!("  {n:>7}  {k}\n"));
        }
        out.push_str(&format!(
            "\n  acknowledged writes: {} (every one checked)\n  recovered after the freeing: {}\n  \
             failures more than 5 s after it: {}\n  panics in the server log: {}\n  database check: {}\n",
            self.acked,
            self.recovered_ms
                .map_or_else(|| "never".to_owned(), |ms| format!("{ms} ms")),
            self.failed_after_recovery,
            self.panics,
            if self.problems.is_empty() {
                "no problem".to_owned()
            } else {
                self.problems.join("; ")
            }
        ));
        out.push_str(if self.passed() {
            "\nPASS: nothing acknowledged lost, every refusal DISK_FULL, recovered without a restart\n"
        } else {
            "\nFAIL\n"
        });
        out
    }
}

/// A mounted tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size_mb: u64) -> AppResult<Self> {
        let dir = std::env::temp_dir().join(format!("sfa-disk-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| AppError::bad(format!("{}: {e}", dir.display())))?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .map_err(|e| AppError::bad(format!("cannot run mount: {e}")))?;
        if !status.success() {
            return Err(AppError::bad(
                "could not mount a tmpfs (this needs root); mount a small file system yourself and pass --dir",
            ));
        }
        Ok(Self(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Runs the harness (see the module's doc) on `db`, the configured SQLite
/// database holding the benchmark company.
pub async fn run(db: &sea_orm::DatabaseConnection, config: Option<&Path>, opts: &Options) -> AppResult<Report> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Err(AppError::bad(
            "the disk-full harness runs on SQLite (PostgreSQL's disk belongs to the database server)",
        ));
    }
    let mount = match &opts.dir {
        Some(_) => None,
        None => Some(Tmpfs::mount(opts.size_mb)?),
    };
    let dir = opts
        .dir
        .clone()
        .or_else(|| mount.as_ref().map(|m| m.0.clone()))
        .ok_or_else(|| AppError::bad("no folder to run in"))?;
    let file = dir.join("sfa.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    db.execute_unprepared(&format!(
        "VACUUM INTO '{}'",
        file.display().to_string().replace('\'', "''")
    ))
    .await
    .map_err(|e| AppError::bad(format!("cannot copy the database to {}: {e}", dir.display())))?;
    let database_bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let server = Server::start_with(config, &[("DATABASE_URL", url.clone())]).await?;
    let copy = crate::db::connect(&url).await?;
    let crash_opts = crash::Options {
        rounds: 1,
        writes: 0,
        clients: opts.clients,
    };
    let run = match crash::prepare(copy, &server.http, &crash_opts).await {
        Ok(run) => Arc::new(run),
        Err(e) => {
            server.stop(true).await;
            return Err(e);
        }
    };
    let versions = crash::counts(&run).await?;
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let started = Instant::now();
    let stop_at = Duration::from_secs_f64(opts.warmup_secs + opts.full_secs + opts.after_secs);
    let writers: Vec<_> = run
        .desks
        .iter()
        .enumerate()
        .map(|(i, desk)| {
            let (run, desk, http, answers) = (run.clone(), desk.clone(), server.http.clone(), answers.clone());
            let deal_v = versions.get(&desk.deal).map_or(1, |b| b.version);
            let task_v = versions.get(&desk.task).map_or(1, |b| b.version);
            tokio::spawn(async move {
                let mut w = Writer {
                    run: &run,
                    desk: &desk,
                    http: &http,
                    deal_v,
                    task_v,
                };
                w.write(i, started, stop_at, &answers).await
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs_f64(opts.warmup_secs)).await;
    let filler = dir.join("fill");
    let fill = filler.clone();
    tokio::task::spawn_blocking(move || fill_up(&fill))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let full_at = started.elapsed().as_secs_f64();
    eprintln!("the disk is full at {full_at:.1} s");
    tokio::time::sleep(Duration::from_secs_f64(opts.full_secs)).await;
    std::fs::remove_file(&filler).map_err(|e| AppError::bad(format!("cannot free the space: {e}")))?;
    let freed_at = started.elapsed().as_secs_f64();
    eprintln!("space freed at {freed_at:.1} s");
    for w in writers {
        let _ = w.await;
    }
    let log = server.log_text();
    let panics = log.lines().filter(|l| l.contains("panic")).count();
    server.stop(panics > 0).await;

    let problems = crash::check(&run).await?;
    // Closed now, not when dropped, so the tmpfs is no longer busy when it is unmounted.
    run.db.close_by_ref().await.ok();
    let answers = std::mem::take(&mut *answers.lock().map_err(|_| AppError::Internal("poisoned".into()))?);
    let mut outcomes = BTreeMap::new();
    for a in &answers {
        *outcomes.entry(a.outcome.clone()).or_insert(0) += 1;
    }
    // Each writer's first success after the freeing; the slowest one decides.
    let recovered_ms = (0..run.desks.len())
        .map(|w| {
            answers
                .iter()
                .find(|a| a.writer == w && a.at > freed_at && a.outcome == "ok")
                .map(|a| ((a.at - freed_at) * 1000.0) as u64)
        })
        .collect::<Option<Vec<u64>>>()
        .and_then(|v| v.into_iter().max());
    let failed_after_recovery = answers
        .iter()
        .filter(|a| a.at > freed_at + 5.0 && a.outcome != "ok")
        .count();
    Ok(Report {
        database_bytes,
        full_at,
        freed_at,
        acked: answers.iter().filter(|a| a.outcome == "ok").count(),
        outcomes,
        recovered_ms,
        failed_after_recovery,
        panics,
        problems,
    })
}

/// Writes 1 MiB blocks to `path` until the file system refuses (as `dd` would).
fn fill_up(path: &Path) -> AppResult<()> {
    let mut f = std::fs::File::create(path).map_err(|e| AppError::bad(format!("{}: {e}", path.display())))?;
    let block = vec![0u8; 1 << 20];
    loop {
        if f.write_all(&block).and_then(|()| f.sync_data()).is_err() {
            break;
        }
    }
    // The last partial block, byte by byte in 4 KiB steps, so that nothing is left.
    while f.write_all(&block[..4096]).and_then(|()| f.sync_data()).is_ok() {}
    Ok(())
}

/// One rep writing in turn a report, a stage move and a task edit; unlike
/// the crash harness's writer it goes on after a refusal.
struct Writer<'a> {
    run: &'a Run,
    desk: &'a Desk,
    http: &'a Http,
    deal_v: i32,
    task_v: i32,
}

const SUBMIT: &str = "mutation($in: DailyReportInput!) { submitDailyReport(input: $in) { id activities { id } } }";
const MOVE: &str =
    "mutation($id: ID!, $v: Int!, $s: String!) { moveDealStage(id: $id, version: $v, stage: $s) { version } }";
const EDIT: &str =
    "mutation($id: ID!, $v: Int!, $t: String!) { updateTask(input: {id: $id, version: $v, title: $t}) { version } }";
const STAGES: [&str; 2] = ["inquiry", "hearing"];

impl Writer<'_> {
    async fn write(&mut self, me: usize, started: Instant, stop_at: Duration, answers: &Mutex<Vec<Answer>>) {
        let mut stage = 0;
        let mut n = 0usize;
        while started.elapsed() < stop_at {
            n += 1;
            let answer = match n % 3 {
                0 => {
                    let Some(vars) = self.desk.next_report(crash::BODY) else {
                        return;
                    };
                    self.http.post(Some(&self.desk.token), SUBMIT, vars, true).await
                }
                1 => {
                    let next = (stage + 1) % STAGES.len();
                    let vars = json!({"id": self.desk.deal, "v": self.deal_v, "s": STAGES[next]});
                    let a = self.http.post(Some(&self.desk.token), MOVE, vars, true).await;
                    match &a {
                        Ok(_) => stage = next,
                        // The deal started in that stage: not a write, and
                        // the next move goes the other way.
                        Err(e) if e.contains("already in stage") => {
                            stage = next;
                            continue;
                        }
                        Err(_) => {}
                    }
                    a
                }
                _ => {
                    let vars = json!({"id": self.desk.task, "v": self.task_v, "t": format!("disk-full edit {n}")});
                    self.http.post(Some(&self.desk.token), EDIT, vars, true).await
                }
            };
            let at = started.elapsed().as_secs_f64();
            let outcome = match answer {
                Ok(done) => {
                    let data = done.answer.unwrap_or_default();
                    self.run.acknowledge(self.desk, &data);
                    if let Some(v) = data["moveDealStage"]["version"].as_i64() {
                        self.deal_v = v as i32;
                    } else if let Some(v) = data["updateTask"]["version"].as_i64() {
                        self.task_v = v as i32;
                    }
                    "ok".to_owned()
                }
                Err(e) => outcome_of(&e),
            };
            let refused = outcome != "ok";
            if let Ok(mut all) = answers.lock() {
                all.push(Answer {
                    at,
                    outcome,
                    writer: me,
                });
            }
            if refused {
                // A refused write is tried again shortly, as a client would.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// `CODE/REASON` of a GraphQL error text, or what went wrong on the wire.
fn outcome_of(error: &str) -> String {
    let field = |name: &str| {
        let key = format!("\"{name}\":\"");
        error
            .find(&key)
            .map(|i| &error[i + key.len()..])
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned)
    };
    if error.starts_with("GraphQL error") {
        match (field("code"), field("reason")) {
            (Some(code), Some(reason)) => format!("{code}/{reason}"),
            // An unexpected refusal says why, so the table explains itself.
            (Some(code), None) => match field("message") {
                Some(m) => format!("{code}: {}", m.chars().take(90).collect::<String>()),
                None => code,
            },
            _ => "an error without a code".into(),
        }
    } else if let Some(status) = error.strip_prefix("HTTP ") {
        format!("HTTP {}", status.split(':').next().unwrap_or_default())
    } else {
        "no answer".into()
    }
}
