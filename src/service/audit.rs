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
    queue_event(actor, target, &after);
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

/// The live event a change makes, if subscribers follow its kind: deals
/// (their members and quality are recorded on the deal) and activities.
fn queue_event(actor: &Actor, (table, id): &(&str, Uuid), after: &Map<String, Value>) {
    use crate::events::{Event, EventKind};
    let uuid = |key: &str| {
        after
            .get(key)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
    };
    let (kind, id, member) = match *table {
        "deal" => (EventKind::Deal, *id, None),
        "activity" => (EventKind::Activity, *id, uuid("member_id")),
        _ => return,
    };
    actor.outbox.push(Event {
        company_id: actor.company_id,
        kind,
        id,
        member,
    });
}
