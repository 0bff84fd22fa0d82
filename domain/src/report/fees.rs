//! Fees under the cancellation policy: those charged in each period (and, of them, what was
//! waived, collected and is still owed at the period's end), waivers by reason, and each
//! provider's no-show and late-cancellation rates.

use super::*;
use crate::fees::FeeKind;

/// The fees section's tables and summary rows.
pub(super) fn section(facts: &Facts, split: &Split<'_>, out: &mut Sections) {
    let mut charged = Counts::default();
    // Per (currency, figure): amounts in both periods.
    let mut amounts: BTreeMap<(&str, &str), [i64; 2]> = BTreeMap::new();
    let mut reasons = Counts::default();
    for f in &facts.fees {
        let Some(i) = split.of(f.created_at) else {
            continue;
        };
        let kind = match f.kind {
            FeeKind::LateCancellation => "late cancellation fees charged",
            FeeKind::NoShow => "no-show fees charged",
        };
        charged.add(kind, i);
        let waived = f.waived.map(|(_, amount, _)| amount).unwrap_or(0);
        let currency = f.currency.as_str();
        for (figure, amount) in [
            ("fees charged", f.amount),
            ("of them waived", waived),
            ("of them collected", f.collected),
            ("of them outstanding", (f.net - f.collected).max(0)),
        ] {
            amounts.entry((currency, figure)).or_default()[i] += amount;
        }
        if let Some((_, _, reason)) = f.waived {
            reasons.add(reason.as_str(), i);
        }
    }
    for kind in ["late cancellation fees charged", "no-show fees charged"] {
        let counts = charged.0.get(kind).copied().unwrap_or_default();
        out.row("fees", kind, counts.map(int));
    }
    for ((currency, figure), values) in &amounts {
        out.row("fees", figure, values.map(|a| money(a, currency)));
    }
    out.tables.push(Table {
        name: "fee_waivers",
        title: "Fees waived, by reason (of the fees charged in each period)",
        columns: vec!["reason", "this period", "previous period"],
        rows: reasons
            .0
            .iter()
            .map(|(reason, [a, b])| vec![text(reason.replace('_', " ")), int(*a), int(*b)])
            .collect(),
        chart: None,
    });
    out.tables.push(rates(facts, split));
}

/// Per provider: visits that began in each period, the share marked no-shows, and the share of
/// appointments due in it cancelled late (inside the policy's window, or the provider's cut-off
/// for a visit booked under no policy), the practice's own cancellations left out.
fn rates(facts: &Facts, split: &Split<'_>) -> Table {
    let cutoff: BTreeMap<&str, i64> = facts
        .providers
        .iter()
        .map(|p| (p.id.as_str(), p.cancel_cutoff))
        .collect();
    let mut late: BTreeSet<&str> = BTreeSet::new();
    for e in &facts.entries {
        if &*e.action != "appointment.cancel" || &*e.outcome != "success" {
            continue;
        }
        if let Some(a) = facts
            .appointments
            .get(&*e.entity_id)
            .filter(|a| !a.by_practice)
        {
            let window = a
                .late_window
                .unwrap_or_else(|| cutoff.get(a.provider.as_str()).copied().unwrap_or(0));
            if a.start - e.at < window {
                late.insert(a.id.as_str());
            }
        }
    }
    // Per provider and period: (appointments due, cancelled late, visits held or missed, no-shows).
    let mut per: BTreeMap<&str, [[usize; 4]; 2]> = BTreeMap::new();
    for a in facts.appointments.values() {
        let Some(i) = split.of(a.start) else {
            continue;
        };
        let slot = &mut per.entry(a.provider.as_str()).or_default()[i];
        slot[0] += 1;
        if late.contains(a.id.as_str()) {
            slot[1] += 1;
        }
        if !a.cancelled {
            slot[2] += 1;
        }
        if a.no_show {
            slot[3] += 1;
        }
    }
    let rows = facts
        .providers
        .iter()
        .map(|p| {
            let [now, before] = per.get(p.id.as_str()).copied().unwrap_or_default();
            vec![
                text(p.name.clone()),
                int(now[2]),
                int(now[3]),
                text(percent(now[3], now[2])),
                int(now[1]),
                text(percent(now[1], now[0])),
                text(percent(before[3], before[2])),
                text(percent(before[1], before[0])),
            ]
        })
        .collect();
    Table {
        name: "no_shows",
        title: "No-shows and late cancellations per provider",
        columns: vec![
            "provider",
            "visits",
            "no-shows",
            "no-show rate",
            "late cancellations",
            "late-cancellation rate",
            "no-show rate (previous)",
            "late-cancellation rate (previous)",
        ],
        rows,
        chart: None,
    }
}
