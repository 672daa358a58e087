//! The audit log: one row per change, written in the change's transaction.

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Actor, new_id, now};
use crate::error::AppResult;

/// Fields that change on every update and say nothing by themselves.
const NOISE: &[&str] = &["version", "updated_at"];

/// Records `action` on `(table, id)` with the fields that differ between
/// `before` and `after` as `{field: [before, after]}`.
pub async fn record<M: Serialize>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    target: &(&str, Uuid),
    before: Option<&M>,
    after: Option<&M>,
) -> AppResult<()> {
    let to_map = |m: Option<&M>| match m.map(serde_json::to_value) {
        Some(Ok(Value::Object(map))) => map,
        _ => Map::new(),
    };
    let (before, after) = (to_map(before), to_map(after));
    let mut changes = Map::new();
    for (key, new) in &after {
        let old = before.get(key).unwrap_or(&Value::Null);
        if old != new && !NOISE.contains(&key.as_str()) {
            changes.insert(key.clone(), Value::Array(vec![old.clone(), new.clone()]));
        }
    }
    entity::audit_log::ActiveModel {
        id: Set(new_id()),
        company_id: Set(actor.company_id),
        actor_member_id: Set(Some(actor.member_id)),
        actor_api_key_id: Set(actor.api_key.map(|(id, _)| id)),
        action: Set(action.to_owned()),
        entity_type: Set(target.0.to_owned()),
        entity_id: Set(target.1),
        changes: Set(Value::Object(changes)),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(())
}
