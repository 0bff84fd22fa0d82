//! The practice's notification settings: reminder offsets, quiet hours, the portal's address and
//! the daily limit, each checked when set.

use serde::{Deserialize, Serialize};

use super::templates::PORTAL_URL_MAX;

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
