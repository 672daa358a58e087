//! Comments (advice) on daily reports, deals, activities and customers.

use entity::{activity, comment, customer, daily_report, deal, enums::CommentSubject};
use sea_orm::{ConnectionTrait, IntoActiveModel, Set};
use uuid::Uuid;

use super::{
    Actor, access::find_readable, delete_soft, find_live, insert_audited, new_id, now, update_audited, validate,
};
use crate::error::{AppError, AppResult};

/// Longest comment, in characters.
const MAX_BODY: usize = 20_000;

async fn check_subject(db: &impl ConnectionTrait, actor: &Actor, kind: CommentSubject, id: Uuid) -> AppResult<()> {
    match kind {
        CommentSubject::DailyReport => find_readable::<daily_report::Entity>(db, actor, id, None)
            .await
            .map(drop),
        CommentSubject::Deal => find_readable::<deal::Entity>(db, actor, id, Some(deal::Column::DeletedAt))
            .await
            .map(drop),
        CommentSubject::Activity => find_readable::<activity::Entity>(db, actor, id, Some(activity::Column::DeletedAt))
            .await
            .map(drop),
        CommentSubject::Customer => find_readable::<customer::Entity>(db, actor, id, Some(customer::Column::DeletedAt))
            .await
            .map(drop),
    }
}

/// Adds a comment, or a reply when `parent_id` names a comment on the same record.
pub async fn add(
    db: &impl ConnectionTrait,
    actor: &Actor,
    subject_type: CommentSubject,
    subject_id: Uuid,
    body: &str,
    parent_id: Option<Uuid>,
    mentions: &[Uuid],
) -> AppResult<comment::Model> {
    check_subject(db, actor, subject_type, subject_id).await?;
    super::notify::check_mentions(db, actor, subject_type, subject_id, mentions).await?;
    if let Some(parent) = parent_id {
        let p = find_live::<comment::Entity>(db, actor, parent).await?;
        if p.subject_type != subject_type || p.subject_id != subject_id {
            return Err(AppError::bad("`parentId` is a comment on another record"));
        }
    }
    let t = now();
    let am = comment::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        author_id: Set(actor.member_id),
        subject_type: Set(subject_type),
        subject_id: Set(subject_id),
        parent_id: Set(parent_id),
        body: Set(validate::text("body", body, MAX_BODY)?),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    let c = insert_audited(db, actor, am).await?;
    super::notify::commented(db, actor, &c, mentions).await?;
    Ok(c)
}

async fn own(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<comment::Model> {
    let c = find_live::<comment::Entity>(db, actor, id).await?;
    if c.author_id != actor.member_id {
        return Err(AppError::Forbidden(
            "only the author can change or delete a comment".into(),
        ));
    }
    Ok(c)
}

/// Edits one's own comment.
pub async fn edit(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, body: &str) -> AppResult<comment::Model> {
    let before = own(db, actor, id).await?;
    let mut am = before.clone().into_active_model();
    am.body = Set(validate::text("body", body, MAX_BODY)?);
    am.updated_at = Set(now());
    update_audited(db, actor, &before, am).await
}

/// Deletes one's own comment (replies stay).
pub async fn delete(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<()> {
    own(db, actor, id).await?;
    delete_soft::<comment::Entity>(db, actor, id).await
}
