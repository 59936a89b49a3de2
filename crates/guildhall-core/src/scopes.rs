//! API token scopes. Within an area, `admin` implies `write` implies `read`.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Scope {
    #[serde(rename = "workspaces:read")]
    WorkspacesRead,
    #[serde(rename = "workspaces:write")]
    WorkspacesWrite,
    #[serde(rename = "workspaces:admin")]
    WorkspacesAdmin,
    #[serde(rename = "orgs:read")]
    OrgsRead,
    #[serde(rename = "orgs:admin")]
    OrgsAdmin,
    /// Directory sync for an admin's workspaces and orgs: SCIM, the event
    /// log and snapshots (SPEC §6). Its own area: no other scope implies it.
    #[serde(rename = "scim")]
    Scim,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Self::WorkspacesRead,
        Self::WorkspacesWrite,
        Self::WorkspacesAdmin,
        Self::OrgsRead,
        Self::OrgsAdmin,
        Self::Scim,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WorkspacesRead => "workspaces:read",
            Self::WorkspacesWrite => "workspaces:write",
            Self::WorkspacesAdmin => "workspaces:admin",
            Self::OrgsRead => "orgs:read",
            Self::OrgsAdmin => "orgs:admin",
            Self::Scim => "scim",
        }
    }

    /// (area, level): scopes compare only within an area.
    fn rank(self) -> (u8, u8) {
        match self {
            Self::WorkspacesRead => (0, 0),
            Self::WorkspacesWrite => (0, 1),
            Self::WorkspacesAdmin => (0, 2),
            Self::OrgsRead => (1, 0),
            Self::OrgsAdmin => (1, 2),
            Self::Scim => (2, 0),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether holding `self` allows what `needed` allows.
    pub fn covers(self, needed: Scope) -> bool {
        let ((area, level), (needed_area, needed_level)) = (self.rank(), needed.rank());
        area == needed_area && level >= needed_level
    }
}

/// What a caller holds: a token's scopes, or everything for a browser session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    Session,
    Token(Vec<Scope>),
}

impl Grant {
    pub fn allows(&self, needed: Scope) -> bool {
        match self {
            Self::Session => true,
            Self::Token(scopes) => scopes.iter().any(|s| s.covers(needed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_write_implies_read() {
        let admin = Grant::Token(vec![Scope::WorkspacesAdmin]);
        let read = Grant::Token(vec![Scope::WorkspacesRead]);
        let workspaces = [Scope::WorkspacesRead, Scope::WorkspacesWrite, Scope::WorkspacesAdmin];
        assert!(workspaces.iter().all(|s| admin.allows(*s)));
        assert!(!admin.allows(Scope::OrgsRead), "a workspace scope reached orgs");
        let orgs = Grant::Token(vec![Scope::OrgsAdmin]);
        assert!(orgs.allows(Scope::OrgsRead) && orgs.allows(Scope::OrgsAdmin));
        assert!(!orgs.allows(Scope::WorkspacesRead), "an org scope reached workspaces");
        assert!(!Grant::Token(vec![Scope::OrgsRead]).allows(Scope::OrgsAdmin));
        assert!(read.allows(Scope::WorkspacesRead));
        assert!(!read.allows(Scope::WorkspacesWrite));
        assert!(!Grant::Token(vec![]).allows(Scope::WorkspacesRead));
        assert!(Grant::Session.allows(Scope::WorkspacesAdmin));
        let scim = Grant::Token(vec![Scope::Scim]);
        assert!(scim.allows(Scope::Scim) && !scim.allows(Scope::WorkspacesRead) && !scim.allows(Scope::OrgsRead));
        assert!(!admin.allows(Scope::Scim) && !orgs.allows(Scope::Scim), "an admin scope reached SCIM");
    }

    #[test]
    fn scopes_parse_by_name() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("workspaces:owner"), None);
    }
}
