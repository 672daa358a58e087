//! Who may read and change what: roles, team hierarchy, record ownership.
//!
//! - ADMIN (and API keys): everything in the company.
//! - MANAGER: everything owned by members of the team subtree they lead,
//!   plus what a rep may.
//! - REP: the company's customers and contacts, every task; the deals,
//!   activities and reports they own or whose deal they work on, and the
//!   history of the customers they own (a handover keeps the history with the
//!   customer and shows it to the new owner).
//! - A company setting (`settings.rep_visibility = "team"`) narrows rep reads
//!   of customers (and what hangs off them) and tasks to their own team.
//!
//! Reads are SQL conditions ([`Guarded::readable`]) that every list, lookup,
//! loader and nested connection applies, so lists simply omit what the
//! caller may not read and `totalCount` agrees. Writes are checked here by
//! the services; a refusal is FORBIDDEN.

use std::collections::HashSet;

use entity::{
    activity, activity_contact, activity_product, activity_reaction, answer, api_key, audit_log, comment, company,
    contact, customer, customer_group, daily_report, deal, deal_member, deal_quality, deal_stage_history,
    enums::{CommentSubject, Role},
    member, product, question, quote, sales_record, target, task, team, touchpoint,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Select,
    sea_query::SelectStatement,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Actor;
use crate::{
    error::{AppError, AppResult},
    pagination::Scoped,
};

/// How far a rep's reads reach (company setting `rep_visibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum RepVisibility {
    /// Reps read every customer and task of the company (the default).
    #[default]
    Company,
    /// Reps read customers and tasks of their own team only.
    Team,
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum ApiKeyScope {
    /// Read every query of the company; no mutation.
    ReadOnly,
    /// Read and write as an admin.
    ReadWrite,
}

impl ApiKeyScope {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read_only",
            Self::ReadWrite => "read_write",
        }
    }

    /// Parses the stored value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read_only" => Some(Self::ReadOnly),
            "read_write" => Some(Self::ReadWrite),
            _ => None,
        }
    }
}

/// The reach of one member, computed once per request.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Members of the team subtree the member leads (managers), self excluded.
    pub led: HashSet<Uuid>,
    /// Teams the member leads and every team below them.
    pub led_teams: HashSet<Uuid>,
    /// When the company narrows reps to their team: the members of the
    /// member's own team, self included.
    pub team_mates: Option<HashSet<Uuid>>,
}

/// The company's settings that access control reads.
#[derive(Debug, Clone, Default, Deserialize)]
struct AccessSettings {
    #[serde(default)]
    rep_visibility: RepVisibility,
}

/// Reads the company setting.
pub fn rep_visibility(company: &company::Model) -> RepVisibility {
    serde_json::from_value::<AccessSettings>(company.settings.clone())
        .unwrap_or_default()
        .rep_visibility
}

/// Computes a member's reach: teams led (with their subtrees) and, when the
/// company narrows reps, their team-mates.
pub async fn reach(db: &impl ConnectionTrait, member: &member::Model, company: &company::Model) -> AppResult<Reach> {
    let narrowed = rep_visibility(company) == RepVisibility::Team && member.role != Role::Admin;
    let mut out = Reach::default();
    if member.role == Role::Manager {
        let teams: Vec<(Uuid, Option<Uuid>, Option<Uuid>)> = team::Entity::find()
            .select_only()
            .columns([team::Column::Id, team::Column::ParentId, team::Column::ManagerId])
            .filter(team::Column::CompanyId.eq(member.company_id))
            .filter(team::Column::DeletedAt.is_null())
            .into_tuple()
            .all(db)
            .await?;
        let mut queue: Vec<Uuid> = teams.iter().filter(|t| t.2 == Some(member.id)).map(|t| t.0).collect();
        while let Some(t) = queue.pop() {
            if out.led_teams.insert(t) {
                queue.extend(teams.iter().filter(|c| c.1 == Some(t)).map(|c| c.0));
            }
        }
    }
    let mut wanted: Vec<Uuid> = out.led_teams.iter().copied().collect();
    if narrowed && let Some(own) = member.team_id {
        wanted.push(own);
    }
    if !wanted.is_empty() {
        let rows: Vec<(Uuid, Option<Uuid>)> = member::Entity::find()
            .select_only()
            .columns([member::Column::Id, member::Column::TeamId])
            .filter(member::Column::CompanyId.eq(member.company_id))
            .filter(member::Column::TeamId.is_in(wanted))
            .into_tuple()
            .all(db)
            .await?;
        for (id, team) in &rows {
            if team.is_some_and(|t| out.led_teams.contains(&t)) && *id != member.id {
                out.led.insert(*id);
            }
        }
        if narrowed {
            let mates = rows
                .iter()
                .filter(|(_, t)| *t == member.team_id && t.is_some())
                .map(|(id, _)| *id);
            out.team_mates = Some(mates.chain([member.id]).collect());
        }
    }
    if narrowed && out.team_mates.is_none() {
        out.team_mates = Some([member.id].into_iter().collect());
    }
    Ok(out)
}

