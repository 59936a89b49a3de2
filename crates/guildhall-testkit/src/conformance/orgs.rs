//! Conformance of `OrgStore`.

use super::{T0, new_account};
use guildhall_app::ports::{Audit, Change, NewOrg, OrgDomain, Store, StoreError};
use guildhall_core::orgs::DomainName;
use guildhall_core::workspaces::Slug;
use guildhall_core::{OrgId, Timestamp};
use std::sync::Arc;

fn au(action: &str) -> Audit {
    Audit {
        workspace: None,
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

fn new_org(slug: &str, creator: guildhall_core::AccountId) -> NewOrg {
    NewOrg {
        id: OrgId::from_uuid(uuid::Uuid::now_v7()),
        slug: Slug::parse(slug).unwrap(),
        name: slug.to_uppercase(),
        creator,
        now: T0,
    }
}

fn domain(d: &str, token: &str) -> OrgDomain {
    OrgDomain { domain: DomainName::parse(d).unwrap(), token: token.into(), verified_at: None, created_at: T0 }
}

pub async fn an_org_keeps_its_last_admin_and_its_slug(store: Arc<dyn Store>) {
    let ada = store.create_account(&new_account("ada", "ada@a.example"), None).await.unwrap();
    let bob = store.create_account(&new_account("bob", "bob@b.example"), None).await.unwrap();
    let org = store.create_org(&new_org("acme", ada.id), &au("org.created")).await.unwrap();
    assert!(store.is_org_admin(org.id, ada.id).await.unwrap());
    assert!(!store.is_org_admin(org.id, bob.id).await.unwrap());
    assert_eq!(store.org_by_slug(&org.slug).await.unwrap(), Some(org.clone()));
    assert_eq!(store.orgs_of_admin(ada.id).await.unwrap(), vec![org.clone()]);
    match store.create_org(&new_org("acme", bob.id), &au("org.created")).await {
        Err(StoreError::Conflict("slug")) => {}
        other => panic!("a second acme: {other:?}"),
    }
    match store.set_org_admin(org.id, ada.id, false, &au("x")).await {
        Err(StoreError::Conflict("last_admin")) => {}
        other => panic!("the last admin left: {other:?}"),
    }
    assert!(store.is_org_admin(org.id, ada.id).await.unwrap(), "a refused removal changed something");
    assert!(store.set_org_admin(org.id, bob.id, true, &au("org.admin_added")).await.unwrap());
    assert!(!store.set_org_admin(org.id, bob.id, true, &au("org.admin_added")).await.unwrap(), "a repeat changed");
    // Two admins removing each other at once: one stays.
    let (s1, s2) = (store.clone(), store.clone());
    let (a, b) = (ada.id, bob.id);
    let (r1, r2) = tokio::join!(
        tokio::spawn(async move { s1.set_org_admin(org.id, a, false, &au("x")).await }),
        tokio::spawn(async move { s2.set_org_admin(org.id, b, false, &au("x")).await })
    );
    let ok = [r1.unwrap(), r2.unwrap()].iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "both admins left, or neither");
    assert_eq!(store.org_admins(org.id).await.unwrap().len(), 1);
    let log = store.org_audit_log(org.id, None, 10).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|(_, a)| a.action.as_str()).collect();
    assert_eq!(actions, ["x", "org.admin_added", "org.created"], "refused and no-op changes were audited");
}

