//! The company's sales process as its plugin defines it, so a frontend draws
//! its pipeline board and daily-report form without hard-coding.

use async_graphql::{Context, Object, SimpleObject};

use super::context::actor;
use crate::plugins::{Named, Stage, StageOutcome};

/// A deal's stage as the company's process defines it.
#[derive(SimpleObject, Clone)]
pub struct StageInfo {
    /// The stage (for an unknown key: name "unknown stage", probability 0).
    #[graphql(flatten)]
    pub stage: Stage,
    /// False when the key is not (or no longer) a stage of the process.
    pub known: bool,
}

impl StageInfo {
    /// The info of a known stage.
    pub fn of(s: &Stage) -> Self {
        Self {
            stage: s.clone(),
            known: true,
        }
    }

    /// A stage key the process no longer has: readable, never a crash.
    pub fn unknown(key: &str, outcome: StageOutcome) -> Self {
        let stage = Stage {
            key: key.to_owned(),
            name: "unknown stage".into(),
            probability: 0,
            outcome,
            after_sales: false,
            exit_criteria: None,
        };
        Self { stage, known: false }
    }
}

/// The company's sales process.
pub struct ProcessInfo {
    set: std::sync::Arc<crate::plugins::PluginSet>,
    company_id: uuid::Uuid,
}

impl ProcessInfo {
    /// `set` as the process of the company `company_id`.
    pub fn new(set: std::sync::Arc<crate::plugins::PluginSet>, company_id: uuid::Uuid) -> Self {
        Self { set, company_id }
    }
}

/// One function a process runs, and where it comes from.
#[derive(SimpleObject)]
pub struct ProcessFunction {
    /// `process.rhai`, `scoring.rhai` or `kpi.rhai`.
    pub file: String,
    /// The function's name.
    pub name: String,
    /// How many parameters it takes.
    pub params: i32,
    /// True when the company's scripts do not define it and it comes from `default`.
    pub inherited: bool,
}

