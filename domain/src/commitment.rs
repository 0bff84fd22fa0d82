//! Salted commitments to the identifiers in an audit entry's canonical bytes, so the bytes a patient
//! is shown to prove an entry name no one but her. Each entry has its own random salt (kept on the
//! entry, never in its bytes); each identifier `v` in it is committed as
//! `c:<hex SHA-256(opening ‖ v)>` with `opening = HMAC-SHA256(salt, v)[..16]`. The opening of her own
//! id is all a patient is given: with it she finds her commitment in the bytes, and it opens
//! nothing else (every value has its own opening, and a commitment cannot be tested against a guess
//! without it). An auditor, given the entry's salt and its stored ids, recomputes every commitment.

use crate::hash::{hmac_sha256, sha256};

/// Bytes of an entry's salt.
pub const SALT_LEN: usize = 16;

/// The opening of `value` in the entry salted with `salt`.
pub fn opening(salt: &[u8], value: &str) -> [u8; 16] {
    let full = hmac_sha256(salt, &[value.as_bytes()]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The commitment to `value` under `opening`: `c:` and 64 lowercase hex digits.
pub fn commit_with(opening: &[u8], value: &str) -> String {
    let digest = sha256(&[opening, value.as_bytes()]);
    let mut out = String::with_capacity(66);
    out.push_str("c:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The commitment to `value` in the entry salted with `salt`.
pub fn commit(salt: &[u8], value: &str) -> String {
    commit_with(&opening(salt, value), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_opening_opens_one_value_and_salts_unlink_entries() {
        let salt = [7u8; SALT_LEN];
        let jane = commit(&salt, "patient-jane");
        assert!(jane.starts_with("c:") && jane.len() == 66);
        assert_eq!(
            jane,
            commit_with(&opening(&salt, "patient-jane"), "patient-jane")
        );
        // Jane's opening does not open John's commitment in the same entry.
        let john = commit(&salt, "patient-john");
        assert_ne!(
            commit_with(&opening(&salt, "patient-jane"), "patient-john"),
            john
        );
        // Another entry (another salt) commits the same id differently.
        assert_ne!(commit(&[8u8; SALT_LEN], "patient-jane"), jane);
    }
}
