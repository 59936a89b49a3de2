//! Conformance of `EventStore` and `ScimStore` (ADR 0011).

use super::{T0, new_account};
use guildhall_app::ports::{
    Audit, DirectoryToken, EventScope, GroupWrite, NewGroup, NewOrg, NewWorkspace, Page, Store, StoreError, UserKey,
    UserWrite,
};
use guildhall_core::accounts::{AccountStatus, DisplayName, Email};
use guildhall_core::tokens::SecretToken;
use guildhall_core::workspaces::{Permission, Plan, Slug};
use guildhall_core::{GroupId, OrgId, WorkspaceId};
use serde_json::json;
use std::sync::Arc;

fn au(ws: Option<WorkspaceId>, action: &str) -> Audit {
    Audit {
        workspace: ws,
        actor: None,
        actor_label: "test".into(),
        action: action.into(),
        target: "test".into(),
        detail: None,
        ip: None,
        at: T0,
        data: None,
    }
}

/// A workspace `acme` with a group; returns (workspace, group).
async fn workspace(store: &dyn Store, creator: guildhall_core::AccountId) -> (WorkspaceId, GroupId) {
    let ws = WorkspaceId::from_uuid(uuid::Uuid::now_v7());
    let new = NewWorkspace {
        id: ws,
        slug: Slug::parse("acme").unwrap(),
        name: "Acme".into(),
        plan: Plan::Free,
        creator,
        admins_group: GroupId::from_uuid(uuid::Uuid::now_v7()),
        now: T0,
    };
    store.create_workspace(&new, &au(Some(ws), "workspace.created")).await.unwrap();
    let group = NewGroup {
        id: GroupId::from_uuid(uuid::Uuid::now_v7()),
        slug: Slug::parse("devs").unwrap(),
        name: "Devs".into(),
        default_permission: Permission::Read,
    };
    let g = store.create_group(ws, &group, &au(Some(ws), "group.created")).await.unwrap().id;
    (ws, g)
}

pub async fn events_are_numbered_gaplessly_in_commit_order_under_racing_writers(store: Arc<dyn Store>) {
    let ada = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let (ws, group) = workspace(store.as_ref(), ada.id).await;
    let before = store.latest_event().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let a = store
                .create_account(&new_account(&format!("user{i}"), &format!("u{i}@example.com")), None)
                .await
                .unwrap();
            let audit = au(Some(ws), "group.member_added").with_data(json!({ "account": { "id": a.id.0 }, "n": i }));
            store.add_member(group, a.id, &audit).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = store.events_after(EventScope::Workspace(ws), before, 1000).await.unwrap();
    assert_eq!(events.len(), 16);
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, ((before + 1)..=(before + 16)).collect::<Vec<_>>(), "numbers have gaps or are out of order");
    assert_eq!(store.latest_event().await.unwrap(), before + 16);
    let mut ns: Vec<i64> = events.iter().map(|e| e.data["n"].as_i64().unwrap()).collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..16).collect::<Vec<_>>(), "an event lost its data");
    assert!(events.iter().all(|e| e.kind == "group.member_added" && e.data["actor"] == "test"));
    // Paging by cursor, and another scope sees none of them.
    let first = store.events_after(EventScope::Workspace(ws), before, 5).await.unwrap();
    let rest = store.events_after(EventScope::Workspace(ws), first[4].seq, 1000).await.unwrap();
    assert_eq!(first.len() + rest.len(), 16);
    let other = EventScope::Workspace(WorkspaceId::from_uuid(uuid::Uuid::now_v7()));
    assert!(store.events_after(other, 0, 1000).await.unwrap().is_empty());
    // A change that changes nothing writes no event.
    let someone = store
        .find_account(guildhall_app::ports::AccountLookup::Email(&Email::parse("u0@example.com").unwrap()))
        .await
        .unwrap()
        .unwrap();
    store.add_member(group, someone.account.id, &au(Some(ws), "group.member_added")).await.unwrap();
    assert_eq!(store.latest_event().await.unwrap(), before + 16, "a repeated addition wrote an event");
    // An account's status change is told to each of its workspaces.
    store.set_account_status(someone.account.id, AccountStatus::Deactivated, T0).await.unwrap();
    let last = store.events_after(EventScope::Workspace(ws), before + 16, 10).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].kind.as_str(), last[0].data["account"]["active"].as_bool()), ("account.updated", Some(false)));
}

