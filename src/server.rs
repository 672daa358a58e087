//! The subcommands' bodies: serve, migrate, seed the demo, export the schema.

use std::path::Path;

use crate::{config::Config, db, seed, seed::DemoSize, state::AppState};

async fn open(config: &Config) -> Result<sea_orm::DatabaseConnection, String> {
    let url = config.database_url();
    let db = db::connect(&url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    db::migrate(&db).await.map_err(|e| format!("migration failed: {e}"))?;
    Ok(db)
}

fn plugins(config: &Config) -> Result<crate::plugins::Plugins, String> {
    crate::plugins::Plugins::load(&config.plugins_dir, config.scripts).map_err(|e| e.message())
}

/// Runs the HTTP server until SIGTERM or Ctrl-C.
pub async fn serve(config: Config, demo: bool) -> Result<(), String> {
    let db = open(&config).await?;
    if demo {
        match seed::ensure_demo(&db, &plugins(&config)?, 42, DemoSize::default())
            .await
            .map_err(|e| e.message())?
        {
            Some(summary) => println!("{summary}"),
            None => println!("demo company already present; log in as {}", seed::DEMO_LOGIN_HINT),
        }
    }
    let listen = config.listen;
    let config_url = config.database_url();
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let mut db = db;
    let counter = metrics.clone();
    db.set_metric_callback(move |_| counter.statement());
    let state = AppState::with_metrics(db, config, metrics)
        .await
        .map_err(|e| e.message())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("SFA server listening on http://{addr}/graphql (GraphiQL in a browser, POST for the API)");
    watch_database(&state, &config_url).await;
    let shutdown = state.shutdown.clone();
    let grace = std::time::Duration::from_secs(state.config.shutdown_grace_secs);
    let stop = shutdown.clone();
    // On SIGTERM: stop accepting, close the WebSockets (1001), let the
    // requests in flight finish, and exit when they have or the grace period is over.
    let limits = crate::listener::Limits::of(&state.config);
    let server = crate::listener::serve(listener, crate::app(state), limits, async move {
        shutdown_signal().await;
        stop.begin();
    });
    let deadline = async {
        shutdown.stopping().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => {}
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "grace period over; exiting with requests still in flight");
            return Ok(());
        }
    }
    // Give the WebSocket close frames a moment to go out.
    let closing = std::time::Instant::now();
    while shutdown.open_sockets() > 0 && closing.elapsed() < std::time::Duration::from_secs(2) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tracing::info!("server stopped");
    Ok(())
}

