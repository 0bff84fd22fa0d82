//! Who is asking and what they may touch: roles, verified subjects, the principal a token proves,
//! and the one ownership rule ([`Principal::authorize`]) every use case applies.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A refusal of [`Principal::authorize`]: the caller lacks the role, or the resource is not theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("forbidden")]
pub struct Denied;

/// A caller's role, from the `cognito:groups` claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Patient,
    Staff,
    Provider,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Patient, Role::Staff, Role::Provider, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Staff => "staff",
            Role::Provider => "provider",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A verified subject (`sub` claim): safe to embed in table keys.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Subject(String);

impl Subject {
    pub fn parse(s: &str) -> Option<Subject> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b));
        ok.then(|| Subject(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Subject::parse(&s).ok_or_else(|| serde::de::Error::custom("not a valid subject"))
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The verified caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub subject: Subject,
    pub roles: BTreeSet<Role>,
    /// The email address the identity provider has verified for this login (`email` with
    /// `email_verified: true`; Cognito puts them in ID tokens), if the token carries one.
    #[serde(skip)]
    pub verified_email: Option<crate::sensitive::Sensitive<String>>,
    /// The token's display name, if it carries one. Audit entries keep it for staff, providers and
    /// admins only (a patient's name is patient data), so access logs can name who looked.
    #[serde(skip)]
    pub display_name: Option<String>,
}

/// What a request touches, for the ownership half of authorization.
#[derive(Clone, Copy, Debug)]
pub enum Resource<'a> {
    /// Not owned by a person (the practice's services, availability): any allowed role may act.
    Shared,
    /// A patient's record: staff and admin, or that patient.
    Patient(&'a Subject),
    /// A provider's schedule: staff and admin, or that provider.
    Provider(&'a Subject),
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The one authorization helper: the caller must hold one of `allowed`, and a patient or
    /// provider may act only on what is theirs.
    pub fn authorize(&self, allowed: &[Role], resource: Resource<'_>) -> Result<(), Denied> {
        let permitted =
            allowed
                .iter()
                .filter(|r| self.has(**r))
                .any(|role| match (role, resource) {
                    (_, Resource::Shared) => true,
                    (Role::Staff | Role::Admin, _) => true,
                    (Role::Patient, Resource::Patient(owner)) => *owner == self.subject,
                    (Role::Provider, Resource::Provider(owner)) => *owner == self.subject,
                    _ => false,
                });
        if permitted { Ok(()) } else { Err(Denied) }
    }
}

/// The verified caller of one request, holding at least one known role, and the request's id,
/// for authorization and audit.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub request_id: String,
    pub source: Source,
}

/// Where a request came from, for audit (FHIR AuditEvent.source and agent.network): the function
/// that served it and the client's network address as the gateway (or the local server) saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub function: &'static str,
    pub address: Option<String>,
}

impl Source {
    /// Work started on this machine (the CLI, tests), not by a network request.
    pub fn local(function: &'static str) -> Source {
        Source {
            function,
            address: None,
        }
    }
}

impl Caller {
    pub fn is_staff(&self) -> bool {
        self.principal.has(Role::Staff) || self.principal.has(Role::Admin)
    }

    /// The one check for staff or an admin acting on the practice as a whole (setup, charges,
    /// lookups across patients).
    pub fn authorize_staff(&self) -> Result<(), Denied> {
        self.principal
            .authorize(&[Role::Staff, Role::Admin], Resource::Shared)
    }
}
