//! Administration: members' lifecycle, API keys, company settings, the audit log.

use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{api_key, audit_log, company, enums::Role, member};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set};

use super::{
    connection::connection_cost,
    connection::{Conn, page_args, parse_id, parse_opt_id, patch, to_connection, wants_total},
    context::{actor, config, db, writer},
    loader::related,
    org::{AuthPayload, Company, Member},
};
use crate::{
    auth::TokenKeys,
    error::AppError,
    in_txn,
    pagination::{Sort, SortKind, fetch_page},
    service::{
        access::{self, ApiKeyScope, RepVisibility},
        api_keys, audit, members, now,
    },
};

/// An API key (the secret itself is shown only once, at creation).
pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    /// Key id (the public part of the key).
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// What the key is for.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// READ_ONLY or READ_WRITE.
    async fn scope(&self) -> async_graphql::Result<ApiKeyScope> {
        ApiKeyScope::parse(&self.0.scope).ok_or_else(|| AppError::Internal("unknown key scope".into()).into())
    }
    /// The admin who created it; the key acts as them.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Member> {
        related::<member::Entity>(ctx, self.0.created_by).await.map(Member)
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last request made with it (updated at most once a minute).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    /// When it was revoked.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A new API key with its secret, shown this once.
#[derive(SimpleObject)]
pub struct NewApiKey {
    /// The key's record.
    pub api_key: ApiKey,
    /// Send as `Authorization: Bearer <key>`. Store it now: it cannot be shown again.
    pub key: String,
}

/// A member with the password generated for them, if one was.
#[derive(SimpleObject)]
pub struct MemberCredentials {
    /// The member.
    pub member: Member,
    /// The generated password, shown this once; null when you chose it.
    pub temporary_password: Option<String>,
}

/// One change in the audit log.
pub struct AuditEntry(pub audit_log::Model);

#[Object]
impl AuditEntry {
    /// Entry id.
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    /// What was done (create, update, delete, move_stage, complete…).
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// Kind of record changed (table name).
    async fn entity_type(&self) -> &str {
        &self.0.entity_type
    }
    /// The record changed.
    async fn entity_id(&self) -> ID {
        self.0.entity_id.into()
    }
    /// Changed fields: `{field: [before, after]}`.
    async fn changes(&self) -> Json<serde_json::Value> {
        Json(self.0.changes.clone())
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The member who did it (for an API key: the admin it acts as).
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        let Some(id) = self.0.actor_member_id else {
            return Ok(None);
        };
        Ok(Some(Member(related::<member::Entity>(ctx, id).await?)))
    }
    /// The API key that did it, if one did.
    async fn api_key(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ApiKey>> {
        let Some(id) = self.0.actor_api_key_id else {
            return Ok(None);
        };
        Ok(Some(ApiKey(related::<api_key::Entity>(ctx, id).await?)))
    }
}

/// Filter of the audit log.
#[derive(InputObject, Default)]
pub struct AuditFilter {
    /// Changes to this kind of record (table name: deal, customer, task…).
    pub entity_type: Option<String>,
    /// Changes to this record.
    pub entity_id: Option<ID>,
    /// Changes made by this member.
    pub actor_id: Option<ID>,
    /// Changes made with this API key.
    pub api_key_id: Option<ID>,
    /// This action only.
    pub action: Option<String>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
}

/// Administration queries (admins only).
#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// The company's API keys, newest first (admins).
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKey>> {
        let actor = actor(ctx)?;
        actor.require_admin("list API keys")?;
        let rows = api_key::Entity::find()
            .filter(api_key::Column::CompanyId.eq(actor.company_id))
            .order_by_desc(api_key::Column::CreatedAt)
            .all(db(ctx)?)
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(ApiKey).collect())
    }

    /// Who changed what, latest first (admins).
    #[graphql(complexity = "connection_cost(first, last, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilter>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> async_graphql::Result<Conn<AuditEntry>> {
        let actor = actor(ctx)?;
        actor.require_admin("read the audit log")?;
        let req = page_args(after, before, first, last).resolve(&config(ctx)?.graphql)?;
        let f = filter.unwrap_or_default();
        let mut q = access::select::<audit_log::Entity>(actor);
        if let Some(t) = f.entity_type {
            q = q.filter(audit_log::Column::EntityType.eq(t));
        }
        if let Some(id) = parse_opt_id(f.entity_id.as_ref(), "record")? {
            q = q.filter(audit_log::Column::EntityId.eq(id));
        }
        if let Some(id) = parse_opt_id(f.actor_id.as_ref(), "Member")? {
            q = q.filter(audit_log::Column::ActorMemberId.eq(id));
        }
        if let Some(id) = parse_opt_id(f.api_key_id.as_ref(), "API key")? {
            q = q.filter(audit_log::Column::ActorApiKeyId.eq(id));
        }
        if let Some(a) = f.action {
            q = q.filter(audit_log::Column::Action.eq(a));
        }
        if let Some(t) = f.from {
            q = q.filter(audit_log::Column::CreatedAt.gte(t));
        }
        if let Some(t) = f.to {
            q = q.filter(audit_log::Column::CreatedAt.lt(t));
        }
        let sort = Sort::new(audit_log::Column::CreatedAt, SortKind::Time, true);
        let page = fetch_page(db(ctx)?, q, &sort, &req, wants_total(ctx)).await?;
        Ok(to_connection(&page, AuditEntry))
    }
}

/// Input of `createMember`.
#[derive(InputObject)]
pub struct CreateMemberInput {
    /// Login e-mail (unique across the server).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Team.
    pub team_id: Option<ID>,
    /// Initial password (at least 10 characters); generated and returned once when omitted.
    pub password: Option<String>,
}

