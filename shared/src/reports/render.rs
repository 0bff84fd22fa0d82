//! Drawing a report: one self-contained HTML page (no scripts, no external assets; charts as inline
//! SVG bars with a text alternative and the same numbers in a table beside them; a print
//! stylesheet), one CSV per table (RFC 4180) and the JSON document. Every byte follows from the
//! report: no clock, no randomness, no map iteration order.

use std::fmt::Write as _;

use domain::instant::render_utc;
use domain::report::{Cell, Report, Table};

pub use domain::html::escape;

/// A CSV field: quoted when it must be; a leading `= + - @` is prefixed with `'` so a spreadsheet
/// never runs it as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<i64>().is_err() {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

pub fn csv(table: &Table) -> String {
    let mut out = String::new();
    let line = |cells: Vec<String>| cells.join(",") + "\r\n";
    out.push_str(&line(table.columns.iter().map(|c| csv_field(c)).collect()));
    for row in &table.rows {
        out.push_str(&line(row.iter().map(|c| csv_field(&c.render())).collect()));
    }
    out
}

fn value(cell: &Cell) -> i64 {
    cell.value()
}

/// Horizontal bars, this period over the previous one, per row of `table`.
fn chart(table: &Table, (label, current, previous): (usize, usize, usize)) -> Option<String> {
    if table.rows.is_empty() {
        return None;
    }
    let max = table
        .rows
        .iter()
        .flat_map(|r| [value(&r[current]), value(&r[previous])])
        .max()
        .unwrap_or(0)
        .max(1);
    let (left, width, bar, gap) = (180i64, 420i64, 14i64, 10i64);
    let height = table.rows.len() as i64 * (2 * bar + gap) + 30;
    let mut svg = String::new();
    let mut summary = Vec::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-{name}-title" width="{w}" height="{height}" viewBox="0 0 {w} {height}"><title id="chart-{name}-title">{title}</title>"#,
        name = table.name,
        w = left + width + 70,
        title = escape(table.title),
    );
    for (i, row) in table.rows.iter().enumerate() {
        let y = 20 + i as i64 * (2 * bar + gap);
        let name = row[label].render();
        let (a, b) = (value(&row[current]), value(&row[previous]));
        summary.push(format!("{name}: {a} (previous {b})"));
        let _ = write!(
            svg,
            r#"<text x="{tx}" y="{ty}" text-anchor="end" class="label">{name}</text>"#,
            tx = left - 8,
            ty = y + bar + 4,
            name = escape(&name),
        );
        for (k, (v, class)) in [(a, "now"), (b, "before")].into_iter().enumerate() {
            let w = v * width / max;
            let yy = y + k as i64 * bar;
            let _ = write!(
                svg,
                r#"<rect x="{left}" y="{yy}" width="{w}" height="{h}" class="{class}"/><text x="{tx}" y="{ty}" class="value">{v}</text>"#,
                h = bar - 2,
                tx = left + w + 4,
                ty = yy + bar - 4,
            );
        }
    }
    let _ = write!(
        svg,
        r#"<text x="{left}" y="12" class="legend">■ this period  □ previous period</text></svg>"#
    );
    Some(format!(
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        escape(&format!("{}: {}.", table.title, summary.join("; ")))
    ))
}

fn html_table(table: &Table) -> String {
    let mut out = format!(
        "<table id=\"{}\"><caption>{}</caption><thead><tr>",
        table.name,
        escape(table.title)
    );
    for c in &table.columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(c));
    }
    out.push_str("</tr></thead><tbody>");
    if table.rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\">None in either period.</td></tr>",
            table.columns.len()
        );
    }
    for row in &table.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if cell.is_number() { " class=\"n\"" } else { "" };
            let tag = if i == 0 { "th scope=\"row\"" } else { "td" };
            let close = if i == 0 { "th" } else { "td" };
            let _ = write!(out, "<{tag}{class}>{}</{close}>", escape(&cell.render()));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:2px solid #1f4e79;padding-bottom:.2rem}\
table{border-collapse:collapse;margin:1rem 0;width:100%}caption{text-align:left;font-weight:600;padding:.3rem 0}\
th,td{border:1px solid #b7b7b7;padding:.25rem .5rem;text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
thead th{background:#e8eef5}.flag{background:#fff1d6;border-left:6px solid #b35900;padding:.6rem 1rem;margin:1rem 0}\
figure{margin:1rem 0}figcaption{font-size:.85rem;color:#444}svg .now{fill:#1f4e79}svg .before{fill:#9fb7cf}\
svg text{font-size:12px;fill:#1a1a1a}.meta{color:#444}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,figure{break-inside:avoid}.flag{border:2px solid #b35900}}";

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The report as one HTML page.
pub fn html(report: &Report) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let (what, compared) = match report.kind {
        "access_review" => ("access review", String::new()),
        _ => (
            "compliance and performance report",
            format!(
                "; compared with {} to {}",
                report.previous.from,
                report.previous.last_day()
            ),
        ),
    };
    let title = format!(
        "{} {what}, {} to {}",
        report.practice,
        report.period.from,
        report.period.last_day()
    );
    let _ = write!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>",
        escape(&title)
    );
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"meta\">{} for {} to {} (both days included), times in {}{compared}. Computed from ids, times, amounts, codes and audit entries only: no patient names, contact details or notes.</p>",
        escape(&report.practice),
        capitalized(what),
        report.period.from,
        report.period.last_day(),
        escape(&report.time_zone),
    );
    for flag in &report.flags {
        let _ = write!(
            out,
            "<p class=\"flag\" role=\"note\"><strong>Attention:</strong> {}</p>",
            escape(flag)
        );
    }
    let log = &report.audit_log;
    let checkpoint = match (log.checkpoint_size, log.checkpoint_signed_at) {
        (Some(size), Some(at)) => format!(
            "{} entries, signed {}{}",
            size,
            render_utc(at),
            if log.covers_period {
                ""
            } else {
                " (no checkpoint signed after the period's end yet)"
            }
        ),
        _ => "none signed yet".into(),
    };
    let _ = write!(
        out,
        "<h2>Audit log</h2><table id=\"audit_log\"><caption>Audit log status</caption><tbody><tr><th scope=\"row\">Checkpoint covering the period</th><td>{}</td></tr><tr><th scope=\"row\">Verification by this job</th><td>{}</td></tr></tbody></table>",
        escape(&checkpoint),
        escape(&log.verification)
    );
    for table in &report.tables {
        let _ = write!(out, "<h2>{}</h2>", escape(table.title));
        if let Some(spec) = table.chart
            && let Some(svg) = chart(table, spec)
        {
            out.push_str(&svg);
        }
        out.push_str(&html_table(table));
    }
    out.push_str("</main></body></html>\n");
    out
}

/// Every file of a report: `report.html`, `report.json` and `<table>.csv` per table.
pub fn files(report: &Report) -> Result<Vec<(String, Vec<u8>)>, serde_json::Error> {
    let mut files = vec![
        ("report.html".to_owned(), html(report).into_bytes()),
        ("report.json".to_owned(), serde_json::to_vec_pretty(report)?),
    ];
    for table in &report.tables {
        files.push((format!("{}.csv", table.name), csv(table).into_bytes()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_csv_cannot_smuggle_formulas() {
        assert_eq!(
            escape("<b>\"Tom\" & 'Jo'</b>"),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jo&#39;&lt;/b&gt;"
        );
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-5"), "-5");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
