//! The canonical bytes of an audit entry, which its Merkle leaf commits to: the entry's key and
//! every attribute, as JSON with sorted names (the same bytes for the same item on every adapter,
//! and any change of any attribute, or a move to another key, changes them).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::store::{AttrValue, Item};

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
    let attrs: BTreeMap<&str, Value> = item
        .attrs
        .iter()
        .map(|(k, v)| (k.as_str(), value(v)))
        .collect();
    let doc = json!({ "pk": item.key.pk, "sk": item.key.sk, "attrs": attrs });
    serde_json::to_vec(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;

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
