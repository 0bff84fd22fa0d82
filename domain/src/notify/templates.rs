//! Rendering a message from a versioned template: the placeholders a template may use, every value
//! cleaned and escaped for its channel, an SMS fitted to one segment, the shipped templates.

use std::collections::BTreeMap;

use super::{Channel, Kind};

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
    /// The cancellation policy a booking was made under, in words (email only; empty without one).
    pub policy: &'a str,
    /// For a visit held online, how to join it, in words (email only; empty for one in person).
    pub visit: &'a str,
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

const PLACEHOLDERS: [&str; 7] = [
    "first_name",
    "practice",
    "when",
    "expires",
    "link",
    "policy",
    "visit",
];

/// What a link ends with when it opens the patient's online visit in the portal (after she signs
/// in: the link itself grants nothing). An SMS must fit with it.
pub const JOIN_SUFFIX: &str = "#/visit";

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
    Refund "refund",
    AddressChanged "address_changed",
    SeriesBooked "series_booked",
    SeriesMoved "series_moved",
    SeriesCancelled "series_cancelled",
    ConfirmationForms "confirmation_forms",
    FormsDue "forms_due",
    FeeCharged "fee_charged",
    CardDeclined "card_declined"
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
                Channel::Sms if text.contains("{policy}") || text.contains("{visit}") => {
                    return Err(problem(
                        "{policy} and {visit} are for email only (they do not fit a text message)"
                            .into(),
                    ));
                }
                Channel::Sms => {
                    // Names are cut to fit: what is left must fit with the longest times and
                    // link, no first name and the practice's name at its shortest.
                    let practice = format!("{}…", "W".repeat(SMS_PRACTICE_MIN));
                    let join = if kind.joins_online() { JOIN_SUFFIX } else { "" };
                    let link = format!("https://{}/{join}", "w".repeat(PORTAL_URL_MAX - 9));
                    let bare = Fields {
                        first_name: "",
                        practice: &practice,
                        when: "Wed 30 Sep 2026, 12:30 AKDT",
                        expires: "Wed 12:30",
                        link: &link,
                        policy: "",
                        visit: "",
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
                // A line that is only the policy (or how to join) goes when there is none.
                let mut text = text.clone();
                if fields.policy.is_empty() {
                    text = text.replace("\n{policy}\n", "\n");
                }
                if fields.visit.is_empty() {
                    text = text.replace("\n{visit}\n", "\n");
                }
                let (subject, body) = split_subject(&text).unwrap_or(("", &text));
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
            format!("<bdi>{}</bdi>", crate::html::escape(v))
        } else {
            format!("\u{2068}{v}\u{2069}")
        }
    };
    let plain = |v: &str| {
        if html {
            crate::html::escape(v)
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
            "policy" => plain(fields.policy),
            "visit" => plain(fields.visit),
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
        crate::html::escape(text)
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
