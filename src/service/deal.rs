//! Deals, their members, stage moves and quotes.

use chrono::NaiveDate;
use entity::{
    customer, deal, deal_member, deal_quality, deal_stage_history,
    enums::{DealStatus, QuoteStatus},
    member, quote, team,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use uuid::Uuid;

use super::{
    Actor, access, audit, catalog::active_member, customer::Patch, delete_versioned, expect_version, find_live,
    insert_audited, new_id, now, table_name, update_versioned, validate,
};
use crate::{
    error::{AppError, AppResult},
    plugins::{Stage, StageOutcome},
};

/// Fields of a new deal.
#[derive(Clone)]
pub struct NewDeal {
    /// Customer.
    pub customer_id: Uuid,
    /// Member in charge (default: the caller).
    pub owner_id: Option<Uuid>,
    /// What is being sold.
    pub name: String,
    /// First stage key.
    pub stage: String,
    /// Expected amount.
    pub amount: Option<i64>,
    /// Expected order date.
    pub expected_close_date: Option<NaiveDate>,
    /// Where the deal came from.
    pub origin: Option<String>,
    /// Notes.
    pub description: Option<String>,
    /// Other members working on the deal.
    pub member_ids: Vec<Uuid>,
}

impl NewDeal {
    /// A deal of `customer_id` in `stage`, owned by the caller; set other fields as needed.
    pub fn new(customer_id: Uuid, name: impl Into<String>, stage: impl Into<String>) -> Self {
        Self {
            customer_id,
            owner_id: None,
            name: name.into(),
            stage: stage.into(),
            amount: None,
            expected_close_date: None,
            origin: None,
            description: None,
            member_ids: vec![],
        }
    }
}

/// Changes to a deal's plain fields (stage and outcome have their own operations).
#[derive(Clone, Default)]
pub struct DealPatch {
    /// What is being sold.
    pub name: Option<String>,
    /// Member in charge.
    pub owner_id: Option<Uuid>,
    /// Expected amount.
    pub amount: Patch<i64>,
    /// Expected order date.
    pub expected_close_date: Patch<NaiveDate>,
    /// Origin.
    pub origin: Patch<String>,
    /// Notes.
    pub description: Patch<String>,
}

fn amount(v: Option<i64>) -> AppResult<Option<i64>> {
    v.map(|a| validate::non_negative("amount", a)).transpose()
}

/// The stage `key` of the company's process, or a message listing the real ones.
pub(crate) fn stage_of<'a>(actor: &'a Actor, key: &str) -> AppResult<&'a Stage> {
    let key = validate::key("stage", key)?;
    actor.plugins.process.stage(&key).ok_or_else(|| {
        let keys: Vec<&str> = actor.plugins.process.stages.iter().map(|s| s.key.as_str()).collect();
        AppError::bad(format!(
            "`{key}` is not a stage of your company's process ({})",
            keys.join(", ")
        ))
    })
}

/// Runs the company's exit check for moving `deal` to `to`; a refusal is
/// EXIT_CRITERIA_NOT_MET with the script's message.
async fn check_exit(db: &impl ConnectionTrait, actor: &Actor, deal: &deal::Model, to: &str) -> AppResult<()> {
    let quality = deal_quality::Entity::find()
        .filter(deal_quality::Column::DealId.eq(deal.id))
        .all(db)
        .await?;
    let mut q = rhai::Map::new();
    for row in quality {
        q.insert(row.indicator.into(), row.checked.into());
    }
    let opt = |v: Option<rhai::Dynamic>| v.unwrap_or(rhai::Dynamic::UNIT);
    let mut map = rhai::Map::new();
    map.insert("name".into(), deal.name.clone().into());
    map.insert("stage".into(), deal.stage.clone().into());
    map.insert("status".into(), deal.status.as_str().into());
    map.insert("amount".into(), opt(deal.amount.map(Into::into)));
    map.insert(
        "expected_close_date".into(),
        opt(deal.expected_close_date.map(|d| d.to_string().into())),
    );
    map.insert("origin".into(), opt(deal.origin.clone().map(Into::into)));
    map.insert("quality".into(), q.into());
    let (set, from, to_owned) = (actor.plugins.clone(), deal.stage.clone(), to.to_owned());
    match crate::plugins::run(&actor.scripts, move || set.exit_check(map, &from, &to_owned)).await? {
        None => Ok(()),
        Some(message) => Err(AppError::Limited("EXIT_CRITERIA_NOT_MET", message)),
    }
}

