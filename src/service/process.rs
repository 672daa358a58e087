//! A company's process managed through the API (admins): scripts checked
//! and tried on the company's own data before they go live, then published
//! as an immutable, numbered version stored in the database.
//!
//! Which process runs is read with the company row on every request
//! (`company.process_version`, else the shipped set `company.plugin_set`),
//! so a replica runs a new version from its next request on; the
//! `Process` event every replica hears compiles it there beforehand. A
//! stored process inherits, function by function, from the `default` built
//! into the binary, never from a replica's files.

use std::sync::Arc;

use entity::{company, deal, process_version};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde::Serialize;
use uuid::Uuid;

use super::{Actor, new_id, now};
use crate::{
    error::{AppError, AppResult},
    plugins::{FILES, LoadError, PluginSet, Plugins, ScriptBudget, run},
};

/// The largest script file accepted.
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// A company's own files, by [`FILES`] index: `None` inherits the whole file.
pub type OwnFiles = [Option<String>; 3];

/// Something found in a process: an error refuses it, a warning is for the
/// admin to weigh.
#[derive(Debug, Clone, Serialize, async_graphql::SimpleObject)]
#[graphql(name = "ProcessProblem")]
pub struct Problem {
    /// Stable code: `SYNTAX_ERROR`, `LOAD_ERROR`, `KPI_FAILS`, `STAGE_REMOVED`,
    /// `KPI_REMOVED`, `NO_CONTACT_LEVELS`, `NO_REACTIONS`, `NO_QUALITY_INDICATORS`,
    /// `SCORING_CHANGED`.
    pub code: String,
    /// The file, when the problem is in one.
    pub file: Option<String>,
    /// Line, from 1.
    pub line: Option<i32>,
    /// Column, from 1.
    pub column: Option<i32>,
    /// What is wrong, in words.
    pub message: String,
}

impl Problem {
    fn new(code: &str, file: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            file: file.map(str::to_owned),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn load(e: &LoadError) -> Self {
        let file = if e.set == "default" {
            format!("default/{}", e.file)
        } else {
            e.file.to_owned()
        };
        Self {
            code: if e.line.is_some() { "SYNTAX_ERROR" } else { "LOAD_ERROR" }.to_owned(),
            file: Some(file),
            line: e.line.map(|l| l as i32),
            column: e.column.map(|c| c as i32),
            message: e.message.clone(),
        }
    }
}

/// What checking a process found, and the compiled set when it loads.
pub struct Check {
    /// Problems that refuse it.
    pub errors: Vec<Problem>,
    /// Problems to weigh.
    pub warnings: Vec<Problem>,
    /// The compiled set (absent when it does not load).
    pub set: Option<Arc<PluginSet>>,
}

/// The files an admin sends, by name: each of [`FILES`] at most once, none
/// larger than [`MAX_FILE_BYTES`]. A file left out is inherited from `default`.
pub fn own_files(files: &[(String, String)]) -> AppResult<OwnFiles> {
    let mut own: OwnFiles = Default::default();
    if files.is_empty() {
        return Err(AppError::bad(
            "send at least one file: process.rhai, scoring.rhai or kpi.rhai",
        ));
    }
    for (name, source) in files {
        let Some(i) = FILES.iter().position(|f| f == name) else {
            return Err(AppError::bad(format!(
                "`{name}` is not a file of a process; the files are process.rhai, scoring.rhai and kpi.rhai"
            )));
        };
        if own[i].is_some() {
            return Err(AppError::bad(format!("{name} is sent twice")));
        }
        if source.len() > MAX_FILE_BYTES {
            return Err(AppError::bad(format!("{name} is larger than 256 KiB")));
        }
        own[i] = Some(source.clone());
    }
    Ok(own)
}

/// The files of a version row.
pub fn files_of(row: &process_version::Model, plugins: &Plugins) -> OwnFiles {
    match &row.shipped_set {
        // A shipped set's own files as this server has them.
        Some(name) => plugins.for_company(Some(name)).sources.own.clone(),
        None => [row.process_rhai.clone(), row.scoring_rhai.clone(), row.kpi_rhai.clone()],
    }
}

/// Compiles a stored version off the async workers.
async fn compile(plugins: &Plugins, version: i32, own: OwnFiles) -> Result<PluginSet, LoadError> {
    let compiler = plugins.compiler();
    match run(&ScriptBudget::unbounded(), move || Ok(compiler.stored(version, own))).await {
        Ok(compiled) => compiled,
        Err(e) => Err(LoadError {
            set: format!("stored v{version}"),
            file: FILES[0],
            line: None,
            column: None,
            message: e.message(),
        }),
    }
}

/// The process `company` runs: its stored version (compiled here once) or
/// its shipped set.
pub async fn set_of(
    db: &impl ConnectionTrait,
    plugins: &Plugins,
    company: &company::Model,
) -> AppResult<Arc<PluginSet>> {
    let Some(version) = company.process_version else {
        return Ok(plugins.for_company(company.plugin_set.as_deref()));
    };
    if let Some(set) = plugins.stored(company.id, version) {
        return Ok(set);
    }
    let row = process_version::Entity::find()
        .filter(process_version::Column::CompanyId.eq(company.id))
        .filter(process_version::Column::Version.eq(version))
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal(format!("process version {version} is missing")))?;
    load(plugins, &row).await
}

