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
    /// The plugin set in use.
    async fn plugin_set(&self) -> &str {
        &self.set.name
    }
    /// Version of the set (changes whenever one of its scripts changes).
    async fn version(&self) -> &str {
        &self.set.version
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
        let plugins = ctx.data::<std::sync::Arc<crate::plugins::Plugins>>()?;
        let name = actor.plugins.name.clone();
        let reloaded = plugins.reload(&name)?;
        tracing::info!(set = %name, version = %reloaded.version, company = %actor.company_id, "plugin set reloaded");
        if reloaded.scoring_version != actor.plugins.scoring_version {
            // Every company on this set gets its stored scores brought up to date.
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::ExprTrait};
            let db = super::context::db(ctx)?;
            let on_set = if name == "default" {
                entity::company::Column::PluginSet
                    .is_null()
                    .or(entity::company::Column::PluginSet.eq(name.clone()))
            } else {
                entity::company::Column::PluginSet.eq(name.clone())
            };
            let companies = entity::company::Entity::find()
                .filter(on_set)
                .all(db)
                .await
                .map_err(crate::error::AppError::from)?;
            for company in companies {
                crate::service::rescore::start(db, company.id, plugins.for_company(company.plugin_set.as_deref()))
                    .await?;
            }
        }
        Ok(ProcessInfo {
            set: reloaded,
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
