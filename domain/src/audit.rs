//! The audit vocabulary, shaped after FHIR AuditEvent: what kind of action a record is (its
//! `action` code is ours, e.g. `appointment.cancel`), and what kind of agent acted.

/// FHIR AuditEvent.action: create, read, update, delete or execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    Create,
    Read,
    Update,
    Delete,
    Execute,
}

impl ActionKind {
    /// The kind of one of our action codes, by the verb after its last dot.
    pub fn of(action: &str) -> ActionKind {
        match action.rsplit('.').next().unwrap_or(action) {
            "create" | "offer" => ActionKind::Create,
            "read" | "list" | "search" | "replay" | "export" => ActionKind::Read,
            "update" | "reschedule" | "cancel" | "schedule" | "lapse" | "check_in" | "complete"
            | "no_show" | "waive" => ActionKind::Update,
            "delete" | "sweep" => ActionKind::Delete,
            _ => ActionKind::Execute,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Read => "read",
            ActionKind::Update => "update",
            ActionKind::Delete => "delete",
            ActionKind::Execute => "execute",
        }
    }
}

/// Who acted: a signed-in person, one of our scheduled jobs, or the payment processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentKind {
    User,
    System,
    Processor,
}

impl AgentKind {
    pub fn code(self) -> &'static str {
        match self {
            AgentKind::User => "user",
            AgentKind::System => "system",
            AgentKind::Processor => "processor",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_we_record_has_its_kind() {
        for (action, kind) in [
            ("appointment.create", ActionKind::Create),
            ("hold.offer", ActionKind::Create),
            ("appointment.read", ActionKind::Read),
            ("appointment.list", ActionKind::Read),
            ("patient.search", ActionKind::Read),
            ("audit.export", ActionKind::Read),
            ("access_log.read", ActionKind::Read),
            ("reply.replay", ActionKind::Read),
            ("balance.read", ActionKind::Read),
            ("appointment.reschedule", ActionKind::Update),
            ("appointment.cancel", ActionKind::Update),
            ("provider.schedule", ActionKind::Update),
            ("payment.update", ActionKind::Update),
            ("hold.sweep", ActionKind::Delete),
            ("report.run", ActionKind::Execute),
        ] {
            assert_eq!(ActionKind::of(action), kind, "{action}");
        }
    }
}
