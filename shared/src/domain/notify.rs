//! Notifications as the domain sees them, with no I/O: the kinds of message, the channels, a
//! patient's preferences, the practice's settings (reminder offsets, quiet hours, the portal's
//! address, the daily limit) and the rendering of a message from a versioned template.
//!
//! Minimum necessary content: a message carries the patient's first name, the practice's name, a
//! date and time in the practice's zone (and an offer's expiry) and the portal's address, nothing
//! else: no reason for the visit, no service, no amounts, no ids in the link. Every message ends
//! with the same line saying the practice never asks for card numbers or passwords.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::ids::{AppointmentId, HoldId, OutboxId, PatientId};

/// What a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Confirmation,
    Rescheduled,
    Cancelled,
    Reminder,
    WaitlistOffer,
    Receipt,
    Refund,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Confirmation,
        Kind::Rescheduled,
        Kind::Cancelled,
        Kind::Reminder,
        Kind::WaitlistOffer,
        Kind::Receipt,
        Kind::Refund,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Kind::Confirmation => "confirmation",
            Kind::Rescheduled => "rescheduled",
            Kind::Cancelled => "cancelled",
            Kind::Reminder => "reminder",
            Kind::WaitlistOffer => "waitlist_offer",
            Kind::Receipt => "receipt",
            Kind::Refund => "refund",
        }
    }

    pub fn parse(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether the message is about one version of an appointment: it is withdrawn, not sent, once
    /// the appointment was cancelled or moved (a newer notice exists, or nothing is left to remind of).
    pub fn follows_appointment(self) -> bool {
        matches!(
            self,
            Kind::Confirmation | Kind::Rescheduled | Kind::Reminder
        )
    }
}

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for its due time (in the due index).
    Pending,
    /// Claimed by a sender (still in the due index, so a claim left by a crash is taken again
    /// after [`CLAIM_LEASE_SECS`]).
    Sending,
    Sent,
    /// No longer true (the appointment was cancelled or moved, the offer lapsed): never sent.
    Withdrawn,
    /// Not sent on purpose: no consent, the day's limit, or too late.
    Skipped,
    /// Every attempt failed, or the address bounced.
    Failed,
}

impl State {
    pub fn code(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Withdrawn => "withdrawn",
            State::Skipped => "skipped",
            State::Failed => "failed",
        }
    }
    pub fn parse(code: &str) -> Option<State> {
        [
            State::Pending,
            State::Sending,
            State::Sent,
            State::Withdrawn,
            State::Skipped,
            State::Failed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// How long a claim holds before another sender may take the message again (a sender that
/// crashed between its claim and its mark).
pub const CLAIM_LEASE_SECS: i64 = 300;
/// Attempts before a message is given up as failed.
pub const MAX_ATTEMPTS: u32 = 5;

/// The wait before attempt `attempts + 1`: 1, 2, 4, 8 minutes.
pub fn backoff_secs(attempts: u32) -> i64 {
    60 << attempts.min(6)
}

/// An outbox message: what to tell whom, when; never the message's text (it is rendered when
/// sent, from PHI-free references).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: OutboxId,
    pub kind: Kind,
    pub patient: PatientId,
    pub due_at: i64,
    pub created_at: i64,
    /// The appointment and the version of it the message is about.
    pub appointment: Option<(AppointmentId, i64)>,
    /// The time the message names (the appointment's or the offered start).
    pub start: Option<i64>,
    pub hold: Option<HoldId>,
    /// A waitlist offer's expiry.
    pub offer_expires_at: Option<i64>,
    pub state: State,
    pub attempts: u32,
    pub claim: Option<String>,
    pub claimed_at: Option<i64>,
}

impl Message {
    pub fn new(kind: Kind, patient: &PatientId, due_at: i64, now: i64) -> Message {
        Message {
            id: OutboxId::new(),
            kind,
            patient: patient.clone(),
            due_at,
            created_at: now,
            appointment: None,
            start: None,
            hold: None,
            offer_expires_at: None,
            state: State::Pending,
            attempts: 0,
            claim: None,
            claimed_at: None,
        }
    }

    pub fn about(mut self, appointment: &AppointmentId, version: i64, start: i64) -> Message {
        self.appointment = Some((appointment.clone(), version));
        self.start = Some(start);
        self
    }
}

/// The reminders of an appointment starting at `start`, booked at `now`: one per offset still
/// ahead, due `offset` minutes before the start.
pub fn reminder_times(settings: &Settings, start: i64, now: i64) -> Vec<i64> {
    let mut due: Vec<i64> = settings
        .reminder_minutes
        .iter()
        .map(|m| start - i64::from(*m) * 60)
        .filter(|due| *due > now)
        .collect();
    due.sort_unstable();
    due.dedup();
    due
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn code(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

/// A patient's choices per channel. Email is on by default once the address is verified; SMS
/// only after the patient turned it on themselves, and never after they answered STOP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preferences {
    /// `None`: never chosen, the default applies.
    pub email: Option<bool>,
    pub sms: bool,
    /// When the patient turned SMS on (their consent).
    pub sms_consent_at: Option<i64>,
    /// The patient answered STOP (or the carrier reported an opt-out): no SMS until they turn it
    /// on again themselves.
    pub sms_stopped_at: Option<i64>,
    /// The address bounced: no email until the patient changes or confirms it.
    pub email_bounced_at: Option<i64>,
}

impl Preferences {
    /// The channels a message may go to now.
    pub fn channels(&self, email_verified: bool) -> Vec<Channel> {
        let mut out = Vec::new();
        if self.email.unwrap_or(email_verified) && self.email_bounced_at.is_none() {
            out.push(Channel::Email);
        }
        if self.sms && self.sms_consent_at.is_some() && self.sms_stopped_at.is_none() {
            out.push(Channel::Sms);
        }
        out
    }
}

/// The practice's notification settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Reminders, in minutes before the appointment.
    #[serde(default = "default_reminders")]
    pub reminder_minutes: Vec<u32>,
    /// SMS are not sent from `quietFrom` to `quietTo` (local `HH:MM`, may wrap midnight); they
    /// wait for the morning. Email is silent and goes at once.
    #[serde(default = "default_quiet_from")]
    pub quiet_from: String,
    #[serde(default = "default_quiet_to")]
    pub quiet_to: String,
    /// The patient portal's address, the only link a message carries.
    #[serde(default = "default_portal")]
    pub portal_url: String,
    /// Messages a patient receives at most per day (of the practice's zone).
    #[serde(default = "default_per_day")]
    pub messages_per_patient_per_day: u16,
}

fn default_reminders() -> Vec<u32> {
    vec![24 * 60, 120]
}
fn default_quiet_from() -> String {
    "21:00".into()
}
fn default_quiet_to() -> String {
    "08:00".into()
}
fn default_portal() -> String {
    "http://127.0.0.1:8080/".into()
}
fn default_per_day() -> u16 {
    8
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            reminder_minutes: default_reminders(),
            quiet_from: default_quiet_from(),
            quiet_to: default_quiet_to(),
            portal_url: default_portal(),
            messages_per_patient_per_day: default_per_day(),
        }
    }
}