/// Creates an open deal in its first stage, with the owner as a deal member.
pub async fn create(db: &impl ConnectionTrait, actor: &Actor, f: NewDeal) -> AppResult<deal::Model> {
    access::find_readable::<customer::Entity>(db, actor, f.customer_id, Some(customer::Column::DeletedAt)).await?;
    let owner = f.owner_id.unwrap_or(actor.member_id);
    actor.require_answers_for(owner, "create deals")?;
    active_member(db, actor, owner).await?;
    let first = stage_of(actor, &f.stage)?;
    if first.outcome != StageOutcome::Open || first.after_sales {
        return Err(AppError::bad(
            "a new deal starts in an open stage; win or lose it with closeDeal",
        ));
    }
    let stage = first.key.clone();
    let t = now();
    let am = deal::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        customer_id: Set(f.customer_id),
        owner_id: Set(owner),
        name: Set(validate::text("name", &f.name, 200)?),
        stage: Set(stage.clone()),
        stage_entered_at: Set(t),
        amount: Set(amount(f.amount)?),
        expected_close_date: Set(f.expected_close_date),
        status: Set(DealStatus::Open),
        lost_reason: Set(None),
        origin: Set(validate::opt_text("origin", f.origin, 64)?),
        description: Set(validate::opt_text("description", f.description, validate::LONG_TEXT)?),
        closed_at: Set(None),
        last_activity_at: Set(None),
        quality_maintainer_id: Set(None),
        version: Set(1),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
        external_code: Set(None),
    };
    let deal = insert_audited(db, actor, am).await?;
    record_stage(db, actor, &deal, None).await?;
    let mut members = vec![owner];
    members.extend(f.member_ids.into_iter().filter(|m| *m != owner));
    for member in members {
        add_member_row(db, actor, deal.id, member, None).await?;
    }
    Ok(deal)
}