impl Actor {
    /// Sees and changes everything in the company.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// May run mutations (everyone but read-only API keys).
    pub fn can_write(&self) -> bool {
        self.api_key.is_none_or(|(_, scope)| scope == ApiKeyScope::ReadWrite)
    }

    /// The member is the caller or someone of the team subtree the caller leads.
    pub fn answers_for(&self, member: Uuid) -> bool {
        self.is_admin() || member == self.member_id || self.reach.led.contains(&member)
    }

    /// The caller and the members they lead.
    fn me_and_led(&self) -> Vec<Uuid> {
        self.reach.led.iter().copied().chain([self.member_id]).collect()
    }

    /// Refuses unless the caller is an admin.
    pub fn require_admin(&self, what: &str) -> AppResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("only admins can {what}")))
        }
    }

    /// Refuses unless `member` is the caller or led by them (or the caller is an admin).
    pub fn require_answers_for(&self, member: Uuid, what: &str) -> AppResult<()> {
        if self.answers_for(member) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "you can only {what} for yourself or the members of the teams you lead"
            )))
        }
    }
}

/// An entity with a read rule.
pub trait Guarded: EntityTrait {
    /// Rows the actor may read, beyond the company scope; `None` means all.
    fn readable(actor: &Actor) -> Option<Condition>;
}

macro_rules! open_to_company {
    ($($module:ident),+) => {$(
        impl Guarded for $module::Entity {
            fn readable(_: &Actor) -> Option<Condition> {
                None
            }
        }
    )+};
}

open_to_company!(
    member,
    team,
    product,
    question,
    answer,
    customer_group,
    target,
    audit_log,
    api_key,
    activity_contact,
    activity_product,
    activity_reaction,
    deal_member,
    deal_quality
);

/// Ids of `E` the actor may read, as a subquery.
fn readable_ids<E: Guarded + Scoped>(actor: &Actor) -> Option<SelectStatement> {
    E::readable(actor).map(|cond| {
        E::find()
            .select_only()
            .column(E::id_col())
            .filter(E::company_col().eq(actor.company_id))
            .filter(cond)
            .into_query()
    })
}

/// `col` points at a readable row of `E` (or anything, when all are readable).
fn points_at<E: Guarded + Scoped>(actor: &Actor, col: impl ColumnTrait) -> Option<Condition> {
    readable_ids::<E>(actor).map(|ids| Condition::all().add(col.in_subquery(ids)))
}

impl Guarded for customer::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        let mates = actor.reach.team_mates.as_ref()?;
        let ids: Vec<Uuid> = mates.iter().copied().chain(actor.me_and_led()).collect();
        Some(Condition::all().add(customer::Column::OwnerId.is_in(ids)))
    }
}

impl Guarded for contact::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        points_at::<customer::Entity>(actor, contact::Column::CustomerId)
    }
}

impl Guarded for touchpoint::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        points_at::<customer::Entity>(actor, touchpoint::Column::CustomerId)
    }
}

