//! Questions and answers on the stages of the sales process.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::{answer, member, question};
use sea_orm::{ColumnTrait, QueryFilter, Select, sea_query::Expr};

use super::{
    connection::{Conn, connection_cost, page_args, parse_id, to_connection, wants_total},
    context::{actor, config, db, loader, writer},
    loader::{ListOf, ListRelation, not_deleted, ordered, related},
    org::{Member, search},
};
use crate::{
    in_txn,
    pagination::{Sort, SortKind, fetch_page},
    service::{access, qa},
};

/// A question about a stage of the process, open to the whole company.
pub struct Question(pub question::Model);

/// The answers of a question, oldest first.
pub struct QuestionAnswers;

impl ListRelation for QuestionAnswers {
    type Child = answer::Entity;
    fn parent_col() -> answer::Column {
        answer::Column::QuestionId
    }
    fn company_col() -> answer::Column {
        answer::Column::CompanyId
    }
    fn shape(select: Select<answer::Entity>) -> Select<answer::Entity> {
        ordered(
            select.filter(not_deleted(answer::Column::DeletedAt)),
            answer::Column::CreatedAt,
        )
    }
}

#[Object]
impl Question {
    /// Question id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Key of the stage it is about.
    async fn stage(&self) -> &str {
        &self.0.stage
    }
    /// The stage's name in the company's process.
    async fn stage_name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(actor(ctx)?.plugins.process.stage_name(&self.0.stage))
    }
    /// One line.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The question in full.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Who asked.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.author_id).await.map(Member)
    }
    /// The answers, oldest first.
    async fn answers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Answer>> {
        let rows = loader(ctx)?
            .load_one(ListOf::<QuestionAnswers>::new(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.iter().cloned().map(Answer).collect())
    }
    /// How many answers it has.
    async fn answer_count(&self) -> i32 {
        self.0.answer_count
    }
    /// The answer the asker marked as the one that helped.
    async fn accepted_answer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Answer>> {
        let Some(id) = self.0.accepted_answer_id else {
            return Ok(None);
        };
        Ok(Some(Answer(related::<answer::Entity>(ctx, id).await?)))
    }
    /// Asked.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last changed (edited, answer accepted).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An answer to a question.
pub struct Answer(pub answer::Model);

#[Object]
impl Answer {
    /// Answer id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// The question.
    async fn question_id(&self) -> ID {
        self.0.question_id.into()
    }
    /// The answer.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Who answered.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.author_id).await.map(Member)
    }
    /// Written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Input of `askQuestion` and `updateQuestion`.
#[derive(InputObject)]
pub struct QuestionInput {
    /// Key of the stage it is about (see `process { stages { key } }`).
    pub stage: String,
    /// One line (at most 200 characters).
    pub title: String,
    /// The question in full.
    pub body: String,
}

/// Q&A queries.
#[derive(Default)]
pub struct QaQuery;

#[Object]
impl QaQuery {
    /// Questions, newest first: of one stage, matching words in the title or
    /// body, or those with no accepted answer yet.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn questions(
        &self,
        ctx: &Context<'_>,
        stage: Option<String>,
        search: Option<String>,
        #[graphql(desc = "Only questions without an accepted answer.")] open: Option<bool>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Question>> {
        let actor = actor(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let mut q = access::select::<question::Entity>(actor).filter(question::Column::DeletedAt.is_null());
        if let Some(stage) = stage {
            q = q.filter(question::Column::Stage.eq(stage));
        }
        if let Some(text) = search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            q = q.filter(self::search(
                &[Expr::col(question::Column::Title), Expr::col(question::Column::Body)],
                text,
            )?);
        }
        if open.unwrap_or(false) {
            q = q.filter(question::Column::AcceptedAnswerId.is_null());
        }
        let sort = Sort::new(question::Column::CreatedAt, SortKind::Time, true);
        let page = fetch_page(db(ctx)?, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Question))
    }

    /// One question.
    async fn question(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Question> {
        let actor = actor(ctx)?;
        let id = parse_id(&id, "Question")?;
        Ok(Question(
            crate::service::find_live::<question::Entity>(db(ctx)?, actor, id).await?,
        ))
    }
}

/// Q&A mutations.
#[derive(Default)]
pub struct QaMutation;

#[Object]
impl QaMutation {
    /// Asks a question about a stage; you follow it (answers notify you).
    async fn ask_question(&self, ctx: &Context<'_>, input: QuestionInput) -> async_graphql::Result<Question> {
        let actor = writer(ctx)?;
        Ok(Question(in_txn!(ctx, |txn| qa::ask(
            &txn,
            actor,
            &input.stage,
            &input.title,
            &input.body
        ))))
    }

    /// Edits your question.
    async fn update_question(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: QuestionInput,
    ) -> async_graphql::Result<Question> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Question")?;
        Ok(Question(in_txn!(ctx, |txn| qa::edit_question(
            &txn,
            actor,
            id,
            &input.stage,
            &input.title,
            &input.body
        ))))
    }

    /// Answers a question; the asker and its followers are notified.
    async fn answer_question(&self, ctx: &Context<'_>, question_id: ID, body: String) -> async_graphql::Result<Answer> {
        let actor = writer(ctx)?;
        let id = parse_id(&question_id, "Question")?;
        Ok(Answer(in_txn!(ctx, |txn| qa::answer(&txn, actor, id, &body))))
    }

    /// Marks the answer that helped, or none (the asker or an admin).
    async fn accept_answer(
        &self,
        ctx: &Context<'_>,
        question_id: ID,
        answer_id: Option<ID>,
    ) -> async_graphql::Result<Question> {
        let actor = writer(ctx)?;
        let q = parse_id(&question_id, "Question")?;
        let a = answer_id.as_ref().map(|a| parse_id(a, "Answer")).transpose()?;
        Ok(Question(in_txn!(ctx, |txn| qa::accept(&txn, actor, q, a))))
    }

    /// Deletes a question (the asker or an admin).
    async fn delete_question(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Question")?;
        in_txn!(ctx, |txn| qa::delete_question(&txn, actor, id));
        Ok(true)
    }

    /// Deletes an answer (its author or an admin).
    async fn delete_answer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Answer")?;
        in_txn!(ctx, |txn| qa::delete_answer(&txn, actor, id));
        Ok(true)
    }
}
