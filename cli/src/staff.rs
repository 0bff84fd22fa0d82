//! `practica staff list | add | disable`: the demo pool's logins over a data dir (the server
//! stopped), through the same use cases as `GET/POST /v1/staff`, as the practice's administrator
//! at this machine (audited as `local-admin`). A deployed practice uses the console's Staff page,
//! or the API, against its Cognito staff pool.

use std::path::Path;
use std::sync::Arc;

use domain::access::{Caller, Principal, Role, Source, Subject};
use domain::ids::IdempotencyKey;
use shared::adapters::local_directory::LocalDirectory;
use shared::staff::{AddRequest, DisableRequest};
use shared::unit_of_work::Idempotency;

/// What to do with the logins.
pub enum Action {
    List,
    Add {
        email: String,
        name: String,
        role: String,
    },
    Disable {
        subject: String,
    },
}

fn administrator() -> Caller {
    Caller {
        principal: Principal {
            subject: Subject::parse("local-admin").expect("valid subject"),
            roles: [Role::Admin].into(),
            verified_email: None,
            display_name: Some("Administrator at this machine".into()),
        },
        request_id: format!("staff-{}", ulid::Ulid::new()),
        source: Source::local("staff"),
    }
}

/// Runs `action` on `data`'s logins; the answer as the API gives it.
pub async fn run(data: &Path, action: Action) -> anyhow::Result<serde_json::Value> {
    // A mistyped directory would otherwise become a new practice with the demo's logins.
    if !data.join("practica.redb").is_file() {
        anyhow::bail!(
            "{} holds no practice (practica.redb is missing)",
            data.display()
        );
    }
    let state = crate::local::offline_state(data)?;
    let directory =
        LocalDirectory::open_or_create(data, &crate::login::demo_workforce(), state.clock.clone())?;
    let state = state.with_directory(Arc::new(directory));
    let directory = shared::staff::directory(&state)?;
    let caller = administrator();
    let key = IdempotencyKey::parse(&ulid::Ulid::new().to_string()).expect("a ULID is a key");
    let reply = match action {
        Action::List => return Ok(shared::staff::list(&state, directory, &caller).await?),
        Action::Add { email, name, role } => {
            let req = AddRequest { email, name, role };
            let idem = Idempotency::new(&state, &caller, &key, "add_staff", &req).await?;
            shared::staff::add(&state, directory, &caller, &idem, req).await?
        }
        Action::Disable { subject } => {
            let subject = Subject::parse(&subject)
                .ok_or_else(|| anyhow::anyhow!("{subject:?} is not a login's subject"))?;
            let op = format!("disable_staff:{}", subject.as_str());
            let idem = Idempotency::new(&state, &caller, &key, &op, &DisableRequest {}).await?;
            shared::staff::disable(&state, directory, &caller, &idem, &subject).await?
        }
    };
    Ok(reply.body)
}
