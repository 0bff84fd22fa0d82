//! The item codec of a calendar feed: `FEED#<scope>` / `CURRENT` holds the current link's hash and
//! settings; `FEEDTOKEN#<hash>` / `FEED` is what a fetch finds by the link's token.

use crate::store::codec::{Corrupt, n, parsed, s};
use crate::store::keys::{feed_key, feed_token_key};
use crate::store::{AttrValue, Item, attr};
use domain::ids::ProviderId;

/// A calendar feed: whose calendar (`provider`, or the practice's), the current link's hash, and
/// whether it shows patients' initials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feed {
    pub scope: String,
    pub provider: Option<ProviderId>,
    pub token_hash: String,
    pub patient_initials: bool,
    pub created_at: i64,
    pub version: i64,
    /// The login that made the link: a link stops with its maker's login (offboarding). Absent on
    /// links made before it was recorded.
    pub created_by: Option<String>,
}

pub trait FeedCodec: Sized {
    fn to_item(&self) -> Item;
    /// The item a fetch finds by the link's hash.
    fn token_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

fn fill(feed: &Feed, mut item: Item) -> Item {
    item.set(attr::SCOPE, feed.scope.as_str());
    item.set(attr::TOKEN_HASH, feed.token_hash.as_str());
    item.set(attr::PATIENT_INITIALS, feed.patient_initials);
    item.set(attr::CREATED_AT, feed.created_at);
    item.set(attr::VERSION, feed.version);
    if let Some(p) = &feed.provider {
        item.set(attr::PROVIDER_ID, p.as_str());
    }
    if let Some(by) = &feed.created_by {
        item.set(attr::CREATED_BY, by.as_str());
    }
    item
}

impl FeedCodec for Feed {
    fn to_item(&self) -> Item {
        fill(self, Item::new(feed_key(&self.scope)))
    }
    fn token_item(&self) -> Item {
        fill(self, Item::new(feed_token_key(&self.token_hash)))
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
        Ok(Feed {
            scope: s(item, attr::SCOPE)?.to_owned(),
            provider: match item.get(attr::PROVIDER_ID) {
                None => None,
                Some(_) => Some(parsed(item, attr::PROVIDER_ID, ProviderId::parse)?),
            },
            token_hash: s(item, attr::TOKEN_HASH)?.to_owned(),
            patient_initials: matches!(
                item.get(attr::PATIENT_INITIALS),
                Some(AttrValue::Bool(true))
            ),
            created_at: n(item, attr::CREATED_AT)?,
            version: n(item, attr::VERSION)?,
            created_by: item
                .get(attr::CREATED_BY)
                .and_then(AttrValue::as_s)
                .map(str::to_owned),
        })
    }
}