async fn record_stage(
    db: &impl ConnectionTrait,
    actor: &Actor,
    deal: &deal::Model,
    from: Option<String>,
) -> AppResult<()> {
    deal_stage_history::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        deal_id: Set(deal.id),
        from_stage: Set(from),
        to_stage: Set(deal.stage.clone()),
        changed_by: Set(actor.member_id),
        changed_at: Set(deal.stage_entered_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Applies a patch to the deal at `version`.
pub async fn update(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    p: DealPatch,
) -> AppResult<deal::Model> {
    let before = find_live::<deal::Entity>(db, actor, id).await?;
    access::can_edit_deal(db, actor, &before).await?;
    expect_version::<deal::Entity>(&before, version)?;
    let mut am = before.clone().into_active_model();
    if let Some(name) = p.name {
        am.name = Set(validate::text("name", &name, 200)?);
    }
    if let Some(owner) = p.owner_id {
        active_member(db, actor, owner).await?;
        am.owner_id = Set(owner);
    }
    if let Some(v) = p.amount {
        am.amount = Set(amount(v)?);
    }
    if let Some(v) = p.expected_close_date {
        am.expected_close_date = Set(v);
    }
    if let Some(v) = p.origin {
        am.origin = Set(validate::opt_text("origin", v, 64)?);
    }
    if let Some(v) = p.description {
        am.description = Set(validate::opt_text("description", v, validate::LONG_TEXT)?);
    }
    let after = update_versioned(db, actor, "update", &before, version, am).await?;
    if after.owner_id != before.owner_id {
        ensure_member(db, actor, after.id, after.owner_id).await?;
    }
    Ok(after)
}

/// Moves an open deal to another stage and records the move.
pub async fn move_stage(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    stage: &str,
) -> AppResult<deal::Model> {
    let before = find_live::<deal::Entity>(db, actor, id).await?;
    access::can_edit_deal(db, actor, &before).await?;
    expect_version::<deal::Entity>(&before, version)?;
    let target = stage_of(actor, stage)?;
    match before.status {
        DealStatus::Open if target.outcome != StageOutcome::Open => {
            return Err(AppError::bad("win or lose a deal with closeDeal, not by moving it"));
        }
        DealStatus::Won if !target.after_sales => {
            return Err(AppError::bad(
                "a won deal moves only through the after-sales stages; reopen it first",
            ));
        }
        DealStatus::Lost => return Err(AppError::bad("the deal is lost; reopen it before moving it")),
        _ => {}
    }
    let stage = target.key.clone();
    if before.stage == stage {
        return Err(AppError::bad(format!("the deal is already in stage `{stage}`")));
    }
    check_exit(db, actor, &before, &stage).await?;
    let mut am = before.clone().into_active_model();
    am.stage = Set(stage);
    am.stage_entered_at = Set(now());
    let after = update_versioned(db, actor, "move_stage", &before, version, am).await?;
    record_stage(db, actor, &after, Some(before.stage.clone())).await?;
    super::notify::deal_changed(db, actor, &before, &after).await?;
    Ok(after)
}

/// Marks a deal won or lost (a lost deal needs a reason), optionally moving it to a closing stage.
pub async fn close(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    outcome: DealStatus,
    lost_reason: Option<String>,
    stage: Option<String>,
) -> AppResult<deal::Model> {
    let before = find_live::<deal::Entity>(db, actor, id).await?;
    access::can_edit_deal(db, actor, &before).await?;
    expect_version::<deal::Entity>(&before, version)?;
    if before.status != DealStatus::Open {
        return Err(AppError::bad("the deal is already closed"));
    }
    let reason = validate::opt_text("lostReason", lost_reason, 500)?;
    match (outcome, &reason) {
        (DealStatus::Open, _) => return Err(AppError::bad("`outcome` must be WON or LOST")),
        (DealStatus::Lost, None) => return Err(AppError::bad("say why the deal was lost in `lostReason`")),
        (DealStatus::Won, Some(_)) => return Err(AppError::bad("`lostReason` is only for lost deals")),
        _ => {}
    }
    let wanted = if outcome == DealStatus::Won {
        StageOutcome::Won
    } else {
        StageOutcome::Lost
    };
    let target = match stage {
        Some(key) => stage_of(actor, &key)?,
        None => actor
            .plugins
            .process
            .first_with(wanted)
            .ok_or_else(|| AppError::bad(format!("your company's process has no {} stage", outcome.as_str())))?,
    };
    if target.outcome != wanted || target.after_sales {
        return Err(AppError::bad(format!(
            "`{}` is not a {} stage",
            target.key,
            outcome.as_str()
        )));
    }
    check_exit(db, actor, &before, &target.key).await?;
    let t = now();
    let mut am = before.clone().into_active_model();
    am.status = Set(outcome);
    am.lost_reason = Set(reason);
    am.closed_at = Set(Some(t));
    let new_stage = Some(target.key.clone()).filter(|s| *s != before.stage);
    if let Some(s) = &new_stage {
        am.stage = Set(s.clone());
        am.stage_entered_at = Set(t);
    }
    let action = if outcome == DealStatus::Won { "win" } else { "lose" };
    let after = update_versioned(db, actor, action, &before, version, am).await?;
    if new_stage.is_some() {
        record_stage(db, actor, &after, Some(before.stage.clone())).await?;
    }
    super::notify::deal_changed(db, actor, &before, &after).await?;
    Ok(after)
}

/// Reopens a won or lost deal in `stage`.
pub async fn reopen(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    stage: &str,
) -> AppResult<deal::Model> {
    let before = find_live::<deal::Entity>(db, actor, id).await?;
    access::can_edit_deal(db, actor, &before).await?;
    expect_version::<deal::Entity>(&before, version)?;
    if before.status == DealStatus::Open {
        return Err(AppError::bad("the deal is already open"));
    }
    let target = stage_of(actor, stage)?;
    if target.outcome != StageOutcome::Open {
        return Err(AppError::bad("reopen a deal in an open stage"));
    }
    let stage = target.key.clone();
    let mut am = before.clone().into_active_model();
    am.status = Set(DealStatus::Open);
    am.lost_reason = Set(None);
    am.closed_at = Set(None);
    let moved = stage != before.stage;
    if moved {
        am.stage = Set(stage);
        am.stage_entered_at = Set(now());
    }
    let after = update_versioned(db, actor, "reopen", &before, version, am).await?;
    if moved {
        record_stage(db, actor, &after, Some(before.stage.clone())).await?;
    }
    super::notify::deal_changed(db, actor, &before, &after).await?;
    Ok(after)
}

/// Soft-deletes a deal.
pub async fn delete(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, version: i32) -> AppResult<deal::Model> {
    let before = find_live::<deal::Entity>(db, actor, id).await?;
    access::can_edit_deal(db, actor, &before).await?;
    delete_versioned::<deal::Entity, deal::ActiveModel>(db, actor, &before, version).await
}

async fn add_member_row(
    db: &impl ConnectionTrait,
    actor: &Actor,
    deal_id: Uuid,
    member_id: Uuid,
    role: Option<String>,
) -> AppResult<deal_member::Model> {
    active_member(db, actor, member_id).await?;
    let row = deal_member::ActiveModel {
        deal_id: Set(deal_id),
        member_id: Set(member_id),
        company_id: Set(actor.company_id),
        role: Set(validate::opt_text("role", role, 64)?),
        added_at: Set(now()),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        actor,
        "add_member",
        &(table_name::<deal::Entity>(), deal_id),
        None,
        Some(&row),
    )
    .await?;
    Ok(row)
}

async fn ensure_member(db: &impl ConnectionTrait, actor: &Actor, deal_id: Uuid, member_id: Uuid) -> AppResult<()> {
    let exists = deal_member::Entity::find_by_id((deal_id, member_id))
        .one(db)
        .await?
        .is_some();
    if !exists {
        add_member_row(db, actor, deal_id, member_id, None).await?;
    }
    Ok(())
}

/// Adds a member to a deal's team.
pub async fn add_member(
    db: &impl ConnectionTrait,
    actor: &Actor,
    deal_id: Uuid,
    member_id: Uuid,
    role: Option<String>,
) -> AppResult<deal_member::Model> {
    let deal = find_live::<deal::Entity>(db, actor, deal_id).await?;
    access::can_edit_deal(db, actor, &deal).await?;
    if deal_member::Entity::find_by_id((deal_id, member_id))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict("the member is already on this deal".into()));
    }
    add_member_row(db, actor, deal_id, member_id, role).await
}

