//! Questions and answers on the stages of the sales process (seed 003: the
//! rep who is stuck at a stage asks, someone who has been there answers,
//! and the asker marks the answer that helped). Open to the whole company.

use entity::{
    answer,
    enums::{NotificationKind, NotificationSubject},
    question,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{
    Actor, delete_soft, find_live, insert_audited, new_id, notify,
    notify::{Draft, Origin},
    now, update_audited, validate,
};
use crate::error::{AppError, AppResult};

/// Longest question or answer body, in characters.
const MAX_BODY: usize = 20_000;

/// The stage key, if it is a stage of the company's process.
fn check_stage(actor: &Actor, stage: &str) -> AppResult<String> {
    let process = &actor.plugins.process;
    if process.stage(stage).is_some() {
        return Ok(stage.to_owned());
    }
    let known: Vec<&str> = process.stages.iter().map(|s| s.key.as_str()).collect();
    Err(AppError::bad(format!(
        "`{stage}` is not a stage of your company's process ({})",
        known.join(", ")
    )))
}

/// Asks a question about a stage; the asker follows it.
pub async fn ask(
    db: &impl ConnectionTrait,
    actor: &Actor,
    stage: &str,
    title: &str,
    body: &str,
) -> AppResult<question::Model> {
    let t = now();
    let am = question::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        stage: Set(check_stage(actor, stage)?),
        author_id: Set(actor.member_id),
        title: Set(validate::text("title", title, 200)?),
        body: Set(validate::body("body", body, MAX_BODY)?),
        accepted_answer_id: Set(None),
        answer_count: Set(0),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    let q = insert_audited(db, actor, am).await?;
    notify::set_follow(db, actor, (NotificationSubject::Question, q.id), true).await?;
    Ok(q)
}

/// Answers a question: the asker and its followers hear of it; the one who
/// answers follows it from now on.
pub async fn answer(
    db: &impl ConnectionTrait,
    actor: &Actor,
    question_id: Uuid,
    body: &str,
) -> AppResult<answer::Model> {
    let q = find_live::<question::Entity>(db, actor, question_id).await?;
    let t = now();
    let am = answer::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        question_id: Set(q.id),
        author_id: Set(actor.member_id),
        body: Set(validate::body("body", body, MAX_BODY)?),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    let a = insert_audited(db, actor, am).await?;
    bump_count(db, q.id, 1).await?;
    let author = super::find_member(db, actor, actor.member_id).await?;
    let excerpt: String = a.body.chars().take(80).collect();
    let mut people = notify::followers(db, actor, (NotificationSubject::Question, q.id)).await?;
    people.insert(q.author_id);
    let draft = Draft {
        kind: NotificationKind::Answer,
        subject: (NotificationSubject::Question, q.id),
        comment_id: None,
        summary: format!("{} answered \"{}\": {excerpt}", author.name, q.title),
        dedupe_key: None,
    };
    notify::send(db, &Origin::from(actor), people, &draft).await?;
    notify::set_follow(db, actor, (NotificationSubject::Question, q.id), true).await?;
    Ok(a)
}

async fn bump_count(db: &impl ConnectionTrait, question_id: Uuid, by: i32) -> AppResult<()> {
    question::Entity::update_many()
        .col_expr(
            question::Column::AnswerCount,
            Expr::col(question::Column::AnswerCount).add(by),
        )
        .filter(question::Column::Id.eq(question_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks the answer that helped (the asker, or an admin); `None` unmarks.
/// The one who answered hears of it.
pub async fn accept(
    db: &impl ConnectionTrait,
    actor: &Actor,
    question_id: Uuid,
    answer_id: Option<Uuid>,
) -> AppResult<question::Model> {
    let before = find_live::<question::Entity>(db, actor, question_id).await?;
    if before.author_id != actor.member_id && !actor.is_admin() {
        return Err(AppError::Forbidden(
            "only the one who asked (or an admin) can accept an answer".into(),
        ));
    }
    let accepted = match answer_id {
        Some(id) => {
            let a = find_live::<answer::Entity>(db, actor, id).await?;
            if a.question_id != before.id {
                return Err(AppError::bad("`answerId` answers another question"));
            }
            Some(a)
        }
        None => None,
    };
    let mut am = before.clone().into_active_model();
    am.accepted_answer_id = Set(accepted.as_ref().map(|a| a.id));
    am.updated_at = Set(now());
    let after = update_audited(db, actor, &before, am).await?;
    if let Some(a) = accepted
        && before.accepted_answer_id != Some(a.id)
    {
        let draft = Draft {
            kind: NotificationKind::Answer,
            subject: (NotificationSubject::Question, before.id),
            comment_id: None,
            summary: format!("Your answer to \"{}\" was accepted", before.title),
            dedupe_key: None,
        };
        notify::send(db, &Origin::from(actor), [a.author_id], &draft).await?;
    }
    Ok(after)
}

/// Edits one's own question (title, body, stage).
pub async fn edit_question(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    stage: &str,
    title: &str,
    body: &str,
) -> AppResult<question::Model> {
    let before = find_live::<question::Entity>(db, actor, id).await?;
    if before.author_id != actor.member_id {
        return Err(AppError::Forbidden("only the one who asked can edit a question".into()));
    }
    let mut am = before.clone().into_active_model();
    am.stage = Set(check_stage(actor, stage)?);
    am.title = Set(validate::text("title", title, 200)?);
    am.body = Set(validate::body("body", body, MAX_BODY)?);
    am.updated_at = Set(now());
    update_audited(db, actor, &before, am).await
}

/// Deletes a question (its asker or an admin).
pub async fn delete_question(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<()> {
    let q = find_live::<question::Entity>(db, actor, id).await?;
    if q.author_id != actor.member_id && !actor.is_admin() {
        return Err(AppError::Forbidden(
            "only the one who asked (or an admin) can delete a question".into(),
        ));
    }
    delete_soft::<question::Entity>(db, actor, id).await
}

/// Deletes an answer (its author or an admin); an accepted one is unmarked.
pub async fn delete_answer(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<()> {
    let a = find_live::<answer::Entity>(db, actor, id).await?;
    if a.author_id != actor.member_id && !actor.is_admin() {
        return Err(AppError::Forbidden(
            "only its author (or an admin) can delete an answer".into(),
        ));
    }
    delete_soft::<answer::Entity>(db, actor, id).await?;
    bump_count(db, a.question_id, -1).await?;
    question::Entity::update_many()
        .col_expr(question::Column::AcceptedAnswerId, Expr::value(Option::<Uuid>::None))
        .filter(question::Column::Id.eq(a.question_id))
        .filter(question::Column::AcceptedAnswerId.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
