//! An in-memory index of one workspace's permission data, for the fast
//! check: membership and effective permission by hash lookups, with the same
//! answers as `effective_permission` (property-tested below).

use super::permissions::{Permission, PermissionInputs, effective_permission};
use std::collections::{HashMap, HashSet};

/// A consistent snapshot of what decides permissions in a workspace.
#[derive(Clone, Debug, Default)]
pub struct PermissionData {
    /// Groups: (default permission, is the administrators group).
    pub groups: Vec<(Permission, bool)>,
    /// Group members: (username, index into `groups`).
    pub memberships: Vec<(String, usize)>,
    /// Repository slugs.
    pub repositories: Vec<String>,
    /// (group index, repository slug, permission).
    pub group_permissions: Vec<(usize, String, Permission)>,
    /// (username, repository slug, permission).
    pub grants: Vec<(String, String, Permission)>,
}

#[derive(Clone, Debug, Default)]
pub struct PermissionIndex {
    groups: Vec<(Permission, bool)>,
    member_groups: HashMap<String, Vec<usize>>,
    repositories: HashMap<String, usize>,
    group_repo: HashMap<(usize, usize), Permission>,
    grants: HashMap<(String, usize), Permission>,
    grant_holders: HashSet<String>,
}

impl PermissionIndex {
    pub fn build(data: PermissionData) -> Self {
        let repositories: HashMap<String, usize> =
            data.repositories.into_iter().enumerate().map(|(i, slug)| (slug, i)).collect();
        let mut member_groups: HashMap<String, Vec<usize>> = HashMap::new();
        for (username, group) in data.memberships {
            member_groups.entry(username).or_default().push(group);
        }
        let group_repo = data
            .group_permissions
            .into_iter()
            .filter_map(|(g, repo, p)| repositories.get(&repo).map(|r| ((g, *r), p)))
            .collect();
        let grant_holders = data.grants.iter().map(|(user, _, _)| user.clone()).collect();
        let grants = data
            .grants
            .into_iter()
            .filter_map(|(user, repo, p)| repositories.get(&repo).map(|r| ((user, *r), p)))
            .collect();
        Self { groups: data.groups, member_groups, repositories, group_repo, grants, grant_holders }
    }

    /// Whether the account is in at least one group of the workspace.
    pub fn is_member(&self, username: &str) -> bool {
        self.member_groups.contains_key(username)
    }

    /// Whether the account is a member or holds a direct grant.
    pub fn knows(&self, username: &str) -> bool {
        self.is_member(username) || self.grant_holders.contains(username)
    }

    /// The effective permission, or `None` for an unknown repository.
    pub fn permission(&self, username: &str, repo: &str) -> Option<Permission> {
        let r = *self.repositories.get(repo)?;
        let groups = self.member_groups.get(username).map(Vec::as_slice).unwrap_or_default();
        let inputs = PermissionInputs {
            workspace_admin: groups.iter().any(|g| self.groups.get(*g).is_some_and(|(_, admins)| *admins)),
            direct: self.grants.get(&(username.to_owned(), r)).copied(),
            groups: groups
                .iter()
                .filter_map(|g| self.groups.get(*g).map(|(d, _)| (*d, self.group_repo.get(&(*g, r)).copied())))
                .collect(),
        };
        Some(effective_permission(&inputs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn permission() -> impl Strategy<Value = Permission> {
        prop::sample::select(Permission::ALL.to_vec())
    }

    prop_compose! {
        fn data()(
            groups in prop::collection::vec((permission(), any::<bool>()), 1..5),
            memberships in prop::collection::vec((0..4usize, 0..5usize), 0..12),
            group_permissions in prop::collection::vec((0..5usize, 0..3usize, permission()), 0..8),
            grants in prop::collection::vec((0..4usize, 0..3usize, permission()), 0..6),
        ) -> PermissionData {
            let n = groups.len();
            PermissionData {
                memberships: memberships.into_iter().map(|(u, g)| (format!("u{u}"), g % n)).collect(),
                groups,
                repositories: (0..3).map(|r| format!("r{r}")).collect(),
                group_permissions: group_permissions.into_iter().map(|(g, r, p)| (g % n, format!("r{r}"), p)).collect(),
                grants: grants.into_iter().map(|(u, r, p)| (format!("u{u}"), format!("r{r}"), p)).collect(),
            }
        }
    }

    /// The rule written out longhand over the raw data.
    fn reference(d: &PermissionData, user: &str, repo: &str) -> Permission {
        let mine: Vec<usize> = d.memberships.iter().filter(|(u, _)| u == user).map(|(_, g)| *g).collect();
        let inputs = PermissionInputs {
            workspace_admin: mine.iter().any(|g| d.groups[*g].1),
            direct: d.grants.iter().rev().find(|(u, r, _)| u == user && r == repo).map(|(_, _, p)| *p),
            groups: mine
                .iter()
                .map(|g| {
                    let specific =
                        d.group_permissions.iter().rev().find(|(pg, r, _)| pg == g && r == repo).map(|(_, _, p)| *p);
                    (d.groups[*g].0, specific)
                })
                .collect(),
        };
        effective_permission(&inputs)
    }

    proptest! {
        #[test]
        fn the_index_agrees_with_the_rule(d in data()) {
            let index = PermissionIndex::build(d.clone());
            for u in 0..4 {
                let user = format!("u{u}");
                prop_assert_eq!(index.is_member(&user), d.memberships.iter().any(|(m, _)| *m == user));
                prop_assert_eq!(index.knows(&user), index.is_member(&user) || d.grants.iter().any(|(g, _, _)| *g == user));
                for r in 0..3 {
                    let repo = format!("r{r}");
                    prop_assert_eq!(index.permission(&user, &repo), Some(reference(&d, &user, &repo)));
                }
            }
            prop_assert_eq!(index.permission("u0", "unknown"), None);
        }
    }
}