/// A background re-score of the company's energy scores.
#[derive(SimpleObject)]
pub struct RescoreJob {
    /// Job id.
    pub id: async_graphql::ID,
    /// The scoring version every score is brought to.
    pub scoring_version: String,
    /// RUNNING, DONE or FAILED.
    pub status: String,
    /// Activities to re-score when the job started.
    pub total: i64,
    /// Activities re-scored so far.
    pub done: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When it ended.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<entity::rescore_job::Model> for RescoreJob {
    fn from(j: entity::rescore_job::Model) -> Self {
        Self {
            id: j.id.into(),
            scoring_version: j.scoring_version,
            status: j.status.to_uppercase(),
            total: j.total,
            done: j.done,
            error: j.error,
            started_at: j.started_at,
            finished_at: j.finished_at,
        }
    }
}

#[Object]
impl ProcessInfo {
    /// The plugin set in use: a shipped set of `plugins/`, or `stored vN`
    /// for the company's own version N.
    async fn plugin_set(&self) -> &str {
        &self.set.name
    }
    /// The company's stored version that runs (null: a shipped set runs).
    async fn stored_version(&self) -> Option<i32> {
        self.set.stored_version
    }
    /// Every function the process runs, with its file and whether it is
    /// inherited from `default` (a function the company's scripts do not define).
    async fn functions(&self) -> Vec<ProcessFunction> {
        self.set
            .functions
            .iter()
            .map(|f| ProcessFunction {
                file: f.file.to_owned(),
                name: f.name.clone(),
                params: f.params as i32,
                inherited: f.inherited,
            })
            .collect()
    }
    /// The shipped sets of `plugins/` a company can follow (`useShippedProcess`).
    async fn shipped_sets(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(ctx.data::<std::sync::Arc<crate::plugins::Plugins>>()?.names())
    }
    /// Version of the set (changes whenever one of its scripts changes).
    async fn version(&self) -> &str {
        &self.set.version
    }
    /// Why the latest reload of the set failed (file, line and column), while
    /// its last good version keeps running; null when it is current.
    async fn load_error(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(ctx
            .data::<std::sync::Arc<crate::plugins::Plugins>>()?
            .failure(&self.set.name))
    }
    /// Version of the scoring script, stored with every energy score.
    async fn scoring_version(&self) -> &str {
        &self.set.scoring_version
    }
    /// Done activities whose stored score is missing or from another scoring version.
    async fn stale_scores(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(crate::service::rescore::stale_count(super::context::db(ctx)?, self.company_id, &self.set).await?)
    }
    /// Stages in order.
    async fn stages(&self) -> &[Stage] {
        &self.set.process.stages
    }
    /// Deal quality indicators (at most five).
    async fn quality_indicators(&self) -> &[Named] {
        &self.set.process.quality_indicators
    }
    /// Contact levels, most junior first.
    async fn contact_levels(&self) -> &[Named] {
        &self.set.process.contact_levels
    }
    /// Customer reactions a daily report records.
    async fn reactions(&self) -> &[Named] {
        &self.set.process.reactions
    }
    /// KPIs the company defines (`kpi.rhai`), in display order.
    async fn kpis(&self) -> &[crate::plugins::Kpi] {
        &self.set.process.kpis
    }
    /// Every value a KPI formula can read from `m` (the same for every company).
    async fn base_metrics(&self) -> Vec<super::kpi::BaseMetric> {
        super::kpi::base_metrics()
    }
}

/// Plugin administration.
#[derive(Default)]
pub struct ProcessMutation;

#[Object]
impl ProcessMutation {
    /// Reloads your company's plugin set from disk (admins). A broken script
    /// is refused with its file, line and column (PLUGIN_ERROR), and the last
    /// good version stays active.
    async fn reload_plugins(&self, ctx: &Context<'_>) -> async_graphql::Result<ProcessInfo> {
        let actor = super::context::writer(ctx)?;
        actor.require_admin("reload plugins")?;
        if let Some(version) = actor.plugins.stored_version {
            return Err(crate::error::AppError::Conflict(format!(
                "your company runs its stored process (version {version}), not files: publish a new version with publishProcess"
            ))
            .into());
        }
        let plugins = ctx.data::<std::sync::Arc<crate::plugins::Plugins>>()?;
        let name = actor.plugins.name.clone();
        let reloaded = {
            let plugins = plugins.clone();
            let name = name.clone();
            crate::plugins::run(&actor.scripts, move || plugins.reload(&name)).await?
        };
        tracing::info!(set = %name, version = %reloaded.set.version, company = %actor.company_id, "plugin set reloaded");
        // Every company on a set whose scoring changed gets its stored scores brought up to date.
        crate::service::rescore::start_for_sets(super::context::db(ctx)?, plugins, &reloaded.scoring_changed).await?;
        Ok(ProcessInfo {
            set: reloaded.set,
            company_id: actor.company_id,
        })
    }

    /// Re-scores every stored activity of your company with the current
    /// scoring script, in the background (admins). Follow it with `rescoreJob`.
    async fn rescore_activities(&self, ctx: &Context<'_>) -> async_graphql::Result<RescoreJob> {
        let actor = super::context::writer(ctx)?;
        actor.require_admin("re-score activities")?;
        let db = super::context::db(ctx)?;
        Ok(
            crate::service::rescore::start(db, actor.company_id, actor.plugins.clone())
                .await?
                .into(),
        )
    }
}

/// One customer in a scoring dry run.
pub struct DryRunCustomer {
    customer_id: uuid::Uuid,
    before: i64,
    after: i64,
    rank_before: usize,
    rank_after: usize,
}

#[Object]
impl DryRunCustomer {
    /// The customer.
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<super::customer::Customer> {
        Ok(super::customer::Customer(
            super::loader::related::<entity::customer::Entity>(ctx, self.customer_id).await?,
        ))
    }
    /// Energy points now (the stored scores).
    async fn before(&self) -> i64 {
        self.before
    }
    /// Energy points with the changed script.
    async fn after(&self) -> i64 {
        self.after
    }
    /// Place in the ranking now (1 = most energy).
    async fn rank_before(&self) -> usize {
        self.rank_before
    }
    /// Place in the ranking with the changed script.
    async fn rank_after(&self) -> usize {
        self.rank_after
    }
}

/// What a changed scoring script would do to the company's energy scores.
/// Nothing was written.
#[derive(SimpleObject)]
pub struct ScoringDryRun {
    /// The version the changed script would store with its scores.
    pub scoring_version: String,
    /// Activities done since this instant were scored.
    pub since: chrono::DateTime<chrono::Utc>,
    /// Done activities scored.
    pub activities: u64,
    /// Activities whose score would change.
    pub changed: u64,
    /// Activities the script failed on (counted as 0 points).
    pub failed: u64,
    /// The first failure, with where in the script.
    pub first_error: Option<String>,
    /// Sum of the stored scores.
    pub total_before: i64,
    /// Sum with the changed script.
    pub total_after: i64,
    /// The customers with the most energy with the changed script, with
    /// their points and places before and after.
    pub top_customers: Vec<DryRunCustomer>,
}

/// Process queries.
#[derive(Default)]
pub struct ProcessQuery;

#[Object]
impl ProcessQuery {
    /// Your company's sales process: stages, quality indicators, contact levels, reactions.
    async fn process(&self, ctx: &Context<'_>) -> async_graphql::Result<ProcessInfo> {
        let actor = actor(ctx)?;
        Ok(ProcessInfo {
            set: actor.plugins.clone(),
            company_id: actor.company_id,
        })
    }

