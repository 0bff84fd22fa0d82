//! The workforce's logins (staff, providers, administrators): an administrator lists them, adds
//! one (an invitation from the identity provider) and disables one. Disabling is the offboarding
//! step that must not wait: the identity provider stops the login and revokes its refresh tokens
//! (`crate::directory`), and the login's standing on the table (`STAFF#<subject>`, disabled) makes
//! the API refuse the access tokens it still holds from the same moment ([`refuse_disabled`], on
//! every request of a workforce token). Each step is audited (`staff.list`, `staff.add`,
//! `staff.disable`).
//!
//! The access review (`crate::reports::review`) reads the same logins with their standing.

use serde::Deserialize;

use crate::auth::AuthError;
use crate::directory::{Account, DirectoryError, NewAccount, StaffDirectory};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::staff_key;
use crate::store::{AttrValue, Condition, Item, Table, TransactOp, attr};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, audit_read, commit, refused};
use domain::access::{Caller, Principal, Role, Subject};
use domain::refusals::StaffError;

/// Whether a token's roles make it a workforce login's (any role but patient).
pub fn is_workforce(principal: &Principal) -> bool {
    [Role::Staff, Role::Provider, Role::Admin]
        .iter()
        .any(|r| principal.has(*r))
}

pub use crate::common::standing::disabled_at;

/// Refuses a workforce token whose login was disabled (a patient's token is not looked up).
/// One read per workforce request: a disabled login's tokens stop at once, not when they expire.
pub async fn refuse_disabled(table: &dyn Table, principal: &Principal) -> Result<(), ApiError> {
    if !is_workforce(principal) {
        return Ok(());
    }
    match disabled_at(table, &principal.subject).await? {
        Some(_) => Err(ApiError::Unauthorized(AuthError::Disabled)),
        None => Ok(()),
    }
}

/// The directory this function manages logins with; none where it is not set up.
pub fn directory(state: &AppState) -> Result<&dyn StaffDirectory, ApiError> {
    state
        .directory
        .as_deref()
        .ok_or_else(|| ApiError::Unavailable {
            code: "directory_not_set_up",
            source: anyhow::anyhow!("no staff directory: PRACTICA_STAFF_POOL_ID is not set"),
        })
}

fn directory_error(e: DirectoryError) -> ApiError {
    match e {
        DirectoryError::NotFound => ApiError::NotFound,
        DirectoryError::Exists => StaffError::Exists.into(),
        DirectoryError::Unavailable(source) => ApiError::Unavailable {
            code: "directory_unavailable",
            source,
        },
    }
}