impl Guarded for sales_record::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        points_at::<customer::Entity>(actor, sales_record::Column::CustomerId)
    }
}

/// Customers whose history the actor sees: owned by them or by someone they lead.
fn own_customers(actor: &Actor) -> SelectStatement {
    customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::CompanyId.eq(actor.company_id))
        .filter(customer::Column::OwnerId.is_in(actor.me_and_led()))
        .into_query()
}

impl Guarded for deal::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        if actor.is_admin() {
            return None;
        }
        let on_team = deal_member::Entity::find()
            .select_only()
            .column(deal_member::Column::DealId)
            .filter(deal_member::Column::CompanyId.eq(actor.company_id))
            .filter(deal_member::Column::MemberId.eq(actor.member_id))
            .into_query();
        Some(
            Condition::any()
                .add(deal::Column::OwnerId.is_in(actor.me_and_led()))
                .add(deal::Column::Id.in_subquery(on_team))
                .add(deal::Column::CustomerId.in_subquery(own_customers(actor))),
        )
    }
}

/// What decides who may read a deal, loaded once to check many readers.
#[derive(Debug, Clone)]
pub struct DealFacts {
    /// The deal (live, of the company).
    pub deal: deal::Model,
    /// Its members.
    pub members: Vec<Uuid>,
    /// Who owns its customer.
    pub customer_owner: Option<Uuid>,
}

/// Loads a live deal's facts (`None` when it is gone).
pub async fn deal_facts(db: &impl ConnectionTrait, company_id: Uuid, id: Uuid) -> AppResult<Option<DealFacts>> {
    let Some(deal) = deal::Entity::find_by_id(id)
        .filter(deal::Column::CompanyId.eq(company_id))
        .filter(deal::Column::DeletedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let members: Vec<Uuid> = deal_member::Entity::find()
        .select_only()
        .column(deal_member::Column::MemberId)
        .filter(deal_member::Column::DealId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    let customer_owner: Option<Uuid> = customer::Entity::find_by_id(deal.customer_id)
        .select_only()
        .column(customer::Column::OwnerId)
        .into_tuple()
        .one(db)
        .await?;
    Ok(Some(DealFacts {
        deal,
        members,
        customer_owner,
    }))
}

/// The deal read rule of [`Guarded`] for `deal`, decided in memory: an admin,
/// the owner or someone leading them, a member, or the customer's owner (or
/// someone leading them). `tests/api/deals.rs` checks both agree.
pub fn may_read_deal(actor: &Actor, f: &DealFacts) -> bool {
    if actor.is_admin() {
        return true;
    }
    let mine = actor.me_and_led();
    mine.contains(&f.deal.owner_id)
        || f.members.contains(&actor.member_id)
        || f.customer_owner.is_some_and(|o| mine.contains(&o))
}

impl Guarded for deal_stage_history::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        points_at::<deal::Entity>(actor, deal_stage_history::Column::DealId)
    }
}

impl Guarded for quote::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        points_at::<deal::Entity>(actor, quote::Column::DealId)
    }
}

impl Guarded for activity::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        let deals = readable_ids::<deal::Entity>(actor)?;
        Some(
            Condition::any()
                .add(activity::Column::MemberId.is_in(actor.me_and_led()))
                .add(activity::Column::DealId.in_subquery(deals))
                .add(activity::Column::CustomerId.in_subquery(own_customers(actor))),
        )
    }
}

impl Guarded for daily_report::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        (!actor.is_admin()).then(|| Condition::all().add(daily_report::Column::MemberId.is_in(actor.me_and_led())))
    }
}

impl Guarded for task::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        let mates = actor.reach.team_mates.as_ref()?;
        let ids: Vec<Uuid> = mates.iter().copied().chain(actor.me_and_led()).collect();
        Some(
            Condition::any()
                .add(task::Column::AssigneeId.is_in(ids))
                .add(task::Column::CreatorId.eq(actor.member_id)),
        )
    }
}