pub async fn a_snapshot_carries_the_cursor_of_the_state_it_shows(store: Arc<dyn Store>) {
    let ada = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let bob = store.create_account(&new_account("bob", "bob@example.com"), None).await.unwrap();
    let (ws, group) = workspace(store.as_ref(), ada.id).await;
    let snap = store.directory_snapshot(ws).await.unwrap().unwrap();
    assert_eq!(snap.cursor, store.latest_event().await.unwrap());
    assert_eq!(snap.members.iter().map(|m| m.username.as_str()).collect::<Vec<_>>(), ["ada"]);
    store.add_member(group, bob.id, &au(Some(ws), "group.member_added")).await.unwrap();
    let next = store.directory_snapshot(ws).await.unwrap().unwrap();
    assert_eq!(next.cursor, snap.cursor + 1);
    let devs = next.groups.iter().find(|g| g.slug == "devs").unwrap();
    assert_eq!(devs.members, vec![bob.id]);
    let events = store.events_after(EventScope::Workspace(ws), snap.cursor, 10).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [next.cursor]);
    assert!(store.directory_snapshot(WorkspaceId::from_uuid(uuid::Uuid::now_v7())).await.unwrap().is_none());
}

/// Followers, and provisioning (which pushes only verified addresses),
/// learn that an address was verified.
pub async fn verifying_an_address_enters_the_logs_of_its_workspaces(store: Arc<dyn Store>) {
    let ada = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let (hash, t) =
        super::token(guildhall_app::ports::EmailTokenPurpose::VerifyEmail, T0.plus(std::time::Duration::from_secs(60)));
    let bob = store.create_account(&new_account("bob", "bob@example.com"), Some(&t)).await.unwrap();
    let (ws, group) = workspace(store.as_ref(), ada.id).await;
    store.add_member(group, bob.id, &au(Some(ws), "group.member_added")).await.unwrap();
    let before = store.latest_event().await.unwrap();
    assert!(store.verify_email(&hash, T0).await.unwrap().unwrap().email_verified);
    let events = store.events_after(EventScope::Workspace(ws), before, 10).await.unwrap();
    let seen: Vec<_> = events.iter().map(|e| (e.kind.as_str(), &e.data["account"])).collect();
    assert_eq!(seen.len(), 1, "{events:?}");
    assert_eq!(seen[0].0, "account.updated");
    assert_eq!((&seen[0].1["id"], &seen[0].1["email_verified"]), (&json!(bob.id.0), &json!(true)));
}

