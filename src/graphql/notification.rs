//! The inbox (notifications, unread count, muted kinds), following records,
//! and the live subscriptions: my notifications, a deal's changes, a team's
//! activity feed.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use entity::{
    activity, comment, deal,
    enums::{NotificationKind, NotificationSubject},
    member, notification, notification_mute,
};
use futures_util::{Stream, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{
    activity::Activity,
    connection::{Conn, page_args, parse_id, parse_opt_id, to_connection, wants_total},
    context::{actor, config, db, writer},
    deal::Deal,
    loader::related,
    misc::Comment,
    org::Member,
};
use crate::{
    error::AppError,
    events::{Bus, EventKind, Published},
    in_txn,
    pagination::{Sort, SortKind, fetch_page},
    service::{self, access, notify},
};

/// One notification in your inbox.
pub struct Notification(pub notification::Model);

#[Object]
impl Notification {
    /// Notification id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// What happened.
    async fn kind(&self) -> NotificationKind {
        self.0.kind
    }
    /// What kind of record it is about.
    async fn subject_type(&self) -> NotificationSubject {
        self.0.subject_type
    }
    /// The record it is about (fetch it with `deal`, `dailyReport`, `task`…).
    async fn subject_id(&self) -> ID {
        self.0.subject_id.into()
    }
    /// One line a person reads.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// The comment, for comments and mentions (none once deleted).
    async fn comment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Comment>> {
        let Some(id) = self.0.comment_id else { return Ok(None) };
        Ok(related::<comment::Entity>(ctx, id)
            .await
            .ok()
            .filter(|c| c.deleted_at.is_none())
            .map(Comment))
    }
    /// Who did it (none for reminders).
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        let Some(id) = self.0.actor_id else { return Ok(None) };
        Ok(Some(Member(related::<member::Entity>(ctx, id).await?)))
    }
    /// When it happened.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When you read it.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
    /// Whether you read it.
    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }
}

/// Your inbox.
#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// Your notifications, newest first; `unreadOnly` keeps the unread ones,
    /// `kinds` the kinds named.
    #[allow(clippy::too_many_arguments)]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        unread_only: Option<bool>,
        kinds: Option<Vec<NotificationKind>>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Notification>> {
        let actor = actor(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let mut q = notification::Entity::find()
            .filter(notification::Column::CompanyId.eq(actor.company_id))
            .filter(notification::Column::RecipientId.eq(actor.member_id));
        if unread_only.unwrap_or(false) {
            q = q.filter(notification::Column::ReadAt.is_null());
        }
        if let Some(kinds) = kinds {
            q = q.filter(notification::Column::Kind.is_in(kinds));
        }
        let sort = Sort::new(notification::Column::CreatedAt, SortKind::Time, true);
        let page = fetch_page(db(ctx)?, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Notification))
    }

    /// How many of your notifications are unread.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let actor = actor(ctx)?;
        let n = notification::Entity::find()
            .filter(notification::Column::RecipientId.eq(actor.member_id))
            .filter(notification::Column::ReadAt.is_null())
            .count(db(ctx)?)
            .await
            .map_err(AppError::from)?;
        Ok(n as i64)
    }

    /// The kinds of notification you muted.
    async fn muted_notification_kinds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<NotificationKind>> {
        let actor = actor(ctx)?;
        muted(db(ctx)?, actor.member_id).await
    }
}

async fn muted(db: &sea_orm::DatabaseConnection, member: Uuid) -> async_graphql::Result<Vec<NotificationKind>> {
    Ok(notification_mute::Entity::find()
        .select_only()
        .column(notification_mute::Column::Kind)
        .filter(notification_mute::Column::MemberId.eq(member))
        .order_by_asc(notification_mute::Column::Kind)
        .into_tuple()
        .all(db)
        .await
        .map_err(AppError::from)?)
}

/// Reading, muting, following.
#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks notifications of yours read: those in `ids`, or all with
    /// `all: true`. Returns how many were unread.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
        all: Option<bool>,
    ) -> async_graphql::Result<i32> {
        let actor = writer(ctx)?;
        let mut q = notification::Entity::update_many()
            .col_expr(notification::Column::ReadAt, Expr::value(service::now()))
            .filter(notification::Column::RecipientId.eq(actor.member_id))
            .filter(notification::Column::ReadAt.is_null());
        match (ids, all.unwrap_or(false)) {
            (Some(_), true) => return Err(AppError::bad("give `ids` or `all: true`, not both").into()),
            (None, false) => return Err(AppError::bad("give the `ids` to mark read, or `all: true`").into()),
            (Some(ids), false) => {
                if ids.len() > 1000 {
                    return Err(AppError::bad("mark at most 1,000 notifications at once").into());
                }
                let ids = ids
                    .iter()
                    .map(|id| parse_id(id, "Notification"))
                    .collect::<Result<Vec<_>, _>>()?;
                q = q.filter(notification::Column::Id.is_in(ids));
            }
            (None, true) => {}
        }
        let done = q.exec(db(ctx)?).await.map_err(AppError::from)?;
        Ok(done.rows_affected as i32)
    }

    /// Mutes (or unmutes) a kind of notification for you; returns the kinds
    /// now muted. Muted kinds are not written to your inbox at all.
    async fn set_notification_kind_muted(
        &self,
        ctx: &Context<'_>,
        kind: NotificationKind,
        muted: bool,
    ) -> async_graphql::Result<Vec<NotificationKind>> {
        let actor = writer(ctx)?;
        let db = db(ctx)?;
        notification_mute::Entity::delete_many()
            .filter(notification_mute::Column::MemberId.eq(actor.member_id))
            .filter(notification_mute::Column::Kind.eq(kind))
            .exec(db)
            .await
            .map_err(AppError::from)?;
        if muted {
            notification_mute::Entity::insert(notification_mute::ActiveModel {
                company_id: Set(actor.company_id),
                member_id: Set(actor.member_id),
                kind: Set(kind),
            })
            .exec_without_returning(db)
            .await
            .map_err(AppError::from)?;
        }
        self::muted(db, actor.member_id).await
    }

    /// Follows a record you may read: comments on it notify you. Writing a
    /// comment follows the record too.
    async fn follow(
        &self,
        ctx: &Context<'_>,
        subject_type: NotificationSubject,
        subject_id: ID,
    ) -> async_graphql::Result<bool> {
        let actor = writer(ctx)?;
        let id = parse_id(&subject_id, "Record")?;
        in_txn!(ctx, |txn| notify::follow_record(&txn, actor, (subject_type, id), true));
        Ok(true)
    }

    /// Stops following a record.
    async fn unfollow(
        &self,
        ctx: &Context<'_>,
        subject_type: NotificationSubject,
        subject_id: ID,
    ) -> async_graphql::Result<bool> {
        let actor = writer(ctx)?;
        let id = parse_id(&subject_id, "Record")?;
        in_txn!(ctx, |txn| notify::follow_record(&txn, actor, (subject_type, id), false));
        Ok(true)
    }
}

