//! Customers, their contacts and marketing touchpoints.

use chrono::{DateTime, Utc};
use entity::{contact, customer, customer_group, enums::CustomerStatus, touchpoint};
use sea_orm::{ConnectionTrait, IntoActiveModel, Set};
use serde_json::Value as Json;
use uuid::Uuid;

use super::{
    Actor, access, catalog::active_member, delete_versioned, expect_version, find_live, insert_audited, new_id, now,
    update_versioned, validate,
};
use crate::error::{AppError, AppResult};

/// A change to an optional field: `None` leaves it, `Some(None)` clears it.
pub type Patch<T> = Option<Option<T>>;

/// Fields of a new customer.
#[derive(Clone)]
pub struct NewCustomer {
    /// Company name.
    pub name: String,
    /// Reading of the name.
    pub name_kana: Option<String>,
    /// Member in charge (default: the caller).
    pub owner_id: Option<Uuid>,
    /// Segment.
    pub group_id: Option<Uuid>,
    /// Code in the sales-management master.
    pub external_code: Option<String>,
    /// Key account.
    pub is_priority: bool,
    /// Relationship status (default: prospect).
    pub status: Option<CustomerStatus>,
    /// Industry.
    pub industry: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Web site.
    pub website: Option<String>,
    /// Company-defined fields (a JSON object).
    pub custom_fields: Option<Json>,
}

impl NewCustomer {
    /// A prospect with just a name, owned by the caller; set other fields as needed.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            name_kana: None,
            owner_id: None,
            group_id: None,
            external_code: None,
            is_priority: false,
            status: None,
            industry: None,
            address: None,
            phone: None,
            website: None,
            custom_fields: None,
        }
    }
}

/// Changes to a customer.
#[derive(Clone, Default)]
pub struct CustomerPatch {
    /// Company name.
    pub name: Option<String>,
    /// Reading of the name.
    pub name_kana: Patch<String>,
    /// Member in charge (a handover keeps all history with the customer).
    pub owner_id: Option<Uuid>,
    /// Segment.
    pub group_id: Patch<Uuid>,
    /// Code in the sales-management master.
    pub external_code: Patch<String>,
    /// Key account.
    pub is_priority: Option<bool>,
    /// Relationship status.
    pub status: Option<CustomerStatus>,
    /// Industry.
    pub industry: Patch<String>,
    /// Address.
    pub address: Patch<String>,
    /// Phone.
    pub phone: Patch<String>,
    /// Web site.
    pub website: Patch<String>,
    /// Company-defined fields, replaced as a whole.
    pub custom_fields: Option<Json>,
}

fn custom_fields(value: Option<Json>) -> AppResult<Json> {
    match value {
        None | Some(Json::Null) => Ok(Json::Object(Default::default())),
        Some(Json::Object(map)) => {
            if serde_json::to_string(&map).map(|s| s.len()).unwrap_or(usize::MAX) > 64 * 1024 {
                return Err(AppError::bad("`customFields` is larger than 64 KiB"));
            }
            Ok(Json::Object(map))
        }
        Some(_) => Err(AppError::bad("`customFields` must be a JSON object")),
    }
}

async fn check_group(db: &impl ConnectionTrait, actor: &Actor, group: Option<Uuid>) -> AppResult<()> {
    if let Some(id) = group {
        find_live::<customer_group::Entity>(db, actor, id).await?;
    }
    Ok(())
}

/// Creates a customer.
pub async fn create(db: &impl ConnectionTrait, actor: &Actor, f: NewCustomer) -> AppResult<customer::Model> {
    let owner = f.owner_id.unwrap_or(actor.member_id);
    actor.require_answers_for(owner, "create customers")?;
    active_member(db, actor, owner).await?;
    check_group(db, actor, f.group_id).await?;
    let t = now();
    let am = customer::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        group_id: Set(f.group_id),
        owner_id: Set(owner),
        name: Set(validate::text("name", &f.name, 200)?),
        name_kana: Set(validate::opt_text("nameKana", f.name_kana, 200)?),
        external_code: Set(validate::opt_text("externalCode", f.external_code, 64)?),
        is_priority: Set(f.is_priority),
        status: Set(f.status.unwrap_or(CustomerStatus::Prospect)),
        industry: Set(validate::opt_text("industry", f.industry, 100)?),
        address: Set(validate::opt_text("address", f.address, 500)?),
        phone: Set(validate::opt_text("phone", f.phone, 50)?),
        website: Set(validate::opt_web_url("website", f.website, 500)?),
        custom_fields: Set(custom_fields(f.custom_fields)?),
        last_contact_at: Set(None),
        version: Set(1),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    insert_audited(db, actor, am).await
}