    /// What a changed scoring script would do, before it goes live (admins):
    /// the company's activities done in the last `days` days are scored with
    /// `script` (or, without it, with the set's scoring.rhai as it is on disk
    /// now) and compared with their stored scores; the top customers by energy
    /// before and after. Nothing is written. A script that does not compile
    /// is refused with PLUGIN_ERROR, its file, line and column.
    async fn scoring_dry_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A scoring.rhai to try; default: the file on disk.")] script: Option<String>,
        #[graphql(default = 90, validator(minimum = 1, maximum = 3660))] days: i64,
        #[graphql(default = 10, validator(minimum = 1, maximum = 100))] top: usize,
    ) -> async_graphql::Result<ScoringDryRun> {
        // Running scripts on the company's data is an admin's write-level
        // act, even though nothing is written: not for read-only API keys.
        let actor = super::context::writer(ctx)?;
        actor.require_admin("try scoring scripts")?;
        if script.as_ref().is_some_and(|s| s.len() > 256 * 1024) {
            return Err(crate::error::AppError::bad("the script is larger than 256 KiB").into());
        }
        let plugins = ctx.data::<std::sync::Arc<crate::plugins::Plugins>>()?.clone();
        let current = actor.plugins.clone();
        let candidate = crate::plugins::run(&actor.scripts, move || match current.stored_version {
            // A stored process: its own files, with this scoring.
            Some(version) => {
                let mut own = current.sources.own.clone();
                if let Some(script) = script {
                    own[1] = Some(script);
                }
                Ok(plugins.compiler().stored(version, own)?)
            }
            None => plugins.candidate(&current.name, script.as_deref()),
        })
        .await?;
        Ok(scoring_dry_run(
            super::context::db(ctx)?,
            actor,
            std::sync::Arc::new(candidate),
            days,
            top,
        )
        .await?)
    }

    /// Your company's latest re-score of energy scores, with its progress (admins).
    async fn rescore_job(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RescoreJob>> {
        let actor = actor(ctx)?;
        actor.require_admin("follow re-scores")?;
        let db = super::context::db(ctx)?;
        Ok(crate::service::rescore::latest(db, actor.company_id)
            .await?
            .map(Into::into))
    }
}

/// Scores the company's activities done in the last `days` days with
/// `candidate` and compares them with the stored scores. Nothing is written.
pub async fn scoring_dry_run(
    db: &sea_orm::DatabaseConnection,
    actor: &crate::service::Actor,
    candidate: std::sync::Arc<crate::plugins::PluginSet>,
    days: i64,
    top: usize,
) -> crate::error::AppResult<ScoringDryRun> {
    let since = crate::service::now() - chrono::Duration::days(days);
    let version = candidate.scoring_version.clone();
    let run = crate::service::rescore::dry_run(db, actor.company_id, candidate, since, top, &actor.scripts).await?;
    Ok(ScoringDryRun {
        scoring_version: version,
        since,
        activities: run.activities,
        changed: run.changed,
        failed: run.failed,
        first_error: run.first_error,
        total_before: run.total_before,
        total_after: run.total_after,
        top_customers: run
            .top
            .into_iter()
            .map(|(customer_id, before, after, rank_before, rank_after)| DryRunCustomer {
                customer_id,
                before,
                after,
                rank_before,
                rank_after,
            })
            .collect(),
    })
}
