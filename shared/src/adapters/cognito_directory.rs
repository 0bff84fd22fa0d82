//! The staff directory, deployed: the Cognito staff pool. The workforce is whoever is in one of
//! the role groups (`staff`, `provider`, `admin`); each login's second factor is read with
//! `AdminGetUser`. A new login is made with `AdminCreateUser` (Cognito emails the invitation with a
//! temporary password; the address is the sign-in name and counts as verified, since the practice
//! typed it) and put in its role's group. Disabling is `AdminDisableUser` (no new sign-in, no
//! refresh) then `AdminUserGlobalSignOut` (its refresh tokens revoked everywhere). Errors name the
//! service's code only (`sdk_error`): a message may quote an address.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata as _;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, DeliveryMediumType, UserType};
use domain::access::{Role, Subject};

use crate::adapters::sdk_error::summary;
use crate::directory::{Account, DirectoryError, NewAccount, StaffDirectory};

/// The groups that are roles, as the staff pool names them.
const ROLE_GROUPS: [Role; 3] = [Role::Staff, Role::Provider, Role::Admin];

pub struct CognitoDirectory {
    client: Client,
    pool: String,
}

fn unavailable(what: &str, summary: String) -> DirectoryError {
    DirectoryError::Unavailable(anyhow::anyhow!("{what}: {summary}"))
}

fn attribute<'a>(attributes: &'a [AttributeType], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name() == name)
        .and_then(|a| a.value())
}

impl CognitoDirectory {
    pub fn new(sdk: &aws_config::SdkConfig, pool: impl Into<String>) -> Self {
        CognitoDirectory {
            client: Client::new(sdk),
            pool: pool.into(),
        }
    }

    fn account(user: &UserType, roles: Vec<Role>, mfa: bool) -> Option<Account> {
        let subject = Subject::parse(attribute(user.attributes(), "sub")?)?;
        Some(Account {
            subject,
            username: user.username()?.to_owned(),
            email: attribute(user.attributes(), "email").map(str::to_owned),
            name: attribute(user.attributes(), "name").map(str::to_owned),
            roles,
            enabled: user.enabled(),
            mfa,
            created_at: user.user_create_date().map_or(0, |d| d.secs()),
        })
    }

    /// The login whose `sub` is `subject`, by its username.
    async fn username_of(&self, subject: &Subject) -> Result<String, DirectoryError> {
        // A subject is letters, digits and `-_.:@` (Subject::parse), nothing that ends the filter.
        let found = self
            .client
            .list_users()
            .user_pool_id(&self.pool)
            .filter(format!("sub = \"{}\"", subject.as_str()))
            .limit(1)
            .send()
            .await
            .map_err(|e| unavailable("ListUsers", summary(&e)))?;
        found
            .users()
            .first()
            .and_then(UserType::username)
            .map(str::to_owned)
            .ok_or(DirectoryError::NotFound)
    }
}

#[async_trait]
impl StaffDirectory for CognitoDirectory {
    async fn list(&self) -> Result<Vec<Account>, DirectoryError> {
        let mut users: BTreeMap<String, (UserType, Vec<Role>)> = BTreeMap::new();
        for role in ROLE_GROUPS {
            let mut next = None;
            loop {
                let page = self
                    .client
                    .list_users_in_group()
                    .user_pool_id(&self.pool)
                    .group_name(role.as_str())
                    .set_next_token(next)
                    .send()
                    .await
                    .map_err(|e| unavailable("ListUsersInGroup", summary(&e)))?;
                for user in page.users() {
                    let Some(name) = user.username() else {
                        continue;
                    };
                    users
                        .entry(name.to_owned())
                        .or_insert_with(|| (user.clone(), Vec::new()))
                        .1
                        .push(role);
                }
                next = page.next_token().map(str::to_owned);
                if next.is_none() {
                    break;
                }
            }
        }
        let mut out = Vec::with_capacity(users.len());
        for (username, (user, roles)) in users {
            let detail = self
                .client
                .admin_get_user()
                .user_pool_id(&self.pool)
                .username(&username)
                .send()
                .await
                .map_err(|e| unavailable("AdminGetUser", summary(&e)))?;
            let mfa = !detail.user_mfa_setting_list().is_empty();
            out.extend(Self::account(&user, roles, mfa));
        }
        Ok(out)
    }

    async fn add(&self, new: &NewAccount) -> Result<Account, DirectoryError> {
        let attr = |name: &str, value: &str| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| DirectoryError::Unavailable(e.into()))
        };
        let made = self
            .client
            .admin_create_user()
            .user_pool_id(&self.pool)
            .username(&new.email)
            .user_attributes(attr("email", &new.email)?)
            .user_attributes(attr("email_verified", "true")?)
            .user_attributes(attr("name", &new.name)?)
            .desired_delivery_mediums(DeliveryMediumType::Email)
            .send()
            .await
            .map_err(|e| match e.as_service_error().and_then(|s| s.code()) {
                Some("UsernameExistsException" | "AliasExistsException") => DirectoryError::Exists,
                _ => unavailable("AdminCreateUser", summary(&e)),
            })?;
        let user = made
            .user()
            .ok_or_else(|| unavailable("AdminCreateUser", "no user in the answer".into()))?;
        let username = user.username().unwrap_or(&new.email);
        self.client
            .admin_add_user_to_group()
            .user_pool_id(&self.pool)
            .username(username)
            .group_name(new.role.as_str())
            .send()
            .await
            .map_err(|e| unavailable("AdminAddUserToGroup", summary(&e)))?;
        Self::account(user, vec![new.role], false)
            .ok_or_else(|| unavailable("AdminCreateUser", "no subject in the answer".into()))
    }

    async fn disable(&self, subject: &Subject) -> Result<(), DirectoryError> {
        let username = self.username_of(subject).await?;
        self.client
            .admin_disable_user()
            .user_pool_id(&self.pool)
            .username(&username)
            .send()
            .await
            .map_err(|e| unavailable("AdminDisableUser", summary(&e)))?;
        self.client
            .admin_user_global_sign_out()
            .user_pool_id(&self.pool)
            .username(&username)
            .send()
            .await
            .map_err(|e| unavailable("AdminUserGlobalSignOut", summary(&e)))?;
        Ok(())
    }
}
