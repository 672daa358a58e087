//! The operator API: the `sfa company` and `sfa member set-password`
//! commands over GraphQL, for hosting providers who create companies from
//! their own systems. A schema of its own, served at `POST /operator/graphql`
//! only when `operator_key` is configured and only to a request carrying it
//! (see `http::operator`): nothing of it is reachable with a company's
//! token, and nothing of the company API is reachable with the key.

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, ID, InputObject, Object, Schema, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::{plugins::Plugins, service::company};

/// The operator API's schema type.
pub type OperatorSchema = Schema<OperatorQuery, OperatorMutation, EmptySubscription>;

/// Builds the operator schema (small, so tight limits).
pub fn build(db: DatabaseConnection, plugins: Arc<Plugins>) -> OperatorSchema {
    Schema::build(OperatorQuery, OperatorMutation, EmptySubscription)
        .limit_depth(8)
        .limit_complexity(500)
        .limit_directives(8)
        .data(db)
        .data(plugins)
        .finish()
}

/// The SDL of the operator API.
pub fn sdl() -> String {
    Schema::build(OperatorQuery, OperatorMutation, EmptySubscription)
        .finish()
        .sdl()
}

fn db<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

/// A company as the operator sees it.
#[derive(SimpleObject)]
pub struct OperatorCompany {
    /// Its id.
    id: ID,
    /// Display name.
    name: String,
    /// The handle its members log in with.
    slug: String,
    /// The plugin set it runs (`default` when it names none).
    process: String,
    /// IANA time zone.
    time_zone: String,
    /// ISO 4217 currency.
    currency: String,
    /// Created.
    created_at: DateTime<Utc>,
    /// Set while disabled: its members are refused with COMPANY_DISABLED.
    disabled_at: Option<DateTime<Utc>>,
    /// Members, active or not (absent where not counted).
    members: Option<i64>,
    /// Active members (absent where not counted).
    active_members: Option<i64>,
}

impl OperatorCompany {
    fn of(c: entity::company::Model, counts: Option<(i64, i64)>) -> Self {
        Self {
            id: c.id.into(),
            process: c.plugin_set.unwrap_or_else(|| "default".into()),
            name: c.name,
            slug: c.slug,
            time_zone: c.time_zone,
            currency: c.currency,
            created_at: c.created_at,
            disabled_at: c.disabled_at,
            members: counts.map(|c| c.0),
            active_members: counts.map(|c| c.1),
        }
    }
}

/// Queries of the operator API.
#[derive(Default)]
pub struct OperatorQuery;

#[Object]
impl OperatorQuery {
    /// Every company of the server, oldest first.
    async fn companies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OperatorCompany>> {
        Ok(company::list(db(ctx)?, None)
            .await?
            .into_iter()
            .map(|s| OperatorCompany::of(s.company, Some((s.members, s.active_members))))
            .collect())
    }

    /// One company by its slug; null when there is none.
    async fn company(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<OperatorCompany>> {
        Ok(company::list(db(ctx)?, Some(&slug))
            .await?
            .into_iter()
            .next()
            .map(|s| OperatorCompany::of(s.company, Some((s.members, s.active_members)))))
    }

    /// The plugin sets of `plugins/` a company can be created with.
    async fn process_sets(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(ctx.data::<Arc<Plugins>>()?.names())
    }
}

/// A company to create, with its first admin.
#[derive(InputObject)]
pub struct CreateCompanyInput {
    /// Display name.
    name: String,
    /// The handle its members log in with: 2 to 63 lower-case letters, digits and '-'.
    slug: String,
    /// The first admin's e-mail.
    admin_email: String,
    /// The first admin's name (default: the e-mail's local part).
    admin_name: Option<String>,
    /// IANA time zone (default Asia/Tokyo).
    time_zone: Option<String>,
    /// ISO 4217 currency (default JPY).
    currency: Option<String>,
    /// A plugin set of `plugins/` (default: `default`); see `processSets`.
    process: Option<String>,
    /// The admin's password (10 to 256 characters); generated when absent.
    admin_password: Option<String>,
}

/// A created company.
#[derive(SimpleObject)]
pub struct CreatedCompany {
    /// The company.
    company: OperatorCompany,
    /// Its first admin's e-mail.
    admin_email: String,
    /// The admin's generated password, shown only here; null when one was given.
    one_time_password: Option<String>,
}

/// A deleted company.
#[derive(SimpleObject)]
pub struct DeletedCompany {
    /// Its slug.
    slug: String,
    /// Rows deleted, the company's own included.
    rows: u64,
}

/// A member's new password.
#[derive(SimpleObject)]
pub struct MemberPasswordSet {
    /// The member's e-mail.
    email: String,
    /// The generated password, shown only here; null when one was given.
    one_time_password: Option<String>,
}

/// Mutations of the operator API.
#[derive(Default)]
pub struct OperatorMutation;

#[Object]
impl OperatorMutation {
    /// Creates a company and its first admin; a slug that is taken is CONFLICT.
    async fn create_company(
        &self,
        ctx: &Context<'_>,
        input: CreateCompanyInput,
    ) -> async_graphql::Result<CreatedCompany> {
        let new = company::NewCompany {
            name: input.name,
            slug: input.slug,
            admin_email: input.admin_email,
            admin_name: input.admin_name,
            time_zone: input.time_zone,
            currency: input.currency,
            process: input.process,
            password: input.admin_password,
        };
        let created = company::create(db(ctx)?, ctx.data::<Arc<Plugins>>()?, new).await?;
        Ok(CreatedCompany {
            company: OperatorCompany::of(created.company, Some((1, 1))),
            admin_email: created.admin.email,
            one_time_password: created.password,
        })
    }

    /// Refuses every member of the company (logins, tokens, API keys) until it is enabled.
    async fn disable_company(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<OperatorCompany> {
        Ok(OperatorCompany::of(
            company::set_disabled(db(ctx)?, &slug, true).await?,
            None,
        ))
    }

    /// Lets a disabled company's members in again.
    async fn enable_company(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<OperatorCompany> {
        Ok(OperatorCompany::of(
            company::set_disabled(db(ctx)?, &slug, false).await?,
            None,
        ))
    }

    /// Deletes the company and every row it holds, in one transaction;
    /// `confirm` repeats the slug.
    async fn delete_company(
        &self,
        ctx: &Context<'_>,
        slug: String,
        confirm: String,
    ) -> async_graphql::Result<DeletedCompany> {
        let deleted = company::delete(db(ctx)?, &slug, &confirm).await?;
        Ok(DeletedCompany {
            slug: deleted.company.slug,
            rows: deleted.rows,
        })
    }

    /// Sets a member's password (generated when absent), reactivates them and
    /// ends their sessions: a locked-out admin's way back in.
    async fn set_member_password(
        &self,
        ctx: &Context<'_>,
        company: String,
        email: String,
        password: Option<String>,
    ) -> async_graphql::Result<MemberPasswordSet> {
        let set = company::set_password(db(ctx)?, &company, &email, password).await?;
        Ok(MemberPasswordSet {
            email: set.member.email,
            one_time_password: set.password,
        })
    }
}
