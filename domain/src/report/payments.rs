//! Payments: created, succeeded and failed, decline codes, card checks, refunds and disputes, and
//! what is owed by age at the period's end.

use super::*;

/// The payments section's tables, flags and summary rows.
pub(super) fn section(facts: &Facts, split: &Split<'_>, out: &mut Sections) {
    let period = split.current;
    let mut created = [0usize; 2];
    let mut succeeded = [0usize; 2];
    let mut failed = [0usize; 2];
    let mut times: [Vec<i64>; 2] = Default::default();
    let mut declines = Counts::default();
    let mut checks = Counts::default();
    let mut refunds: Counts<String> = Counts::default();
    let mut refunded: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    let mut refunds_failed = [0usize; 2];
    let (mut opened, mut won, mut lost) = ([0usize; 2], [0usize; 2], [0usize; 2]);
    let mut disputed: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    // Disputes opened in each period, by reason and where they stand now.
    let mut by_reason: Counts<(String, &str)> = Counts::default();
    // Deposits paid at booking (by when the booking asked them), what of them went back, and
    // what was kept (as a fee, or toward the visit).
    let mut deposits: Counts<String> = Counts::default();
    let mut deposited: BTreeMap<String, [[i64; 2]; 2]> = BTreeMap::new();
    for p in &facts.payments {
        // Disputes and failed refunds count in the period they happened in.
        for (at, _) in &p.failed_refunds {
            if let Some(i) = split.of(*at) {
                refunds_failed[i] += 1;
            }
        }
        for d in &p.disputes {
            if let Some(i) = split.of(d.opened_at) {
                opened[i] += 1;
                disputed.entry(p.currency.clone()).or_default()[i] += d.amount;
                let outcome = match d.outcome {
                    Some(DisputeOutcome::Won) => "won",
                    Some(DisputeOutcome::Lost) => "lost",
                    None => "open",
                };
                let reason = d.reason.as_deref().unwrap_or("not given").replace('_', " ");
                by_reason.add((reason, outcome), i);
            }
            if let Some(i) = d.closed_at.and_then(|t| split.of(t)) {
                match d.outcome {
                    Some(DisputeOutcome::Won) => won[i] += 1,
                    Some(DisputeOutcome::Lost) => lost[i] += 1,
                    None => {}
                }
            }
        }
        let Some(i) = split.of(p.created_at) else {
            continue;
        };
        created[i] += 1;
        if let (Some(amount), PaymentStatus::Succeeded) = (p.deposit, p.status) {
            deposits.add(p.currency.clone(), i);
            let sums = deposited.entry(p.currency.clone()).or_default();
            sums[0][i] += amount;
            sums[1][i] += p.refunded;
        }
        if p.status == PaymentStatus::Succeeded {
            succeeded[i] += 1;
            if let Some(at) = p.succeeded_at {
                times[i].push((at - p.created_at).max(0));
            }
        }
        if let Some((code, decline)) = &p.failure {
            failed[i] += 1;
            declines.add(decline.clone().unwrap_or_else(|| code.clone()), i);
        }
        match &p.checks {
            Some(c) => {
                for (name, r) in [
                    ("address line 1", c.address_line1),
                    ("postal code", c.postal_code),
                    ("CVC", c.cvc),
                ] {
                    checks.add((name, r.as_str()), i);
                }
            }
            None => {
                for name in ["address line 1", "postal code", "CVC"] {
                    checks.add((name, CheckResult::Unchecked.as_str()), i);
                }
            }
        }
        if p.refunded > 0 {
            refunds.add(p.currency.clone(), i);
            refunded.entry(p.currency.clone()).or_default()[i] += p.refunded;
        }
    }
    times.iter_mut().for_each(|t| t.sort_unstable());
    out.row("payments", "intents created", created.map(int));
    out.row("payments", "succeeded", succeeded.map(int));
    out.row(
        "payments",
        "completion rate",
        [0, 1].map(|i| text(percent(succeeded[i], created[i]))),
    );
    out.row("payments", "with a failed attempt", failed.map(int));
    out.row(
        "payments",
        "failure rate",
        [0, 1].map(|i| text(percent(failed[i], created[i]))),
    );
    out.row(
        "payments",
        "median time to success",
        [0, 1].map(|i| duration(percentile(&times[i], 50))),
    );
    out.row(
        "payments",
        "p90 time to success",
        [0, 1].map(|i| duration(percentile(&times[i], 90))),
    );
    for (currency, counts) in &refunds.0 {
        let amounts = refunded.get(currency).copied().unwrap_or_default();
        out.row("payments", "refunds", counts.map(int));
        out.row("payments", "refunded", amounts.map(|a| money(a, currency)));
    }
    out.row("payments", "refunds that failed", refunds_failed.map(int));
    for (currency, counts) in &deposits.0 {
        let [paid, back] = deposited.get(currency).copied().unwrap_or_default();
        out.row("payments", "deposits paid at booking", counts.map(int));
        out.row(
            "payments",
            "deposits taken",
            paid.map(|a| money(a, currency)),
        );
        out.row(
            "payments",
            "deposits refunded",
            back.map(|a| money(a, currency)),
        );
        out.row(
            "payments",
            "deposits kept (fees, or toward visits)",
            [0, 1].map(|i| money(paid[i] - back[i], currency)),
        );
    }
    out.row("payments", "disputes opened", opened.map(int));
    for (currency, amounts) in &disputed {
        out.row("payments", "disputed", amounts.map(|a| money(a, currency)));
    }
    out.row("payments", "disputes won", won.map(int));
    out.row("payments", "disputes lost", lost.map(int));
    if failure_surge((failed[0], created[0]), (failed[1], created[1])) {
        out.flags.push(format!(
            "Payment failures rose sharply: {} of intents failed, against {} the period before.",
            percent(failed[0], created[0]),
            percent(failed[1], created[1])
        ));
    }
    out.tables.push(Table {
        name: "declines",
        title: "Declines and failures by code",
        columns: vec!["code", "this period", "previous period"],
        rows: declines
            .0
            .iter()
            .map(|(code, [a, b])| vec![text(code.clone()), int(*a), int(*b)])
            .collect(),
        chart: Some((0, 1, 2)),
    });
    out.tables.push(Table {
        name: "card_checks",
        title: "Card checks (address line 1, postal code, CVC)",
        columns: vec![
            "check",
            "result",
            "this period",
            "share",
            "previous period",
            "share",
        ],
        rows: checks
            .0
            .iter()
            .map(|((name, result), [a, b])| {
                vec![
                    text(*name),
                    text(*result),
                    int(*a),
                    text(percent(*a, created[0])),
                    int(*b),
                    text(percent(*b, created[1])),
                ]
            })
            .collect(),
        chart: None,
    });
    out.tables.push(Table {
        name: "disputes",
        title: "Disputes opened, by reason and outcome",
        columns: vec!["reason", "outcome", "this period", "previous period"],
        rows: by_reason
            .0
            .iter()
            .map(|((reason, outcome), [a, b])| {
                vec![text(reason.clone()), text(*outcome), int(*a), int(*b)]
            })
            .collect(),
        chart: None,
    });
    out.tables.push(ageing(facts, period));
}

