//! Repository permissions and the effective-permission rule (SPEC §4): the
//! highest of the direct grant, every group's default and per-repository
//! permission, and `admin` for workspace admins.

use serde::{Deserialize, Serialize};

/// Ordered: `None < Read < Write < Admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    #[default]
    None,
    Read,
    Write,
    Admin,
}

impl Permission {
    pub const ALL: [Permission; 4] = [Self::None, Self::Read, Self::Write, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The stored form (0–3).
    pub fn rank(self) -> i16 {
        self as i16
    }

    pub fn from_rank(rank: i16) -> Option<Self> {
        usize::try_from(rank).ok().and_then(|i| Self::ALL.get(i)).copied()
    }
}

/// Everything that can give an account a permission on one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermissionInputs {
    /// The account is in the workspace's administrators group.
    pub workspace_admin: bool,
    /// A direct grant on the repository.
    pub direct: Option<Permission>,
    /// For each group the account is in: its default permission and its
    /// permission on this repository, if it has one.
    pub groups: Vec<(Permission, Option<Permission>)>,
}

/// The effective permission: the highest of every path to the repository.
pub fn effective_permission(inputs: &PermissionInputs) -> Permission {
    if inputs.workspace_admin {
        return Permission::Admin;
    }
    inputs
        .groups
        .iter()
        .flat_map(|(default, specific)| [Some(*default), *specific])
        .chain([inputs.direct])
        .flatten()
        .max()
        .unwrap_or(Permission::None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn permission() -> impl Strategy<Value = Permission> {
        prop::sample::select(Permission::ALL.to_vec())
    }

    fn inputs() -> impl Strategy<Value = PermissionInputs> {
        (
            any::<bool>(),
            prop::option::of(permission()),
            prop::collection::vec((permission(), prop::option::of(permission())), 0..6),
        )
            .prop_map(|(workspace_admin, direct, groups)| PermissionInputs { workspace_admin, direct, groups })
    }

    #[test]
    fn the_highest_path_wins() {
        let i = PermissionInputs {
            workspace_admin: false,
            direct: Some(Permission::Read),
            groups: vec![(Permission::None, Some(Permission::Write)), (Permission::Read, None)],
        };
        assert_eq!(effective_permission(&i), Permission::Write);
        assert_eq!(effective_permission(&PermissionInputs::default()), Permission::None);
        let admin = PermissionInputs { workspace_admin: true, ..Default::default() };
        assert_eq!(effective_permission(&admin), Permission::Admin);
    }

    #[test]
    fn ranks_round_trip_and_text_parses() {
        for p in Permission::ALL {
            assert_eq!(Permission::from_rank(p.rank()), Some(p));
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::from_rank(4), None);
        assert_eq!(Permission::parse("owner"), None);
    }

    proptest! {
        #[test]
        fn joining_a_group_never_lowers_a_permission(i in inputs(), g in (permission(), prop::option::of(permission()))) {
            let before = effective_permission(&i);
            let mut more = i.clone();
            more.groups.push(g);
            prop_assert!(effective_permission(&more) >= before);
        }

        #[test]
        fn a_direct_grant_never_lowers_a_permission(i in inputs(), p in permission()) {
            let before = effective_permission(&i);
            let mut more = i.clone();
            more.direct = Some(more.direct.map_or(p, |d| d.max(p)));
            prop_assert!(effective_permission(&more) >= before);
            prop_assert!(effective_permission(&more) >= p);
        }

        #[test]
        fn removing_every_path_leaves_none(i in inputs()) {
            let none = PermissionInputs { workspace_admin: false, direct: None, groups: vec![] };
            prop_assert_eq!(effective_permission(&none), Permission::None);
            // Removing the last group that grants anything, with no direct
            // grant and no admin role, lowers the permission to none.
            let groups_without_grants: Vec<_> = i.groups.iter().map(|_| (Permission::None, None)).collect();
            let stripped = PermissionInputs { workspace_admin: false, direct: None, groups: groups_without_grants };
            prop_assert_eq!(effective_permission(&stripped), Permission::None);
        }

        #[test]
        fn the_result_is_one_of_the_inputs_or_admin_or_none(i in inputs()) {
            let p = effective_permission(&i);
            let offered: Vec<Permission> = i.groups.iter().flat_map(|(d, s)| [Some(*d), *s]).chain([i.direct]).flatten().collect();
            prop_assert!(p == Permission::None || p == Permission::Admin || offered.contains(&p));
            prop_assert!(offered.iter().all(|o| *o <= p));
        }
    }
}