/// Minutes since midnight of an `HH:MM` time.
fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl Settings {
    /// What is wrong with the settings, if anything (for the practice's settings request).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.reminder_minutes.len() > 4
            || self
                .reminder_minutes
                .iter()
                .any(|m| !(15..=14 * 24 * 60).contains(m))
        {
            return Err(
                "notifications.reminderMinutes lists at most 4 offsets, each 15 to 20160 minutes.",
            );
        }
        if minutes(&self.quiet_from).is_none() || minutes(&self.quiet_to).is_none() {
            return Err("notifications.quietFrom and quietTo are times as HH:MM.");
        }
        let url = &self.portal_url;
        if !(url.starts_with("https://") || url.starts_with("http://127.0.0.1"))
            || url.len() > PORTAL_URL_MAX
            || !url.bytes().all(|b| (b'!'..=b'~').contains(&b))
        {
            return Err("notifications.portalUrl is an https address of at most 36 characters.");
        }
        if !(1..=50).contains(&self.messages_per_patient_per_day) {
            return Err("notifications.messagesPerPatientPerDay is 1 to 50.");
        }
        Ok(())
    }

    /// Whether `minute_of_day` (local) is inside the quiet hours.
    pub fn quiet_at(&self, minute_of_day: u16) -> bool {
        let (Some(from), Some(to)) = (minutes(&self.quiet_from), minutes(&self.quiet_to)) else {
            return false;
        };
        if from <= to {
            (from..to).contains(&minute_of_day)
        } else {
            minute_of_day >= from || minute_of_day < to
        }
    }

    /// Minutes from `minute_of_day` to the end of the quiet hours (0 when not quiet).
    pub fn quiet_left(&self, minute_of_day: u16) -> u16 {
        match minutes(&self.quiet_to) {
            Some(to) if self.quiet_at(minute_of_day) => (to + 1440 - minute_of_day) % 1440,
            _ => 0,
        }
    }
}

/// The values a template may use. All are plain text; rendering escapes them.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    pub first_name: &'a str,
    pub practice: &'a str,
    /// The appointment's (or offered) time, in the practice's zone.
    pub when: &'a str,
    /// A waitlist offer's expiry, in the practice's zone.
    pub expires: &'a str,
    pub link: &'a str,
}

/// A message ready for a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Email only.
    pub subject: Option<String>,
    pub text: String,
    /// Email only: the same text as HTML, every value escaped.
    pub html: Option<String>,
}

