//! Conformance of `WorkspaceStore`.

use super::{T0, new_account};
use guildhall_app::ports::{
    Audit, Change, MembershipChange, NewAccessToken, NewGroup, NewInvitation, NewRepository, NewWorkspace, Store,
    StoreError, Workspace,
};
use guildhall_core::accounts::Account;
use guildhall_core::workspaces::{
    InvitationState, Permission, PermissionIndex, PermissionInputs, Plan, Slug, effective_permission,
};
use guildhall_core::{AccessTokenId, GroupId, InvitationId, RepositoryId, WorkspaceId};
use std::sync::Arc;

/// An audit row for changes whose audit trail a test does not inspect.
fn au() -> Audit {
    Audit {
        workspace: None,
        actor: None,
        actor_label: "test".into(),
        action: "test".into(),
        target: "test".into(),
        detail: None,
        ip: None,
        at: T0,
        data: None,
    }
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

async fn account(store: &dyn Store, name: &str) -> Account {
    store.create_account(&new_account(name, &format!("{name}@example.com")), None).await.unwrap()
}

async fn workspace(store: &dyn Store, s: &str, creator: &Account) -> Workspace {
    let new = NewWorkspace {
        id: WorkspaceId::from_uuid(uuid::Uuid::now_v7()),
        slug: slug(s),
        name: format!("Workspace {s}"),
        plan: Plan::Free,
        creator: creator.id,
        admins_group: GroupId::from_uuid(uuid::Uuid::now_v7()),
        now: T0,
    };
    store.create_workspace(&new, &au()).await.unwrap()
}

async fn group(store: &dyn Store, ws: &Workspace, s: &str, default: Permission) -> GroupId {
    let new = NewGroup {
        id: GroupId::from_uuid(uuid::Uuid::now_v7()),
        slug: slug(s),
        name: s.to_owned(),
        default_permission: default,
    };
    store.create_group(ws.id, &new, &au()).await.unwrap().id
}

async fn repo(store: &dyn Store, ws: &Workspace, s: &str) -> RepositoryId {
    let new = NewRepository {
        id: RepositoryId::from_uuid(uuid::Uuid::now_v7()),
        slug: slug(s),
        name: s.to_owned(),
        private: true,
    };
    store.create_repository(ws.id, &new, &au()).await.unwrap().id
}

async fn admins(store: &dyn Store, ws: &Workspace) -> GroupId {
    store.group_by_slug(ws.id, &slug("administrators")).await.unwrap().unwrap().id
}

pub async fn creating_a_workspace_makes_its_creator_the_admin(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let bob = account(store.as_ref(), "bob").await;
    let ws = workspace(store.as_ref(), "acme", &ada).await;
    assert_eq!(store.workspace_by_slug(&slug("acme")).await.unwrap().unwrap(), ws);
    assert_eq!(store.membership(ws.id, ada.id).await.unwrap(), (true, true));
    assert_eq!(store.membership(ws.id, bob.id).await.unwrap(), (false, false));
    let groups = store.groups(ws.id).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert!(groups[0].is_admins);
    assert_eq!(groups[0].default_permission, Permission::Admin);
    assert_eq!(store.workspaces_of(ada.id).await.unwrap(), vec![ws.clone()]);
    assert!(store.workspaces_of(bob.id).await.unwrap().is_empty());
    let dup = NewWorkspace {
        id: WorkspaceId::from_uuid(uuid::Uuid::now_v7()),
        slug: slug("acme"),
        name: "Other".into(),
        plan: Plan::Paid,
        creator: bob.id,
        admins_group: GroupId::from_uuid(uuid::Uuid::now_v7()),
        now: T0,
    };
    assert!(matches!(store.create_workspace(&dup, &au()).await, Err(StoreError::Conflict("slug"))));
    assert!(store.workspaces_of(bob.id).await.unwrap().is_empty(), "a refused workspace left a membership");
    let mut changed = ws.clone();
    changed.name = "Acme Inc".into();
    changed.plan = Plan::Paid;
    changed.invitations_accept_any_account = true;
    store.update_workspace(&changed, &au()).await.unwrap();
    assert_eq!(store.workspace_by_slug(&slug("acme")).await.unwrap().unwrap(), changed);
}

pub async fn the_administrators_group_is_never_deleted_nor_left_empty(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let bob = account(store.as_ref(), "bob").await;
    let ws = workspace(store.as_ref(), "acme", &ada).await;
    let admins = admins(store.as_ref(), &ws).await;
    assert!(matches!(store.delete_group(admins, &au()).await, Err(StoreError::Conflict("administrators"))));
    assert!(matches!(store.remove_member(admins, ada.id, &au()).await, Err(StoreError::Conflict("last_admin"))));
    assert_eq!(store.membership(ws.id, ada.id).await.unwrap(), (true, true));
    assert_eq!(store.add_member(admins, bob.id, &au()).await.unwrap(), MembershipChange::Changed);
    assert_eq!(store.add_member(admins, bob.id, &au()).await.unwrap(), MembershipChange::Unchanged);
    assert_eq!(store.remove_member(admins, ada.id, &au()).await.unwrap(), MembershipChange::Changed);
    assert_eq!(store.remove_member(admins, ada.id, &au()).await.unwrap(), MembershipChange::Unchanged);
    assert_eq!(store.group_members(admins).await.unwrap().iter().map(|a| a.id).collect::<Vec<_>>(), vec![bob.id]);
    // An ordinary group can be emptied and deleted.
    let devs = group(store.as_ref(), &ws, "devs", Permission::Read).await;
    store.add_member(devs, ada.id, &au()).await.unwrap();
    assert_eq!(store.remove_member(devs, ada.id, &au()).await.unwrap(), MembershipChange::Changed);
    assert!(store.delete_group(devs, &au()).await.unwrap());
    assert!(!store.delete_group(devs, &au()).await.unwrap());
}

pub async fn the_last_two_admins_cannot_both_leave_at_once(store: Arc<dyn Store>) {
    for round in 0..5 {
        let ada = account(store.as_ref(), &format!("ada{round}")).await;
        let bob = account(store.as_ref(), &format!("bob{round}")).await;
        let ws = workspace(store.as_ref(), &format!("acme{round}"), &ada).await;
        let admins = admins(store.as_ref(), &ws).await;
        store.add_member(admins, bob.id, &au()).await.unwrap();
        let (s1, s2) = (store.clone(), store.clone());
        let a = tokio::spawn(async move { s1.remove_member(admins, ada.id, &au()).await });
        let b = tokio::spawn(async move { s2.remove_member(admins, bob.id, &au()).await });
        let results = [a.await.unwrap(), b.await.unwrap()];
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {results:?}");
        assert_eq!(store.group_members(admins).await.unwrap().len(), 1);
    }
}

pub async fn slugs_are_unique_within_a_workspace_only(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let one = workspace(store.as_ref(), "one", &ada).await;
    let two = workspace(store.as_ref(), "two", &ada).await;
    group(store.as_ref(), &one, "devs", Permission::Read).await;
    group(store.as_ref(), &two, "devs", Permission::Read).await;
    repo(store.as_ref(), &one, "api").await;
    repo(store.as_ref(), &two, "api").await;
    let dup = NewGroup {
        id: GroupId::from_uuid(uuid::Uuid::now_v7()),
        slug: slug("devs"),
        name: "x".into(),
        default_permission: Permission::None,
    };
    assert!(matches!(store.create_group(one.id, &dup, &au()).await, Err(StoreError::Conflict("slug"))));
    let dup = NewRepository {
        id: RepositoryId::from_uuid(uuid::Uuid::now_v7()),
        slug: slug("api"),
        name: "x".into(),
        private: false,
    };
    assert!(matches!(store.create_repository(one.id, &dup, &au()).await, Err(StoreError::Conflict("slug"))));
    assert_eq!(store.groups(one.id).await.unwrap().len(), 2);
    assert_eq!(store.repositories(one.id).await.unwrap().len(), 1);
}

/// A tiny deterministic generator, so failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
    fn permission(&mut self) -> Permission {
        Permission::ALL[usize::try_from(self.next(4)).unwrap()]
    }
}