/// Input of `updateMember`: omitted fields stay, `teamId: null` leaves every team.
#[derive(InputObject)]
pub struct UpdateMemberInput {
    /// The member.
    pub id: ID,
    /// Display name.
    pub name: Option<String>,
    /// Role (changing it signs the member out everywhere).
    pub role: Option<Role>,
    /// Team.
    pub team_id: MaybeUndefined<ID>,
}

/// Administration mutations.
#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Creates a member (admins).
    async fn create_member(
        &self,
        ctx: &Context<'_>,
        input: CreateMemberInput,
    ) -> async_graphql::Result<MemberCredentials> {
        let actor = writer(ctx)?;
        let f = members::NewMember {
            email: input.email,
            name: input.name,
            role: input.role,
            team_id: parse_opt_id(input.team_id.as_ref(), "Team")?,
            password: input.password,
        };
        let (member, temporary_password) = in_txn!(ctx, |txn| members::create(&txn, actor, f.clone()));
        Ok(MemberCredentials {
            member: Member(member),
            temporary_password,
        })
    }

    /// Changes a member's name, role or team (admins).
    async fn update_member(&self, ctx: &Context<'_>, input: UpdateMemberInput) -> async_graphql::Result<Member> {
        let actor = writer(ctx)?;
        let id = parse_id(&input.id, "Member")?;
        let p = members::MemberPatch {
            name: input.name,
            role: input.role,
            team_id: patch(input.team_id, |id| parse_id(&id, "Team"))?,
        };
        Ok(Member(in_txn!(ctx, |txn| members::update(&txn, actor, id, p.clone()))))
    }

    /// Deactivates a member: their tokens stop working at once and they cannot sign in (admins).
    async fn deactivate_member(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Member> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Member")?;
        Ok(Member(in_txn!(ctx, |txn| members::set_active(&txn, actor, id, false))))
    }

    /// Lets a deactivated member sign in again (admins).
    async fn reactivate_member(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Member> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Member")?;
        Ok(Member(in_txn!(ctx, |txn| members::set_active(&txn, actor, id, true))))
    }

    /// Sets a member's password (generated and returned once when omitted) and signs them out (admins).
    async fn reset_member_password(
        &self,
        ctx: &Context<'_>,
        id: ID,
        password: Option<String>,
    ) -> async_graphql::Result<MemberCredentials> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "Member")?;
        let (member, temporary_password) =
            in_txn!(ctx, |txn| members::reset_password(&txn, actor, id, password.clone()));
        Ok(MemberCredentials {
            member: Member(member),
            temporary_password,
        })
    }

    /// Changes your password; every other session ends and a new token is returned.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let actor = writer(ctx)?;
        let client = super::context::client(ctx);
        let db = super::context::db(ctx)?;
        members::check_own_password(
            db,
            actor,
            &super::context::config(ctx)?.auth,
            &client,
            &current_password,
        )
        .await?;
        let member = in_txn!(ctx, |txn| members::change_own_password(
            &txn,
            actor,
            &current_password,
            &new_password
        ));
        let (token, expires_at) =
            crate::service::auth::open_session(db, ctx.data::<TokenKeys>()?, &member, &client).await?;
        Ok(AuthPayload {
            token,
            expires_at,
            member: Member(member),
        })
    }

    /// Creates an API key for a BI tool or an integration; the key is shown once (admins).
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        name: String,
        scope: ApiKeyScope,
    ) -> async_graphql::Result<NewApiKey> {
        let actor = writer(ctx)?;
        let (key, full) = in_txn!(ctx, |txn| api_keys::create(&txn, actor, &name, scope));
        Ok(NewApiKey {
            api_key: ApiKey(key),
            key: full,
        })
    }

    /// Revokes an API key; it stops working at once (admins).
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiKey> {
        let actor = writer(ctx)?;
        let id = parse_id(&id, "API key")?;
        Ok(ApiKey(in_txn!(ctx, |txn| api_keys::revoke(&txn, actor, id))))
    }

    /// Changes company-wide settings (admins).
    async fn update_company_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "COMPANY: reps read every customer and task; TEAM: only their team's.")]
        rep_visibility: Option<RepVisibility>,
        #[graphql(desc = "IANA time zone, e.g. Asia/Tokyo: decides what today and this month are.")] time_zone: Option<
            String,
        >,
    ) -> async_graphql::Result<Company> {
        let actor = writer(ctx)?;
        actor.require_admin("change company settings")?;
        if let Some(tz) = &time_zone {
            crate::service::period::zone(tz)?;
        }
        let updated = in_txn!(ctx, |txn| async {
            let before = company::Entity::find_by_id(actor.company_id)
                .one(&txn)
                .await?
                .ok_or(AppError::NotFound("Company"))?;
            let mut settings = before.settings.clone();
            if let (Some(v), Some(map)) = (rep_visibility, settings.as_object_mut()) {
                map.insert("rep_visibility".into(), serde_json::to_value(v).unwrap_or_default());
            }
            let mut am = before.clone().into_active_model();
            am.settings = Set(settings);
            if let Some(tz) = &time_zone {
                am.time_zone = Set(tz.clone());
            }
            am.updated_at = Set(now());
            let after = am.update(&txn).await?;
            audit::record(
                &txn,
                actor,
                "update_settings",
                &("company", after.id),
                Some(&before),
                Some(&after),
            )
            .await?;
            Ok::<_, AppError>(after)
        });
        Ok(Company(updated))
    }
}
