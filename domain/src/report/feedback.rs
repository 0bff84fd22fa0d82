//! Feedback: opened and resolved per category, time to resolve, and what is still open.

use super::*;

/// The feedback section's tables, flags and summary rows.
pub(super) fn section(facts: &Facts, split: &Split<'_>, out: &mut Sections) {
    let period = split.current;
    let mut opened = Counts::default();
    let mut resolved = Counts::default();
    let mut resolve_times: [Vec<i64>; 2] = Default::default();
    let mut stale = 0usize;
    for f in &facts.feedback {
        if let Some(i) = split.of(f.created_at) {
            opened.add(f.category.as_str(), i);
        }
        if let Some(at) = f.resolved_at
            && let Some(i) = split.of(at)
        {
            resolved.add(f.category.as_str(), i);
            resolve_times[i].push(at - f.created_at);
        }
        let open_at_end =
            f.created_at < period.end && f.resolved_at.is_none_or(|r| r >= period.end);
        if open_at_end && period.end - f.created_at > 30 * 86_400 {
            stale += 1;
        }
    }
    resolve_times.iter_mut().for_each(|t| t.sort_unstable());
    let sum = |c: &Counts<&str>, i: usize| c.0.values().map(|v| v[i]).sum::<usize>();
    out.row("feedback", "opened", [0, 1].map(|i| int(sum(&opened, i))));
    out.row(
        "feedback",
        "resolved",
        [0, 1].map(|i| int(sum(&resolved, i))),
    );
    out.row(
        "feedback",
        "median time to resolve",
        [0, 1].map(|i| duration(percentile(&resolve_times[i], 50))),
    );
    out.row(
        "feedback",
        "open for more than 30 days",
        [int(stale), text("")],
    );
    out.tables.push(Table {
        name: "feedback",
        title: "Feedback and complaints by category",
        columns: vec![
            "category",
            "opened",
            "opened (previous)",
            "resolved",
            "resolved (previous)",
        ],
        rows: Category::ALL
            .iter()
            .map(|c| {
                let o = opened.0.get(c.as_str()).copied().unwrap_or_default();
                let r = resolved.0.get(c.as_str()).copied().unwrap_or_default();
                vec![text(c.as_str()), int(o[0]), int(o[1]), int(r[0]), int(r[1])]
            })
            .collect(),
        chart: Some((0, 1, 2)),
    });
}