/// Applies a patch to the customer at `version`.
pub async fn update(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    p: CustomerPatch,
) -> AppResult<customer::Model> {
    let before = find_live::<customer::Entity>(db, actor, id).await?;
    access::can_edit_customer(actor, &before)?;
    expect_version::<customer::Entity>(&before, version)?;
    let mut am = before.clone().into_active_model();
    if let Some(name) = p.name {
        am.name = Set(validate::text("name", &name, 200)?);
    }
    if let Some(v) = p.name_kana {
        am.name_kana = Set(validate::opt_text("nameKana", v, 200)?);
    }
    if let Some(owner) = p.owner_id {
        active_member(db, actor, owner).await?;
        am.owner_id = Set(owner);
    }
    if let Some(group) = p.group_id {
        check_group(db, actor, group).await?;
        am.group_id = Set(group);
    }
    if let Some(v) = p.external_code {
        am.external_code = Set(validate::opt_text("externalCode", v, 64)?);
    }
    if let Some(v) = p.is_priority {
        am.is_priority = Set(v);
    }
    if let Some(v) = p.status {
        am.status = Set(v);
    }
    if let Some(v) = p.industry {
        am.industry = Set(validate::opt_text("industry", v, 100)?);
    }
    if let Some(v) = p.address {
        am.address = Set(validate::opt_text("address", v, 500)?);
    }
    if let Some(v) = p.phone {
        am.phone = Set(validate::opt_text("phone", v, 50)?);
    }
    if let Some(v) = p.website {
        am.website = Set(validate::opt_web_url("website", v, 500)?);
    }
    if let Some(v) = p.custom_fields {
        am.custom_fields = Set(custom_fields(Some(v))?);
    }
    update_versioned(db, actor, "update", &before, version, am).await
}

/// Soft-deletes a customer; its history stays.
pub async fn delete(db: &impl ConnectionTrait, actor: &Actor, id: Uuid, version: i32) -> AppResult<customer::Model> {
    let before = find_live::<customer::Entity>(db, actor, id).await?;
    access::can_edit_customer(actor, &before)?;
    delete_versioned::<customer::Entity, customer::ActiveModel>(db, actor, &before, version).await
}

/// Fields of a contact (all but `customer_id` patchable).
#[derive(Clone)]
pub struct ContactFields {
    /// Full name.
    pub name: Option<String>,
    /// Reading of the name.
    pub name_kana: Patch<String>,
    /// Department.
    pub department: Patch<String>,
    /// Job title.
    pub title: Patch<String>,
    /// Contact level key (plugin-defined; default `staff`).
    pub level: Option<String>,
    /// E-mail.
    pub email: Patch<String>,
    /// Phone.
    pub phone: Patch<String>,
}

/// A contact level of the company's process (default: its first, most junior one).
pub fn contact_level(actor: &Actor, level: Option<&str>) -> AppResult<String> {
    let levels = &actor.plugins.process.contact_levels;
    let Some(level) = level else {
        return Ok(levels.first().map(|l| l.key.clone()).unwrap_or_else(|| "staff".into()));
    };
    let key = validate::key("level", level)?;
    if !levels.is_empty() && !levels.iter().any(|l| l.key == key) {
        let known: Vec<&str> = levels.iter().map(|l| l.key.as_str()).collect();
        return Err(AppError::bad(format!(
            "`{key}` is not a contact level of your company ({})",
            known.join(", ")
        )));
    }
    Ok(key)
}

impl ContactFields {
    /// A contact with just a name (and the company's first contact level).
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            name_kana: None,
            department: None,
            title: None,
            level: None,
            email: None,
            phone: None,
        }
    }
}