pub async fn user_conditions_narrow_a_workspace_by_its_members_own_columns(store: Arc<dyn Store>) {
    use guildhall_app::ports::{TextOp, UserCondition as C, UserField};
    let ada = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let (ws, group) = workspace(store.as_ref(), ada.id).await;
    let outsider = store.create_account(&new_account("zed", "zed@example.com"), None).await.unwrap();
    let mut names = std::collections::HashMap::from([(ada.id, "ada"), (outsider.id, "zed")]);
    for (username, display) in [("bob", "Bob_Smith"), ("cy", "Cy 100%"), ("dee", "D\u{e9}sir\u{e9}e")] {
        let mut new = new_account(username, &format!("{username}@Example.com"));
        new.display_name = DisplayName::parse(display).unwrap();
        let a = store.create_account(&new, None).await.unwrap();
        store.add_member(group, a.id, &au(Some(ws), "group.member_added")).await.unwrap();
        names.insert(a.id, username);
    }
    let text = |field, op, value: &str| C::Text { field, op, value: value.into() };
    let scope = EventScope::Workspace(ws);
    let found = |c: C| {
        let (store, names) = (store.clone(), names.clone());
        async move {
            let ids = store.scim_user_ids_where(scope, &c).await.unwrap();
            ids.iter().map(|id| names[id]).collect::<Vec<_>>()
        }
    };
    // Members only, by username; text compared lowercased, wildcards as
    // themselves; a value that is not plain ASCII is always a candidate.
    assert_eq!(found(C::All(vec![])).await, ["ada", "bob", "cy", "dee"]);
    assert_eq!(found(C::Any(vec![])).await, Vec::<&str>::new());
    assert_eq!(found(text(UserField::UserName, TextOp::Eq, "bob")).await, ["bob"]);
    assert_eq!(found(text(UserField::DisplayName, TextOp::Contains, "_")).await, ["bob", "dee"]);
    assert_eq!(found(text(UserField::DisplayName, TextOp::EndsWith, "0%")).await, ["cy", "dee"]);
    assert_eq!(found(text(UserField::DisplayName, TextOp::StartsWith, "bob_s")).await, ["bob", "dee"]);
    assert_eq!(found(text(UserField::Email, TextOp::EndsWith, "@example.com")).await, ["ada", "bob", "cy", "dee"]);
    let either = C::Any(vec![text(UserField::UserName, TextOp::StartsWith, "c"), C::Active(false)]);
    assert_eq!(found(either).await, ["cy"]);
    let both = C::All(vec![text(UserField::Email, TextOp::Contains, "b@"), C::Active(true)]);
    assert_eq!(found(both).await, ["bob"]);
}

pub async fn directory_tokens_are_scoped_and_revocable(store: Arc<dyn Store>) {
    let ada = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let (ws, _) = workspace(store.as_ref(), ada.id).await;
    let secret = SecretToken::from_random_bytes([7; 32]);
    let token = DirectoryToken {
        id: uuid::Uuid::now_v7(),
        scope: EventScope::Workspace(ws),
        name: "scanner".into(),
        created_by: "ada".into(),
        created_at: T0,
        last_used_at: None,
    };
    store.create_directory_token(&token, &secret.hash(), &au(Some(ws), "directory_token.created")).await.unwrap();
    let found = store.directory_token_by_hash(&secret.hash(), T0).await.unwrap().unwrap();
    assert_eq!((found.id, found.scope), (token.id, token.scope));
    assert_eq!(store.directory_tokens(EventScope::Workspace(ws)).await.unwrap().len(), 1);
    let elsewhere = EventScope::Org(OrgId::from_uuid(uuid::Uuid::now_v7()));
    assert!(store.directory_tokens(elsewhere).await.unwrap().is_empty());
    assert!(
        !store.revoke_directory_token(elsewhere, token.id, &au(None, "x")).await.unwrap(),
        "revoked from elsewhere"
    );
    assert!(store.directory_token_by_hash(&secret.hash(), T0).await.unwrap().is_some());
    assert!(
        store.revoke_directory_token(token.scope, token.id, &au(Some(ws), "directory_token.revoked")).await.unwrap()
    );
    assert!(store.directory_token_by_hash(&secret.hash(), T0).await.unwrap().is_none());
}

fn user_write(user_name: &str, email: &str, active: bool) -> UserWrite {
    UserWrite {
        user_name: user_name.into(),
        email: Email::parse(email).unwrap(),
        email_verified: true,
        display_name: DisplayName::parse(user_name).unwrap(),
        attributes: json!({ "name": { "givenName": user_name } }),
        external_id: Some(format!("ext-{user_name}")),
        active,
        now: T0,
    }
}

