//! Messages to patients, from the notify job's audit entries (entity `message.<kind>`).

use super::*;

/// The messages section's tables, flags and summary rows.
pub(super) fn section(facts: &Facts, split: &Split<'_>, out: &mut Sections) {
    let mut messages: Counts<(String, &str)> = Counts::default();
    for e in &facts.entries {
        let Some(i) = split.of(e.at) else {
            continue;
        };
        let (Some(what), Some(kind)) = (
            e.action.strip_prefix("notification."),
            e.entity.strip_prefix("message."),
        ) else {
            continue;
        };
        let what = match what {
            "send" => "sent",
            "fail" => "failed",
            "bounce" | "optout" | "complaint" => "bounced, opted out or complained",
            _ => continue,
        };
        messages.add((kind.to_owned(), what), i);
    }
    let total = |what: &str, i: usize| {
        messages
            .0
            .iter()
            .filter(|((_, w), _)| *w == what)
            .map(|(_, v)| v[i])
            .sum::<usize>()
    };
    for what in ["sent", "failed", "bounced, opted out or complained"] {
        out.row(
            "messages",
            &format!("messages {what}"),
            [0, 1].map(|i| int(total(what, i))),
        );
    }
    let kinds: BTreeSet<&String> = messages.0.keys().map(|(k, _)| k).collect();
    out.tables.push(Table {
        name: "messages",
        title: "Messages to patients by kind",
        columns: vec![
            "kind",
            "sent",
            "sent (previous)",
            "failed",
            "failed (previous)",
        ],
        rows: kinds
            .into_iter()
            .map(|kind| {
                let get = |what: &str| {
                    messages
                        .0
                        .get(&(kind.clone(), what))
                        .copied()
                        .unwrap_or_default()
                };
                let (sent, failed) = (get("sent"), get("failed"));
                vec![
                    text(kind.clone()),
                    int(sent[0]),
                    int(sent[1]),
                    int(failed[0]),
                    int(failed[1]),
                ]
            })
            .collect(),
        chart: None,
    });
}
