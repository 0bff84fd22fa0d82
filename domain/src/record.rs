//! A patient's copy of her record as a page to read and print, from the JSON copy the API gives
//! (`shared::record`): the same facts, in words and tables, with no scripts and no external
//! assets. Every value is escaped; a part that is missing or of another shape shows as empty.

use serde_json::Value;

use crate::html::escape;

/// A value as text: strings as they are, numbers and booleans written out, nothing for null.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn field(v: &Value, name: &str) -> String {
    escape(&text(&v[name]))
}

/// An amount in minor units of a currency (`12000`, `"USD"`) as people read it (`120.00 USD`).
fn money(minor: &Value, currency: &Value) -> String {
    match (
        minor.as_i64(),
        currency.as_str().and_then(crate::money::Currency::parse),
    ) {
        (Some(minor), Some(currency)) => escape(&currency.text(minor)),
        _ => String::new(),
    }
}

fn table(headings: &[&str], rows: Vec<Vec<String>>, empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p>{}</p>\n", escape(empty));
    }
    let head: String = headings
        .iter()
        .map(|h| format!("<th scope=\"col\">{}</th>", escape(h)))
        .collect();
    let body: String = rows
        .iter()
        .map(|r| {
            let cells: String = r.iter().map(|c| format!("<td>{c}</td>")).collect();
            format!("<tr>{cells}</tr>\n")
        })
        .collect();
    format!("<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>\n")
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// The page of a record (the JSON copy's shape, `format: practica.patient-record.v1`).
pub fn printable(record: &Value) -> String {
    let practice = field(&record["practice"], "name");
    let profile = &record["profile"];
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>Your record at {practice}</title>\n\
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1f2328}}\
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;display:block;overflow-x:auto}}th,td{{border:1px solid #6e7781;padding:.25rem .5rem;text-align:left;vertical-align:top}}\
dl{{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}}dt{{font-weight:600}}code{{word-break:break-all}}</style></head>\n\
<body><h1>Your record at {practice}</h1>\n<p>Made {generated} (UTC) for patient <code>{id}</code>. The same record as JSON is what a program reads.</p>\n",
        generated = field(record, "generatedAt"),
        id = field(record, "patientId"),
    );
    out.push_str("<h2>Your details</h2>\n");
    if profile.is_object() {
        out.push_str(&format!(
            "<dl><dt>Name</dt><dd>{}</dd><dt>Date of birth</dt><dd>{}</dd><dt>Phone</dt><dd>{}</dd>\
<dt>Email</dt><dd>{}</dd><dt>Email confirmed</dt><dd>{}</dd></dl>\n",
            field(profile, "name"),
            field(profile, "dateOfBirth"),
            field(profile, "phone"),
            field(profile, "email"),
            field(profile, "emailVerified"),
        ));
    } else {
        out.push_str("<p>You have not given the practice your details.</p>\n");
    }

    out.push_str("<h2>Appointments</h2>\n");
    let rows = list(&record["appointments"])
        .iter()
        .map(|a| {
            let mut status = text(&a["status"]).replace('_', " ");
            if a["online"] == Value::Bool(true) {
                status.push_str(" (online)");
            }
            vec![
                field(a, "start"),
                field(a, "serviceName"),
                field(a, "providerName"),
                escape(&status),
            ]
        })
        .collect();
    out.push_str(&table(
        &["Start", "Service", "With", "Status"],
        rows,
        "No appointments.",
    ));

    out.push_str("<h2>Billing</h2>\n<h3>Balance</h3>\n");
    let billing = &record["billing"];
    let rows = list(&billing["balances"])
        .iter()
        .map(|b| {
            let of = |name: &str| money(&b[name], &b["currency"]);
            vec![of("charged"), of("paid"), of("refunded"), of("balance")]
        })
        .collect();
    out.push_str(&table(
        &["Charged", "Paid", "Refunded", "Balance"],
        rows,
        "Nothing charged.",
    ));
    out.push_str("<h3>Charges</h3>\n");
    let rows = list(&billing["charges"])
        .iter()
        .map(|c| {
            let items = list(&c["lineItems"])
                .iter()
                .map(|i| escape(&text(&i["description"])))
                .collect::<Vec<_>>()
                .join("<br>");
            vec![
                field(c, "createdAt"),
                items,
                money(&c["total"], &c["currency"]),
                if c["fee"].is_null() {
                    String::new()
                } else {
                    "fee".into()
                },
            ]
        })
        .collect();
    out.push_str(&table(&["When", "For", "Amount", ""], rows, "No charges."));
    out.push_str("<h3>Payments and receipts</h3>\n");
    let rows = list(&billing["payments"])
        .iter()
        .map(|p| {
            vec![
                field(p, "createdAt"),
                money(&p["amount"]["amount"], &p["amount"]["currency"]),
                field(p, "status"),
                format!("<code>{}</code>", field(p, "id")),
            ]
        })
        .collect();
    out.push_str(&table(
        &["When", "Amount", "Status", "Receipt"],
        rows,
        "No payments.",
    ));

    out.push_str("<h2>Forms</h2>\n");
    let forms = list(&record["forms"]);
    if forms.is_empty() {
        out.push_str("<p>No forms filled in.</p>\n");
    }
    for f in forms {
        out.push_str(&format!(
            "<h3>{} <small>({})</small></h3>\n",
            field(f, "title"),
            field(f, "submittedAt")
        ));
        if f["score"].is_object() {
            out.push_str(&format!(
                "<p>Score {} ({})</p>\n",
                field(&f["score"], "total"),
                field(&f["score"], "band")
            ));
        }
        let rows = list(&f["answers"])
            .iter()
            .map(|qa| vec![field(qa, "question"), field(qa, "answer")])
            .collect();
        out.push_str(&table(&["Question", "Your answer"], rows, "No questions."));
    }

    out.push_str("<h2>Consents</h2>\n");
    let rows = list(&record["consents"]["signatures"])
        .iter()
        .map(|s| {
            let act = if s["kind"] == "withdraw" {
                "Withdrew consent"
            } else {
                "Signed"
            };
            vec![
                field(s, "at"),
                field(s, "title"),
                act.into(),
                format!("<code>{}</code>", field(s, "versionHash")),
            ]
        })
        .collect();
    out.push_str(&table(
        &["When", "Document", "What", "Version (SHA-256 of its text)"],
        rows,
        "No consents signed.",
    ));

    out.push_str("<h2>Messages the practice sent you</h2>\n");
    let rows = list(&record["messages"])
        .iter()
        .map(|m| {
            vec![
                field(m, "at"),
                field(m, "kind"),
                field(m, "channels"),
                field(m, "action"),
            ]
        })
        .collect();
    out.push_str(&table(
        &["When", "What", "By", "How it ended"],
        rows,
        "No messages.",
    ));

    out.push_str("<h2>Who accessed your record</h2>\n");
    let log = &record["accessLog"];
    if log.is_object() {
        let rows = list(&log["entries"])
            .iter()
            .map(|e| {
                let by = &e["by"];
                let who = if by["you"] == Value::Bool(true) {
                    "You".to_owned()
                } else {
                    let name = text(&by["name"]);
                    let role = text(&by["role"]);
                    match (name.is_empty(), role.is_empty()) {
                        (false, false) => format!("{name} ({role})"),
                        (false, true) => name,
                        (true, false) => format!("a member of the practice ({role})"),
                        (true, true) => text(&by["kind"]),
                    }
                };
                vec![
                    field(e, "at"),
                    escape(&who),
                    format!("<code>{}</code>", field(e, "action")),
                    field(e, "outcome"),
                ]
            })
            .collect();
        out.push_str(&table(
            &["When (UTC)", "Who", "What", "Outcome"],
            rows,
            "No accesses recorded.",
        ));
        if log["complete"] == Value::Bool(false) {
            out.push_str("<p>Only the latest accesses are in this copy; the rest are on the access log page of the portal.</p>\n");
        }
        out.push_str("<p>Each entry carries a proof in the JSON copy that it is in the practice's signed audit log.</p>\n");
    } else {
        out.push_str("<p>Not in a copy made by the front desk: the patient portal's access log page and the practice's administrator have it.</p>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_value_is_escaped_and_money_is_in_minor_units() {
        let record = json!({
            "practice": {"name": "River <Clinic>"},
            "patientId": "pat_1",
            "generatedAt": "2026-11-23T15:00:00Z",
            "profile": {"name": "Jane <script>alert(1)</script>", "emailVerified": true},
            "appointments": [{"start": "2026-11-24T09:00:00-05:00", "serviceName": "Therapy", "providerName": "Dr. A & B", "status": "booked", "online": true}],
            "billing": {"balances": [{"currency": "USD", "charged": 12050, "paid": 5, "refunded": 0, "balance": 12045}],
                        "charges": [{"createdAt": "c", "currency": "JPY", "total": 1200, "lineItems": [{"description": "Visit <1>"}]}],
                        "payments": [{"createdAt": "x", "amount": {"amount": 700, "currency": "EUR"}, "status": "succeeded", "id": "pay_1"}]},
            "forms": [{"title": "PHQ-9", "submittedAt": "t", "score": {"total": 4, "band": "minimal"},
                       "answers": [{"question": "Sleep?", "answer": 2}, {"question": "Notes", "answer": "\"<b>\""}]}],
            "consents": {"signatures": [{"kind": "withdraw", "title": "T", "at": "a", "versionHash": "ab"}]},
            "messages": [],
            "accessLog": {"entries": [{"at": "a", "by": {"kind": "user", "role": "staff", "name": "Sam", "you": false}, "action": "record.export", "outcome": "success"}], "complete": false},
        });
        let page = printable(&record);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("Jane &lt;script&gt;"));
        assert!(page.contains("River &lt;Clinic&gt;"));
        assert!(page.contains("Dr. A &amp; B"));
        assert!(page.contains("booked (online)"));
        assert!(
            page.contains("120.50 USD") && page.contains("0.05 USD") && page.contains("120.45 USD")
        );
        assert!(page.contains("7.00 EUR") && page.contains("1200 JPY"));
        assert!(page.contains("Visit &lt;1&gt;"));
        assert!(page.contains("Score 4 (minimal)"));
        assert!(page.contains("&quot;&lt;b&gt;&quot;"));
        assert!(page.contains("Withdrew consent"));
        assert!(page.contains("Sam (staff)"));
        assert!(page.contains("Only the latest accesses"));
    }

    #[test]
    fn a_copy_without_parts_says_so_and_never_panics() {
        for record in [
            json!({}),
            json!(null),
            json!({"billing": 3, "forms": "x", "accessLog": null}),
        ] {
            let page = printable(&record);
            assert!(page.contains("No appointments."));
            assert!(page.contains("You have not given the practice your details."));
            assert!(page.contains("Not in a copy made by the front desk"));
        }
    }
}
