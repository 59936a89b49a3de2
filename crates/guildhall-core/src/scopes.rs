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
}

impl Scope {
    pub const ALL: [Scope; 3] = [Self::WorkspacesRead, Self::WorkspacesWrite, Self::WorkspacesAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WorkspacesRead => "workspaces:read",
            Self::WorkspacesWrite => "workspaces:write",
            Self::WorkspacesAdmin => "workspaces:admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether holding `self` allows what `needed` allows.
    pub fn covers(self, needed: Scope) -> bool {
        self >= needed
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
        assert!(Scope::ALL.iter().all(|s| admin.allows(*s)));
        assert!(read.allows(Scope::WorkspacesRead));
        assert!(!read.allows(Scope::WorkspacesWrite));
        assert!(!Grant::Token(vec![]).allows(Scope::WorkspacesRead));
        assert!(Grant::Session.allows(Scope::WorkspacesAdmin));
    }

    #[test]
    fn scopes_parse_by_name() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("workspaces:owner"), None);
    }
}