/// The longest SMS we send: one GSM-7 segment.
pub const SMS_MAX: usize = 160;
/// The line every message ends with.
pub const EMAIL_FOOTER: &str =
    "{practice} will never ask for your card number or password by email or text message.";
pub const SMS_FOOTER: &str = " We never ask for card numbers or passwords.";
/// At most this much of a name reaches a message.
const NAME_MAX: usize = 40;
/// An SMS shortens the first name (to nothing) and then the practice's name (to this) to fit.
const SMS_PRACTICE_MIN: usize = 12;
/// The longest portal address (it must fit an SMS; the refusal names it).
pub const PORTAL_URL_MAX: usize = 36;

const PLACEHOLDERS: [&str; 5] = ["first_name", "practice", "when", "expires", "link"];

/// The message templates: one per kind and channel, from versioned files.
#[derive(Clone, Debug)]
pub struct Templates {
    pub version: String,
    texts: BTreeMap<(Kind, Channel), String>,
}

macro_rules! builtin {
    ($($kind:ident $code:literal),*) => {
        &[$(
            (Kind::$kind, Channel::Email, include_str!(concat!("../../templates/notify/v1/", $code, ".email.txt"))),
            (Kind::$kind, Channel::Sms, include_str!(concat!("../../templates/notify/v1/", $code, ".sms.txt"))),
        )*]
    };
}

const BUILTIN: &[(Kind, Channel, &str)] = builtin!(
    Confirmation "confirmation",
    Rescheduled "rescheduled",
    Cancelled "cancelled",
    Reminder "reminder",
    WaitlistOffer "waitlist_offer",
    Receipt "receipt",
    Refund "refund"
);

/// A template that cannot be used, and why.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("template {kind}.{channel}: {problem}")]
pub struct TemplateError {
    pub kind: &'static str,
    pub channel: &'static str,
    pub problem: String,
}

impl Templates {
    /// The templates shipped with this version (`templates/notify/v1`).
    pub fn builtin() -> Templates {
        Templates::from_texts(
            "v1",
            BUILTIN.iter().map(|(k, c, t)| (*k, *c, t.to_string())),
        )
        .expect("the shipped templates are valid (tested)")
    }

    /// Templates a practice edited: `texts` yields (kind, channel, file text); any left out are
    /// the shipped ones. Each is checked: known placeholders only, a subject line for email, and
    /// an SMS that fits one message with the longest values.
    pub fn from_texts(
        version: &str,
        texts: impl IntoIterator<Item = (Kind, Channel, String)>,
    ) -> Result<Templates, TemplateError> {
        let mut map: BTreeMap<(Kind, Channel), String> = BUILTIN
            .iter()
            .map(|(k, c, t)| ((*k, *c), t.to_string()))
            .collect();
        for (kind, channel, text) in texts {
            map.insert((kind, channel), text);
        }
        let templates = Templates {
            version: version.to_owned(),
            texts: map,
        };
        for (&(kind, channel), text) in &templates.texts {
            let problem = |problem: String| TemplateError {
                kind: kind.code(),
                channel: channel.code(),
                problem,
            };
            check_placeholders(text).map_err(problem)?;
            match channel {
                Channel::Email if split_subject(text).is_none() => {
                    return Err(problem("the first line must be `Subject: …`".into()));
                }
                Channel::Sms => {
                    // Names are cut to fit: what is left must fit with the longest times and
                    // link, no first name and the practice's name at its shortest.
                    let practice = format!("{}…", "W".repeat(SMS_PRACTICE_MIN));
                    let link = format!("https://{}/", "w".repeat(PORTAL_URL_MAX - 9));
                    let bare = Fields {
                        first_name: "",
                        practice: &practice,
                        when: "Wed 30 Sep 2026, 12:30 AKDT",
                        expires: "Wed 12:30",
                        link: &link,
                    };
                    let length = fill(text, &bare, false).trim().chars().count()
                        + SMS_FOOTER.chars().count();
                    if length > SMS_MAX {
                        return Err(problem(format!(
                            "{length} characters with the longest values, over {SMS_MAX}"
                        )));
                    }
                }
                Channel::Email => {}
            }
        }
        Ok(templates)
    }