pub async fn an_org_directory_finds_hides_and_takes_back_its_users(store: Arc<dyn Store>) {
    let ada = store.create_account(&new_account("ada", "ada@example.com"), None).await.unwrap();
    let new_org = NewOrg {
        id: OrgId::from_uuid(uuid::Uuid::now_v7()),
        slug: Slug::parse("acme").unwrap(),
        name: "Acme".into(),
        creator: ada.id,
        now: T0,
    };
    let org = store.create_org(&new_org, &au(None, "org.created")).await.unwrap();
    let scope = EventScope::Org(org.id);
    let one = Page { offset: 0, limit: Some(10) };
    let mut new = new_account("grace", "grace@acme.example");
    new.password_hash = None;
    let grace = store
        .scim_create_user(
            org.id,
            &new,
            &user_write("Grace@Acme.example", "grace@acme.example", true),
            &au(None, "scim.user_provisioned"),
        )
        .await
        .unwrap();
    assert_eq!(grace.user_name.as_deref(), Some("Grace@Acme.example"));
    assert_eq!(grace.account.managed_by, Some(org.id));
    for key in [
        UserKey::UserName("grace@ACME.example"),
        UserKey::ExternalId("ext-Grace@Acme.example"),
        UserKey::Email("GRACE@acme.example"),
        UserKey::Id(grace.account.id),
    ] {
        let (n, found) = store.scim_users(scope, Some(key), one).await.unwrap();
        assert_eq!((n, found.first().map(|u| u.account.id)), (1, Some(grace.account.id)), "{key:?}");
    }
    assert_eq!(
        store.scim_users(scope, Some(UserKey::ExternalId("ext-grace@acme.example")), one).await.unwrap().0,
        0,
        "externalId is case-exact"
    );
    assert_eq!(
        store.scim_users(EventScope::Org(OrgId::from_uuid(uuid::Uuid::now_v7())), None, one).await.unwrap().0,
        0
    );
    // Another account with the address is a conflict, and nothing is made.
    let mut dup = new_account("grace2", "ada@example.com");
    dup.password_hash = None;
    match store.scim_create_user(org.id, &dup, &user_write("g2", "ada@example.com", true), &au(None, "x")).await {
        Err(StoreError::Conflict("email")) => {}
        other => panic!("a second account with ada's address: {other:?}"),
    }
    assert_eq!(store.scim_users(scope, None, one).await.unwrap().0, 1);
    // A group of the org's users only.
    let write = GroupWrite { display_name: "Eng".into(), external_id: None, members: vec![grace.account.id], now: T0 };
    let g =
        store.scim_create_group(org.id, uuid::Uuid::now_v7(), &write, &au(None, "scim.group_created")).await.unwrap();
    assert_eq!(g.members.len(), 1);
    let bad = GroupWrite { members: vec![ada.id], ..write.clone() };
    match store.scim_replace_group(org.id, g.id, &bad, &au(None, "x")).await {
        Err(StoreError::Conflict("member")) => {}
        other => panic!("an unmanaged member joined: {other:?}"),
    }
    assert_eq!(
        store.scim_groups(scope, Some(g.id), one).await.unwrap().1[0].members.len(),
        1,
        "a refused replace changed the group"
    );
    match store.scim_create_group(org.id, uuid::Uuid::now_v7(), &write, &au(None, "x")).await {
        Err(StoreError::Conflict("display_name")) => {}
        other => panic!("two groups named Eng: {other:?}"),
    }
    // Deleted: deactivated, hidden, out of the group; provisioning the address again takes it back.
    assert!(store.scim_delete_user(org.id, grace.account.id, &au(None, "scim.user_deleted")).await.unwrap());
    assert_eq!(store.scim_users(scope, None, one).await.unwrap().0, 0);
    assert!(store.scim_groups(scope, Some(g.id), one).await.unwrap().1[0].members.is_empty());
    assert!(!store.scim_delete_user(org.id, grace.account.id, &au(None, "x")).await.unwrap());
    let mut again = new_account("grace-again", "grace@acme.example");
    again.password_hash = None;
    let back = store
        .scim_create_user(org.id, &again, &user_write("grace@acme.example", "grace@acme.example", true), &au(None, "x"))
        .await
        .unwrap();
    assert_eq!(back.account.id, grace.account.id);
    assert_eq!(back.account.status, AccountStatus::Active);
}