/// Removes a member from a deal's team (not the owner).
pub async fn remove_member(db: &impl ConnectionTrait, actor: &Actor, deal_id: Uuid, member_id: Uuid) -> AppResult<()> {
    let deal = find_live::<deal::Entity>(db, actor, deal_id).await?;
    access::can_edit_deal(db, actor, &deal).await?;
    if deal.owner_id == member_id {
        return Err(AppError::bad("the owner stays on the deal; change the owner first"));
    }
    let result = deal_member::Entity::delete_many()
        .filter(deal_member::Column::DealId.eq(deal_id))
        .filter(deal_member::Column::MemberId.eq(member_id))
        .filter(deal_member::Column::CompanyId.eq(actor.company_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::NotFound("Deal member"));
    }
    audit::record::<()>(
        db,
        actor,
        "remove_member",
        &(table_name::<deal::Entity>(), deal_id),
        None,
        None,
    )
    .await
}

/// Most quality indicators a deal carries (seed 003: five per company).
pub const MAX_QUALITY_INDICATORS: usize = 5;

/// Who maintains a deal's quality indicators: the assigned member, else the
/// manager of the owner's team.
pub async fn quality_maintainer(db: &impl ConnectionTrait, deal: &deal::Model) -> AppResult<Option<Uuid>> {
    if deal.quality_maintainer_id.is_some() {
        return Ok(deal.quality_maintainer_id);
    }
    let owner = member::Entity::find_by_id(deal.owner_id).one(db).await?;
    let Some(team_id) = owner.and_then(|o| o.team_id) else {
        return Ok(None);
    };
    Ok(team::Entity::find_by_id(team_id)
        .one(db)
        .await?
        .and_then(|t| t.manager_id))
}