fn admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.principal.has(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// A login as the API shows it, with its standing on the table.
pub fn view(account: &Account, disabled_at: Option<i64>) -> serde_json::Value {
    serde_json::json!({
        "subject": account.subject.as_str(),
        "email": account.email,
        "name": account.name,
        "roles": account.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        // Disabled at the identity provider, or refused by the API (either is enough).
        "enabled": account.enabled && disabled_at.is_none(),
        // Whether the identity provider still lets it sign in (a disabling to finish).
        "signInEnabled": account.enabled,
        "mfa": account.mfa,
        "createdAt": domain::instant::render_utc(account.created_at),
        "disabledAt": disabled_at.map(domain::instant::render_utc),
    })
}

/// `GET /v1/staff`: every workforce login (administrators).
#[tracing::instrument(skip_all)]
pub async fn list(
    state: &AppState,
    directory: &dyn StaffDirectory,
    caller: &Caller,
) -> Result<serde_json::Value, ApiError> {
    let target = Audit::new("staff.list", "practice", "staff");
    refused(state, caller, target.clone(), admin(caller)).await?;
    let accounts = directory.list().await.map_err(directory_error)?;
    let mut out = Vec::with_capacity(accounts.len());
    for account in &accounts {
        let disabled = disabled_at(&*state.table, &account.subject).await?;
        out.push(view(account, disabled));
    }
    audit_read(state, caller, target).await?;
    Ok(serde_json::json!({ "staff": out }))
}

/// `POST /v1/staff`: a new login.
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddRequest {
    pub email: String,
    pub name: String,
    pub role: String,
}

impl AddRequest {
    fn parse(&self) -> Result<NewAccount, StaffError> {
        let email = self.email.trim();
        let (local, domain) = email.split_once('@').ok_or(StaffError::InvalidEmail)?;
        let sound = |part: &str| {
            !part.is_empty() && !part.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        if email.len() > 254 || !sound(local) || !sound(domain) || !domain.contains('.') {
            return Err(StaffError::InvalidEmail);
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(StaffError::InvalidName);
        }
        let role = match Role::parse(&self.role) {
            Some(r @ (Role::Staff | Role::Provider | Role::Admin)) => r,
            _ => return Err(StaffError::InvalidRole),
        };
        Ok(NewAccount {
            email: email.to_owned(),
            name: name.to_owned(),
            role,
        })
    }
}

#[tracing::instrument(skip_all)]
pub async fn add(
    state: &AppState,
    directory: &dyn StaffDirectory,
    caller: &Caller,
    idem: &Idempotency,
    req: AddRequest,
) -> Result<Reply, ApiError> {
    let target = Audit::new("staff.add", "practice", "staff");
    refused(state, caller, target, admin(caller)).await?;
    let new = req.parse()?;
    let account = directory.add(&new).await.map_err(directory_error)?;
    let reply = Reply::created(&view(&account, None))?;
    let audit = Audit::new("staff.add", "staff", account.subject.as_str());
    Ok(commit(state, caller, Some(idem), Vec::new(), audit, reply).await?)
}

/// A disabling's body: `{}` (the login is named by the path).
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {}

/// `POST /v1/staff/{subject}/disable`: first the login's standing on the table (with its audit
/// entry), which refuses its access tokens from this moment; then the identity provider stops it
/// (no sign-in, its refresh tokens revoked). A retry after a failure of the second does it again
/// (each step is idempotent; the first time stands).
#[tracing::instrument(skip_all)]
pub async fn disable(
    state: &AppState,
    directory: &dyn StaffDirectory,
    caller: &Caller,
    idem: &Idempotency,
    subject: &Subject,
) -> Result<Reply, ApiError> {
    let target = Audit::new("staff.disable", "staff", subject.as_str());
    refused(state, caller, target.clone(), admin(caller)).await?;
    if *subject == caller.principal.subject {
        return Err(StaffError::DisableSelf.into());
    }
    let accounts = directory.list().await.map_err(directory_error)?;
    let found = accounts
        .iter()
        .find(|a| a.subject == *subject)
        .cloned()
        .ok_or(ApiError::NotFound);
    let account = refused(state, caller, target, found).await?;
    // Nobody could manage the logins (nor undo this) without an enabled administrator.
    if account.roles.contains(&Role::Admin) && account.enabled {
        let mut others = 0;
        for a in accounts
            .iter()
            .filter(|a| a.subject != *subject && a.enabled && a.roles.contains(&Role::Admin))
        {
            if disabled_at(&*state.table, &a.subject).await?.is_none() {
                others += 1;
            }
        }
        if others == 0 && disabled_at(&*state.table, subject).await?.is_none() {
            return Err(StaffError::LastAdministrator.into());
        }
    }
    let now = crate::common::lookup::now(state);
    let at = disabled_at(&*state.table, subject).await?.unwrap_or(now);
    let item = Item::new(staff_key(subject))
        .with(attr::DISABLED_AT, AttrValue::N(at))
        .with(
            attr::DISABLED_BY,
            AttrValue::S(caller.principal.subject.as_str().to_owned()),
        );
    let writes = vec![Write::new(TransactOp::Put {
        item,
        condition: None::<Condition>,
    })];
    let mut shown = account;
    shown.enabled = false;
    let reply = Reply::ok(&view(&shown, Some(at)))?;
    let audit = Audit::new("staff.disable", "staff", subject.as_str());
    let reply = commit(state, caller, Some(idem), writes, audit, reply).await?;
    directory.disable(subject).await.map_err(directory_error)?;
    Ok(reply)
}