/// What is owed at the period's end, by the age of the charges it is owed on (payments settle the
/// oldest charges first).
fn ageing(facts: &Facts, period: &Period) -> Table {
    const BUCKETS: [&str; 4] = ["0-30 days", "31-60 days", "61-90 days", "over 90 days"];
    let mut owed: BTreeMap<(&str, usize), (i64, usize)> = BTreeMap::new();
    for ledger in &facts.ledgers {
        let mut charges: Vec<_> = ledger
            .charges
            .iter()
            .filter(|(at, _)| *at < period.end)
            .copied()
            .collect();
        charges.sort_unstable();
        let mut paid: i64 = ledger
            .paid
            .iter()
            .filter(|(at, _)| *at < period.end)
            .map(|(_, amount)| amount)
            .sum();
        for (at, total) in charges {
            let settled = paid.clamp(0, total.max(0));
            paid -= settled;
            let due = total - settled;
            if due <= 0 {
                continue;
            }
            let days = (period.end - at) / 86_400;
            let bucket = match days {
                0..=30 => 0,
                31..=60 => 1,
                61..=90 => 2,
                _ => 3,
            };
            let slot = owed.entry((ledger.currency.as_str(), bucket)).or_default();
            slot.0 += due;
            slot.1 += 1;
        }
    }
    Table {
        name: "ageing",
        title: "Outstanding balances by age at the period's end",
        columns: vec!["currency", "age", "amount", "charges"],
        rows: owed
            .iter()
            .map(|((currency, bucket), (amount, n))| {
                vec![
                    text(*currency),
                    text(BUCKETS[*bucket]),
                    money(*amount, currency),
                    int(*n),
                ]
            })
            .collect(),
        chart: None,
    }
}
