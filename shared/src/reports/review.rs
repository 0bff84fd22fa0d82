//! The quarterly access review (`domain::report::review`): the workforce's logins from the staff
//! directory, each one's standing on the table (disabled, when), and the quarter's audit entries;
//! published like the reports (HTML, CSV, JSON), its id the quarter's dates. The workforce is
//! the staff pool's role groups: a login in no group is no one's role and is not listed.

use crate::directory::StaffDirectory;
use crate::error::ApiError;
use crate::store::keys::staff_key;
use crate::store::{AttrValue, Consistency, Table, attr};
use domain::report::review::{LoginFact, review};
use domain::report::{Period, Report};

/// The review of `period`; `verification` is what the job's check of the audit log found.
pub async fn access_review(
    table: &dyn Table,
    directory: &dyn StaffDirectory,
    period: &Period,
    verification: String,
) -> Result<Report, ApiError> {
    let practice = super::collect::practice(table).await?;
    let accounts = directory.list().await.map_err(|e| ApiError::Unavailable {
        code: "directory_unavailable",
        source: anyhow::Error::new(e),
    })?;
    let mut logins = Vec::with_capacity(accounts.len());
    for a in accounts {
        let standing = table
            .get(&staff_key(&a.subject), Consistency::Eventual)
            .await?;
        logins.push(LoginFact {
            subject: a.subject.as_str().to_owned(),
            name: a.name,
            email: a.email,
            roles: a.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            enabled: a.enabled,
            mfa: a.mfa,
            created_at: a.created_at,
            disabled_at: standing
                .as_ref()
                .and_then(|s| s.get(attr::DISABLED_AT))
                .and_then(AttrValue::as_n),
        });
    }
    let entries = super::collect::entries(table, period.start, period.end).await?;
    let log = super::collect::log_status(table, period.end, verification).await?;
    Ok(review(
        &practice.name,
        &practice.zone,
        period,
        &logins,
        &entries,
        log,
    ))
}
