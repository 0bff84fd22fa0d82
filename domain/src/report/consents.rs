//! Consents and forms: signatures, withdrawals and form submissions recorded in the period
//! (counts only: never which document or form, never who, never an answer or a score).

use super::*;

/// The consents section's summary rows.
pub(super) fn section(facts: &Facts, split: &Split<'_>, out: &mut Sections) {
    let mut signed = [0usize; 2];
    let mut withdrawn = [0usize; 2];
    let mut forms = [0usize; 2];
    for e in &facts.entries {
        let Some(i) = split.of(e.at) else {
            continue;
        };
        if &*e.outcome != "success" {
            continue;
        }
        match &*e.action {
            "consent.sign" => signed[i] += 1,
            "consent.withdraw" => withdrawn[i] += 1,
            "form.submit" => forms[i] += 1,
            _ => {}
        }
    }
    out.row("consents", "consents signed", signed.map(int));
    out.row("consents", "consents withdrawn", withdrawn.map(int));
    out.row("forms", "forms submitted", forms.map(int));
    // Visits of the period (not cancelled) whose service asks for forms, and those that had every
    // one of them submitted before they began.
    let mut asked = [0usize; 2];
    let mut ready = [0usize; 2];
    for a in facts.appointments.values().filter(|a| !a.cancelled) {
        let (Some(done), Some(i)) = (a.forms_ready, split.of(a.start)) else {
            continue;
        };
        asked[i] += 1;
        if done {
            ready[i] += 1;
        }
    }
    out.row("forms", "visits that asked for forms", asked.map(int));
    out.row(
        "forms",
        "with their forms completed before the visit",
        ready.map(int),
    );
}