/// Starts the database monitor (see [`crate::state::Breaker::monitor`]) on a
/// one-connection pool of its own: it keeps `/healthz` answered from fresh
/// state, and opens the circuit breaker when the database goes away.
pub async fn watch_database(state: &AppState, url: &str) {
    let monitor = db::connect_with(url, |o| {
        o.max_connections(1)
            .min_connections(0)
            .connect_timeout(std::time::Duration::from_secs(1))
            .acquire_timeout(std::time::Duration::from_millis(1500));
    })
    .await;
    match monitor {
        Ok(m) => {
            if m.ping().await.is_ok() {
                state.breaker.answered();
            }
            state.breaker.monitor(m, state.db.clone());
        }
        Err(e) => tracing::warn!(error = %e, "no database monitor; /healthz asks the pool"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Migrates and exits.
pub async fn migrate(config: &Config) -> Result<(), String> {
    open(config).await?;
    println!("database is up to date");
    Ok(())
}

/// Creates the demo company.
pub async fn seed_demo(config: &Config, seed_value: u64, size: DemoSize) -> Result<(), String> {
    let db = open(config).await?;
    match seed::ensure_demo(&db, &plugins(config)?, seed_value, size)
        .await
        .map_err(|e| e.message())?
    {
        Some(summary) => println!("{summary}"),
        None => println!("demo company already present; log in as {}", seed::DEMO_LOGIN_HINT),
    }
    Ok(())
}

/// Reads a password from the first line of stdin (a pipe or a terminal).
fn password_from_stdin() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("no password on stdin".into());
    }
    Ok(password)
}

/// How to log in, for the operator to pass on.
fn login_hint(config: &Config, email: &str, password: &str, slug: &str) -> String {
    format!(
        "log in: POST http://{}/graphql\n  mutation {{ login(email: \"{email}\", password: \"{password}\", company: \"{slug}\") {{ token }} }}\n\
         then change the password: mutation {{ changePassword(currentPassword: \"…\", newPassword: \"…\") {{ token }} }}",
        config.listen
    )
}

/// `sfa company …`.
pub async fn company(config: &Config, action: crate::cli::CompanyAction) -> Result<(), String> {
    use crate::{cli::CompanyAction, service::company};
    let db = open(config).await?;
    match action {
        CompanyAction::Create {
            name,
            slug,
            admin_email,
            admin_name,
            time_zone,
            currency,
            process,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(password_from_stdin()?)
            } else {
                None
            };
            let plugins = plugins(config)?;
            let new = company::NewCompany {
                name,
                slug,
                admin_email,
                admin_name,
                time_zone: Some(time_zone),
                currency: Some(currency),
                process,
                password: password.clone(),
            };
            let created = company::create(&db, &plugins, new).await.map_err(|e| e.message())?;
            let c = &created.company;
            println!(
                "created company {:?} ({}): time zone {}, currency {}, process {}",
                c.name,
                c.slug,
                c.time_zone,
                c.currency,
                c.plugin_set.as_deref().unwrap_or("default")
            );
            println!("admin: {} ({})", created.admin.email, created.admin.name);
            match &created.password {
                Some(p) => {
                    println!("one-time password: {p}   (shown once)");
                    println!("{}", login_hint(config, &created.admin.email, p, &c.slug));
                }
                None => println!(
                    "{}",
                    login_hint(config, &created.admin.email, "<the password given>", &c.slug)
                ),
            }
        }
        CompanyAction::List { json } => {
            let all = company::list(&db, None).await.map_err(|e| e.message())?;
            if json {
                for s in &all {
                    let c = &s.company;
                    let line = serde_json::json!({
                        "slug": c.slug, "name": c.name, "id": c.id, "process": c.plugin_set.as_deref().unwrap_or("default"),
                        "timeZone": c.time_zone, "currency": c.currency, "createdAt": c.created_at,
                        "disabledAt": c.disabled_at, "members": s.members, "activeMembers": s.active_members,
                    });
                    println!("{line}");
                }
            } else {
                println!(
                    "{:<24} {:<32} {:<10} {:>8} {:>7}  {:<16} created",
                    "slug", "name", "process", "members", "active", "state"
                );
                for s in &all {
                    let c = &s.company;
                    let state = c.disabled_at.map_or_else(
                        || "enabled".to_owned(),
                        |t| format!("disabled {}", t.format("%Y-%m-%d")),
                    );
                    let name: String = c.name.chars().take(32).collect();
                    println!(
                        "{:<24} {:<32} {:<10} {:>8} {:>7}  {:<16} {}",
                        c.slug,
                        name,
                        c.plugin_set.as_deref().unwrap_or("default"),
                        s.members,
                        s.active_members,
                        state,
                        c.created_at.format("%Y-%m-%d")
                    );
                }
                println!("{} {}", all.len(), if all.len() == 1 { "company" } else { "companies" });
            }
        }
        CompanyAction::Disable { slug } => {
            let c = company::set_disabled(&db, &slug, true).await.map_err(|e| e.message())?;
            println!(
                "{} is disabled: its members are refused until `sfa company enable {}`",
                c.slug, c.slug
            );
        }
        CompanyAction::Enable { slug } => {
            let c = company::set_disabled(&db, &slug, false)
                .await
                .map_err(|e| e.message())?;
            println!("{} is enabled", c.slug);
        }
        CompanyAction::Delete { slug, confirm } => {
            let confirm = confirm.unwrap_or_default();
            let deleted = company::delete(&db, &slug, &confirm).await.map_err(|e| e.message())?;
            println!(
                "deleted {} ({:?}) and all its data: {} rows",
                deleted.company.slug, deleted.company.name, deleted.rows
            );
        }
    }
    Ok(())
}

/// `sfa member …`.
pub async fn member(config: &Config, action: crate::cli::MemberAction) -> Result<(), String> {
    let crate::cli::MemberAction::SetPassword {
        company,
        email,
        password_stdin,
    } = action;
    let password = if password_stdin {
        Some(password_from_stdin()?)
    } else {
        None
    };
    let db = open(config).await?;
    let set = crate::service::company::set_password(&db, &company, &email, password)
        .await
        .map_err(|e| e.message())?;
    println!(
        "the password of {} ({company}) is set; the member is active and signed out everywhere",
        set.member.email
    );
    if let Some(p) = &set.password {
        println!("one-time password: {p}   (shown once)");
        println!("{}", login_hint(config, &set.member.email, p, &company));
    }
    Ok(())
}