/// Compiles a stored version row and keeps it as its company's process here.
async fn load(plugins: &Plugins, row: &process_version::Model) -> AppResult<Arc<PluginSet>> {
    match compile(plugins, row.version, files_of(row, plugins)).await {
        Ok(set) => {
            let set = Arc::new(set);
            plugins.keep_stored(row.company_id, set.clone());
            Ok(set)
        }
        // It loaded when it was published: only a server with other limits
        // or another built-in default can refuse it now. The company keeps
        // working on `default` meanwhile, and the operator is told.
        Err(e) => {
            tracing::error!(company = %row.company_id, version = row.version, error = %e, "a stored process does not load here; the company runs `default`");
            Ok(plugins.for_company(None))
        }
    }
}

/// Compiles every version a replica hears published, ahead of its requests.
pub fn follow(db: sea_orm::DatabaseConnection, plugins: Arc<Plugins>, bus: &crate::events::Bus) {
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if event.kind != crate::events::EventKind::Process {
                continue;
            }
            match process_version::Entity::find_by_id(event.id).one(&db).await {
                Ok(Some(row)) if row.shipped_set.is_none() => {
                    let _ = load(&plugins, &row).await;
                }
                Ok(_) => {}
                // The next request compiles it instead.
                Err(e) => tracing::warn!(error = %e, "could not read a published process version"),
            }
        }
    });
}

/// Checks `own` as the company's next process: it compiles, its KPI
/// formulas run on sample rows, and what it would change on the company's
/// data is reported as warnings.
pub async fn check(db: &impl ConnectionTrait, actor: &Actor, plugins: &Plugins, own: OwnFiles) -> AppResult<Check> {
    let next = next_version(db, actor.company_id).await?;
    let set = match compile(plugins, next, own).await {
        Ok(set) => Arc::new(set),
        Err(e) => {
            return Ok(Check {
                errors: vec![Problem::load(&e)],
                warnings: vec![],
                set: None,
            });
        }
    };
    let errors = {
        let set = set.clone();
        run(&actor.scripts, move || Ok(super::kpi::sample_failures(&set))).await?
    }
    .into_iter()
    .map(|(key, e)| {
        Problem::new(
            "KPI_FAILS",
            Some(FILES[2]),
            format!("the KPI `{key}` fails on a sample row: {e}"),
        )
    })
    .collect();
    let warnings = changes(db, actor, &actor.plugins, &set).await?;
    Ok(Check {
        errors,
        warnings,
        set: Some(set),
    })
}

