//! The canonical bytes of an audit entry, which its Merkle leaf commits to: the entry's key and
//! every attribute, as JSON with sorted names (the same bytes for the same item on every adapter,
//! and any change of any attribute, or a move to another key, changes them).
//!
//! Entries written since the access log proves what it shows carry a salt (`canon` 2): in their
//! bytes every identifier (the actor, the patients named, the entity's id and index key, the
//! request id, the client's address, a patient actor's name, the keys of per-patient counts) is a
//! salted commitment ([`domain::commitment`]), so the bytes can be shown to a patient as
//! proof without naming anyone else; the salt itself is not in the bytes. Earlier entries keep the
//! bytes they were sealed with.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::store::{AttrValue, Item, attr};
use domain::commitment;

fn value(v: &AttrValue) -> Value {
    match v {
        AttrValue::S(s) => Value::String(s.clone()),
        AttrValue::N(n) => json!(n),
        AttrValue::B(b) => json!({ "b64": STANDARD.encode(b) }),
        AttrValue::Bool(b) => Value::Bool(*b),
        AttrValue::L(l) => Value::Array(l.iter().map(value).collect()),
        AttrValue::M(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), value(v))).collect()),
        AttrValue::Null => Value::Null,
    }
}

/// The bytes a leaf hashes.
pub fn canonical_entry(item: &Item) -> Vec<u8> {
    if let Some(AttrValue::B(salt)) = item.get(attr::SALT) {
        return committed(item, salt);
    }
    let attrs: BTreeMap<&str, Value> = item
        .attrs
        .iter()
        .map(|(k, v)| (k.as_str(), value(v)))
        .collect();
    let doc = json!({ "pk": item.key.pk, "sk": item.key.sk, "attrs": attrs });
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// The attributes whose string values (or list members) become commitments (and a patient
/// actor's name, and the keys of per-patient counts).
pub const COMMITTED: [&str; 6] = [
    attr::ACTOR,
    attr::PATIENT_IDS,
    attr::ENTITY_ID,
    crate::store::GSI1_PK,
    attr::REQUEST_ID,
    attr::SOURCE_ADDRESS,
];

/// The roles whose holders' names a patient is shown (the practice's people).
const NAMED_ROLES: [&str; 3] = ["admin", "staff", "provider"];

/// What an auditor needs to tie a salted entry's commitments to ids: its salt (hex) and the stored
/// values of every attribute committed in its bytes; `None` for an entry of the first form, whose
/// bytes hold the values themselves.
pub fn openings(item: &Item) -> Option<Value> {
    let Some(AttrValue::B(salt)) = item.get(attr::SALT) else {
        return None;
    };
    let mut out = serde_json::Map::new();
    out.insert(
        attr::SALT.into(),
        Value::String(salt.iter().map(|b| format!("{b:02x}")).collect()),
    );
    for name in COMMITTED
        .iter()
        .chain(&[attr::ACTOR_NAME, attr::PATIENT_COUNTS])
    {
        if let Some(v) = item.get(name) {
            out.insert((*name).into(), value(v));
        }
    }
    Some(Value::Object(out))
}

/// The second canonical form: identifiers as salted commitments, the salt left out.
fn committed(item: &Item, salt: &[u8]) -> Vec<u8> {
    let commit = |v: &AttrValue| match v {
        AttrValue::S(s) => Value::String(commitment::commit(salt, s)),
        AttrValue::L(items) => Value::Array(
            items
                .iter()
                .map(|i| match i {
                    AttrValue::S(s) => Value::String(commitment::commit(salt, s)),
                    other => value(other),
                })
                .collect(),
        ),
        other => value(other),
    };
    let practice_person = match item.get(attr::ROLES) {
        Some(AttrValue::L(roles)) => roles
            .iter()
            .any(|r| r.as_s().is_some_and(|r| NAMED_ROLES.contains(&r))),
        _ => false,
    };
    let attrs: BTreeMap<&str, Value> = item
        .attrs
        .iter()
        .filter(|(k, _)| k.as_str() != attr::SALT)
        .map(|(k, v)| {
            let shown = match k.as_str() {
                name if COMMITTED.contains(&name) => commit(v),
                attr::ACTOR_NAME if !practice_person => commit(v),
                attr::PATIENT_COUNTS => match v {
                    AttrValue::M(counts) => Value::Object(
                        counts
                            .iter()
                            .map(|(id, n)| (commitment::commit(salt, id), value(n)))
                            .collect(),
                    ),
                    other => value(other),
                },
                _ => value(v),
            };
            (k.as_str(), shown)
        })
        .collect();
    let doc = json!({ "pk": item.key.pk, "sk": item.key.sk, "attrs": attrs });
    serde_json::to_vec(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;

    #[test]
    fn salted_entries_commit_every_identifier_and_keep_the_rest_readable() {
        let salt = vec![9u8; commitment::SALT_LEN];
        let item = Item::new(Key::new("AUDIT#2026-11-22", "1#a"))
            .with(attr::SALT, AttrValue::B(salt.clone()))
            .with(attr::CANON, 2)
            .with(attr::ACTION, "appointment.read")
            .with(attr::ACTOR, "patient-john")
            .with(attr::ACTOR_NAME, "John Doe")
            .with(
                attr::ROLES,
                AttrValue::L(vec![AttrValue::S("patient".into())]),
            )
            .with(attr::SOURCE_ADDRESS, "198.51.100.7")
            .with(attr::ENTITY_ID, "patient-jane")
            .with(
                attr::PATIENT_IDS,
                AttrValue::L(vec![
                    AttrValue::S("patient-jane".into()),
                    AttrValue::S("patient-ann".into()),
                ]),
            );
        let text = String::from_utf8(canonical_entry(&item)).unwrap();
        for hidden in ["patient-", "John", "198.51", "salt"] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        assert!(text.contains("appointment.read") && text.contains("\"canon\":2"));
        let jane = commitment::commit(&salt, "patient-jane");
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["attrs"]["patient_ids"][0], jane);
        assert_eq!(doc["attrs"]["entity_id"], jane);
        // A practice member's name is shown; a salt changed, or an id, changes the bytes.
        let staff = item.clone().with(
            attr::ROLES,
            AttrValue::L(vec![AttrValue::S("staff".into())]),
        );
        assert!(
            String::from_utf8(canonical_entry(&staff))
                .unwrap()
                .contains("John Doe")
        );
        let resalted = item.clone().with(attr::SALT, AttrValue::B(vec![1u8; 16]));
        let renamed = item.clone().with(attr::ACTOR, "patient-jim");
        for other in [resalted, renamed] {
            assert_ne!(canonical_entry(&item), canonical_entry(&other));
        }
    }

    #[test]
    fn the_same_entry_gives_the_same_bytes_and_any_change_other_bytes() {
        let item = Item::new(Key::new("AUDIT#2026-11-22", "1#a"))
            .with("action", "read")
            .with("at", 5)
            .with("roles", AttrValue::L(vec![AttrValue::S("staff".into())]));
        let same = Item::new(Key::new("AUDIT#2026-11-22", "1#a"))
            .with("roles", AttrValue::L(vec![AttrValue::S("staff".into())]))
            .with("at", 5)
            .with("action", "read");
        assert_eq!(canonical_entry(&item), canonical_entry(&same));
        let moved = Item {
            key: Key::new("AUDIT#2026-11-21", "1#a"),
            ..item.clone()
        };
        let edited = item.clone().with("action", "update");
        let renumbered = item.clone().with("at", 6);
        for other in [moved, edited, renumbered] {
            assert_ne!(canonical_entry(&item), canonical_entry(&other));
        }
    }
}