/// An import from the command line.
pub struct ImportJob {
    /// `customers`, `contacts`, `products`, `sales-records` or `touchpoints`.
    pub kind: String,
    /// The file.
    pub file: std::path::PathBuf,
    /// The company's slug.
    pub company: String,
    /// The admin's e-mail the import is recorded as.
    pub as_admin: Option<String>,
    /// `csv` or `json`; from the file name when unset.
    pub format: Option<String>,
    /// Dry run, skip bad rows.
    pub options: crate::service::import::Options,
    /// Rows read, checked and written at a time.
    pub batch_rows: usize,
}

/// Imports a file into a company; prints the report. Fails (exit 1) when
/// the file had bad rows and nothing was imported.
pub async fn import(config: &Config, job: ImportJob) -> Result<(), String> {
    use crate::service::import::{self, ImportFormat, ImportKind};
    use entity::{company, enums::Role, member};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let kind = ImportKind::parse(&job.kind).ok_or_else(|| {
        format!(
            "unknown kind `{}` (customers, contacts, products, sales-records, touchpoints, deals, \
             deal-stage-history, teams, members, targets, activities, tasks)",
            job.kind
        )
    })?;
    let format = match job.format.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => ImportFormat::from_name(&job.file.to_string_lossy()),
        Some("csv") => ImportFormat::Csv,
        Some("json") => ImportFormat::Json,
        Some(other) => return Err(format!("unknown format `{other}` (csv or json)")),
    };
    // Opened here to fail before the database is; read as it is imported.
    std::fs::File::open(&job.file).map_err(|e| format!("{}: {e}", job.file.display()))?;
    let db = open(config).await?;
    let company = company::Entity::find()
        .filter(company::Column::Slug.eq(&job.company))
        .one(&db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no company has the slug `{}`", job.company))?;
    let mut admins = member::Entity::find()
        .filter(member::Column::CompanyId.eq(company.id))
        .filter(member::Column::Role.eq(Role::Admin))
        .filter(member::Column::Active.eq(true))
        .order_by_asc(member::Column::CreatedAt);
    if let Some(email) = &job.as_admin {
        admins = admins.filter(member::Column::Email.eq(email.to_lowercase()));
    }
    let admin = admins
        .one(&db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("`{}` has no such active admin", job.company))?;
    let plugins = plugins(config)?;
    let actor = crate::service::auth::actor_of(&db, &plugins, &admin, None)
        .await
        .map_err(|e| e.message())?;
    let started = std::time::Instant::now();
    let txn = crate::db::begin_write(&db).await.map_err(|e| e.to_string())?;
    let source = import::Source::Path(job.file.clone());
    let report = import::run_in_batches(&txn, &actor, kind, format, &source, job.options, job.batch_rows)
        .await
        .map_err(|e| e.message())?;
    txn.commit().await.map_err(|e| e.to_string())?;
    for e in &report.errors {
        eprintln!("line {}: {}", e.line, e.message);
    }
    if report.error_count > report.errors.len() {
        eprintln!("… and {} more bad rows", report.error_count - report.errors.len());
    }
    let verb = if report.dry_run || (report.error_count > 0 && !job.options.skip_bad_rows) {
        "would import"
    } else {
        "imported"
    };
    println!(
        "{verb} {} rows in {:.1} s: {} created, {} updated, {} unchanged, {} skipped, {} bad",
        report.rows,
        started.elapsed().as_secs_f64(),
        report.created,
        report.updated,
        report.unchanged,
        report.skipped,
        report.error_count
    );
    if report.error_count > 0 && !job.options.skip_bad_rows {
        return Err("the file has bad rows, so nothing was imported (fix them, or pass --skip-bad-rows)".into());
    }
    Ok(())
}