/// The permission from a fresh snapshot, through the index.
async fn indexed(store: &dyn Store, ws: &Workspace, who: &Account, repo: RepositoryId) -> Permission {
    let snapshot = store.permission_snapshot(ws.id).await.unwrap().unwrap();
    let slug = store.repositories(ws.id).await.unwrap().into_iter().find(|r| r.id == repo).unwrap().slug;
    PermissionIndex::build(snapshot.data).permission(who.username.as_str(), slug.as_str()).unwrap()
}

pub async fn the_permission_snapshot_agrees_with_the_domain_rule(store: Arc<dyn Store>) {
    let owner = account(store.as_ref(), "owner").await;
    let ws = workspace(store.as_ref(), "acme", &owner).await;
    let other_ws = workspace(store.as_ref(), "other", &owner).await;
    let mut rng = Lcg(42);
    let admins = admins(store.as_ref(), &ws).await;
    let mut groups = Vec::new();
    for i in 0..4 {
        let default = rng.permission();
        groups.push((group(store.as_ref(), &ws, &format!("g{i}"), default).await, default));
    }
    let repos = [repo(store.as_ref(), &ws, "r0").await, repo(store.as_ref(), &ws, "r1").await];
    let foreign_group = group(store.as_ref(), &other_ws, "g0", Permission::Admin).await;
    let mut group_perms = std::collections::HashMap::new();
    for (g, _) in &groups {
        for r in &repos {
            if rng.next(2) == 0 {
                let p = rng.permission();
                store.set_group_permission(*g, *r, Some(p), &au()).await.unwrap();
                group_perms.insert((*g, *r), p);
            }
        }
    }
    for i in 0..12 {
        let who = account(store.as_ref(), &format!("user{i}")).await;
        // A group of another workspace must never count here.
        store.add_member(foreign_group, who.id, &au()).await.unwrap();
        let is_admin = rng.next(6) == 0;
        if is_admin {
            store.add_member(admins, who.id, &au()).await.unwrap();
        }
        let mut mine = Vec::new();
        for (g, default) in &groups {
            if rng.next(3) == 0 {
                store.add_member(*g, who.id, &au()).await.unwrap();
                mine.push((*g, *default));
            }
        }
        for r in &repos {
            let direct = (rng.next(3) == 0).then(|| rng.permission());
            if let Some(p) = direct {
                store.set_grant(*r, who.id, Some(p), &au()).await.unwrap();
            }
            let inputs = PermissionInputs {
                workspace_admin: is_admin,
                direct,
                groups: mine.iter().map(|(g, d)| (*d, group_perms.get(&(*g, *r)).copied())).collect(),
            };
            let expected = effective_permission(&inputs);
            assert_eq!(indexed(store.as_ref(), &ws, &who, *r).await, expected, "user{i} on {r:?}: {inputs:?}");
        }
    }
    // Removing the only path lowers the permission to none.
    let solo = account(store.as_ref(), "solo").await;
    store.set_grant(repos[0], solo.id, Some(Permission::Write), &au()).await.unwrap();
    assert_eq!(indexed(store.as_ref(), &ws, &solo, repos[0]).await, Permission::Write);
    store.set_grant(repos[0], solo.id, None, &au()).await.unwrap();
    assert_eq!(indexed(store.as_ref(), &ws, &solo, repos[0]).await, Permission::None);
}

