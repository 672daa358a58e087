//! Reference data of a company: teams, customer groups, products.

use entity::{customer_group, member, product, team};
use sea_orm::{ConnectionTrait, IntoActiveModel, Set};
use uuid::Uuid;

use super::{Actor, delete_soft, find_live, find_member, insert_audited, new_id, now, update_audited, validate};
use crate::error::{AppError, AppResult};

/// Fields of a team.
#[derive(Clone)]
pub struct TeamFields {
    /// Display name.
    pub name: String,
    /// Enclosing team.
    pub parent_id: Option<Uuid>,
    /// Leader.
    pub manager_id: Option<Uuid>,
}

async fn check_team_refs(db: &impl ConnectionTrait, actor: &Actor, f: &TeamFields) -> AppResult<String> {
    let name = validate::text("name", &f.name, 200)?;
    if let Some(parent) = f.parent_id {
        find_live::<team::Entity>(db, actor, parent).await?;
    }
    if let Some(manager) = f.manager_id {
        find_member(db, actor, manager).await?;
    }
    Ok(name)
}

/// Creates a team.
pub async fn create_team(db: &impl ConnectionTrait, actor: &Actor, f: TeamFields) -> AppResult<team::Model> {
    actor.require_admin("create teams")?;
    let name = check_team_refs(db, actor, &f).await?;
    let t = now();
    let am = team::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        parent_id: Set(f.parent_id),
        name: Set(name),
        manager_id: Set(f.manager_id),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    insert_audited(db, actor, am).await
}

/// Updates a team; refuses to make a team its own ancestor.
/// Changes to a team: omitted fields stay, `Some(None)` clears.
#[derive(Clone, Default)]
pub struct TeamPatch {
    /// Display name.
    pub name: Option<String>,
    /// Enclosing team.
    pub parent_id: Option<Option<Uuid>>,
    /// Leader.
    pub manager_id: Option<Option<Uuid>>,
}

/// Renames a team, moves it or changes its leader; refuses to make a team its own ancestor.
pub async fn update_team(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, p: TeamPatch) -> AppResult<team::Model> {
    actor.require_admin("change teams")?;
    let before = find_live::<team::Entity>(db, actor, id).await?;
    let f = TeamFields {
        name: p.name.unwrap_or_else(|| before.name.clone()),
        parent_id: p.parent_id.unwrap_or(before.parent_id),
        manager_id: p.manager_id.unwrap_or(before.manager_id),
    };
    let name = check_team_refs(db, actor, &f).await?;
    if let Some(parent) = f.parent_id {
        let below = crate::graphql::org::team_subtree(db, actor, id).await?;
        if below.contains(&parent) {
            return Err(AppError::bad("`parentId` would put the team inside itself"));
        }
    }
    let mut am = before.clone().into_active_model();
    am.name = Set(name);
    am.parent_id = Set(f.parent_id);
    am.manager_id = Set(f.manager_id);
    am.updated_at = Set(now());
    update_audited(db, actor, &before, am).await
}

/// Fields of a customer group.
#[derive(Clone)]
pub struct GroupFields {
    /// Display name.
    pub name: String,
    /// What the group is for.
    pub description: Option<String>,
}

/// Creates a customer group.
pub async fn create_group(
    db: &impl ConnectionTrait,
    actor: &Actor,
    f: GroupFields,
) -> AppResult<customer_group::Model> {
    actor.require_admin("maintain customer groups")?;
    let t = now();
    let am = customer_group::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        name: Set(validate::text("name", &f.name, 200)?),
        description: Set(validate::opt_text("description", f.description, 2000)?),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    insert_audited(db, actor, am).await
}

/// Renames or re-describes a customer group.
pub async fn update_group(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    f: GroupFields,
) -> AppResult<customer_group::Model> {
    actor.require_admin("maintain customer groups")?;
    let before = find_live::<customer_group::Entity>(db, actor, id).await?;
    let mut am = before.clone().into_active_model();
    am.name = Set(validate::text("name", &f.name, 200)?);
    am.description = Set(validate::opt_text("description", f.description, 2000)?);
    am.updated_at = Set(now());
    update_audited(db, actor, &before, am).await
}

/// Soft-deletes a customer group (its customers keep their history).
pub async fn delete_group(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<()> {
    actor.require_admin("maintain customer groups")?;
    delete_soft::<customer_group::Entity>(db, actor, id).await
}

/// Fields of a product.
#[derive(Clone)]
pub struct ProductFields {
    /// Code in the sales-management master.
    pub code: Option<String>,
    /// Display name.
    pub name: String,
    /// Category.
    pub category: Option<String>,
    /// Focus product.
    pub is_focus: bool,
    /// List price in minor units.
    pub unit_price: Option<i64>,
}

impl ProductFields {
    fn validated(self) -> AppResult<Self> {
        Ok(Self {
            code: validate::opt_text("code", self.code, 64)?,
            name: validate::text("name", &self.name, 200)?,
            category: validate::opt_text("category", self.category, 100)?,
            is_focus: self.is_focus,
            unit_price: self
                .unit_price
                .map(|p| validate::non_negative("unitPrice", p))
                .transpose()?,
        })
    }
}

/// Creates a product (admins maintain the product master).
pub async fn create_product(db: &impl ConnectionTrait, actor: &Actor, f: ProductFields) -> AppResult<product::Model> {
    actor.require_admin("maintain products")?;
    let f = f.validated()?;
    let t = now();
    let am = product::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        code: Set(f.code),
        name: Set(f.name),
        category: Set(f.category),
        is_focus: Set(f.is_focus),
        unit_price: Set(f.unit_price),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    insert_audited(db, actor, am).await
}

/// Updates a product.
pub async fn update_product(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    f: ProductFields,
) -> AppResult<product::Model> {
    actor.require_admin("maintain products")?;
    let before = find_live::<product::Entity>(db, actor, id).await?;
    let f = f.validated()?;
    let mut am = before.clone().into_active_model();
    am.code = Set(f.code);
    am.name = Set(f.name);
    am.category = Set(f.category);
    am.is_focus = Set(f.is_focus);
    am.unit_price = Set(f.unit_price);
    am.updated_at = Set(now());
    update_audited(db, actor, &before, am).await
}

/// Soft-deletes a product.
pub async fn delete_product(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<()> {
    actor.require_admin("maintain products")?;
    delete_soft::<product::Entity>(db, actor, id).await
}

/// Checks that `id` is a member of the caller's company who can own work.
pub async fn active_member(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<member::Model> {
    let m = find_member(db, actor, id).await?;
    if !m.active {
        return Err(AppError::bad(format!(
            "{} is deactivated and cannot be given work",
            m.name
        )));
    }
    Ok(m)
}