/// Runs a benchmark command on the configured database.
pub async fn bench(
    config: &Config,
    config_file: Option<std::path::PathBuf>,
    action: crate::cli::BenchAction,
) -> Result<(), String> {
    use crate::{bench, cli::BenchAction};
    let db = open(config).await?;
    match action {
        BenchAction::Generate { size, seed, deals } => {
            let mut size = bench::generate::Size::named(&size).map_err(|e| e.message())?;
            if let Some(d) = deals {
                size.deals = d;
            }
            let started = std::time::Instant::now();
            let made = bench::generate::generate(&db, size, seed)
                .await
                .map_err(|e| e.message())?;
            let counts: Vec<String> = made.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
            println!(
                "benchmark company generated in {:.1} s: {}",
                started.elapsed().as_secs_f64(),
                counts.join(", ")
            );
        }
        BenchAction::WritePath { runs } => {
            let report = bench::write::run(&db, &plugins(config)?, runs.max(1))
                .await
                .map_err(|e| e.message())?;
            print!("{}", report.table());
        }
        BenchAction::Http {
            clients,
            secs,
            only,
            rows_read,
            check,
            json,
        } => {
            let opts = bench::http::Options {
                clients,
                secs,
                only,
                rows_read,
                check,
                config: config_file,
                database_url: config.database_url(),
            };
            let report = bench::http::run(&db, &plugins(config)?, &opts)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
        }
        BenchAction::All {
            clients,
            secs,
            runs,
            subscribers,
            subscribed_deals,
            events,
            rate,
            rows_read,
            json,
        } => {
            let opts = bench::http::Options {
                clients,
                secs,
                only: vec![],
                rows_read,
                check: false,
                config: config_file,
                database_url: config.database_url(),
            };
            let fanout = bench::all::Fanout {
                subscribers,
                deals: subscribed_deals.max(1),
                events,
                rate,
            };
            let report = bench::all::run(&db, &plugins(config)?, &opts, runs.max(1), &fanout)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
        }
        BenchAction::Import {
            size,
            seed,
            dir,
            batch_rows,
            json,
        } => {
            let size = bench::generate::Size::named(&size).map_err(|e| e.message())?;
            let dir =
                dir.unwrap_or_else(|| std::env::temp_dir().join(format!("sfa-import-bench-{}", std::process::id())));
            let opts = bench::import::Options {
                size,
                seed,
                dir,
                batch_rows,
                config: config_file,
            };
            let report = bench::import::run(&db, &plugins(config)?, &opts)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
        }
        BenchAction::Rescore { json } => {
            let report = bench::rescore::run(&db, &plugins(config)?)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
        }
        BenchAction::Analytics { runs, json } => {
            let report = bench::analytics::run(&db, &plugins(config)?, runs.max(1))
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
        }
    }
    Ok(())
}

/// Runs a reliability harness on the configured database.
pub async fn reliability(
    config: &Config,
    config_file: Option<std::path::PathBuf>,
    action: crate::cli::ReliabilityAction,
) -> Result<(), String> {
    use crate::{bench, cli::ReliabilityAction};
    let db = open(config).await?;
    match action {
        ReliabilityAction::Crash {
            rounds,
            writes,
            clients,
            json,
        } => {
            let opts = bench::crash::Options {
                rounds,
                writes,
                clients,
            };
            let report = bench::crash::run(db, config_file.as_deref(), &opts)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
            if !report.passed() {
                return Err("the crash check failed (see the table)".into());
            }
        }
        ReliabilityAction::DiskFull {
            size_mb,
            dir,
            warmup,
            full,
            after,
            clients,
            json,
        } => {
            let opts = bench::diskfull::Options {
                size_mb,
                dir,
                warmup_secs: warmup,
                full_secs: full,
                after_secs: after,
                clients,
            };
            let report = bench::diskfull::run(&db, config_file.as_deref(), &opts)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
            if !report.passed() {
                return Err("disk full: see the table".into());
            }
        }
        ReliabilityAction::Hostile { repeats, strict, json } => {
            let report = bench::hostile::run(&db, config_file.as_deref(), repeats)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
            if !report.answered_right() || (strict && !report.in_time()) {
                return Err("hostile requests: see the table".into());
            }
        }
        ReliabilityAction::Plugins {
            repeats,
            reloads,
            strict,
            json,
        } => {
            let report = bench::scripts::run(&db, config_file.as_deref(), &config.plugins_dir, repeats, reloads)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
            if !report.correct() || (strict && !report.in_budget()) {
                return Err("runaway scripts: see the table".into());
            }
        }
        ReliabilityAction::Outage {
            stop_cmd,
            start_cmd,
            down,
            json,
        } => {
            let down = std::time::Duration::from_secs_f64(down.max(0.0));
            let report = bench::outage::run(&db, config_file.as_deref(), &stop_cmd, &start_cmd, down)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
            if !report.passed() {
                return Err("database outage: see the table".into());
            }
        }
        ReliabilityAction::Fuzz { examples, seed, json } => {
            let report = bench::fuzz::run(&db, config_file.as_deref(), examples, seed)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
            if !report.passed() {
                return Err("fuzzing found failures: see above".into());
            }
        }
        ReliabilityAction::Soak {
            minutes,
            warmup,
            rate,
            clients,
            window,
            strict,
            json,
        } => {
            let opts = bench::soak::Options {
                secs: minutes * 60.0,
                warmup_secs: warmup,
                rate,
                clients,
                window_secs: window.max(1.0),
            };
            let report = bench::soak::run(db, config_file.as_deref(), &opts)
                .await
                .map_err(|e| e.message())?;
            emit(&report.table(), &report, json)?;
            if !report.correct() || (strict && !report.in_budget()) {
                return Err("soak: see the table".into());
            }
        }
    }
    Ok(())
}

