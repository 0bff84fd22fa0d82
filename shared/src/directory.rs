//! The staff directory port: the workforce's logins (staff, providers, administrators) as the
//! identity provider holds them. Deployed, the Cognito staff pool
//! (`crate::adapters::cognito_directory`); locally, the demo pool's file in the data dir
//! (`crate::adapters::local_directory`).
//!
//! Disabling a login here stops new sign-ins and revokes its refresh tokens (signs it out
//! everywhere); the access tokens it already holds are refused by the API from the same moment,
//! through the account's record on the table (`crate::staff`), since a JWT stays valid until it
//! expires whatever the identity provider does.

use async_trait::async_trait;
use domain::access::{Role, Subject};

/// One workforce login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The token's `sub`: what the API and the audit log know the person by.
    pub subject: Subject,
    /// The identity provider's own name for the login (Cognito's username).
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// Its groups that are roles (staff, provider, admin).
    pub roles: Vec<Role>,
    pub enabled: bool,
    /// Whether a second factor is set up (the staff pool requires one at sign-in).
    pub mfa: bool,
    /// When the login was made (Unix seconds).
    pub created_at: i64,
}

/// A login to make: an invitation goes to `email`, which is also the sign-in name.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub email: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("no such login")]
    NotFound,
    #[error("a login with this address exists")]
    Exists,
    #[error("the staff directory is unavailable")]
    Unavailable(#[source] anyhow::Error),
}

#[async_trait]
pub trait StaffDirectory: Send + Sync {
    /// Every workforce login, enabled or not.
    async fn list(&self) -> Result<Vec<Account>, DirectoryError>;
    /// Makes a login in `role`'s group; `Exists` if the address has one.
    async fn add(&self, new: &NewAccount) -> Result<Account, DirectoryError>;
    /// Disables the login and revokes its refresh tokens; disabling a disabled login is done.
    async fn disable(&self, subject: &Subject) -> Result<(), DirectoryError>;
}