    /// The message of `kind` for `channel`.
    pub fn render(&self, kind: Kind, channel: Channel, fields: &Fields<'_>) -> Rendered {
        let text = &self.texts[&(kind, channel)];
        let practice = clean(fields.practice, NAME_MAX);
        let first_name = clean(fields.first_name, NAME_MAX);
        let fields = Fields {
            first_name: &first_name,
            practice: &practice,
            ..fields.clone()
        };
        match channel {
            Channel::Sms => Rendered {
                subject: None,
                text: fit_sms(text, &fields),
                html: None,
            },
            Channel::Email => {
                let (subject, body) = split_subject(text).unwrap_or(("", text));
                let footer = EMAIL_FOOTER;
                let plain = format!(
                    "{}\n-- \n{}\n",
                    fill(body, &fields, false).trim_end(),
                    fill(footer, &fields, false)
                );
                let html_body: String = fill(body, &fields, true)
                    .trim()
                    .split("\n\n")
                    .map(|p| format!("<p>{}</p>\n", p.replace('\n', "<br>\n")))
                    .collect();
                let html = format!(
                    "<!doctype html>\n<html><head><meta charset=\"utf-8\"></head><body>\n{html_body}<hr>\n<p><small>{}</small></p>\n</body></html>\n",
                    fill(footer, &fields, true)
                );
                Rendered {
                    // A subject is one line: values are cleaned of line breaks above.
                    subject: Some(fill(subject, &fields, false)),
                    text: plain,
                    html: Some(html),
                }
            }
        }
    }
}

fn check_placeholders(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "a `{` without its `}`".to_string())?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!("unknown placeholder {{{name}}}"));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

fn split_subject(text: &str) -> Option<(&str, &str)> {
    let (first, rest) = text.split_once('\n')?;
    let subject = first.strip_prefix("Subject: ")?.trim();
    (!subject.is_empty()).then_some((subject, rest.trim_start_matches('\n')))
}

/// A value as it may appear in a message: no control characters or line breaks (no header or
/// line injection), no bidirectional overrides (the surrounding text cannot be reordered),
/// whitespace collapsed, at most `max` characters.
fn clean(value: &str, max: usize) -> String {
    let words: Vec<&str> = value
        .split(|c: char| c.is_whitespace() || c.is_control() || is_bidi_control(c))
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    match joined.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", joined[..at].trim_end()),
        None => joined,
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The template with its placeholders replaced. Names are isolated (Unicode first-strong
/// isolates in text, `<bdi>` in HTML), so a right-to-left name does not reorder the sentence.
fn fill(template: &str, fields: &Fields<'_>, html: bool) -> String {
    let isolate = |v: &str| {
        if v.is_empty() {
            String::new()
        } else if html {
            format!("<bdi>{}</bdi>", crate::domain::html::escape(v))
        } else {
            format!("\u{2068}{v}\u{2069}")
        }
    };
    let plain = |v: &str| {
        if html {
            crate::domain::html::escape(v)
        } else {
            v.to_owned()
        }
    };
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&plain_literal(&rest[..open], html));
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            rest = &rest[open..];
            break;
        };
        let value = match &after[..close] {
            "first_name" => isolate(fields.first_name),
            "practice" => isolate(fields.practice),
            "when" => plain(fields.when),
            "expires" => plain(fields.expires),
            "link" => plain(fields.link),
            _ => String::new(),
        };
        out.push_str(&value);
        rest = &after[close + 1..];
    }
    out.push_str(&plain_literal(rest, html));
    out
}

fn plain_literal(text: &str, html: bool) -> String {
    if html {
        crate::domain::html::escape(text)
    } else {
        text.to_owned()
    }
}

/// One SMS with the footer: the first name is shortened (down to nothing), then the practice's
/// name (down to [`SMS_PRACTICE_MIN`] characters), until it fits.
fn fit_sms(template: &str, fields: &Fields<'_>) -> String {
    let line = |first_name: &str, practice: &str| {
        let body = fill(
            template.trim(),
            &Fields {
                first_name,
                practice,
                ..fields.clone()
            },
            false,
        );
        // A template starting with the name reads badly without it: drop the leading comma.
        let body = body.trim_start_matches(", ").trim_start();
        format!("{body}{SMS_FOOTER}")
    };
    let fits = |text: &String| text.chars().count() <= SMS_MAX;
    let shortened = |value: &str, keep: usize| -> String {
        let chars: Vec<char> = value.chars().collect();
        if keep >= chars.len() {
            value.to_owned()
        } else if keep == 0 {
            String::new()
        } else {
            format!("{}…", chars[..keep].iter().collect::<String>().trim_end())
        }
    };
    let name_len = fields.first_name.chars().count();
    for keep in (0..=name_len).rev() {
        let text = line(&shortened(fields.first_name, keep), fields.practice);
        if fits(&text) {
            return text;
        }
    }
    let practice_len = fields.practice.chars().count();
    for keep in (SMS_PRACTICE_MIN.min(practice_len)..practice_len).rev() {
        let text = line("", &shortened(fields.practice, keep));
        if fits(&text) {
            return text;
        }
    }
    line("", "").chars().take(SMS_MAX).collect()
}

/// The first word of a full name, for a greeting.
pub fn first_name(full: &str) -> &str {
    full.split_whitespace().next().unwrap_or("")
}

#[cfg(test)]
mod tests;