pub async fn members_are_paged_by_username_with_their_groups(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let ws = workspace(store.as_ref(), "acme", &ada).await;
    let devs = group(store.as_ref(), &ws, "devs", Permission::Read).await;
    let ops = group(store.as_ref(), &ws, "ops", Permission::None).await;
    for name in ["bob", "cyd", "dee"] {
        let a = account(store.as_ref(), name).await;
        store.add_member(devs, a.id, &au()).await.unwrap();
        if name == "cyd" {
            store.add_member(ops, a.id, &au()).await.unwrap();
        }
    }
    account(store.as_ref(), "outsider").await;
    let page1 = store.members(ws.id, None, 2, false).await.unwrap();
    let names: Vec<_> = page1.iter().map(|m| m.account.username.as_str().to_owned()).collect();
    assert_eq!(names, ["ada", "bob"]);
    assert_eq!(page1[0].groups, vec![slug("administrators")]);
    let page2 = store.members(ws.id, Some("bob"), 2, false).await.unwrap();
    let names: Vec<_> = page2.iter().map(|m| m.account.username.as_str().to_owned()).collect();
    assert_eq!(names, ["cyd", "dee"]);
    assert_eq!(page2[0].groups, vec![slug("devs"), slug("ops")]);
    assert!(store.members(ws.id, Some("dee"), 2, false).await.unwrap().is_empty());
}

