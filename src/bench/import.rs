//! Moving from another SFA at scale (`sfa bench import`): the history of a
//! company of the benchmark sizes written as the CSV files an export gives
//! (members, customers, contacts, deals, their stage history, activities),
//! then each imported by the real command (`sfa import`, a child process)
//! into a company made for it. Each import is timed and its peak memory
//! read from the child's `VmHWM`; the rows are counted in the database
//! afterwards. The files are written row by row, never held whole.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use chrono::{DateTime, Duration as Days, Utc};
use entity::company;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Serialize;

use super::generate::Size;
use crate::{
    error::{AppError, AppResult},
    plugins::Plugins,
    service::{
        company::{self as companies, NewCompany},
        sql::Params,
    },
};

/// The company the files are imported into.
pub const IMPORT_SLUG: &str = "import-bench";

/// The open stages of the default process, in order.
const OPEN: [&str; 4] = ["inquiry", "hearing", "proposal", "negotiation"];
const KINDS: [&str; 4] = ["visit", "call", "web_meeting", "email"];
const REACTIONS: [&str; 4] = ["welcomed", "asked_questions", "met_executive", "requested_quote"];

/// One file imported.
#[derive(Debug, Serialize)]
pub struct Step {
    /// The import kind.
    pub kind: String,
    /// Data rows in the file.
    pub rows: usize,
    /// The file's size, MB.
    pub file_mb: f64,
    /// Wall time of `sfa import`, seconds.
    pub secs: f64,
    /// Its peak resident memory, MB.
    pub peak_mb: f64,
    /// Rows of the kind found in the database afterwards.
    pub in_database: u64,
}

/// What `bench import` measured.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    /// `postgres` or `sqlite`.
    pub database: String,
    /// Rows per batch.
    pub batch_rows: usize,
    /// Each import, in order.
    pub steps: Vec<Step>,
    /// Deals, their stage history and activities: seconds.
    pub history_secs: f64,
    /// The largest peak of any import, MB.
    pub peak_mb: f64,
}

impl ImportReport {
    /// A table for the terminal.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} database, `sfa import` per file, {} rows a batch\n{:<20} {:>10} {:>9} {:>9} {:>10} {:>9} {:>12}\n",
            self.database, self.batch_rows, "kind", "rows", "file MB", "seconds", "rows/s", "peak MB", "in database"
        );
        for s in &self.steps {
            out += &format!(
                "{:<20} {:>10} {:>9.1} {:>9.1} {:>10.0} {:>9.0} {:>12}\n",
                s.kind,
                s.rows,
                s.file_mb,
                s.secs,
                s.rows as f64 / s.secs.max(1e-9),
                s.peak_mb,
                s.in_database
            );
        }
        out += &format!(
            "history (deals, stage history, activities): {:.1} s; largest peak {:.0} MB\n",
            self.history_secs, self.peak_mb
        );
        out
    }
}

/// A CSV file written row by row.
struct Csv {
    path: PathBuf,
    out: csv::Writer<std::io::BufWriter<std::fs::File>>,
    rows: usize,
}

impl Csv {
    fn create(dir: &Path, name: &str, header: &[&str]) -> AppResult<Self> {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).map_err(|e| AppError::bad(format!("{}: {e}", path.display())))?;
        let mut out = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
        out.write_record(header).map_err(io)?;
        Ok(Self { path, out, rows: 0 })
    }

    fn row<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(&mut self, cells: I) -> AppResult<()> {
        self.rows += 1;
        self.out.write_record(cells).map_err(io)
    }

    fn close(mut self) -> AppResult<(PathBuf, usize)> {
        self.out.flush().map_err(|e| io(e.into()))?;
        Ok((self.path, self.rows))
    }
}

