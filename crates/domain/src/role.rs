//! Who may do what: the roles of people and API tokens.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// What a user or token may do. Viewers read drafts and evidence; editors manage incidents
/// and maintenance; admins also manage users. Agents only fetch probe assignments and push
/// results; signal tokens only post external signals (counts or posts from a source);
/// deployer tokens only record changes (deploys, config changes, rollbacks) and ask the
/// canary gate; integration tokens only post other monitors' alerts (Alertmanager's
/// webhook, the generic inbound webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
    Agent,
    Signal,
    Deployer,
    Integration,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Viewer,
        Role::Editor,
        Role::Admin,
        Role::Agent,
        Role::Signal,
        Role::Deployer,
        Role::Integration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Signal => "signal",
            Role::Deployer => "deployer",
            Role::Integration => "integration",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may do what `needed` may do.
    pub fn allows(self, needed: Role) -> bool {
        let rank = |r: Role| match r {
            Role::Viewer => 1,
            Role::Editor => 2,
            Role::Admin => 3,
            Role::Agent | Role::Signal | Role::Deployer | Role::Integration => 0,
        };
        match needed {
            // Machine roles stand apart: each does its one thing (and admins everything).
            Role::Agent | Role::Signal | Role::Deployer | Role::Integration => {
                self == needed || self == Role::Admin
            }
            _ => rank(self) > 0 && rank(self) >= rank(needed),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Role {
    /// The roles a person may have (`agent`, `signal`, `deployer` and `integration` are for
    /// tokens only).
    pub const PEOPLE: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    /// A person's role: viewer, editor or admin.
    pub fn parse_person(s: &str) -> Option<Role> {
        Role::PEOPLE.into_iter().find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_form_a_ladder_and_agents_stand_apart() {
        use Role::*;
        assert!(Admin.allows(Editor) && Editor.allows(Viewer) && Viewer.allows(Viewer));
        assert!(!Viewer.allows(Editor) && !Editor.allows(Admin));
        assert!(Agent.allows(Agent) && Admin.allows(Agent));
        assert!(!Agent.allows(Viewer) && !Editor.allows(Agent));
        assert!(Signal.allows(Signal) && Admin.allows(Signal));
        assert!(!Signal.allows(Viewer) && !Signal.allows(Agent) && !Agent.allows(Signal));
        assert!(!Editor.allows(Signal));
        assert!(Deployer.allows(Deployer) && Admin.allows(Deployer));
        assert!(!Deployer.allows(Viewer) && !Deployer.allows(Signal) && !Editor.allows(Deployer));
        assert!(Integration.allows(Integration) && Admin.allows(Integration));
        assert!(!Integration.allows(Viewer) && !Integration.allows(Deployer));
        assert!(!Editor.allows(Integration) && !Signal.allows(Integration));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn people_have_no_agent_role() {
        assert_eq!(Role::parse_person("agent"), None);
        assert_eq!(Role::parse_person("editor"), Some(Role::Editor));
    }
}