pub async fn all_repositories_keeps_only_members_who_reach_every_repository(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let ws = workspace(store.as_ref(), "acme", &ada).await;
    let readers = group(store.as_ref(), &ws, "readers", Permission::Read).await;
    let nobody = group(store.as_ref(), &ws, "nobody", Permission::None).await;
    let r1 = repo(store.as_ref(), &ws, "r1").await;
    let r2 = repo(store.as_ref(), &ws, "r2").await;
    let bob = account(store.as_ref(), "bob").await; // group default read: reaches all
    store.add_member(readers, bob.id, &au()).await.unwrap();
    let cyd = account(store.as_ref(), "cyd").await; // grants on both: reaches all
    store.add_member(nobody, cyd.id, &au()).await.unwrap();
    store.set_grant(r1, cyd.id, Some(Permission::Read), &au()).await.unwrap();
    store.set_group_permission(nobody, r2, Some(Permission::Write), &au()).await.unwrap();
    let dee = account(store.as_ref(), "dee").await; // only r1: not all
    let only_r1 = group(store.as_ref(), &ws, "only-r1", Permission::None).await;
    store.add_member(only_r1, dee.id, &au()).await.unwrap();
    store.set_group_permission(only_r1, r1, Some(Permission::Admin), &au()).await.unwrap();
    let eve = account(store.as_ref(), "eve").await; // an explicit none grant reaches nothing
    store.add_member(only_r1, eve.id, &au()).await.unwrap();
    store.remove_member(only_r1, eve.id, &au()).await.unwrap();
    store.add_member(nobody, eve.id, &au()).await.unwrap();
    let names: Vec<String> = store
        .members(ws.id, None, 100, true)
        .await
        .unwrap()
        .iter()
        .map(|m| m.account.username.as_str().to_owned())
        .collect();
    // eve is in `nobody`, which has write on r2, but nothing on r1.
    assert_eq!(names, ["ada", "bob", "cyd"]);
    assert_eq!(store.members(ws.id, None, 100, false).await.unwrap().len(), 5);
}

pub async fn deleting_a_workspace_removes_what_it_held(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let ws = workspace(store.as_ref(), "acme", &ada).await;
    let devs = group(store.as_ref(), &ws, "devs", Permission::Read).await;
    let r = repo(store.as_ref(), &ws, "api").await;
    store.set_group_permission(devs, r, Some(Permission::Write), &au()).await.unwrap();
    store.set_grant(r, ada.id, Some(Permission::Admin), &au()).await.unwrap();
    let mut gone = au();
    gone.workspace = Some(ws.id);
    gone.action = "workspace.deleted".into();
    assert!(store.delete_workspace(ws.id, &gone).await.unwrap());
    assert!(store.workspace_by_slug(&slug("acme")).await.unwrap().is_none());
    assert!(store.workspaces_of(ada.id).await.unwrap().is_empty());
    assert!(store.groups(ws.id).await.unwrap().is_empty());
    assert!(store.repositories(ws.id).await.unwrap().is_empty());
    assert!(store.permission_snapshot(ws.id).await.unwrap().is_none());
    assert!(!store.delete_workspace(ws.id, &au()).await.unwrap());
    // The slug is free again.
    workspace(store.as_ref(), "acme", &ada).await;
}

pub async fn changes_are_audited_in_their_workspace(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let bob = account(store.as_ref(), "bob").await;
    let ws = workspace(store.as_ref(), "acme", &ada).await;
    let other = workspace(store.as_ref(), "other", &ada).await;
    let devs = group(store.as_ref(), &ws, "devs", Permission::Read).await;
    let entry = |action: &str, at: i64| Audit {
        workspace: Some(ws.id),
        actor: Some(ada.id),
        actor_label: "ada".into(),
        action: action.into(),
        target: "account:bob".into(),
        detail: Some("group devs".into()),
        ip: Some("192.0.2.7".into()),
        at: guildhall_core::Timestamp::from_millis(T0.as_millis() + at),
        data: None,
    };
    store.add_member(devs, bob.id, &entry("group.member_added", 1)).await.unwrap();
    // A no-op writes no audit row.
    store.add_member(devs, bob.id, &entry("group.member_added", 2)).await.unwrap();
    store.remove_member(devs, bob.id, &entry("group.member_removed", 3)).await.unwrap();
    let log = store.audit_log(ws.id, None, 10).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|(_, a)| a.action.as_str()).collect();
    assert_eq!(actions, ["group.member_removed", "group.member_added"]);
    assert_eq!(log[1].1, entry("group.member_added", 1));
    let older = store.audit_log(ws.id, Some(log[0].0), 10).await.unwrap();
    assert_eq!(older.len(), 1);
    assert!(store.audit_log(other.id, None, 10).await.unwrap().is_empty(), "audit leaked across workspaces");
    // A refused change writes nothing.
    let admins = admins(store.as_ref(), &ws).await;
    assert!(store.remove_member(admins, ada.id, &entry("group.member_removed", 4)).await.is_err());
    assert_eq!(store.audit_log(ws.id, None, 10).await.unwrap().len(), 2);
}