/// Checks or unchecks one quality indicator; only the deal's maintainer (or an admin) may.
pub async fn set_quality(
    db: &impl ConnectionTrait,
    actor: &Actor,
    deal_id: Uuid,
    indicator: &str,
    checked: bool,
) -> AppResult<deal_quality::Model> {
    let deal = find_live::<deal::Entity>(db, actor, deal_id).await?;
    let maintainer = quality_maintainer(db, &deal).await?;
    if !actor.is_admin() && maintainer != Some(actor.member_id) {
        return Err(AppError::Forbidden(
            "only the deal's quality maintainer sets its quality indicators".into(),
        ));
    }
    let indicator = validate::key("indicator", indicator)?;
    if !actor
        .plugins
        .process
        .quality_indicators
        .iter()
        .any(|q| q.key == indicator)
    {
        return Err(AppError::bad(format!(
            "`{indicator}` is not a quality indicator of your company"
        )));
    }
    let existing = deal_quality::Entity::find_by_id((deal_id, indicator.clone()))
        .one(db)
        .await?;
    if existing.is_none() {
        let count = deal_quality::Entity::find()
            .filter(deal_quality::Column::DealId.eq(deal_id))
            .count(db)
            .await?;
        if count as usize >= MAX_QUALITY_INDICATORS {
            return Err(AppError::bad(format!(
                "a deal carries at most {MAX_QUALITY_INDICATORS} quality indicators"
            )));
        }
    }
    let row = deal_quality::ActiveModel {
        deal_id: Set(deal_id),
        indicator: Set(indicator),
        company_id: Set(actor.company_id),
        checked: Set(checked),
        changed_by: Set(actor.member_id),
        changed_at: Set(now()),
    };
    let after = match &existing {
        Some(_) => row.update(db).await?,
        None => row.insert(db).await?,
    };
    audit::record(
        db,
        actor,
        "set_quality",
        &(table_name::<deal::Entity>(), deal_id),
        existing.as_ref(),
        Some(&after),
    )
    .await?;
    if existing.as_ref().is_none_or(|e| e.checked != checked) {
        super::notify::quality_changed(db, actor, deal_id, &after.indicator, checked).await?;
    }
    Ok(after)
}

/// Assigns who maintains a deal's quality indicators (`None`: back to the
/// owner's team manager); the owner's managers and admins may.
pub async fn assign_quality_maintainer(
    db: &impl ConnectionTrait,
    actor: &Actor,
    deal_id: Uuid,
    maintainer: Option<Uuid>,
) -> AppResult<deal::Model> {
    let before = find_live::<deal::Entity>(db, actor, deal_id).await?;
    if !actor.is_admin() && !actor.reach.led.contains(&before.owner_id) {
        return Err(AppError::Forbidden(
            "only the owner's managers assign a deal's quality maintainer".into(),
        ));
    }
    if let Some(m) = maintainer {
        active_member(db, actor, m).await?;
    }
    let mut am = before.clone().into_active_model();
    am.quality_maintainer_id = Set(maintainer);
    update_versioned(db, actor, "assign_quality_maintainer", &before, before.version, am).await
}

