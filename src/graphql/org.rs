//! The company, its teams and members; login and `me`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{company, enums::Role, member, team};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QueryTrait, Select};
use uuid::Uuid;

use super::{
    connection::connection_cost,
    connection::{Conn, page_args, parse_id, patch, to_connection, wants_total},
    context::{actor, config, db, loader, writer},
    loader::{ListOf, ListRelation, not_deleted, ordered, related},
};
use crate::{
    auth::TokenKeys,
    error::AppError,
    pagination::{Sort, SortKind, fetch_page},
    service::access::{self, find_readable},
    service::{self, Actor, find_scoped},
};

/// The company (tenant) the caller belongs to.
pub struct Company(pub company::Model);

#[Object]
impl Company {
    /// Company id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Short unique handle.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// ISO 4217 currency of every `Money` amount of the company.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// IANA time zone (Asia/Tokyo…): what "today" and "this month" mean for KPIs and analytics.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    /// Whether reps read the whole company's customers and tasks or their team's only.
    async fn rep_visibility(&self) -> crate::service::access::RepVisibility {
        crate::service::access::rep_visibility(&self.0)
    }
    /// The company's plugin folder (`default` when it has none of its own).
    async fn plugin_set(&self) -> &str {
        self.0.plugin_set.as_deref().unwrap_or("default")
    }
}

/// A team or department; teams nest.
pub struct Team(pub team::Model);

/// The sub-teams of a team.
pub struct TeamChildren;
impl ListRelation for TeamChildren {
    type Child = team::Entity;
    fn parent_col() -> team::Column {
        team::Column::ParentId
    }
    fn company_col() -> team::Column {
        team::Column::CompanyId
    }
    fn shape(select: Select<team::Entity>) -> Select<team::Entity> {
        ordered(select.filter(not_deleted(team::Column::DeletedAt)), team::Column::Name)
    }
}

/// The members of a team.
pub struct TeamMembers;
impl ListRelation for TeamMembers {
    type Child = member::Entity;
    fn parent_col() -> member::Column {
        member::Column::TeamId
    }
    fn company_col() -> member::Column {
        member::Column::CompanyId
    }
    fn shape(select: Select<member::Entity>) -> Select<member::Entity> {
        ordered(select, member::Column::Name)
    }
}

#[Object]
impl Team {
    /// Team id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The enclosing team.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Team>> {
        let Some(id) = self.0.parent_id else { return Ok(None) };
        Ok(Some(Team(related::<team::Entity>(ctx, id).await?)))
    }
    /// The member who leads the team.
    async fn manager(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        let Some(id) = self.0.manager_id else { return Ok(None) };
        Ok(Some(Member(related::<member::Entity>(ctx, id).await?)))
    }
    /// Direct sub-teams, by name.
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Team>> {
        let rows = loader(ctx)?.load_one(ListOf::<TeamChildren>::new(self.0.id)).await?;
        Ok(rows.map(|r| r.iter().cloned().map(Team).collect()).unwrap_or_default())
    }
    /// Members of this team (not of sub-teams), by name.
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Member>> {
        let rows = loader(ctx)?.load_one(ListOf::<TeamMembers>::new(self.0.id)).await?;
        Ok(rows
            .map(|r| r.iter().cloned().map(Member).collect())
            .unwrap_or_default())
    }
}

/// A person of the company: rep, manager or admin.
pub struct Member(pub member::Model);

#[Object]
impl Member {
    /// Member id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Login e-mail.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Role.
    async fn role(&self) -> Role {
        self.0.role
    }
    /// False once deactivated.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// The member's team.
    async fn team(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Team>> {
        let Some(id) = self.0.team_id else { return Ok(None) };
        Ok(Some(Team(related::<team::Entity>(ctx, id).await?)))
    }
    /// When the member was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A signed-in session.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// The member signed in.
    pub member: Member,
}

/// One of your signed-in sessions.
pub struct Session {
    row: entity::login_session::Model,
    current: bool,
}

#[Object]
impl Session {
    /// Id (for `revokeSession`).
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// When you signed in.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When its token stops working.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.row.expires_at
    }
    /// The address you signed in from.
    async fn client(&self) -> &str {
        &self.row.client
    }
    /// The browser or app (its `User-Agent`).
    async fn user_agent(&self) -> &str {
        &self.row.user_agent
    }
    /// The session of this request's token.
    async fn current(&self) -> bool {
        self.current
    }
}

/// Filter of the member list.
#[derive(InputObject, Default)]
pub struct MemberFilter {
    /// Members of this team or any team below it.
    pub team_id: Option<ID>,
    /// Only this role.
    pub role: Option<Role>,
    /// Only active (true) or deactivated (false) members.
    pub active: Option<bool>,
    /// Name or e-mail contains this text (case-insensitive).
    pub search: Option<String>,
}

