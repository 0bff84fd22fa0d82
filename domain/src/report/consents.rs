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
}