fn invite(
    ws: &Workspace,
    email: &str,
    groups: Vec<GroupId>,
    expires_in: u64,
) -> (guildhall_core::tokens::TokenHash, NewInvitation) {
    let t = guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes());
    let new = NewInvitation {
        id: InvitationId::from_uuid(uuid::Uuid::now_v7()),
        workspace: ws.id,
        token_hash: t.hash(),
        email: guildhall_core::accounts::Email::parse(email).unwrap(),
        username: None,
        invited_by: None,
        via_link: None,
        groups,
        now: T0,
        expires_at: T0.plus(std::time::Duration::from_secs(expires_in)),
    };
    (t.hash(), new)
}

pub async fn an_invitation_is_accepted_once_into_all_its_groups(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let bob = account(store.as_ref(), "bob").await;
    let ws = workspace(store.as_ref(), "acme", &ada).await;
    let devs = group(store.as_ref(), &ws, "devs", Permission::Read).await;
    let ops = group(store.as_ref(), &ws, "ops", Permission::Write).await;
    let (hash, new) = invite(&ws, "Bob@Example.com", vec![ops, devs], 3600);
    let inv = store.create_invitation(&new, &au()).await.unwrap();
    assert_eq!(inv.groups, vec![slug("devs"), slug("ops")]);
    assert_eq!(inv.state, InvitationState::Pending);
    assert_eq!(inv.email.as_str(), "Bob@Example.com");
    assert_eq!(store.invitation_by_token(&hash).await.unwrap().unwrap().id, inv.id);
    let (s1, s2) = (store.clone(), store.clone());
    let a = tokio::spawn(async move { s1.accept_invitation(&hash, bob.id, &au()).await.unwrap() });
    let b = tokio::spawn(async move { s2.accept_invitation(&hash, bob.id, &au()).await.unwrap() });
    assert_eq!([a.await.unwrap(), b.await.unwrap()].iter().filter(|x| **x).count(), 1, "accepted twice");
    let after = store.invitation(ws.id, inv.id).await.unwrap().unwrap();
    assert_eq!((after.state, after.accepted_by), (InvitationState::Accepted, Some(bob.id)));
    assert_eq!(store.membership(ws.id, bob.id).await.unwrap(), (true, false));
    let names: Vec<_> = store.members(ws.id, Some("ada"), 10, false).await.unwrap().remove(0).groups;
    assert_eq!(names, vec![slug("devs"), slug("ops")]);
    assert!(!store.revoke_invitation(inv.id, &au()).await.unwrap(), "an accepted invitation was revoked");
    let other = workspace(store.as_ref(), "other", &ada).await;
    assert!(store.invitation(other.id, inv.id).await.unwrap().is_none(), "an invitation leaked across workspaces");
}

pub async fn resending_replaces_the_token_and_revoking_ends_the_invitation(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let bob = account(store.as_ref(), "bob").await;
    let ws = workspace(store.as_ref(), "acme", &ada).await;
    let devs = group(store.as_ref(), &ws, "devs", Permission::Read).await;
    let (old, new) = invite(&ws, "bob@example.com", vec![devs], 3600);
    let inv = store.create_invitation(&new, &au()).await.unwrap();
    let fresh = guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes()).hash();
    let later = T0.plus(std::time::Duration::from_secs(7200));
    assert!(store.resend_invitation(inv.id, &fresh, later, &au()).await.unwrap());
    assert!(store.invitation_by_token(&old).await.unwrap().is_none(), "the old link still works");
    assert!(!store.accept_invitation(&old, bob.id, &au()).await.unwrap(), "the old token was accepted after a resend");
    let mut too_late = au();
    too_late.at = later;
    assert!(!store.accept_invitation(&fresh, bob.id, &too_late).await.unwrap(), "an expired invitation was accepted");
    assert_eq!(store.invitation_by_token(&fresh).await.unwrap().unwrap().expires_at, later);
    assert!(store.revoke_invitation(inv.id, &au()).await.unwrap());
    assert_eq!(store.invitation(ws.id, inv.id).await.unwrap().unwrap().state, InvitationState::Revoked);
    assert!(!store.resend_invitation(inv.id, &old, later, &au()).await.unwrap());
    assert!(!store.accept_invitation(&fresh, bob.id, &au()).await.unwrap(), "a revoked invitation was accepted");
    assert_eq!(store.membership(ws.id, bob.id).await.unwrap(), (false, false));
    assert_eq!(store.invitations(ws.id).await.unwrap().len(), 1);
}