/// All team ids at or below `root` in the company's team tree.
pub async fn team_subtree(
    db: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    root: Uuid,
) -> Result<Vec<Uuid>, AppError> {
    let teams: Vec<(Uuid, Option<Uuid>)> = access::select::<team::Entity>(actor)
        .filter(team::Column::DeletedAt.is_null())
        .select_only_tuple()
        .all(db)
        .await?;
    if !teams.iter().any(|(id, _)| *id == root) {
        return Err(AppError::NotFound("Team"));
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let current = out[i];
        out.extend(teams.iter().filter(|(_, p)| *p == Some(current)).map(|(id, _)| *id));
        i += 1;
    }
    Ok(out)
}

trait SelectTeamTuple {
    fn select_only_tuple(self) -> sea_orm::Selector<sea_orm::SelectGetableTuple<(Uuid, Option<Uuid>)>>;
}
impl SelectTeamTuple for Select<team::Entity> {
    fn select_only_tuple(self) -> sea_orm::Selector<sea_orm::SelectGetableTuple<(Uuid, Option<Uuid>)>> {
        use sea_orm::QuerySelect;
        self.select_only()
            .column(team::Column::Id)
            .column(team::Column::ParentId)
            .into_tuple()
    }
}

/// Condition "`col` is a member of team `team_id` or a team below it".
pub async fn in_team(
    db: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    team_id: &ID,
    col: impl ColumnTrait,
) -> async_graphql::Result<Condition> {
    use sea_orm::QuerySelect;
    let teams = team_subtree(db, actor, parse_id(team_id, "Team")?).await?;
    let members = member::Entity::find()
        .select_only()
        .column(member::Column::Id)
        .filter(member::Column::CompanyId.eq(actor.company_id))
        .filter(member::Column::TeamId.is_in(teams))
        .into_query();
    Ok(Condition::all().add(col.in_subquery(members)))
}

/// The longest `search` text, in characters: longer is not a search a
/// person types (and SQLite refuses LIKE patterns over 50,000 bytes).
pub const MAX_SEARCH_CHARS: usize = 200;

