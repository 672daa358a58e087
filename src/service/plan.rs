//! Targets (目標): plan values per member or team and period.

use chrono::{Datelike, NaiveDate, Weekday};
use entity::{
    enums::{PeriodKind, Role},
    target, team,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use uuid::Uuid;

use super::{
    Actor, audit, find_live, find_member, find_scoped, insert_audited, new_id, now, table_name, update_audited,
    validate,
};
use crate::error::{AppError, AppResult};

/// Who a target is for.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    /// One member.
    Member(Uuid),
    /// A team.
    Team(Uuid),
}

/// Managers set targets for the members and teams they lead; admins for anyone.
fn require_leads(actor: &Actor, subject: Subject) -> AppResult<()> {
    let leads = match subject {
        Subject::Member(m) => actor.answers_for(m),
        Subject::Team(t) => actor.is_admin() || actor.reach.led_teams.contains(&t),
    };
    if leads {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "you can only set targets for the teams you lead and their members".into(),
        ))
    }
}

/// Checks that `start` is the first day of a `kind` period.
pub fn check_period(kind: PeriodKind, start: NaiveDate) -> AppResult<()> {
    let ok = match kind {
        PeriodKind::Day => true,
        PeriodKind::Week => start.weekday() == Weekday::Mon,
        PeriodKind::Month => start.day() == 1,
        PeriodKind::Quarter => start.day() == 1 && (start.month() - 1).is_multiple_of(3),
        PeriodKind::Year => start.day() == 1 && start.month() == 1,
    };
    if !ok {
        let first = match kind {
            PeriodKind::Day => "a date",
            PeriodKind::Week => "a Monday",
            PeriodKind::Month => "the 1st of a month",
            PeriodKind::Quarter => "January, April, July or October 1st",
            PeriodKind::Year => "January 1st",
        };
        return Err(AppError::bad(format!(
            "`periodStart` of a {} target must be {first}",
            kind.as_str()
        )));
    }
    Ok(())
}

/// Sets (creates or replaces) the target of a member or team for a period and metric.
pub async fn set(
    db: &impl ConnectionTrait,
    actor: &Actor,
    subject: Subject,
    kind: PeriodKind,
    start: NaiveDate,
    metric: &str,
    value: i64,
) -> AppResult<target::Model> {
    if actor.role == Role::Rep {
        return Err(AppError::Forbidden("only managers and admins set targets".into()));
    }
    require_leads(actor, subject)?;
    check_period(kind, start)?;
    let metric = validate::key("metric", metric)?;
    let value = validate::non_negative("value", value)?;
    let (member_id, team_id) = match subject {
        Subject::Member(id) => {
            find_member(db, actor, id).await?;
            (Some(id), None)
        }
        Subject::Team(id) => {
            find_live::<team::Entity>(db, actor, id).await?;
            (None, Some(id))
        }
    };
    let mut q = target::Entity::find()
        .filter(target::Column::CompanyId.eq(actor.company_id))
        .filter(target::Column::PeriodKind.eq(kind))
        .filter(target::Column::PeriodStart.eq(start))
        .filter(target::Column::Metric.eq(metric.clone()));
    q = match (member_id, team_id) {
        (Some(m), _) => q.filter(target::Column::MemberId.eq(m)),
        (_, Some(t)) => q.filter(target::Column::TeamId.eq(t)),
        _ => q,
    };
    let t = now();
    match q.one(db).await? {
        Some(before) => {
            let mut am = before.clone().into_active_model();
            am.value = Set(value);
            am.updated_at = Set(t);
            update_audited(db, actor, &before, am).await
        }
        None => {
            let am = target::ActiveModel {
                id: Set(new_id()),
                company_id: Set(actor.company_id),
                member_id: Set(member_id),
                team_id: Set(team_id),
                period_kind: Set(kind),
                period_start: Set(start),
                metric: Set(metric),
                value: Set(value),
                created_at: Set(t),
                updated_at: Set(t),
            };
            insert_audited(db, actor, am).await
        }
    }
}

/// Removes a target.
pub async fn delete(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<()> {
    if actor.role == Role::Rep {
        return Err(AppError::Forbidden("only managers and admins set targets".into()));
    }
    let before = find_scoped::<target::Entity>(db, actor, id).await?;
    let subject = match (before.member_id, before.team_id) {
        (Some(m), _) => Subject::Member(m),
        (_, Some(t)) => Subject::Team(t),
        _ => return Err(AppError::Internal("target without member or team".into())),
    };
    require_leads(actor, subject)?;
    target::Entity::delete_by_id(id).exec(db).await?;
    audit::record(
        db,
        actor,
        "delete",
        &(table_name::<target::Entity>(), id),
        Some(&before),
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_their_first_day() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(check_period(PeriodKind::Month, d(2026, 11, 1)).is_ok());
        assert!(check_period(PeriodKind::Month, d(2026, 11, 2)).is_err());
        assert!(check_period(PeriodKind::Week, d(2026, 11, 23)).is_ok());
        assert!(check_period(PeriodKind::Quarter, d(2026, 10, 1)).is_ok());
        assert!(check_period(PeriodKind::Quarter, d(2026, 11, 1)).is_err());
        assert!(check_period(PeriodKind::Year, d(2026, 1, 1)).is_ok());
    }
}