pub async fn access_tokens_work_until_revoked_or_expired(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let bob = account(store.as_ref(), "bob").await;
    let secret = guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes());
    let new = NewAccessToken {
        id: AccessTokenId::from_uuid(uuid::Uuid::now_v7()),
        account: ada.id,
        name: "ci".into(),
        token_hash: secret.hash(),
        scopes: vec!["workspaces:read".into(), "workspaces:admin".into()],
        now: T0,
        expires_at: Some(T0.plus(std::time::Duration::from_secs(60))),
    };
    let t = store.create_access_token(&new).await.unwrap();
    let (found, who) = store.access_token_by_hash(&secret.hash(), T0).await.unwrap().unwrap();
    assert_eq!((found.id, who.id), (t.id, ada.id));
    assert_eq!(found.scopes, ["workspaces:read", "workspaces:admin"]);
    assert_eq!(store.access_tokens(ada.id).await.unwrap()[0].last_used_at, None, "a lookup is not a use");
    store.touch_access_token(t.id, T0.plus(std::time::Duration::from_secs(5))).await.unwrap();
    let used = store.access_tokens(ada.id).await.unwrap()[0].last_used_at;
    assert_eq!(used, Some(T0.plus(std::time::Duration::from_secs(5))));
    // Recovering the account with a password reset revokes its tokens.
    let reset = guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes());
    let t_reset = guildhall_app::ports::NewEmailToken {
        hash: reset.hash(),
        purpose: guildhall_app::ports::EmailTokenPurpose::ResetPassword,
        expires_at: T0.plus(std::time::Duration::from_secs(60)),
    };
    let kept = store
        .create_access_token(&NewAccessToken {
            id: AccessTokenId::from_uuid(uuid::Uuid::now_v7()),
            token_hash: guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes()).hash(),
            account: bob.id,
            ..clone_token(&new)
        })
        .await
        .unwrap();
    store.issue_email_token(ada.id, &t_reset, T0).await.unwrap();
    store.reset_password(&reset.hash(), "$argon2id$new", None, T0).await.unwrap().unwrap();
    assert!(store.access_token_by_hash(&secret.hash(), T0).await.unwrap().is_none(), "a token survived the reset");
    assert_eq!(store.access_tokens(bob.id).await.unwrap(), vec![kept], "another account's token was revoked");
    let t = store.create_access_token(&new).await.unwrap();
    let late = T0.plus(std::time::Duration::from_secs(60));
    assert!(store.access_token_by_hash(&secret.hash(), late).await.unwrap().is_none(), "expired token works");
    store.set_account_status(ada.id, guildhall_core::accounts::AccountStatus::Deactivated, T0).await.unwrap();
    assert!(
        store.access_token_by_hash(&secret.hash(), T0).await.unwrap().is_none(),
        "deactivated account's token works"
    );
    store.set_account_status(ada.id, guildhall_core::accounts::AccountStatus::Active, T0).await.unwrap();
    assert!(!store.revoke_access_token(bob.id, t.id).await.unwrap(), "bob revoked ada's token");
    assert!(store.revoke_access_token(ada.id, t.id).await.unwrap());
    assert!(store.access_token_by_hash(&secret.hash(), T0).await.unwrap().is_none());
    assert!(store.access_tokens(ada.id).await.unwrap().is_empty());
}

/// The feed's newest change and its number.
async fn newest_change(store: &dyn Store) -> (i64, Option<Change>) {
    let latest = store.latest_change().await.unwrap();
    let change = store.changes_since(latest - 1, 10).await.unwrap().first().map(|(_, c)| *c);
    (latest, change)
}