impl Guarded for comment::Entity {
    fn readable(actor: &Actor) -> Option<Condition> {
        let subjects = [
            (
                CommentSubject::Deal,
                points_at::<deal::Entity>(actor, comment::Column::SubjectId),
            ),
            (
                CommentSubject::Activity,
                points_at::<activity::Entity>(actor, comment::Column::SubjectId),
            ),
            (
                CommentSubject::Customer,
                points_at::<customer::Entity>(actor, comment::Column::SubjectId),
            ),
            (
                CommentSubject::DailyReport,
                points_at::<daily_report::Entity>(actor, comment::Column::SubjectId),
            ),
        ];
        if subjects.iter().all(|(_, c)| c.is_none()) {
            return None;
        }
        Some(subjects.into_iter().fold(Condition::any(), |any, (kind, cond)| {
            let of_kind = Condition::all().add(comment::Column::SubjectType.eq(kind));
            any.add(match cond {
                Some(c) => of_kind.add(c),
                None => of_kind,
            })
        }))
    }
}

/// `E` in the caller's company that the caller may read.
pub fn select<E: Guarded + Scoped>(actor: &Actor) -> Select<E> {
    let q = E::find().filter(E::company_col().eq(actor.company_id));
    match E::readable(actor) {
        Some(cond) => q.filter(cond),
        None => q,
    }
}

/// Adds the read rule of `E` to a filter.
pub fn with_readable<E: Guarded>(actor: &Actor, cond: Condition) -> Condition {
    match E::readable(actor) {
        Some(r) => cond.add(r),
        None => cond,
    }
}

/// The row `id` of `E` for reading: NOT_FOUND outside the company (or
/// deleted, via `live`), FORBIDDEN when it exists but the caller may not read it.
pub async fn find_readable<E: Guarded + Scoped>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    live: Option<E::Column>,
) -> AppResult<E::Model> {
    let mut q = E::find()
        .filter(E::company_col().eq(actor.company_id))
        .filter(E::id_col().eq(id));
    if let Some(deleted) = live {
        q = q.filter(deleted.is_null());
    }
    if let Some(cond) = E::readable(actor) {
        if let Some(row) = q.clone().filter(cond).one(db).await? {
            return Ok(row);
        }
        return match q.one(db).await? {
            Some(_) => Err(forbidden_read(E::NAME)),
            None => Err(AppError::NotFound(E::NAME)),
        };
    }
    q.one(db).await?.ok_or(AppError::NotFound(E::NAME))
}

/// The refusal for a record the caller may not read.
pub fn forbidden_read(what: &str) -> AppError {
    AppError::Forbidden(format!("you may not read this {}", what.to_lowercase()))
}

/// A deal the caller may change: owned by them or someone they lead, or one
/// they work on as a deal member.
pub async fn can_edit_deal(db: &impl ConnectionTrait, actor: &Actor, deal: &deal::Model) -> AppResult<()> {
    if actor.answers_for(deal.owner_id) {
        return Ok(());
    }
    let member = deal_member::Entity::find_by_id((deal.id, actor.member_id))
        .one(db)
        .await?;
    if member.is_some() {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "you can only change deals you own, work on, or that your teams own".into(),
    ))
}

/// A customer the caller may change: owned by them or someone they lead.
pub fn can_edit_customer(actor: &Actor, customer: &customer::Model) -> AppResult<()> {
    if actor.answers_for(customer.owner_id) {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "you can only change customers you own or that your teams own".into(),
    ))
}

/// An activity the caller may change: theirs or of someone they lead.
pub fn can_edit_activity(actor: &Actor, activity: &activity::Model) -> AppResult<()> {
    if actor.answers_for(activity.member_id) {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "you can only change your own activities or those of your teams".into(),
    ))
}

/// A task the caller may change: assigned to or created by them, or assigned to someone they lead.
pub fn can_edit_task(actor: &Actor, task: &task::Model) -> AppResult<()> {
    if actor.answers_for(task.assignee_id) || task.creator_id == actor.member_id {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "you can only change tasks you created or that are assigned to you or your teams".into(),
    ))
}
