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
    online(facts, split, out);
}

/// Online visits: held (the provider let the patient in), missed (she never joined the waiting
/// room, or was marked a no-show), and the median time connected, from the admission to the last
/// leave (or to the visit's end when nobody pressed Leave). From the rooms' audit entries. A visit
/// counts as missed once it is over by the latest entry (a live report's later visits are not).
fn online(facts: &Facts, split: &Split<'_>, out: &mut Sections) {
    let latest = facts.entries.iter().map(|e| e.at).max().unwrap_or(i64::MIN);
    let mut admitted: BTreeMap<&str, i64> = BTreeMap::new();
    let mut left: BTreeMap<&str, i64> = BTreeMap::new();
    let mut joined: BTreeSet<&str> = BTreeSet::new();
    for e in facts.entries.iter().filter(|e| &*e.outcome == "success") {
        let id = &*e.entity_id;
        match &*e.action {
            "visit.admit" => {
                let at = admitted.entry(id).or_insert(e.at);
                *at = (*at).min(e.at);
            }
            "visit.leave" => {
                let at = left.entry(id).or_insert(e.at);
                *at = (*at).max(e.at);
            }
            "visit.join" if !e.is_workforce() => {
                joined.insert(id);
            }
            _ => {}
        }
    }
    let mut held = [0usize; 2];
    let mut missed = [0usize; 2];
    let mut connected: [Vec<i64>; 2] = Default::default();
    for a in facts
        .appointments
        .values()
        .filter(|a| a.online && !a.cancelled)
    {
        let Some(i) = split.of(a.start) else {
            continue;
        };
        let id = a.id.as_str();
        match admitted.get(id) {
            Some(&from) if !a.no_show => {
                held[i] += 1;
                let to = left.get(id).copied().filter(|&t| t > from).unwrap_or(a.end);
                connected[i].push((to - from).max(0));
            }
            _ if a.no_show || (!joined.contains(id) && a.end <= latest) => missed[i] += 1,
            _ => {}
        }
    }
    let median = |i: usize| {
        let mut times = connected[i].clone();
        times.sort_unstable();
        duration(percentile(&times, 50))
    };
    out.row("booking", "online visits held", held.map(int));
    out.row(
        "booking",
        "online visits the patient missed",
        missed.map(int),
    );
    out.row(
        "booking",
        "median time connected online",
        [median(0), median(1)],
    );
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
