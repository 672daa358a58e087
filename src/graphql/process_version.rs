//! The company's process through the API (admins): check and try scripts
//! on the company's own data, publish them as a numbered version, roll back,
//! or follow a shipped set of `plugins/` (see `plugins/README.md`).

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use entity::process_version;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    context::{db, writer},
    process::{ProcessInfo, ScoringDryRun},
};
use crate::{
    error::AppError,
    in_txn,
    plugins::{PluginSet, Plugins},
    service::{
        self,
        process::{FileDiff, OwnFiles, Problem, Published},
    },
};

/// One script file of a process.
#[derive(InputObject)]
pub struct ProcessFileInput {
    /// `process.rhai`, `scoring.rhai` or `kpi.rhai`.
    pub name: String,
    /// Its text.
    pub source: String,
}

/// One script file of a version.
#[derive(SimpleObject)]
pub struct ProcessFile {
    /// `process.rhai`, `scoring.rhai` or `kpi.rhai`.
    pub name: String,
    /// Its text.
    pub source: String,
}

fn own(files: Vec<ProcessFileInput>) -> Result<OwnFiles, AppError> {
    let files: Vec<(String, String)> = files.into_iter().map(|f| (f.name, f.source)).collect();
    service::process::own_files(&files)
}

/// What checking a process found. Nothing was written.
pub struct ProcessValidation {
    check: service::process::Check,
    company_id: uuid::Uuid,
}

#[Object]
impl ProcessValidation {
    /// True when it has no errors: it can be published.
    async fn ok(&self) -> bool {
        self.check.errors.is_empty() && self.check.set.is_some()
    }
    /// What refuses it: syntax errors with file, line and column, load
    /// errors, KPI formulas failing on sample rows.
    async fn errors(&self) -> &[Problem] {
        &self.check.errors
    }
    /// What it would change on the company's data, for the admin to weigh:
    /// stages with deals that disappear, KPIs removed, no contact levels,
    /// reactions or quality indicators, a scoring change.
    async fn warnings(&self) -> &[Problem] {
        &self.check.warnings
    }
    /// The process as it would run (null when it does not load): its
    /// stages, KPIs and where each function comes from.
    async fn process(&self) -> Option<ProcessInfo> {
        self.check.set.clone().map(|set| ProcessInfo::new(set, self.company_id))
    }
}

/// A stage the company's deals are in that the new process lacks.
pub struct UnknownStage {
    key: String,
    name: String,
    deals: i64,
    sample: Vec<entity::deal::Model>,
}

#[Object]
impl UnknownStage {
    /// The stage key the deals carry.
    async fn key(&self) -> &str {
        &self.key
    }
    /// Its name in the process that runs now.
    async fn name(&self) -> &str {
        &self.name
    }
    /// Live deals in it.
    async fn deals(&self) -> i64 {
        self.deals
    }
    /// Up to 20 of them, newest first.
    async fn sample(&self) -> Vec<super::deal::Deal> {
        self.sample.iter().cloned().map(super::deal::Deal).collect()
    }
}

/// One KPI of one team this month, now and with the new process.
#[derive(SimpleObject)]
#[graphql(name = "ProcessKpiChange")]
pub struct KpiChange {
    /// The team (a top-level team of the company).
    pub team_id: async_graphql::ID,
    /// Its name.
    pub team_name: String,
    /// The KPI key.
    pub key: String,
    /// Its name (in the new process when it has the KPI).
    pub name: String,
    /// The value now (null: no value, or the process that runs has no such KPI).
    pub before: Option<f64>,
    /// The value with the new process.
    pub after: Option<f64>,
}

/// What a new process would change on the company's own data. Nothing was written.
#[derive(SimpleObject)]
pub struct ProcessDryRun {
    /// Errors and warnings, as `validateProcess` gives them.
    pub validation: ProcessValidation,
    /// The energy ranking before and after (null when it does not load).
    pub scoring: Option<ScoringDryRun>,
    /// Stages of the company's deals the new process lacks: those deals would show an unknown stage.
    pub unknown_stages: Vec<UnknownStage>,
    /// This month's KPI values of each top-level team, before and after.
    pub kpis: Vec<KpiChange>,
}