/// Prints a benchmark's table and, when asked, writes its report as JSON.
fn emit(table: &str, report: &impl serde::Serialize, json: Option<std::path::PathBuf>) -> Result<(), String> {
    print!("{table}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Compiles every plugin set and prints what it defines; with `bench`,
/// times that many scorings per set (one core, no database).
pub fn check_plugins(config: &Config, bench: Option<u64>) -> Result<(), String> {
    let loaded = plugins(config)?;
    for name in loaded.names() {
        let set = loaded.for_company(Some(&name));
        let p = &set.process;
        // Every KPI must evaluate on an empty row (nothing done, no targets)
        // and on a busy one, without failing.
        if let Some((key, e)) = crate::service::kpi::sample_failures(&set).into_iter().next() {
            return Err(format!("{name}: KPI `{key}` fails: {e}"));
        }
        println!(
            "{name}: ok (version {}; {} stages, {} quality indicators, {} contact levels, {} reactions, {} KPIs)",
            set.version,
            p.stages.len(),
            p.quality_indicators.len(),
            p.contact_levels.len(),
            p.reactions.len(),
            p.kpis.len()
        );
        let inherited: Vec<String> = set
            .functions
            .iter()
            .filter(|f| f.inherited)
            .map(|f| format!("{}/{}", f.file, f.name))
            .collect();
        if name != "default" {
            println!(
                "  from default: {}",
                if inherited.is_empty() {
                    "nothing".into()
                } else {
                    inherited.join(", ")
                }
            );
        }
        if let Some(n) = bench {
            let [_, busy] = crate::service::kpi::sample_rows();
            let reactions: Vec<String> = p.reactions.iter().take(2).map(|r| r.key.clone()).collect();
            let contacts: Vec<(String, Option<String>)> = p
                .contact_levels
                .iter()
                .map(|l| (l.key.clone(), Some("営業部".to_owned())))
                .collect();
            let started = std::time::Instant::now();
            for i in 0..n {
                let kind = ["visit", "call", "web_meeting", "email"][(i % 4) as usize];
                let input = crate::plugins::activity_input(kind, 3, Some(60), &reactions, &contacts);
                set.activity_points(input).map_err(|e| e.message())?;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "  scoring: {n} activities in {secs:.3} s = {:.0} activities/s on one core ({:.2} µs each)",
                n as f64 / secs,
                secs * 1e6 / n as f64
            );
            let rows = (n / 10).max(1);
            let started = std::time::Instant::now();
            for _ in 0..rows {
                std::hint::black_box(crate::service::kpi::evaluate(&set, &busy));
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "  KPIs: {rows} rows × {} KPIs in {secs:.3} s = {:.0} rows/s on one core ({:.2} µs per row)",
                p.kpis.len(),
                rows as f64 / secs,
                secs * 1e6 / rows as f64
            );
        }
    }
    Ok(())
}

/// Writes the SDL to `file` or stdout.
pub fn export_schema(file: Option<&Path>) -> Result<(), String> {
    let sdl = crate::graphql::sdl();
    match file {
        Some(path) => std::fs::write(path, sdl).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            print!("{sdl}");
            Ok(())
        }
    }
}
