//! The quarterly access review: every workforce login, its roles and second factor, whether it
//! is enabled, its last activity and its last read of patient data in the quarter (from the audit
//! log: Cognito keeps no sign-in times without its threat protection), and how many reads of
//! patient data it made. An enabled login unused for the whole quarter (90 days or more) is
//! flagged for removal, as is one without a second factor; a disabled login that still acted
//! after it was disabled is flagged too (it should be impossible).

use super::*;
use crate::audit::ActionKind;

/// One login as the identity provider and the table know it.
#[derive(Clone, Debug)]
pub struct LoginFact {
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub enabled: bool,
    pub mfa: bool,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

/// How long a login may go unused before the review flags it.
pub const UNUSED_SECS: i64 = 90 * 86_400;

fn at(t: Option<i64>) -> Cell {
    Cell::Text(t.map_or_else(|| "none".into(), crate::instant::render_utc))
}

/// The review of `period` (a quarter): `entries` are the audit entries of the period.
pub fn review(
    practice: &str,
    zone: &TimeZone,
    period: &Period,
    logins: &[LoginFact],
    entries: &[EntryFact],
    log: LogStatus,
) -> Report {
    let mut last_activity: BTreeMap<&str, i64> = BTreeMap::new();
    let mut last_read: BTreeMap<&str, i64> = BTreeMap::new();
    let mut reads: BTreeMap<&str, i64> = BTreeMap::new();
    for e in entries.iter().filter(|e| period.contains(e.at)) {
        if &*e.outcome != "success" {
            continue;
        }
        let actor = &*e.actor;
        let last = last_activity.entry(actor).or_insert(e.at);
        *last = (*last).max(e.at);
        if ActionKind::of(&e.action) == ActionKind::Read && !e.patients.is_empty() {
            let last = last_read.entry(actor).or_insert(e.at);
            *last = (*last).max(e.at);
            *reads.entry(actor).or_default() += 1;
        }
    }
    let mut flags = Vec::new();
    let mut rows = Vec::new();
    let mut sorted: Vec<&LoginFact> = logins.iter().collect();
    sorted.sort_by(|a, b| (&a.name, &a.subject).cmp(&(&b.name, &b.subject)));
    for login in sorted {
        let who = login
            .name
            .clone()
            .or_else(|| login.email.clone())
            .unwrap_or_else(|| login.subject.clone());
        let active = last_activity.get(login.subject.as_str()).copied();
        let enabled = login.enabled && login.disabled_at.is_none();
        let mut notes = Vec::new();
        // Unused: no activity in the quarter, and the login is older than the unused span.
        if enabled && active.is_none() && period.end - login.created_at >= UNUSED_SECS {
            notes.push("unused for 90 days or more: disable it unless it is still needed");
        }
        if enabled && !login.mfa {
            notes.push("no second factor set up");
        }
        if let (Some(disabled), Some(last)) = (login.disabled_at, active)
            && last > disabled
        {
            notes.push("acted after it was disabled");
        }
        for note in &notes {
            flags.push(format!("{who} ({}): {note}", login.subject));
        }
        rows.push(vec![
            Cell::Text(who),
            Cell::Text(login.subject.clone()),
            Cell::Text(login.roles.join(", ")),
            Cell::Text(if login.mfa { "yes" } else { "no" }.into()),
            Cell::Text(match login.disabled_at {
                Some(t) => format!("disabled {}", crate::instant::render_utc(t)),
                None if login.enabled => "enabled".into(),
                None => "disabled".into(),
            }),
            at(Some(login.created_at)),
            at(active),
            at(last_read.get(login.subject.as_str()).copied()),
            Cell::Int(reads.get(login.subject.as_str()).copied().unwrap_or(0)),
            Cell::Text(notes.join("; ")),
        ]);
    }
    Report {
        id: period.id(),
        kind: "access_review",
        practice: practice.to_owned(),
        time_zone: zone.iana_name().unwrap_or("UTC").to_owned(),
        period: period.clone(),
        previous: period.clone(),
        flags,
        audit_log: log,
        tables: vec![Table {
            name: "access_review",
            title: "Access review: every login",
            columns: vec![
                "login",
                "subject",
                "roles",
                "second factor",
                "standing",
                "created",
                "last activity",
                "last read of patient data",
                "reads of patient data",
                "review",
            ],
            rows,
            chart: None,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(actor: &str, at: i64, action: &str, patient: bool) -> EntryFact {
        EntryFact {
            at,
            actor: actor.into(),
            actor_name: None,
            roles: Arc::from(vec![Arc::<str>::from("staff")]),
            action: action.into(),
            entity: "patient".into(),
            outcome: "success".into(),
            entity_id: "x".into(),
            patients: if patient {
                Arc::from(vec![Arc::<str>::from("patient-jane")])
            } else {
                Arc::from(Vec::new())
            },
            count: 1,
        }
    }

    fn login(subject: &str, created: i64, mfa: bool, disabled: Option<i64>) -> LoginFact {
        LoginFact {
            subject: subject.into(),
            name: Some(subject.to_uppercase()),
            email: None,
            roles: vec!["staff".into()],
            enabled: disabled.is_none(),
            mfa,
            created_at: created,
            disabled_at: disabled,
        }
    }

    #[test]
    fn a_quarter_by_hand() {
        let zone = TimeZone::get("America/New_York").unwrap();
        // 2026-07-01 to 2026-10-01 (New York), reviewed on 2026-10-01.
        let now = 1_790_827_200; // 2026-10-01T04:00:00Z
        let q = Period::last_quarter(now, &zone).unwrap();
        assert_eq!(q.id(), "2026-07-01_2026-10-01");
        let long_ago = q.start - 400 * 86_400;
        let logins = [
            login("ana", long_ago, true, None),
            login("ben", long_ago, true, None),
            login("cat", q.end - 10 * 86_400, false, None),
            login("dan", long_ago, true, Some(q.start + 86_400)),
        ];
        let entries = [
            entry("ana", q.start + 100, "patient.read", true),
            entry("ana", q.start + 200, "appointment.list", false),
            entry("ana", q.start - 100, "patient.read", true), // before the quarter
            entry("dan", q.start + 2 * 86_400, "patient.read", true),
        ];
        let log = LogStatus {
            checkpoint_size: None,
            checkpoint_signed_at: None,
            covers_period: false,
            verification: "ok".into(),
        };
        let r = review("Riverside", &zone, &q, &logins, &entries, log);
        assert_eq!(r.kind, "access_review");
        let row = |s: &str| {
            r.tables[0]
                .rows
                .iter()
                .find(|row| row[1].render() == s)
                .unwrap()
                .iter()
                .map(Cell::render)
                .collect::<Vec<_>>()
        };
        let ana = row("ana");
        assert_eq!(ana[6], crate::instant::render_utc(q.start + 200));
        assert_eq!(ana[7], crate::instant::render_utc(q.start + 100));
        assert_eq!(ana[8], "1");
        assert_eq!(ana[9], "");
        // Ben never acted in the quarter: flagged. Cat is new (10 days): not unused, but no MFA.
        assert!(row("ben")[9].starts_with("unused for 90 days"));
        assert_eq!(row("cat")[9], "no second factor set up");
        // Dan was disabled, then acted: flagged; never "unused" (disabled).
        assert_eq!(row("dan")[9], "acted after it was disabled");
        assert!(row("dan")[4].starts_with("disabled 2026-07-02"));
        assert_eq!(r.flags.len(), 3, "{:?}", r.flags);
    }

    #[test]
    fn quarters_end_on_their_first_days() {
        let zone = TimeZone::get("America/New_York").unwrap();
        for (now, id) in [
            (1_795_438_800, "2026-07-01_2026-10-01"), // 2026-11-23
            (1_798_779_600, "2026-10-01_2027-01-01"), // 2027-01-01 05:00Z
            (1_798_779_599, "2026-07-01_2026-10-01"), // a second before, still 2026 there
        ] {
            assert_eq!(Period::last_quarter(now, &zone).unwrap().id(), id);
        }
    }
}
