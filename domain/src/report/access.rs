//! Access and security: who read patient data, out of hours or without an appointment, and the
//! refusals counted.

use super::*;

/// The access section's tables, flags and summary rows.
pub(super) fn section(facts: &Facts, split: &Split<'_>, out: &mut Sections) {
    let mut reads: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    let mut patients_read: BTreeMap<String, [BTreeSet<&str>; 2]> = BTreeMap::new();
    let mut after_hours: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    let mut strangers: BTreeMap<String, [BTreeSet<&str>; 2]> = BTreeMap::new();
    let mut refusals: Counts<String> = Counts::default();
    let open_hours: Vec<(i64, i64)> = {
        let mut all: Vec<_> = facts.working.values().flatten().copied().collect();
        all.sort_unstable();
        all
    };
    let is_open = |t: i64| {
        let after = open_hours.partition_point(|&(a, _)| a <= t);
        open_hours[..after].iter().any(|&(_, b)| t < b)
    };
    let providers_by_subject: BTreeMap<&str, &str> = facts
        .providers
        .iter()
        .filter_map(|p| Some((p.subject.as_deref()?, p.id.as_str())))
        .collect();
    for e in &facts.entries {
        let Some(i) = split.of(e.at) else {
            continue;
        };
        if &*e.outcome != "success" {
            if &*e.outcome == "denied" {
                refusals.add_n(e.who(), i, e.count);
            }
            continue;
        }
        let is_read = crate::audit::ActionKind::of(&e.action) == crate::audit::ActionKind::Read;
        if !(e.is_workforce() && is_read && !e.patients.is_empty()) {
            continue;
        }
        let who = e.who();
        reads.entry(who.clone()).or_default()[i] += 1;
        let seen = patients_read.entry(who.clone()).or_default();
        for p in e.patients.iter() {
            seen[i].insert(p);
            let known = facts
                .patient_providers
                .range((p.to_string(), String::new())..)
                .take_while(|(q, _)| q.as_str() == &**p)
                .any(|(_, prv)| {
                    providers_by_subject
                        .get(&*e.actor)
                        .is_none_or(|mine| mine == prv)
                });
            if !known {
                strangers.entry(who.clone()).or_default()[i].insert(p);
            }
        }
        if !is_open(e.at) {
            after_hours.entry(who).or_default()[i] += 1;
        }
    }
    let access_rows = reads
        .iter()
        .map(|(who, [a, b])| {
            let seen = patients_read.get(who);
            let after = after_hours.get(who).copied().unwrap_or_default();
            let strange = strangers.get(who);
            let n = |s: Option<&[BTreeSet<&str>; 2]>, i: usize| s.map_or(0, |s| s[i].len());
            vec![
                text(who.clone()),
                int(*a),
                int(*b),
                int(n(seen, 0)),
                int(after[0]),
                int(after[1]),
                int(n(strange, 0)),
                int(n(strange, 1)),
            ]
        })
        .collect();
    let total = |m: &BTreeMap<String, [usize; 2]>, i: usize| m.values().map(|v| v[i]).sum();
    out.row(
        "access",
        "reads of patient data by staff",
        [0, 1].map(|i| int(total(&reads, i))),
    );
    out.row(
        "access",
        "after-hours reads",
        [0, 1].map(|i| int(total(&after_hours, i))),
    );
    let counted = |name: &str, i: usize| facts.counters.get(name).map_or(0, |c| c[i]);
    out.row(
        "access",
        "requests refused for their token (401)",
        [0, 1].map(|i| Cell::Int(counted("token_failures", i))),
    );
    out.row(
        "access",
        "webhook deliveries with a bad signature",
        [0, 1].map(|i| Cell::Int(counted("webhook_signature_failures", i))),
    );
    out.row(
        "access",
        "refused requests",
        [0, 1].map(|i| int(refusals.0.values().map(|v| v[i]).sum())),
    );
    out.tables.push(Table {
        name: "access_by_staff",
        title: "Reads of patient data by staff member",
        columns: vec![
            "staff member",
            "reads",
            "reads (previous)",
            "patients",
            "after hours",
            "after hours (previous)",
            "patients with no appointment",
            "patients with no appointment (previous)",
        ],
        rows: access_rows,
        chart: Some((0, 1, 2)),
    });
    out.tables.push(Table {
        name: "refusals",
        title: "Refused requests by subject",
        columns: vec!["subject", "this period", "previous period"],
        rows: refusals
            .0
            .iter()
            .map(|(who, [a, b])| vec![text(who.clone()), int(*a), int(*b)])
            .collect(),
        chart: None,
    });
}