pub async fn every_change_moves_the_workspace_version_and_enters_the_feed(store: Arc<dyn Store>) {
    let ada = account(store.as_ref(), "ada").await;
    let bob = account(store.as_ref(), "bob").await;
    let ws = workspace(store.as_ref(), "acme", &ada).await;
    let version = |store: Arc<dyn Store>| async move {
        let v = store.workspace_version(&slug("acme")).await.unwrap().unwrap().1;
        (v, newest_change(store.as_ref()).await)
    };
    let (mut last, (mut seq, _)) = version(store.clone()).await;
    let mut audit = au();
    audit.workspace = Some(ws.id);
    let devs = {
        let new = NewGroup {
            id: GroupId::from_uuid(uuid::Uuid::now_v7()),
            slug: slug("devs"),
            name: "d".into(),
            default_permission: Permission::Read,
        };
        store.create_group(ws.id, &new, &audit).await.unwrap().id
    };
    let mut moved = |(v, (s, change)): (i64, (i64, Option<Change>)), what: &str| {
        assert!(v > last, "{what} did not move the version");
        assert_eq!((s, change), (seq + 1, Some(Change::Workspace(ws.id))), "{what} is not the next change");
        last = v;
        seq = s;
    };
    moved(version(store.clone()).await, "creating a group");
    store.add_member(devs, bob.id, &audit).await.unwrap();
    moved(version(store.clone()).await, "adding a member");
    let new = NewRepository {
        id: RepositoryId::from_uuid(uuid::Uuid::now_v7()),
        slug: slug("api"),
        name: "a".into(),
        private: true,
    };
    let r = store.create_repository(ws.id, &new, &audit).await.unwrap().id;
    moved(version(store.clone()).await, "creating a repository");
    store.set_grant(r, bob.id, Some(Permission::Admin), &audit).await.unwrap();
    moved(version(store.clone()).await, "a grant");
    store.set_group_permission(devs, r, Some(Permission::Write), &audit).await.unwrap();
    moved(version(store.clone()).await, "a group permission");
    store.remove_member(devs, bob.id, &audit).await.unwrap();
    moved(version(store.clone()).await, "removing a member");
    // A no-op moves nothing.
    store.remove_member(devs, bob.id, &audit).await.unwrap();
    assert_eq!(version(store.clone()).await.0, last, "a no-op moved the version");
    assert_eq!(store.latest_change().await.unwrap(), seq, "a no-op entered the feed");
    let snapshot = store.permission_snapshot(ws.id).await.unwrap().unwrap();
    assert_eq!(snapshot.version, last);
    store.delete_workspace(ws.id, &audit).await.unwrap();
    assert_eq!(newest_change(store.as_ref()).await, (seq + 1, Some(Change::Workspace(ws.id))), "deletion");
}

fn clone_token(t: &NewAccessToken) -> NewAccessToken {
    NewAccessToken {
        id: t.id,
        account: t.account,
        name: t.name.clone(),
        token_hash: t.token_hash,
        scopes: t.scopes.clone(),
        now: t.now,
        expires_at: t.expires_at,
    }
}

pub async fn an_authorization_code_is_spent_once_and_a_replay_is_told_apart(store: Arc<dyn Store>) {
    use guildhall_app::ports::{AuthorizationCode, CodeUse, Product};
    use guildhall_core::{GrantId, ProductId};
    let ada = account(store.as_ref(), "ada").await;
    let product = Product {
        id: ProductId::from_uuid(uuid::Uuid::now_v7()),
        name: "Tracker".into(),
        secret_hash: Some(guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes()).hash()),
        first_party: true,
        redirect_uris: vec!["https://tracker.example.com/cb".into(), "http://127.0.0.1:9/cb".into()],
        scopes: "openid profile".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        homepage: Some("https://tracker.example.com".into()),
        owner: None,
        created_at: T0,
    };
    store.create_product(&product).await.unwrap();
    assert_eq!(store.product(product.id).await.unwrap(), Some(product.clone()));
    assert_eq!(store.product(ProductId::from_uuid(uuid::Uuid::now_v7())).await.unwrap(), None);
    let code = AuthorizationCode {
        hash: guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes()).hash(),
        grant: GrantId::from_uuid(uuid::Uuid::now_v7()),
        product: product.id,
        account: ada.id,
        redirect_uri: "https://tracker.example.com/cb".into(),
        scopes: "openid".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: None,
        auth_time: T0,
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        expires_at: T0.plus(std::time::Duration::from_secs(60)),
    };
    store.create_authorization_code(&code).await.unwrap();
    // Eight racing exchanges: exactly one spends it.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, hash) = (store.clone(), code.hash);
        tasks.push(tokio::spawn(async move { store.use_authorization_code(&hash, T0).await.unwrap() }));
    }
    let mut fresh = 0;
    for t in tasks {
        match t.await.unwrap() {
            CodeUse::Fresh(c) => {
                assert_eq!(c, code);
                fresh += 1;
            }
            CodeUse::Replayed(c) => assert_eq!(c.grant, code.grant),
            CodeUse::Invalid => panic!("a spent code was reported unknown"),
        }
    }
    assert_eq!(fresh, 1, "a code was spent more than once");
    assert!(!store.grant_revoked(code.grant).await.unwrap());
    let before = store.latest_change().await.unwrap();
    store.revoke_grant(code.grant, T0).await.unwrap();
    store.revoke_grant(code.grant, T0).await.unwrap();
    assert!(store.grant_revoked(code.grant).await.unwrap());
    let feed = store.changes_since(before, 10).await.unwrap();
    assert_eq!(feed, vec![(before + 1, Change::Grant(code.grant))], "a revocation is one change, a repeat none");
    // An expired code is invalid, not replayed.
    let late = AuthorizationCode {
        hash: guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes()).hash(),
        grant: GrantId::from_uuid(uuid::Uuid::now_v7()),
        ..code.clone()
    };
    store.create_authorization_code(&late).await.unwrap();
    assert_eq!(store.use_authorization_code(&late.hash, late.expires_at).await.unwrap(), CodeUse::Invalid);
}