fn io(e: csv::Error) -> AppError {
    AppError::bad(format!("writing the benchmark files: {e}"))
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Writes the files of a company of `size` into `dir`; returns them in
/// import order with their kind and rows.
pub fn write_files(dir: &Path, size: Size, seed: u64, now: DateTime<Utc>) -> AppResult<Vec<(String, PathBuf, usize)>> {
    std::fs::create_dir_all(dir).map_err(|e| AppError::bad(format!("{}: {e}", dir.display())))?;
    let mut rng = StdRng::seed_from_u64(seed);
    let reps = size.members.max(2);
    let email = |i: usize| format!("rep{i:05}@import.example");
    let mut files = Vec::new();

    let mut f = Csv::create(dir, "members.csv", &["email", "name", "role"])?;
    for i in 0..reps {
        f.row([email(i), format!("Rep {i}"), "rep".into()])?;
    }
    files.push(("members", f.close()?));

    // Customer i belongs to rep i % reps; its contact has the same number.
    let mut f = Csv::create(dir, "customers.csv", &["code", "name", "owner_email"])?;
    for i in 0..size.customers {
        f.row([format!("C{i:07}"), format!("Customer {i}"), email(i % reps)])?;
    }
    files.push(("customers", f.close()?));
    let mut f = Csv::create(dir, "contacts.csv", &["code", "customer_code", "name", "level"])?;
    for i in 0..size.customers {
        let level = ["staff", "manager", "executive"][i % 3];
        f.row([
            format!("K{i:07}"),
            format!("C{i:07}"),
            format!("Contact {i}"),
            level.into(),
        ])?;
    }
    files.push(("contacts", f.close()?));

    // Deals over three years, each with its path through the stages (3.2
    // moves on average); the history file keeps a deal's rows together.
    let mut deals = Csv::create(
        dir,
        "deals.csv",
        &[
            "code",
            "customer_code",
            "name",
            "stage",
            "owner_email",
            "amount",
            "expected_close",
            "status",
            "created_at",
            "closed_at",
            "lost_reason",
        ],
    )?;
    let mut history = Csv::create(
        dir,
        "deal-stage-history.csv",
        &["deal_code", "from_stage", "to_stage", "changed_at"],
    )?;
    let span = 3 * 365 * 24;
    // Each deal's customer and creation, for the activities after.
    let mut deal_of: Vec<(usize, DateTime<Utc>)> = Vec::with_capacity(size.deals);
    for i in 0..size.deals {
        let customer = rng.random_range(0..size.customers.max(1));
        let created = now - Days::hours(rng.random_range(24 * 10..span));
        let reached = rng.random_range(0..OPEN.len());
        let outcome = match rng.random_range(0..10) {
            0..4 => Some("won"),
            4..7 => Some("lost"),
            _ => None,
        };
        let room = (now - created).num_hours() - 1;
        let steps = reached + 1 + usize::from(outcome.is_some());
        let gap = (room / steps as i64).clamp(1, 24 * 20);
        let mut t = created;
        let mut from = String::new();
        let code = format!("D{i:08}");
        let mut path: Vec<&str> = OPEN[..=reached].to_vec();
        path.extend(outcome);
        for (k, stage) in path.iter().enumerate() {
            if k > 0 {
                t += Days::hours(rng.random_range(1..=gap));
            }
            history.row([code.as_str(), from.as_str(), stage, &time(t)])?;
            from = (*stage).into();
        }
        let (status, closed) = match outcome {
            Some(o) => (o, time(t)),
            None => ("open", String::new()),
        };
        let expected = (t + Days::days(rng.random_range(10..120))).date_naive().to_string();
        deals.row([
            code.as_str(),
            &format!("C{customer:07}"),
            &format!("Deal {i}"),
            path[path.len() - 1],
            &email(customer % reps),
            &(rng.random_range(10..500) * 10_000).to_string(),
            &expected,
            status,
            &time(created),
            &closed,
            if outcome == Some("lost") { "price" } else { "" },
        ])?;
        deal_of.push((customer, created));
    }
    files.push(("deals", deals.close()?));
    files.push(("deal-stage-history", history.close()?));

    let mut f = Csv::create(
        dir,
        "activities.csv",
        &[
            "ref",
            "customer_code",
            "member_email",
            "kind",
            "scheduled_at",
            "status",
            "done_at",
            "subject",
            "deal_code",
            "contact_codes",
            "reactions",
        ],
    )?;
    for i in 0..size.activities {
        // Half of them on a deal, after it was created; the others with the customer alone.
        let (customer, deal, after) = if i % 2 == 0 && !deal_of.is_empty() {
            let d = rng.random_range(0..deal_of.len());
            (deal_of[d].0, format!("D{d:08}"), deal_of[d].1)
        } else {
            (
                rng.random_range(0..size.customers.max(1)),
                String::new(),
                now - Days::hours(span),
            )
        };
        let room = (now - after).num_minutes().max(2);
        let at = after + Days::minutes(rng.random_range(1..room));
        let reactions: Vec<&str> = REACTIONS.iter().copied().filter(|_| rng.random_bool(0.3)).collect();
        f.row([
            format!("A{i:08}"),
            format!("C{customer:07}"),
            email(customer % reps),
            KINDS[i % KINDS.len()].into(),
            time(at),
            "done".into(),
            time(at),
            format!("Activity {i}"),
            deal,
            format!("K{customer:07}"),
            reactions.join(";"),
        ])?;
    }
    files.push(("activities", f.close()?));
    Ok(files.into_iter().map(|(k, (p, n))| (k.to_owned(), p, n)).collect())
}

/// Options of `bench import`.
pub struct Options {
    /// Rows of each kind.
    pub size: Size,
    /// Seed of the generator.
    pub seed: u64,
    /// Where the files go (kept afterwards).
    pub dir: PathBuf,
    /// Rows per batch of `sfa import`.
    pub batch_rows: usize,
    /// `--config` to pass on to the child commands.
    pub config: Option<PathBuf>,
}

/// Writes the files, creates the company and imports each file with the
/// real command; fails when an import fails or its rows are not all in
/// the database.
pub async fn run(db: &DatabaseConnection, plugins: &Plugins, opts: &Options) -> AppResult<ImportReport> {
    if company::Entity::find()
        .filter(company::Column::Slug.eq(IMPORT_SLUG))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::bad(format!(
            "the database already holds `{IMPORT_SLUG}`: run on a fresh database (or `sfa company delete {IMPORT_SLUG} --confirm {IMPORT_SLUG}`)"
        )));
    }
    let now = Utc::now();
    let started = Instant::now();
    let files = write_files(&opts.dir, opts.size, opts.seed, now)?;
    eprintln!(
        "files written in {:.1} s to {}",
        started.elapsed().as_secs_f64(),
        opts.dir.display()
    );
    let created = companies::create(
        db,
        plugins,
        NewCompany {
            name: "Import benchmark".into(),
            slug: IMPORT_SLUG.into(),
            admin_email: "admin@import.example".into(),
            admin_name: None,
            time_zone: None,
            currency: None,
            process: Some("default".into()),
            password: None,
        },
    )
    .await?;
    let company_id = created.company.id;
    let exe = std::env::current_exe().map_err(|e| AppError::bad(e.to_string()))?;
    let mut steps = Vec::new();
    for (kind, path, rows) in files {
        let mut cmd = tokio::process::Command::new(&exe);
        if let Some(c) = &opts.config {
            cmd.arg("--config").arg(c);
        }
        cmd.args(["import", &kind])
            .arg(&path)
            .args(["--company", IMPORT_SLUG, "--batch-rows", &opts.batch_rows.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let t = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| AppError::bad(format!("{}: {e}", exe.display())))?;
        let pid = child.id().map(|p| p.to_string()).unwrap_or_default();
        // The peak is the child's own high-water mark, read until it exits.
        let watch = tokio::spawn(async move {
            let mut peak = 0;
            loop {
                let (_, hwm) = crate::metrics::proc_rss_kib(&pid);
                if hwm == 0 {
                    return peak;
                }
                peak = peak.max(hwm);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| AppError::bad(e.to_string()))?;
        let secs = t.elapsed().as_secs_f64();
        let peak_kib = watch.await.unwrap_or(0);
        if !out.status.success() {
            let tail: String = String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(12)
                .collect::<Vec<_>>()
                .join("\n");
            return Err(AppError::bad(format!("`sfa import {kind}` failed:\n{tail}")));
        }
        let in_database = count(db, company_id, &kind).await?;
        eprintln!("{kind}: {rows} rows in {secs:.1} s, peak {} MB", peak_kib / 1024);
        steps.push(Step {
            kind,
            rows,
            file_mb: std::fs::metadata(&path).map_or(0, |m| m.len()) as f64 / 1e6,
            secs,
            peak_mb: peak_kib as f64 / 1024.0,
            in_database,
        });
    }
    for s in &steps {
        // Members: the file's reps and the admin the company was made with.
        let expected = s.rows as u64 + u64::from(s.kind == "members");
        if s.in_database != expected {
            return Err(AppError::bad(format!(
                "{}: {} rows in the file, {} in the database",
                s.kind, s.rows, s.in_database
            )));
        }
    }
    Ok(ImportReport {
        database: format!("{:?}", db.get_database_backend()).to_lowercase(),
        batch_rows: opts.batch_rows,
        history_secs: steps
            .iter()
            .filter(|s| matches!(s.kind.as_str(), "deals" | "deal-stage-history" | "activities"))
            .map(|s| s.secs)
            .sum(),
        peak_mb: steps.iter().map(|s| s.peak_mb).fold(0.0, f64::max),
        steps,
    })
}

/// Rows of `kind` the company has.
async fn count(db: &DatabaseConnection, company_id: uuid::Uuid, kind: &str) -> AppResult<u64> {
    let table = match kind {
        "members" => "member",
        "customers" => "customer",
        "contacts" => "contact",
        "deals" => "deal",
        "deal-stage-history" => "deal_stage_history",
        "activities" => "activity",
        _ => return Ok(0),
    };
    let p = Params::new(db.get_database_backend(), company_id);
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE company_id = $1");
    let n: i64 = match db.query_one_raw(p.statement(sql)).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}
