//! One page of a newest-first query: the `cursor` and `limit` a list route takes, checked the same
//! way wherever a list is paged (the access log, feedback).

use serde::Deserialize;

use crate::error::{ApiError, InputError};
use crate::store::{Cursor, Index, Query};

/// Entries per page at most (an access-log entry carries a proof of up to a few dozen subtrees).
pub const MAX_PAGE: u32 = 50;
const DEFAULT_PAGE: u32 = 20;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A query of `partition`, newest first, one page from `q`.
pub fn page_of(partition: String, q: &PageQuery) -> Result<Query, ApiError> {
    paged(Query::partition(partition), q)
}

/// `query` newest first, one page from `q`: a cursor continues only a query of the same partition
/// of the same index.
pub fn paged(query: Query, q: &PageQuery) -> Result<Query, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(InputError::InvalidLimit.into());
    }
    let ours = |c: &Cursor| match query.index {
        Index::Primary => c.belongs_to(&query.partition),
        Index::Gsi1 => c.belongs_to_index(&query.partition),
    };
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c).ok().filter(ours))
        .map(|c| c.ok_or(InputError::InvalidCursor))
        .transpose()?;
    Ok(query.backward().limit(limit).after(cursor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Key;

    #[test]
    fn a_page_is_1_to_50_entries_and_a_cursor_only_continues_its_own_list() {
        let q = |cursor: Option<&str>, limit| PageQuery {
            cursor: cursor.map(str::to_owned),
            limit,
        };
        assert!(page_of("A".into(), &q(None, None)).is_ok());
        for bad in [Some(0), Some(51)] {
            assert!(matches!(
                page_of("A".into(), &q(None, bad)),
                Err(ApiError::Input(InputError::InvalidLimit))
            ));
        }
        let other = Cursor {
            key: Key::new("B", "1"),
            index_key: None,
        }
        .encode();
        for bad in ["not a cursor", other.as_str()] {
            assert!(matches!(
                page_of("A".into(), &q(Some(bad), None)),
                Err(ApiError::Input(InputError::InvalidCursor))
            ));
        }
    }
}