/// Fields of a quote; on update omitted fields stay.
#[derive(Clone, Default)]
pub struct QuoteFields {
    /// Title (required on create).
    pub title: Option<String>,
    /// Quoted amount (required on create).
    pub amount: Option<i64>,
    /// Status (default draft).
    pub status: Option<QuoteStatus>,
    /// Quote number.
    pub number: Patch<String>,
    /// Date of issue.
    pub issued_on: Patch<NaiveDate>,
    /// Last valid day.
    pub valid_until: Patch<NaiveDate>,
}

/// Creates a quote on a deal.
pub async fn create_quote(
    db: &impl ConnectionTrait,
    actor: &Actor,
    deal_id: Uuid,
    f: QuoteFields,
) -> AppResult<quote::Model> {
    let deal = find_live::<deal::Entity>(db, actor, deal_id).await?;
    access::can_edit_deal(db, actor, &deal).await?;
    let title = f.title.ok_or_else(|| AppError::bad("`title` must not be empty"))?;
    let amount = f.amount.ok_or_else(|| AppError::bad("`amount` is required"))?;
    let (issued_on, valid_until) = (f.issued_on.flatten(), f.valid_until.flatten());
    check_validity(issued_on, valid_until)?;
    let t = now();
    let am = quote::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        deal_id: Set(deal_id),
        number: Set(validate::opt_text("number", f.number.flatten(), 64)?),
        title: Set(validate::text("title", &title, 200)?),
        amount: Set(validate::non_negative("amount", amount)?),
        status: Set(f.status.unwrap_or(QuoteStatus::Draft)),
        issued_on: Set(issued_on),
        valid_until: Set(valid_until),
        version: Set(1),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    insert_audited(db, actor, am).await
}

fn check_validity(issued: Option<NaiveDate>, until: Option<NaiveDate>) -> AppResult<()> {
    if let (Some(i), Some(u)) = (issued, until)
        && u < i
    {
        return Err(AppError::bad("`validUntil` is before `issuedOn`"));
    }
    Ok(())
}

/// Changes a quote at `version`.
pub async fn update_quote(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    f: QuoteFields,
) -> AppResult<quote::Model> {
    let before = find_live::<quote::Entity>(db, actor, id).await?;
    expect_version::<quote::Entity>(&before, version)?;
    let deal = find_live::<deal::Entity>(db, actor, before.deal_id).await?;
    access::can_edit_deal(db, actor, &deal).await?;
    let mut am = before.clone().into_active_model();
    if let Some(t) = f.title {
        am.title = Set(validate::text("title", &t, 200)?);
    }
    if let Some(a) = f.amount {
        am.amount = Set(validate::non_negative("amount", a)?);
    }
    if let Some(s) = f.status {
        am.status = Set(s);
    }
    if let Some(n) = f.number {
        am.number = Set(validate::opt_text("number", n, 64)?);
    }
    let issued = f.issued_on.unwrap_or(before.issued_on);
    let until = f.valid_until.unwrap_or(before.valid_until);
    check_validity(issued, until)?;
    am.issued_on = Set(issued);
    am.valid_until = Set(until);
    update_versioned(db, actor, "update", &before, version, am).await
}

/// Soft-deletes a quote.
pub async fn delete_quote(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, version: i32) -> AppResult<quote::Model> {
    let before = find_live::<quote::Entity>(db, actor, id).await?;
    let deal = find_live::<deal::Entity>(db, actor, before.deal_id).await?;
    access::can_edit_deal(db, actor, &deal).await?;
    delete_versioned::<quote::Entity, quote::ActiveModel>(db, actor, &before, version).await
}