/// Adds a contact to a customer.
pub async fn create_contact(
    db: &impl ConnectionTrait,
    actor: &Actor,
    customer_id: Uuid,
    f: ContactFields,
) -> AppResult<contact::Model> {
    access::find_readable::<customer::Entity>(db, actor, customer_id, Some(customer::Column::DeletedAt)).await?;
    let name = f.name.ok_or_else(|| AppError::bad("`name` must not be empty"))?;
    let t = now();
    let flat = |p: Patch<String>| p.flatten();
    let am = contact::ActiveModel {
        external_code: Set(None),
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        customer_id: Set(customer_id),
        name: Set(validate::text("name", &name, 200)?),
        name_kana: Set(validate::opt_text("nameKana", flat(f.name_kana), 200)?),
        department: Set(validate::opt_text("department", flat(f.department), 200)?),
        title: Set(validate::opt_text("title", flat(f.title), 200)?),
        level: Set(contact_level(actor, f.level.as_deref())?),
        email: Set(validate::opt_text("email", flat(f.email), 254)?),
        phone: Set(validate::opt_text("phone", flat(f.phone), 50)?),
        version: Set(1),
        created_at: Set(t),
        updated_at: Set(t),
        deleted_at: Set(None),
    };
    insert_audited(db, actor, am).await
}

/// Applies a patch to a contact at `version`.
pub async fn update_contact(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
    f: ContactFields,
) -> AppResult<contact::Model> {
    let before = access::find_readable::<contact::Entity>(db, actor, id, Some(contact::Column::DeletedAt)).await?;
    expect_version::<contact::Entity>(&before, version)?;
    let mut am = before.clone().into_active_model();
    if let Some(name) = f.name {
        am.name = Set(validate::text("name", &name, 200)?);
    }
    if let Some(v) = f.name_kana {
        am.name_kana = Set(validate::opt_text("nameKana", v, 200)?);
    }
    if let Some(v) = f.department {
        am.department = Set(validate::opt_text("department", v, 200)?);
    }
    if let Some(v) = f.title {
        am.title = Set(validate::opt_text("title", v, 200)?);
    }
    if let Some(v) = f.level {
        am.level = Set(contact_level(actor, Some(&v))?);
    }
    if let Some(v) = f.email {
        am.email = Set(validate::opt_text("email", v, 254)?);
    }
    if let Some(v) = f.phone {
        am.phone = Set(validate::opt_text("phone", v, 50)?);
    }
    update_versioned(db, actor, "update", &before, version, am).await
}

/// Soft-deletes a contact.
pub async fn delete_contact(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    version: i32,
) -> AppResult<contact::Model> {
    let before = find_live::<contact::Entity>(db, actor, id).await?;
    let customer = find_live::<customer::Entity>(db, actor, before.customer_id).await?;
    access::can_edit_customer(actor, &customer)?;
    delete_versioned::<contact::Entity, contact::ActiveModel>(db, actor, &before, version).await
}

/// A marketing touchpoint to record.
#[derive(Clone)]
pub struct NewTouchpoint {
    /// Customer.
    pub customer_id: Uuid,
    /// Contact, when known.
    pub contact_id: Option<Uuid>,
    /// Kind key (web_view, seminar, email_open…).
    pub kind: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Source-specific details (a JSON object).
    pub details: Option<Json>,
    /// System it came from.
    pub source: Option<String>,
}

/// Records a touchpoint in the customer's history.
pub async fn record_touchpoint(
    db: &impl ConnectionTrait,
    actor: &Actor,
    f: NewTouchpoint,
) -> AppResult<touchpoint::Model> {
    actor.require_admin("record touchpoints (they are imported from other systems)")?;
    find_live::<customer::Entity>(db, actor, f.customer_id).await?;
    if let Some(contact_id) = f.contact_id {
        let c = find_live::<contact::Entity>(db, actor, contact_id).await?;
        if c.customer_id != f.customer_id {
            return Err(AppError::bad("`contactId` is a contact of another customer"));
        }
    }
    let am = touchpoint::ActiveModel {
        external_ref: Set(None),
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        customer_id: Set(f.customer_id),
        contact_id: Set(f.contact_id),
        kind: Set(validate::key("kind", &f.kind)?),
        occurred_at: Set(f.occurred_at),
        details: Set(custom_fields(f.details)?),
        source: Set(validate::opt_text("source", f.source, 64)?),
        created_at: Set(now()),
    };
    insert_audited(db, actor, am).await
}