/// What replacing `before` with `after` would change, as warnings.
async fn changes(
    db: &impl ConnectionTrait,
    actor: &Actor,
    before: &PluginSet,
    after: &PluginSet,
) -> AppResult<Vec<Problem>> {
    let mut warnings = Vec::new();
    for (stage, deals) in deals_by_stage(db, actor.company_id).await? {
        if after.process.stage(&stage).is_none() {
            warnings.push(Problem::new(
                "STAGE_REMOVED",
                Some(FILES[0]),
                format!(
                    "the stage `{stage}` has {deals} deals and is not in the new process: they would show as an unknown stage"
                ),
            ));
        }
    }
    for kpi in &before.process.kpis {
        if !after.process.kpis.iter().any(|k| k.key == kpi.key) {
            warnings.push(Problem::new(
                "KPI_REMOVED",
                Some(FILES[2]),
                format!(
                    "the KPI `{}` ({}) is not in the new process: dashboards and reports reading it get nothing",
                    kpi.key, kpi.name
                ),
            ));
        }
    }
    let p = &after.process;
    for (empty, code, what) in [
        (p.contact_levels.is_empty(), "NO_CONTACT_LEVELS", "contact levels"),
        (p.reactions.is_empty(), "NO_REACTIONS", "reactions"),
        (
            p.quality_indicators.is_empty(),
            "NO_QUALITY_INDICATORS",
            "quality indicators",
        ),
    ] {
        if empty {
            warnings.push(Problem::new(
                code,
                Some(FILES[0]),
                format!("the process defines no {what}"),
            ));
        }
    }
    if before.scoring_version != after.scoring_version {
        let stale = super::rescore::stale_count(db, actor.company_id, after).await?;
        warnings.push(Problem::new(
            "SCORING_CHANGED",
            Some(FILES[1]),
            format!("the scoring changes: publishing re-scores {stale} done activities in the background"),
        ));
    }
    Ok(warnings)
}

/// The company's live deals per stage key.
pub async fn deals_by_stage(db: &impl ConnectionTrait, company_id: Uuid) -> AppResult<Vec<(String, i64)>> {
    Ok(deal::Entity::find()
        .select_only()
        .column(deal::Column::Stage)
        .column_as(deal::Column::Id.count(), "n")
        .filter(deal::Column::CompanyId.eq(company_id))
        .filter(deal::Column::DeletedAt.is_null())
        .group_by(deal::Column::Stage)
        .order_by_asc(deal::Column::Stage)
        .into_tuple()
        .all(db)
        .await?)
}