/// How a version came to be.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ProcessVersionKind {
    /// Scripts published by an admin.
    Published,
    /// An earlier version made current again.
    Rollback,
    /// A switch to a shipped set of `plugins/`.
    Shipped,
}

/// One version of the company's process, immutable.
pub struct ProcessVersion {
    row: process_version::Model,
    active: bool,
}

#[Object]
impl ProcessVersion {
    /// 1, 2, 3…; the highest runs.
    async fn version(&self) -> i32 {
        self.row.version
    }
    /// How it came to be.
    async fn kind(&self) -> ProcessVersionKind {
        match self.row.kind.as_str() {
            "rollback" => ProcessVersionKind::Rollback,
            "shipped" => ProcessVersionKind::Shipped,
            _ => ProcessVersionKind::Published,
        }
    }
    /// Whether it is the version that runs.
    async fn active(&self) -> bool {
        self.active
    }
    /// The shipped set followed (kind SHIPPED).
    async fn shipped_set(&self) -> Option<&str> {
        self.row.shipped_set.as_deref()
    }
    /// The version a rollback restored.
    async fn restored_from(&self) -> Option<i32> {
        self.row.restored_from
    }
    /// Why, in the author's words.
    async fn note(&self) -> &str {
        &self.row.note
    }
    /// Who made it (null: the operator, or a member since deleted).
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<super::org::Member>> {
        let Some(id) = self.row.author_id else {
            return Ok(None);
        };
        Ok(super::loader::related::<entity::member::Entity>(ctx, id)
            .await
            .ok()
            .map(super::org::Member))
    }
    /// When.
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.row.created_at
    }
    /// Version of its scoring script, stored with every energy score.
    async fn scoring_version(&self) -> &str {
        &self.row.scoring_version
    }
    /// The company's own files of this version (those it lacks come from
    /// `default`, function by function); for a shipped set, that set's files.
    async fn files(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProcessFile>> {
        let plugins = ctx.data::<Arc<Plugins>>()?;
        Ok(files(&service::process::files_of(&self.row, plugins)))
    }
    /// What changed against version `against` (default: the version before;
    /// for version 1, against no files of its own), file by file.
    async fn diff(&self, ctx: &Context<'_>, against: Option<i32>) -> async_graphql::Result<Vec<FileDiff>> {
        let plugins = ctx.data::<Arc<Plugins>>()?;
        let against = against.unwrap_or(self.row.version - 1);
        let old = if against == 0 && self.row.version == 1 {
            OwnFiles::default()
        } else {
            let row = service::process::version(db(ctx)?, self.row.company_id, against)
                .await?
                .ok_or(AppError::NotFound("Process version"))?;
            service::process::files_of(&row, plugins)
        };
        Ok(service::process::diff(
            &old,
            &service::process::files_of(&self.row, plugins),
        ))
    }
}

fn files(own: &OwnFiles) -> Vec<ProcessFile> {
    crate::plugins::FILES
        .iter()
        .zip(own)
        .filter_map(|(name, source)| {
            source.as_ref().map(|s| ProcessFile {
                name: (*name).to_owned(),
                source: s.clone(),
            })
        })
        .collect()
}

/// Process version queries (admins).
#[derive(Default)]
pub struct ProcessVersionQuery;