/// Case-insensitive "contains" on any of `cols`; `%`, `_` and `\` are
/// literal. A text over [`MAX_SEARCH_CHARS`] is BAD_USER_INPUT.
pub fn search(cols: &[sea_orm::sea_query::Expr], text: &str) -> crate::error::AppResult<Condition> {
    use sea_orm::sea_query::{ExprTrait, Func, LikeExpr};
    if text.chars().count() > MAX_SEARCH_CHARS {
        return Err(AppError::bad(format!(
            "`search` is longer than {MAX_SEARCH_CHARS} characters"
        )));
    }
    let escaped: String = text
        .trim()
        .to_lowercase()
        .chars()
        .flat_map(|c| {
            if matches!(c, '%' | '_' | '\\') {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect();
    let pattern = format!("%{escaped}%");
    Ok(cols.iter().fold(Condition::any(), |cond, col| {
        cond.add(sea_orm::sea_query::Expr::expr(Func::lower(col.clone())).like(LikeExpr::new(&pattern).escape('\\')))
    }))
}

/// Queries about the company and its people.
#[derive(Default)]
pub struct OrgQuery;

#[Object]
impl OrgQuery {
    /// The signed-in member.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        let actor = actor(ctx)?;
        Ok(Member(service::find_member(db(ctx)?, actor, actor.member_id).await?))
    }

    /// Your signed-in sessions that still work, newest first (empty for an API key).
    async fn my_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Session>> {
        let actor = actor(ctx)?;
        let rows = service::auth::sessions(db(ctx)?, actor).await?;
        Ok(rows
            .into_iter()
            .map(|row| Session {
                current: actor.session_id == Some(row.id),
                row,
            })
            .collect())
    }

    /// The caller's company.
    async fn company(&self, ctx: &Context<'_>) -> async_graphql::Result<Company> {
        let actor = actor(ctx)?;
        let found = company::Entity::find_by_id(actor.company_id)
            .one(db(ctx)?)
            .await
            .map_err(AppError::from)?;
        Ok(Company(found.ok_or(AppError::NotFound("Company"))?))
    }

    /// Every team of the company, by name (a company has tens, not thousands).
    async fn teams(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Team>> {
        let actor = actor(ctx)?;
        let rows = access::select::<team::Entity>(actor)
            .filter(team::Column::DeletedAt.is_null())
            .order_by_asc(team::Column::Name)
            .all(db(ctx)?)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(Team).collect())
    }

    /// A team by id.
    async fn team(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Team> {
        let actor = actor(ctx)?;
        Ok(Team(
            find_readable::<team::Entity>(db(ctx)?, actor, parse_id(&id, "Team")?, Some(team::Column::DeletedAt))
                .await?,
        ))
    }

    /// A member by id.
    async fn member(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Member> {
        let actor = actor(ctx)?;
        Ok(Member(
            find_scoped::<member::Entity>(db(ctx)?, actor, parse_id(&id, "Member")?).await?,
        ))
    }

    /// The company's members, by name.
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        filter: Option<MemberFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<Member>> {
        let actor = actor(ctx)?;
        let db = db(ctx)?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let f = filter.unwrap_or_default();
        let mut select = access::select::<member::Entity>(actor);
        if let Some(team) = &f.team_id {
            select = select.filter(in_team(db, actor, team, member::Column::Id).await?);
        }
        if let Some(role) = f.role {
            select = select.filter(member::Column::Role.eq(role));
        }
        if let Some(active) = f.active {
            select = select.filter(member::Column::Active.eq(active));
        }
        if let Some(text) = &f.search {
            use sea_orm::sea_query::Expr;
            select = select.filter(search(
                &[Expr::col(member::Column::Name), Expr::col(member::Column::Email)],
                text,
            )?);
        }
        let sort = Sort::new(member::Column::Name, SortKind::Text, false);
        let page = fetch_page(db, select, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, Member))
    }
}

/// Input of `createTeam`.
#[derive(InputObject)]
pub struct TeamInput {
    /// Display name.
    pub name: String,
    /// The enclosing team.
    pub parent_id: Option<ID>,
    /// The member who leads the team.
    pub manager_id: Option<ID>,
}

/// Input of `updateTeam`: omitted fields stay, `null` clears.
#[derive(InputObject)]
pub struct UpdateTeamInput {
    /// Display name.
    pub name: Option<String>,
    /// The enclosing team (`null`: a top-level team).
    pub parent_id: async_graphql::MaybeUndefined<ID>,
    /// The member who leads the team (`null`: nobody).
    pub manager_id: async_graphql::MaybeUndefined<ID>,
}

/// Signing in and shaping the organisation.
#[derive(Default)]
pub struct OrgMutation;

#[Object]
impl OrgMutation {
    /// Signs in with e-mail and password; returns a bearer token. An e-mail
    /// may belong to members of several companies: the password decides, and
    /// when it opens several, `company` (the slug) names the one meant
    /// (else COMPANY_REQUIRED). Failed tries are limited per e-mail and
    /// client address (then each try waits, doubling) and per client
    /// address (TOO_MANY_ATTEMPTS).
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        #[graphql(desc = "The company's slug, when the e-mail is a member of several.")] company: Option<String>,
    ) -> async_graphql::Result<AuthPayload> {
        let limits = &config(ctx)?.auth;
        let client = super::context::client(ctx);
        let login = service::auth::login(
            db(ctx)?,
            ctx.data::<TokenKeys>()?,
            limits,
            &client,
            &email,
            &password,
            company.as_deref(),
        )
        .await?;
        Ok(AuthPayload {
            token: login.token,
            expires_at: login.expires_at,
            member: Member(login.member),
        })
    }

    /// Signs this token out: it stops working at once (and its open
    /// subscriptions end within `ws_auth_recheck_secs`).
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let actor = super::context::actor(ctx)?;
        service::auth::logout(db(ctx)?, actor, false).await?;
        Ok(true)
    }

    /// Signs out every session of yours, this one included; returns how many there were.
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let actor = super::context::actor(ctx)?;
        Ok(service::auth::logout(db(ctx)?, actor, true).await? as i32)
    }

    /// Signs out one of your other sessions (see `mySessions`).
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let actor = super::context::actor(ctx)?;
        let id = parse_id(&id, "Session")?;
        service::auth::revoke_session(db(ctx)?, actor, id).await?;
        Ok(true)
    }

    /// Creates a team (admins only).
    async fn create_team(&self, ctx: &Context<'_>, input: TeamInput) -> async_graphql::Result<Team> {
        let actor = writer(ctx)?;
        let input = team_input(&input)?;
        Ok(Team(crate::in_txn!(ctx, |txn| service::catalog::create_team(
            &txn,
            actor,
            input.clone()
        ))))
    }

    /// Renames a team, moves it or changes its manager (admins only).
    async fn update_team(&self, ctx: &Context<'_>, id: ID, input: UpdateTeamInput) -> async_graphql::Result<Team> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Team")?;
        let input = service::catalog::TeamPatch {
            name: input.name,
            parent_id: patch(input.parent_id, |id| parse_id(&id, "Team"))?,
            manager_id: patch(input.manager_id, |id| parse_id(&id, "Member"))?,
        };
        Ok(Team(crate::in_txn!(ctx, |txn| service::catalog::update_team(
            &txn,
            actor,
            id,
            input.clone()
        ))))
    }
}

fn team_input(input: &TeamInput) -> Result<service::catalog::TeamFields, AppError> {
    Ok(service::catalog::TeamFields {
        name: input.name.clone(),
        parent_id: input.parent_id.as_ref().map(|id| parse_id(id, "Team")).transpose()?,
        manager_id: input.manager_id.as_ref().map(|id| parse_id(id, "Member")).transpose()?,
    })
}