pub async fn verifying_a_domain_manages_exactly_its_accounts_and_removing_it_frees_them(store: Arc<dyn Store>) {
    let ada = store.create_account(&new_account("ada", "ada@acme.example"), None).await.unwrap();
    // On a subdomain: never managed by a verification of the parent.
    store.create_account(&new_account("sam", "sam@eu.acme.example"), None).await.unwrap();
    let other = store.create_account(&new_account("oz", "oz@globex.example"), None).await.unwrap();
    let org = store.create_org(&new_org("acme", other.id), &au("org.created")).await.unwrap();
    let rival = store.create_org(&new_org("rival", other.id), &au("org.created")).await.unwrap();
    let acme = DomainName::parse("acme.example").unwrap();
    store.add_domain(org.id, &domain("acme.example", "t1"), &au("domain.added")).await.unwrap();
    match store.add_domain(org.id, &domain("acme.example", "t2"), &au("domain.added")).await {
        Err(StoreError::Conflict("domain")) => {}
        other => panic!("a domain was claimed twice by one org: {other:?}"),
    }
    store.add_domain(rival.id, &domain("acme.example", "t3"), &au("domain.added")).await.unwrap();
    assert_eq!(store.org_domains(org.id).await.unwrap()[0].token, "t1");
    let before = store.latest_change().await.unwrap();
    let managed = store.verify_domain(org.id, &acme, T0, &au("domain.verified")).await.unwrap().unwrap();
    assert_eq!(managed.iter().map(|a| a.username.as_str()).collect::<Vec<_>>(), ["ada"], "subdomains or others");
    assert_eq!(managed[0].managed_by, Some(org.id));
    assert_eq!(store.changes_since(before, 10).await.unwrap(), vec![(before + 1, Change::Account(ada.id))]);
    assert!(store.org_domains(org.id).await.unwrap()[0].verified_at.is_some());
    match store.verify_domain(rival.id, &acme, T0, &au("domain.verified")).await {
        Err(StoreError::Conflict("domain_taken")) => {}
        other => panic!("two orgs verified one domain: {other:?}"),
    }
    let unknown = DomainName::parse("nope.example").unwrap();
    assert_eq!(store.verify_domain(org.id, &unknown, T0, &au("x")).await.unwrap(), None);
    // New sign-ups on the domain are managed from the start.
    let new = store.create_account(&new_account("nia", "Nia@ACME.example"), None).await.unwrap();
    assert_eq!(new.managed_by, Some(org.id));
    let names =
        |v: Vec<guildhall_core::accounts::Account>| v.into_iter().map(|a| a.username.to_string()).collect::<Vec<_>>();
    assert_eq!(names(store.managed_accounts(org.id).await.unwrap()), ["ada", "nia"]);
    assert!(store.managed_accounts(rival.id).await.unwrap().is_empty());
    // Removing the domain makes them personal again; the rival may verify.
    assert!(store.remove_domain(org.id, &acme, &au("domain.removed")).await.unwrap());
    assert!(!store.remove_domain(org.id, &acme, &au("domain.removed")).await.unwrap());
    assert!(store.managed_accounts(org.id).await.unwrap().is_empty());
    let ada_now = store.find_account(guildhall_app::ports::AccountLookup::Id(ada.id)).await.unwrap().unwrap();
    assert_eq!(ada_now.account.managed_by, None);
    let later = Timestamp::from_millis(T0.as_millis() + 1);
    assert_eq!(names(store.verify_domain(rival.id, &acme, later, &au("v")).await.unwrap().unwrap()), ["ada", "nia"]);
}

pub async fn a_workspace_is_auto_linked_once_however_many_race(store: Arc<dyn Store>) {
    use guildhall_app::ports::{AutoLink, NewWorkspace};
    use guildhall_core::workspaces::Plan;
    let ada = store.create_account(&new_account("ada", "ada@a.example"), None).await.unwrap();
    let new = NewWorkspace {
        id: guildhall_core::WorkspaceId::from_uuid(uuid::Uuid::now_v7()),
        slug: Slug::parse("team").unwrap(),
        name: "Team".into(),
        plan: Plan::Paid,
        creator: ada.id,
        admins_group: guildhall_core::GroupId::from_uuid(uuid::Uuid::now_v7()),
        now: T0,
    };
    let ws = store.create_workspace(&new, &au("workspace.created")).await.unwrap();
    assert_eq!(store.unlinked_paid_workspaces().await.unwrap(), vec![ws.clone()]);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let link = AutoLink {
                workspace: ws.id,
                org: OrgId::from_uuid(uuid::Uuid::now_v7()),
                slug: Slug::parse(&format!("team-{i}")).unwrap(),
                name: "Team".into(),
                now: T0,
            };
            store.auto_link_workspace(&link, &au("workspace.linked"), &au("org.created")).await.unwrap()
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        if let Some(admins) = t.await.unwrap() {
            winners.push(admins);
        }
    }
    assert_eq!(winners.len(), 1, "a workspace was linked more than once");
    assert_eq!(winners[0].iter().map(|a| a.id).collect::<Vec<_>>(), vec![ada.id], "the org's admins");
    let orgs = store.orgs_of_admin(ada.id).await.unwrap();
    assert_eq!(orgs.len(), 1, "the losers' orgs were not rolled back: {orgs:?}");
    assert!(store.unlinked_paid_workspaces().await.unwrap().is_empty());
    match store
        .auto_link_workspace(
            &AutoLink {
                workspace: ws.id,
                org: OrgId::from_uuid(uuid::Uuid::now_v7()),
                slug: orgs[0].slug.clone(),
                name: "X".into(),
                now: T0,
            },
            &au("x"),
            &au("x"),
        )
        .await
    {
        Err(StoreError::Conflict("slug")) => {}
        other => panic!("a taken org slug: {other:?}"),
    }
    // Leases: one holder at a time; expiry or release frees it.
    let later = Timestamp::from_millis(T0.as_millis() + 1000);
    assert!(store.take_lease("job", "a", T0, later).await.unwrap());
    assert!(!store.take_lease("job", "b", T0, later).await.unwrap(), "two holders");
    assert!(store.take_lease("job", "a", T0, later).await.unwrap(), "the holder could not renew");
    assert!(
        store.take_lease("job", "b", Timestamp::from_millis(later.as_millis() + 1), later).await.unwrap(),
        "expired"
    );
    store.release_lease("job", "b").await.unwrap();
    assert!(store.take_lease("job", "a", T0, later).await.unwrap(), "released");
}
