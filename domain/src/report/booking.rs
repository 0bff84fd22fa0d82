//! Booking: appointments booked by patients and by staff, late changes, no-shows, and each
//! provider's booked time against working time.

use super::*;

/// The booking section's tables, flags and summary rows.
pub(super) fn section(facts: &Facts, split: &Split<'_>, out: &mut Sections) {
    let mut bookings = [0usize; 2];
    let mut by_patient = [0usize; 2];
    let mut by_staff = [0usize; 2];
    let mut late = [0usize; 2];
    let mut reschedules = [0usize; 2];
    let mut lapsed = [0usize; 2];
    let mut offers = [0usize; 2];
    let mut lead = Counts::default();
    let mut offered = BTreeSet::new();
    let cutoff: BTreeMap<&str, i64> = facts
        .providers
        .iter()
        .map(|p| (p.id.as_str(), p.cancel_cutoff))
        .collect();
    for e in &facts.entries {
        let Some(i) = split.of(e.at) else {
            continue;
        };
        if &*e.outcome != "success" {
            continue;
        }
        match &*e.action {
            "appointment.create" => {
                bookings[i] += 1;
                if let Some(a) = facts.appointments.get(&*e.entity_id) {
                    let days = (a.start - a.created_at).max(0) / 86_400;
                    let bucket = match days {
                        0 => "0: same day",
                        1..=7 => "1: 1-7 days",
                        8..=30 => "2: 8-30 days",
                        _ => "3: over 30 days",
                    };
                    lead.add(bucket, i);
                }
            }
            "appointment.cancel" => {
                if e.roles.iter().any(|r| &**r == "patient") {
                    by_patient[i] += 1;
                } else {
                    by_staff[i] += 1;
                }
                if let Some(a) = facts.appointments.get(&*e.entity_id) {
                    let limit = cutoff.get(a.provider.as_str()).copied().unwrap_or(0);
                    if a.start - e.at < limit {
                        late[i] += 1;
                    }
                }
            }
            "appointment.reschedule" => reschedules[i] += 1,
            "hold.sweep" => lapsed[i] += 1,
            "hold.offer" => {
                offers[i] += 1;
                offered.insert(e.entity_id.to_string());
            }
            _ => {}
        }
    }
    let mut taken = [0usize; 2];
    for a in facts.appointments.values() {
        if let (Some(i), Some(h)) = (split.of(a.created_at), &a.from_hold)
            && offered.contains(h)
        {
            taken[i] += 1;
        }
    }
    out.row("booking", "bookings", bookings.map(int));
    out.row("booking", "cancelled by patients", by_patient.map(int));
    out.row("booking", "cancelled by staff", by_staff.map(int));
    out.row("booking", "cancelled inside the cut-off", late.map(int));
    out.row("booking", "reschedules", reschedules.map(int));
    out.row("booking", "holds that lapsed", lapsed.map(int));
    out.row("booking", "waitlist offers made", offers.map(int));
    out.row("booking", "waitlist offers taken", taken.map(int));
    out.tables.push(Table {
        name: "lead_time",
        title: "Lead time: from booking to the appointment",
        columns: vec!["lead time", "this period", "previous period"],
        rows: lead
            .0
            .iter()
            .map(|(bucket, [a, b])| vec![text(&bucket[3..]), int(*a), int(*b)])
            .collect(),
        chart: Some((0, 1, 2)),
    });
    out.tables.push(utilisation(facts, split));
}

/// Booked time against working time, per provider.
fn utilisation(facts: &Facts, split: &Split<'_>) -> Table {
    let mut booked: BTreeMap<&str, [i64; 2]> = BTreeMap::new();
    for a in facts.appointments.values().filter(|a| !a.cancelled) {
        if let Some(i) = split.of(a.start) {
            booked.entry(a.provider.as_str()).or_default()[i] += a.end - a.start;
        }
    }
    let rows = facts
        .providers
        .iter()
        .map(|p| {
            let b = booked.get(p.id.as_str()).copied().unwrap_or_default();
            let (w0, w1) = p.working;
            vec![
                text(p.name.clone()),
                Cell::Hours(b[0] / 60),
                Cell::Hours(w0 / 60),
                text(percent(b[0] as usize, w0.max(0) as usize)),
                Cell::Hours(b[1] / 60),
                Cell::Hours(w1 / 60),
                text(percent(b[1] as usize, w1.max(0) as usize)),
            ]
        })
        .collect();
    Table {
        name: "utilisation",
        title: "Utilisation per provider (booked hours of working hours)",
        columns: vec![
            "provider",
            "booked",
            "working",
            "utilisation",
            "booked (previous)",
            "working (previous)",
            "utilisation (previous)",
        ],
        rows,
        chart: Some((0, 1, 4)),
    }
}