#[Object]
impl ProcessVersionQuery {
    /// Your company's process versions, newest first (admins).
    async fn process_versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, validator(minimum = 1, maximum = 100))] first: u64,
        #[graphql(desc = "Versions older than this one.")] before: Option<i32>,
    ) -> async_graphql::Result<Vec<ProcessVersion>> {
        let actor = super::context::actor(ctx)?;
        actor.require_admin("read the process versions")?;
        let db = db(ctx)?;
        let active = service::process::latest_version(db, actor.company_id).await?;
        Ok(service::process::versions(db, actor.company_id, first, before)
            .await?
            .into_iter()
            .map(|row| ProcessVersion {
                active: row.version == active,
                row,
            })
            .collect())
    }

    /// Checks scripts as your company's next process, without publishing
    /// (admins): compiles them on `default` (functions they lack are
    /// inherited), runs the load checks and every KPI formula on sample
    /// rows, and reports errors with file, line and column, plus warnings
    /// about what publishing would change on your data.
    async fn validate_process(
        &self,
        ctx: &Context<'_>,
        files: Vec<ProcessFileInput>,
    ) -> async_graphql::Result<ProcessValidation> {
        let actor = writer(ctx)?;
        actor.require_admin("check processes")?;
        let plugins = ctx.data::<Arc<Plugins>>()?;
        let check = service::process::check(db(ctx)?, actor, plugins, own(files)?).await?;
        Ok(ProcessValidation {
            check,
            company_id: actor.company_id,
        })
    }

    /// What a new process would change on your company's own data (admins):
    /// the energy ranking of activities done in the last `days` days before
    /// and after, deals whose stage would become unknown, and this month's
    /// KPI values of each top-level team before and after. Nothing is written.
    async fn dry_run_process(
        &self,
        ctx: &Context<'_>,
        files: Vec<ProcessFileInput>,
        #[graphql(default = 90, validator(minimum = 1, maximum = 3660))] days: i64,
    ) -> async_graphql::Result<ProcessDryRun> {
        let actor = writer(ctx)?;
        actor.require_admin("try processes")?;
        let db = db(ctx)?;
        let plugins = ctx.data::<Arc<Plugins>>()?;
        let check = service::process::check(db, actor, plugins, own(files)?).await?;
        let Some(set) = check.set.clone() else {
            return Ok(ProcessDryRun {
                validation: ProcessValidation {
                    check,
                    company_id: actor.company_id,
                },
                scoring: None,
                unknown_stages: vec![],
                kpis: vec![],
            });
        };
        let scoring = super::process::scoring_dry_run(db, actor, set.clone(), days, 10).await?;
        let unknown_stages = unknown_stages(db, actor, &set).await?;
        let kpis = kpi_changes(db, actor, &actor.plugins, &set).await?;
        Ok(ProcessDryRun {
            validation: ProcessValidation {
                check,
                company_id: actor.company_id,
            },
            scoring: Some(scoring),
            unknown_stages,
            kpis,
        })
    }
}

async fn unknown_stages(
    db: &sea_orm::DatabaseConnection,
    actor: &service::Actor,
    set: &PluginSet,
) -> async_graphql::Result<Vec<UnknownStage>> {
    let mut out = Vec::new();
    for (key, deals) in service::process::deals_by_stage(db, actor.company_id).await? {
        if set.process.stage(&key).is_some() {
            continue;
        }
        let sample = entity::deal::Entity::find()
            .filter(entity::deal::Column::CompanyId.eq(actor.company_id))
            .filter(entity::deal::Column::DeletedAt.is_null())
            .filter(entity::deal::Column::Stage.eq(key.as_str()))
            .order_by_desc(entity::deal::Column::Id)
            .limit(20)
            .all(db)
            .await
            .map_err(AppError::from)?;
        out.push(UnknownStage {
            name: actor.plugins.process.stage_name(&key),
            key,
            deals,
            sample,
        });
    }
    Ok(out)
}