/// Every event from now on; a subscriber that falls too far behind skips
/// ahead rather than holding the others back.
fn events(rx: broadcast::Receiver<Arc<Published>>) -> impl Stream<Item = Arc<Published>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "a slow subscriber skipped events");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// Live updates over WebSocket (`/graphql/ws`, protocol `graphql-transport-ws`;
/// send `{"authorization": "Bearer <token>"}` as the `connection_init` payload).
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Each notification as it lands in your inbox.
    async fn notification_added(&self, ctx: &Context<'_>) -> async_graphql::Result<impl Stream<Item = Notification>> {
        let actor = actor(ctx)?.clone();
        let db = db(ctx)?.clone();
        let rx = ctx.data::<Bus>()?.subscribe();
        Ok(events(rx).filter_map(move |e| {
            let db = db.clone();
            let (me, company) = (actor.member_id, actor.company_id);
            async move {
                if e.kind != EventKind::Notification || e.company_id != company || e.member != Some(me) {
                    return None;
                }
                notification::Entity::find_by_id(e.id)
                    .filter(notification::Column::RecipientId.eq(me))
                    .one(&db)
                    .await
                    .ok()
                    .flatten()
                    .map(Notification)
            }
        }))
    }

    /// The deal each time it changes (stage, outcome, fields, members,
    /// quality); an error once you may no longer read it.
    async fn deal_changed(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Deal>>> {
        let actor = actor(ctx)?.clone();
        let db = db(ctx)?.clone();
        let deal_id = parse_id(&id, "Deal")?;
        access::find_readable::<deal::Entity>(&db, &actor, deal_id, Some(deal::Column::DeletedAt)).await?;
        let rx = ctx.data::<Bus>()?.subscribe();
        Ok(events(rx).filter_map(move |e| {
            let (db, actor) = (db.clone(), actor.clone());
            async move {
                if e.kind != EventKind::Deal || e.company_id != actor.company_id || e.id != deal_id {
                    return None;
                }
                // The first subscriber loads the deal for all; each then
                // checks its own reader in memory.
                let shared = e
                    .shared
                    .get_or_try_init(|| async {
                        access::deal_facts(&db, actor.company_id, deal_id)
                            .await
                            .map(|f| Arc::new(f) as Arc<dyn std::any::Any + Send + Sync>)
                    })
                    .await;
                let facts = match shared {
                    Ok(any) => any.downcast_ref::<Option<access::DealFacts>>().cloned().flatten(),
                    Err(e) => return Some(Err(e.into())),
                };
                Some(match facts {
                    Some(f) if access::may_read_deal(&actor, &f) => Ok(Deal(f.deal)),
                    _ => Err(AppError::NotFound("Deal").into()),
                })
            }
        }))
    }

    /// Activities recorded or changed by the members of a team and the teams
    /// below it (default: your own team), as you may read them.
    async fn team_activity(
        &self,
        ctx: &Context<'_>,
        team_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = Activity>> {
        let actor = actor(ctx)?.clone();
        let db = db(ctx)?.clone();
        let team = match parse_opt_id(team_id.as_ref(), "Team")? {
            Some(t) => t,
            None => actor
                .team_id
                .ok_or_else(|| AppError::bad("you are in no team; name one with `teamId`"))?,
        };
        service::find_live::<entity::team::Entity>(&db, &actor, team).await?;
        let members: Vec<Uuid> = service::kpi::members_of(&db, actor.company_id, &[service::plan::Subject::Team(team)])
            .await?
            .concat();
        let rx = ctx.data::<Bus>()?.subscribe();
        Ok(events(rx).filter_map(move |e| {
            let (db, actor) = (db.clone(), actor.clone());
            let wanted = e.kind == EventKind::Activity
                && e.company_id == actor.company_id
                && e.member.is_some_and(|m| members.contains(&m));
            async move {
                if !wanted {
                    return None;
                }
                access::find_readable::<activity::Entity>(&db, &actor, e.id, Some(activity::Column::DeletedAt))
                    .await
                    .ok()
                    .map(Activity)
            }
        }))
    }
}
