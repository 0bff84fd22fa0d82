//! The item codecs of a provider's other calendars: `BUSYCAL#<provider>` / `CAL#<id>` holds one
//! calendar (its sealed address, label, host and the last fetch's outcome and blocks);
//! `BUSYCAL#<provider>` / `SUMMARY` counts them and marks when the lock units must catch up.

use crate::store::codec::{Corrupt, corrupt, n, parsed, s};
use crate::store::keys::{BUSY_CALENDARS_INDEX, busy_calendar_key, busy_summary_key};
use crate::store::{AttrValue, GSI1_PK, GSI1_SK, Item, attr};
use domain::ids::{CalendarId, ProviderId};

/// One of a provider's other calendars. `address` is sealed (whoever has it reads that calendar).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusyCalendar {
    pub provider: ProviderId,
    pub id: CalendarId,
    pub label: String,
    pub host: String,
    pub address: Vec<u8>,
    pub created_at: i64,
    /// When a fetch was last started (a run's claim), and when one last gave blocks.
    pub attempted_at: Option<i64>,
    pub fetched_at: Option<i64>,
    /// Why the last fetch failed (words for the console, never the address), until one works.
    pub error: Option<String>,
    /// The last good fetch's busy time, `[start, end)` in unix seconds, sorted and merged.
    pub blocks: Vec<(i64, i64)>,
    /// Events of the last good fetch that could not be read.
    pub skipped: i64,
}

/// A provider's calendars: how many, and since when the lock units are behind (a removal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusySummary {
    pub provider: ProviderId,
    pub count: i64,
    pub changed_at: Option<i64>,
}

pub trait BusyCalendarCodec: Sized {
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

/// Blocks as 16 bytes each (two big-endian i64): a year of weekly events is a few kilobytes.
pub fn blocks_value(blocks: &[(i64, i64)]) -> AttrValue {
    let mut out = Vec::with_capacity(blocks.len() * 16);
    for (a, b) in blocks {
        out.extend_from_slice(&a.to_be_bytes());
        out.extend_from_slice(&b.to_be_bytes());
    }
    AttrValue::B(out)
}

fn blocks_of(item: &Item) -> Result<Vec<(i64, i64)>, Corrupt> {
    let Some(value) = item.get(attr::BLOCKS) else {
        return Ok(Vec::new());
    };
    let AttrValue::B(bytes) = value else {
        return Err(corrupt(attr::BLOCKS));
    };
    if bytes.len() % 16 != 0 {
        return Err(corrupt(attr::BLOCKS));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|c| {
            let mut a = [0u8; 8];
            let mut b = [0u8; 8];
            a.copy_from_slice(&c[..8]);
            b.copy_from_slice(&c[8..]);
            (i64::from_be_bytes(a), i64::from_be_bytes(b))
        })
        .collect())
}

fn opt_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(AttrValue::as_n)
}

impl BusyCalendarCodec for BusyCalendar {
    fn to_item(&self) -> Item {
        let mut item = Item::new(busy_calendar_key(&self.provider, &self.id))
            .with(attr::PROVIDER_ID, self.provider.as_str())
            .with(attr::ID, self.id.as_str())
            .with(attr::LABEL, self.label.clone())
            .with(attr::HOST, self.host.clone())
            .with(attr::ADDRESS, self.address.clone())
            .with(attr::CREATED_AT, self.created_at)
            .with(attr::SKIPPED, self.skipped)
            .with(attr::BLOCKS, blocks_value(&self.blocks));
        if let Some(t) = self.attempted_at {
            item.set(attr::ATTEMPTED_AT, t);
        }
        if let Some(t) = self.fetched_at {
            item.set(attr::FETCHED_AT, t);
        }
        if let Some(e) = &self.error {
            item.set(attr::ERROR, e.clone());
        }
        item
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
        Ok(BusyCalendar {
            provider: parsed(item, attr::PROVIDER_ID, ProviderId::parse)?,
            id: parsed(item, attr::ID, CalendarId::parse)?,
            label: s(item, attr::LABEL)?.to_owned(),
            host: s(item, attr::HOST)?.to_owned(),
            address: match item.get(attr::ADDRESS) {
                Some(AttrValue::B(b)) => b.clone(),
                _ => return Err(corrupt(attr::ADDRESS)),
            },
            created_at: n(item, attr::CREATED_AT)?,
            attempted_at: opt_n(item, attr::ATTEMPTED_AT),
            fetched_at: opt_n(item, attr::FETCHED_AT),
            error: item
                .get(attr::ERROR)
                .and_then(AttrValue::as_s)
                .map(str::to_owned),
            blocks: blocks_of(item)?,
            skipped: opt_n(item, attr::SKIPPED).unwrap_or(0),
        })
    }
}

impl BusySummary {
    /// The summary's index entry (the sweep lists providers with calendars by it).
    pub fn index_attrs(provider: &ProviderId) -> [(&'static str, AttrValue); 3] {
        [
            (GSI1_PK, BUSY_CALENDARS_INDEX.into()),
            (GSI1_SK, provider.as_str().into()),
            (attr::PROVIDER_ID, provider.as_str().into()),
        ]
    }

    pub fn from_item(item: &Item) -> Result<Self, Corrupt> {
        if item.key != busy_summary_key(&parsed(item, attr::PROVIDER_ID, ProviderId::parse)?) {
            return Err(corrupt("busy calendar summary key"));
        }
        Ok(BusySummary {
            provider: parsed(item, attr::PROVIDER_ID, ProviderId::parse)?,
            count: opt_n(item, attr::COUNT).unwrap_or(0),
            changed_at: opt_n(item, attr::CHANGED_AT),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calendar_round_trips() {
        let calendar = BusyCalendar {
            provider: ProviderId::new(),
            id: CalendarId::new(),
            label: "Personal".into(),
            host: "calendar.example".into(),
            address: vec![1, 2, 3],
            created_at: 10,
            attempted_at: Some(20),
            fetched_at: None,
            error: Some("The calendar's server answered 404.".into()),
            blocks: vec![(100, 200), (-5, i64::MAX)],
            skipped: 2,
        };
        assert_eq!(
            BusyCalendar::from_item(&calendar.to_item()).unwrap(),
            calendar
        );
    }
}