async fn kpi_changes(
    db: &sea_orm::DatabaseConnection,
    actor: &service::Actor,
    before: &Arc<PluginSet>,
    after: &Arc<PluginSet>,
) -> async_graphql::Result<Vec<KpiChange>> {
    use service::{kpi, period};
    let teams = entity::team::Entity::find()
        .filter(entity::team::Column::CompanyId.eq(actor.company_id))
        .filter(entity::team::Column::ParentId.is_null())
        .order_by_asc(entity::team::Column::Name)
        .all(db)
        .await
        .map_err(AppError::from)?;
    let today = period::today(actor.time_zone);
    let month = period::Period::containing(entity::enums::PeriodKind::Month, today);
    let subjects: Vec<_> = teams.iter().map(|t| service::plan::Subject::Team(t.id)).collect();
    let rows = kpi::rows(db, actor.company_id, actor.time_zone, today, &subjects, &[month]).await?;
    let (b, a) = (before.clone(), after.clone());
    let values = crate::plugins::run(&actor.scripts, move || {
        Ok(rows
            .iter()
            .map(|row| (row.subject, kpi::evaluate(&b, row), kpi::evaluate(&a, row)))
            .collect::<Vec<_>>())
    })
    .await?;
    let mut out = Vec::new();
    for (subject, old, new) in values {
        let service::plan::Subject::Team(team_id) = subject else {
            continue;
        };
        let team_name = teams
            .iter()
            .find(|t| t.id == team_id)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let mut keys: Vec<&String> = new.iter().map(|v| &v.key).collect();
        keys.extend(old.iter().map(|v| &v.key).filter(|k| !new.iter().any(|v| &v.key == *k)));
        for key in keys {
            let name = after
                .process
                .kpis
                .iter()
                .chain(&before.process.kpis)
                .find(|k| &k.key == key)
                .map(|k| k.name.clone())
                .unwrap_or_else(|| key.clone());
            let value = |vs: &[kpi::KpiValue]| vs.iter().find(|v| &v.key == key).and_then(|v| v.value);
            out.push(KpiChange {
                team_id: team_id.into(),
                team_name: team_name.clone(),
                key: key.clone(),
                name,
                before: value(&old),
                after: value(&new),
            });
        }
    }
    Ok(out)
}

/// Process version mutations (admins).
#[derive(Default)]
pub struct ProcessVersionMutation;

/// Starts the re-score a change of scoring needs, once the version has committed.
async fn after_publish(ctx: &Context<'_>, published: Published) -> async_graphql::Result<ProcessVersion> {
    let actor = writer(ctx)?;
    tracing::info!(company = %actor.company_id, version = published.row.version, kind = %published.row.kind, "process version published");
    if published.scoring_changed {
        service::rescore::start(db(ctx)?, actor.company_id, published.set.clone()).await?;
    }
    Ok(ProcessVersion {
        row: published.row,
        active: true,
    })
}

#[Object]
impl ProcessVersionMutation {
    /// Publishes scripts as your company's next process version (admins):
    /// refused with PLUGIN_ERROR (file, line, column) unless
    /// `validateProcess` finds no error. It runs on every replica from its
    /// next request on; when the scoring changed, stored energy scores are
    /// re-scored in the background (`rescoreJob`).
    async fn publish_process(
        &self,
        ctx: &Context<'_>,
        files: Vec<ProcessFileInput>,
        #[graphql(default)] note: String,
    ) -> async_graphql::Result<ProcessVersion> {
        let actor = writer(ctx)?;
        actor.require_admin("publish the process")?;
        let plugins = ctx.data::<Arc<Plugins>>()?;
        let own = own(files)?;
        let published = in_txn!(ctx, |txn| service::process::publish(
            &txn,
            actor,
            plugins,
            own.clone(),
            &note
        ));
        after_publish(ctx, published).await
    }

    /// Makes version `version` current again, as a new version (admins).
    async fn rollback_process(
        &self,
        ctx: &Context<'_>,
        version: i32,
        #[graphql(default)] note: String,
    ) -> async_graphql::Result<ProcessVersion> {
        let actor = writer(ctx)?;
        actor.require_admin("roll the process back")?;
        let plugins = ctx.data::<Arc<Plugins>>()?;
        let published = in_txn!(ctx, |txn| service::process::rollback(
            &txn, actor, plugins, version, &note
        ));
        after_publish(ctx, published).await
    }

    /// Makes your company follow the shipped set `name` of `plugins/`
    /// (`process { shippedSets }` lists them), as a new version (admins).
    async fn use_shipped_process(
        &self,
        ctx: &Context<'_>,
        name: String,
        #[graphql(default)] note: String,
    ) -> async_graphql::Result<ProcessVersion> {
        let actor = writer(ctx)?;
        actor.require_admin("choose the process")?;
        let plugins = ctx.data::<Arc<Plugins>>()?;
        let published = in_txn!(ctx, |txn| service::process::use_shipped(
            &txn, actor, plugins, &name, &note
        ));
        after_publish(ctx, published).await
    }
}