/// The company's latest version number, the one that runs (0: none yet).
pub async fn latest_version(db: &impl ConnectionTrait, company_id: Uuid) -> AppResult<i32> {
    let last: Option<Option<i32>> = process_version::Entity::find()
        .select_only()
        .column_as(process_version::Column::Version.max(), "v")
        .filter(process_version::Column::CompanyId.eq(company_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

async fn next_version(db: &impl ConnectionTrait, company_id: Uuid) -> AppResult<i32> {
    Ok(latest_version(db, company_id).await? + 1)
}

/// What a publish, rollback or switch wrote.
pub struct Published {
    /// The new version.
    pub row: process_version::Model,
    /// The process that now runs.
    pub set: Arc<PluginSet>,
    /// Whether its scoring differs from what ran before (stored scores need a re-score).
    pub scoring_changed: bool,
}

/// One new version row, made current, audited and announced.
async fn write(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    row: process_version::ActiveModel,
    set: Arc<PluginSet>,
) -> AppResult<Published> {
    let row = row.insert(txn).await.map_err(|e| {
        if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) {
            AppError::Conflict("another version was published at the same moment; try again".into())
        } else {
            AppError::from(e)
        }
    })?;
    let before = company::Entity::find_by_id(actor.company_id)
        .one(txn)
        .await?
        .ok_or(AppError::NotFound("Company"))?;
    let mut after = before.clone();
    after.process_version = if row.shipped_set.is_some() {
        None
    } else {
        Some(row.version)
    };
    if let Some(name) = &row.shipped_set {
        after.plugin_set = Some(name.clone());
    }
    after.updated_at = now();
    company::ActiveModel {
        id: Set(after.id),
        process_version: Set(after.process_version),
        plugin_set: Set(after.plugin_set.clone()),
        updated_at: Set(after.updated_at),
        ..Default::default()
    }
    .update(txn)
    .await?;
    super::audit::record(
        txn,
        actor,
        &format!("process.{}", row.kind),
        &("company", actor.company_id),
        Some(&before),
        Some(&after),
    )
    .await?;
    actor.outbox.push(crate::events::Event {
        company_id: actor.company_id,
        kind: crate::events::EventKind::Process,
        id: row.id,
        member: None,
    });
    Ok(Published {
        scoring_changed: set.scoring_version != actor.plugins.scoring_version,
        row,
        set,
    })
}

fn new_row(
    actor: &Actor,
    version: i32,
    kind: &str,
    note: &str,
    set: &PluginSet,
) -> AppResult<process_version::ActiveModel> {
    let note = note.trim();
    if note.chars().count() > 2000 {
        return Err(AppError::bad("the note is longer than 2,000 characters"));
    }
    Ok(process_version::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        version: Set(version),
        kind: Set(kind.to_owned()),
        shipped_set: Set(None),
        restored_from: Set(None),
        process_rhai: Set(set.sources.own[0].clone()),
        scoring_rhai: Set(set.sources.own[1].clone()),
        kpi_rhai: Set(set.sources.own[2].clone()),
        scoring_version: Set(set.scoring_version.clone()),
        note: Set(note.to_owned()),
        author_id: Set(Some(actor.member_id)),
        created_at: Set(now()),
    })
}

/// Refuses a process with errors, naming the first and how many there are.
fn refuse(errors: &[Problem]) -> AppError {
    let first = &errors[0];
    let at = match (first.line, first.column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        _ => String::new(),
    };
    let more = if errors.len() > 1 {
        format!("; {} more: see validateProcess", errors.len() - 1)
    } else {
        String::new()
    };
    AppError::Limited(
        "PLUGIN_ERROR",
        format!(
            "{}: {}{at}{more}",
            first.file.as_deref().unwrap_or("the process"),
            first.message
        ),
    )
}

/// Publishes `own` as the company's next version (admins).
pub async fn publish(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    plugins: &Plugins,
    own: OwnFiles,
    note: &str,
) -> AppResult<Published> {
    actor.require_admin("publish the process")?;
    let checked = check(txn, actor, plugins, own).await?;
    let set = match checked.set {
        Some(set) if checked.errors.is_empty() => set,
        _ => return Err(refuse(&checked.errors)),
    };
    let version = set.stored_version.unwrap_or(1);
    let row = new_row(actor, version, "published", note, &set)?;
    plugins.keep_stored(actor.company_id, set.clone());
    write(txn, actor, row, set).await
}

/// Makes an earlier version current again, as a new version (admins).
pub async fn rollback(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    plugins: &Plugins,
    to: i32,
    note: &str,
) -> AppResult<Published> {
    actor.require_admin("roll the process back")?;
    let old = process_version::Entity::find()
        .filter(process_version::Column::CompanyId.eq(actor.company_id))
        .filter(process_version::Column::Version.eq(to))
        .one(txn)
        .await?
        .ok_or(AppError::NotFound("Process version"))?;
    let note = if note.trim().is_empty() {
        format!("rollback to version {to}")
    } else {
        note.to_owned()
    };
    if let Some(name) = &old.shipped_set {
        return switch_to_shipped(txn, actor, plugins, name, &note, Some(to)).await;
    }
    let version = next_version(txn, actor.company_id).await?;
    let set = Arc::new(compile(plugins, version, files_of(&old, plugins)).await?);
    let mut row = new_row(actor, version, "rollback", &note, &set)?;
    row.restored_from = Set(Some(to));
    plugins.keep_stored(actor.company_id, set.clone());
    write(txn, actor, row, set).await
}

/// Makes the company follow the shipped set `name` of `plugins/` (admins).
pub async fn use_shipped(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    plugins: &Plugins,
    name: &str,
    note: &str,
) -> AppResult<Published> {
    actor.require_admin("choose the process")?;
    switch_to_shipped(txn, actor, plugins, name, note, None).await
}

async fn switch_to_shipped(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    plugins: &Plugins,
    name: &str,
    note: &str,
    restored_from: Option<i32>,
) -> AppResult<Published> {
    if !plugins.names().iter().any(|n| n == name) {
        return Err(AppError::bad(format!(
            "`{name}` is not a shipped set; the sets are {}",
            plugins.names().join(", ")
        )));
    }
    let set = plugins.for_company(Some(name));
    let version = next_version(txn, actor.company_id).await?;
    let mut row = new_row(actor, version, "shipped", note, &set)?;
    row.shipped_set = Set(Some(name.to_owned()));
    row.restored_from = Set(restored_from);
    (row.process_rhai, row.scoring_rhai, row.kpi_rhai) = (Set(None), Set(None), Set(None));
    write(txn, actor, row, set).await
}

/// The company's versions, newest first: `first` of them, older than `before`.
pub async fn versions(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    first: u64,
    before: Option<i32>,
) -> AppResult<Vec<process_version::Model>> {
    let mut q = process_version::Entity::find().filter(process_version::Column::CompanyId.eq(company_id));
    if let Some(before) = before {
        q = q.filter(process_version::Column::Version.lt(before));
    }
    Ok(q.order_by_desc(process_version::Column::Version)
        .limit(first)
        .all(db)
        .await?)
}

/// One version of the company, by number.
pub async fn version(
    db: &impl ConnectionTrait,
    company_id: Uuid,
    version: i32,
) -> AppResult<Option<process_version::Model>> {
    Ok(process_version::Entity::find()
        .filter(process_version::Column::CompanyId.eq(company_id))
        .filter(process_version::Column::Version.eq(version))
        .one(db)
        .await?)
}

/// The number of versions the company has.
pub async fn count(db: &impl ConnectionTrait, company_id: Uuid) -> AppResult<u64> {
    Ok(process_version::Entity::find()
        .filter(process_version::Column::CompanyId.eq(company_id))
        .count(db)
        .await?)
}

/// The change of one file between two versions, as a unified diff.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
#[graphql(name = "ProcessFileDiff")]
pub struct FileDiff {
    /// The file.
    pub file: String,
    /// Lines added.
    pub added: i32,
    /// Lines removed.
    pub removed: i32,
    /// The unified diff (`---`/`+++` headers, `@@` hunks, three lines of context).
    pub patch: String,
}

/// The files that differ between `old` and `new` (a file a version does not
/// have counts as empty: it inherits it).
pub fn diff(old: &OwnFiles, new: &OwnFiles) -> Vec<FileDiff> {
    FILES
        .iter()
        .enumerate()
        .filter(|(i, _)| old[*i] != new[*i])
        .map(|(i, file)| {
            let (a, b) = (old[i].as_deref().unwrap_or(""), new[i].as_deref().unwrap_or(""));
            let text = similar::TextDiff::from_lines(a, b);
            let (mut added, mut removed) = (0, 0);
            for change in text.iter_all_changes() {
                match change.tag() {
                    similar::ChangeTag::Insert => added += 1,
                    similar::ChangeTag::Delete => removed += 1,
                    similar::ChangeTag::Equal => {}
                }
            }
            let patch = text
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{file}"), &format!("b/{file}"))
                .to_string();
            FileDiff {
                file: (*file).to_owned(),
                added,
                removed,
                patch,
            }
        })
        .collect()
}