pub async fn signing_keys_are_listed_newest_first(store: Arc<dyn Store>) {
    use guildhall_app::ports::SigningKey;
    let key = |kid: &str, at: i64| SigningKey {
        kid: kid.into(),
        alg: "EdDSA".into(),
        private_sealed: vec![1, 2, 3],
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        created_at: T0.plus(std::time::Duration::from_secs(u64::try_from(at).unwrap())),
    };
    assert!(store.signing_keys().await.unwrap().is_empty());
    store.insert_signing_key(&key("old", 0)).await.unwrap();
    store.insert_signing_key(&key("new", 60)).await.unwrap();
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys, vec![key("new", 60), key("old", 0)]);
}

pub async fn a_refresh_token_is_spent_once_and_a_reuse_is_told_apart(store: Arc<dyn Store>) {
    use guildhall_app::ports::{Product, RefreshToken, RefreshUse};
    use guildhall_core::{GrantId, ProductId};
    let ada = account(store.as_ref(), "ada").await;
    let product = Product {
        id: ProductId::from_uuid(uuid::Uuid::now_v7()),
        name: "Tracker".into(),
        secret_hash: None,
        first_party: true,
        redirect_uris: vec!["https://tracker.example.com/cb".into()],
        scopes: "openid offline_access".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        homepage: None,
        owner: None,
        created_at: T0,
    };
    store.create_product(&product).await.unwrap();
    let token = RefreshToken {
        hash: guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes()).hash(),
        grant: GrantId::from_uuid(uuid::Uuid::now_v7()),
        product: product.id,
        account: ada.id,
        scopes: "openid offline_access".into(),
        auth_time: T0,
        amr: vec!["fed".into()],
        expires_at: T0.plus(std::time::Duration::from_secs(60)),
    };
    store.create_refresh_token(&token).await.unwrap();
    assert_eq!(store.refresh_token(&token.hash).await.unwrap(), Some(token.clone()), "peeking");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, hash) = (store.clone(), token.hash);
        tasks.push(tokio::spawn(async move { store.use_refresh_token(&hash, T0).await.unwrap() }));
    }
    let mut fresh = 0;
    for t in tasks {
        match t.await.unwrap() {
            RefreshUse::Fresh(r) => {
                assert_eq!(r, token);
                fresh += 1;
            }
            RefreshUse::Replayed(r) => assert_eq!(r.grant, token.grant),
            RefreshUse::Invalid => panic!("a spent refresh token was reported unknown"),
        }
    }
    assert_eq!(fresh, 1, "a refresh token was spent more than once");
    assert!(
        store.refresh_token(&token.hash).await.unwrap().is_some(),
        "a spent token must still be found for revocation"
    );
    let late = RefreshToken {
        hash: guildhall_core::tokens::SecretToken::from_random_bytes(super::rand_bytes()).hash(),
        ..token.clone()
    };
    store.create_refresh_token(&late).await.unwrap();
    assert_eq!(store.use_refresh_token(&late.hash, late.expires_at).await.unwrap(), RefreshUse::Invalid);
}
