//! The staff directory of `practica serve` (the demo pool): the workforce's logins in
//! `staff.json` in the data dir, starting with the demo practice's people. A login made here gets
//! its subject from its address (`staff-<local part>`, made unique); disabling one marks it so,
//! and the local sign-in then refuses it and its refresh tokens (`cli::login`), as Cognito does.
//! One process owns a data dir, so a mutex around read-change-write is enough here.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use domain::access::{Role, Subject};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::adapters::files::replace_private_file;
use crate::directory::{Account, DirectoryError, NewAccount, StaffDirectory};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Stored {
    subject: String,
    email: Option<String>,
    name: Option<String>,
    roles: Vec<String>,
    enabled: bool,
    mfa: bool,
    created_at: i64,
}

impl Stored {
    fn account(&self) -> Option<Account> {
        Some(Account {
            subject: Subject::parse(&self.subject)?,
            username: self.subject.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            roles: self.roles.iter().filter_map(|r| Role::parse(r)).collect(),
            enabled: self.enabled,
            mfa: self.mfa,
            created_at: self.created_at,
        })
    }
}

pub struct LocalDirectory {
    path: PathBuf,
    lock: Mutex<()>,
    clock: std::sync::Arc<dyn domain::clock::Clock>,
}

fn unavailable(e: impl Into<anyhow::Error>) -> DirectoryError {
    DirectoryError::Unavailable(e.into())
}

impl LocalDirectory {
    /// The directory in `dir`, made with `people` (subject, name, role) when it does not exist.
    pub fn open_or_create(
        dir: &Path,
        people: &[(&str, &str, Role)],
        clock: std::sync::Arc<dyn domain::clock::Clock>,
    ) -> anyhow::Result<Self> {
        let path = dir.join("staff.json");
        if !path.exists() {
            let at = clock.now().as_second();
            let stored: Vec<Stored> = people
                .iter()
                .map(|(subject, name, role)| Stored {
                    subject: (*subject).to_owned(),
                    email: None,
                    name: Some((*name).to_owned()),
                    roles: vec![role.as_str().to_owned()],
                    enabled: true,
                    mfa: false,
                    created_at: at,
                })
                .collect();
            replace_private_file(&path, &serde_json::to_vec_pretty(&stored)?)?;
        }
        Ok(LocalDirectory {
            path,
            lock: Mutex::new(()),
            clock,
        })
    }

    fn read(&self) -> Result<Vec<Stored>, DirectoryError> {
        let bytes = std::fs::read(&self.path).map_err(unavailable)?;
        serde_json::from_slice(&bytes).map_err(unavailable)
    }

    fn write(&self, stored: &[Stored]) -> Result<(), DirectoryError> {
        let bytes = serde_json::to_vec_pretty(stored).map_err(unavailable)?;
        replace_private_file(&self.path, &bytes).map_err(unavailable)
    }

    /// Whether `subject` is a login here that is disabled (the local sign-in refuses it).
    pub fn is_disabled(&self, subject: &str) -> bool {
        self.read()
            .map(|all| all.iter().any(|s| s.subject == subject && !s.enabled))
            .unwrap_or(false)
    }
}

#[async_trait]
impl StaffDirectory for LocalDirectory {
    async fn list(&self) -> Result<Vec<Account>, DirectoryError> {
        Ok(self.read()?.iter().filter_map(Stored::account).collect())
    }

    async fn add(&self, new: &NewAccount) -> Result<Account, DirectoryError> {
        let _held = self.lock.lock().await;
        let mut all = self.read()?;
        let email = new.email.to_ascii_lowercase();
        if all
            .iter()
            .any(|s| s.email.as_deref() == Some(email.as_str()))
        {
            return Err(DirectoryError::Exists);
        }
        let local: String = email
            .split('@')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(40)
            .collect();
        let base = format!("staff-{local}");
        let mut subject = base.clone();
        let mut n = 1;
        while all.iter().any(|s| s.subject == subject) {
            n += 1;
            subject = format!("{base}-{n}");
        }
        let stored = Stored {
            subject,
            email: Some(email),
            name: Some(new.name.clone()),
            roles: vec![new.role.as_str().to_owned()],
            enabled: true,
            mfa: false,
            created_at: self.clock.now().as_second(),
        };
        let account = stored
            .account()
            .ok_or_else(|| unavailable(anyhow::anyhow!("not a subject")))?;
        all.push(stored);
        self.write(&all)?;
        Ok(account)
    }

    async fn disable(&self, subject: &Subject) -> Result<(), DirectoryError> {
        let _held = self.lock.lock().await;
        let mut all = self.read()?;
        let found = all
            .iter_mut()
            .find(|s| s.subject == subject.as_str())
            .ok_or(DirectoryError::NotFound)?;
        found.enabled = false;
        self.write(&all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn logins_are_made_listed_and_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let clock: std::sync::Arc<dyn domain::clock::Clock> =
            std::sync::Arc::new(domain::clock::ManualClock::at_second(1_795_438_800));
        let people = [("admin-1", "Admin", Role::Admin)];
        let d = LocalDirectory::open_or_create(dir.path(), &people, clock.clone()).unwrap();
        let new = NewAccount {
            email: "Sam.Lee@example.org".into(),
            name: "Sam Lee".into(),
            role: Role::Staff,
        };
        let sam = d.add(&new).await.unwrap();
        assert_eq!(sam.subject.as_str(), "staff-samlee");
        assert_eq!(sam.email.as_deref(), Some("sam.lee@example.org"));
        assert!(matches!(d.add(&new).await, Err(DirectoryError::Exists)));
        d.disable(&sam.subject).await.unwrap();
        assert!(d.is_disabled("staff-samlee"));
        assert!(!d.is_disabled("admin-1"));
        let unknown = Subject::parse("nobody").unwrap();
        assert!(matches!(
            d.disable(&unknown).await,
            Err(DirectoryError::NotFound)
        ));
        // The file is the directory: opened again, it is as left.
        let again = LocalDirectory::open_or_create(dir.path(), &[], clock).unwrap();
        let all = again.list().await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(
            !all.iter()
                .find(|a| a.subject == sam.subject)
                .unwrap()
                .enabled
        );
    }
}
