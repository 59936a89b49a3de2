//! Conformance of `IdentityStore`.

use super::{T0, new_account};
use guildhall_app::ports::{Audit, Identity, NewOrg, OrgDomain, Store, StoreError, StoredProvider};
use guildhall_core::identities::{ProviderConfig, ProviderName, preset};
use guildhall_core::orgs::DomainName;
use guildhall_core::workspaces::Slug;
use guildhall_core::{AccountId, OrgId};
use std::sync::Arc;

fn identity(provider: &str, subject: &str, account: AccountId) -> Identity {
    Identity {
        provider: ProviderName::parse_any(provider).unwrap(),
        subject: subject.into(),
        account,
        email: Some(format!("{subject}@upstream.example")),
        created_at: T0,
    }
}

fn provider(name: ProviderName, org: Option<OrgId>, config: ProviderConfig, required: bool) -> StoredProvider {
    StoredProvider { name, org, config, secret_sealed: vec![1, 2, 3], required, updated_at: T0 }
}

fn names(list: &[StoredProvider]) -> Vec<&str> {
    list.iter().map(|p| p.name.as_str()).collect()
}

pub async fn one_identity_belongs_to_one_account_and_is_made_with_its_account(store: Arc<dyn Store>) {
    let ada = store.create_account(&new_account("ada", "ada@a.example"), None).await.unwrap();
    let bob = store.create_account(&new_account("bob", "bob@b.example"), None).await.unwrap();
    store.connect_identity(&identity("github", "42", ada.id)).await.unwrap();
    for owner in [ada.id, bob.id] {
        match store.connect_identity(&identity("github", "42", owner)).await {
            Err(StoreError::Conflict("identity")) => {}
            other => panic!("an identity was connected twice: {other:?}"),
        }
    }
    // The same subject at another provider is another identity.
    store.connect_identity(&identity("gitlab", "42", bob.id)).await.unwrap();
    let found = store.identity(&ProviderName::parse("github").unwrap(), "42").await.unwrap().unwrap();
    assert_eq!(found, identity("github", "42", ada.id));
    assert!(store.identity(&ProviderName::parse("github").unwrap(), "43").await.unwrap().is_none());
    assert_eq!(store.identities_of(bob.id).await.unwrap(), [identity("gitlab", "42", bob.id)]);

    // An account made with an identity: both or neither.
    let mut cy = new_account("cy", "cy@c.example");
    cy.password_hash = None;
    cy.identity = Some(identity("github", "42", cy.id));
    match store.create_account(&cy, None).await {
        Err(StoreError::Conflict("identity")) => {}
        other => panic!("an account took a connected identity: {other:?}"),
    }
    assert!(store.find_account(guildhall_app::ports::AccountLookup::Id(cy.id)).await.unwrap().is_none());
    cy.identity = Some(identity("github", "7", cy.id));
    let made = store.create_account(&cy, None).await.unwrap();
    assert_eq!(store.identities_of(made.id).await.unwrap(), [identity("github", "7", made.id)]);
    let mut dup = new_account("cy2", "cy@c.example");
    dup.identity = Some(identity("github", "8", dup.id));
    assert!(matches!(store.create_account(&dup, None).await, Err(StoreError::Conflict("email"))));
    assert!(store.identity(&ProviderName::parse("github").unwrap(), "8").await.unwrap().is_none());
}

pub async fn the_last_way_to_sign_in_is_never_disconnected_even_under_a_race(store: Arc<dyn Store>) {
    let mut no_password = new_account("ada", "ada@a.example");
    no_password.password_hash = None;
    no_password.identity = Some(identity("github", "1", no_password.id));
    let ada = store.create_account(&no_password, None).await.unwrap();
    store.connect_identity(&identity("gitlab", "2", ada.id)).await.unwrap();
    let (github, gitlab) = (ProviderName::parse("github").unwrap(), ProviderName::parse("gitlab").unwrap());
    // Two disconnects at once: exactly one wins.
    let (s1, s2) = (store.clone(), store.clone());
    let (g1, g2) = (github.clone(), gitlab.clone());
    let a = tokio::spawn(async move { s1.disconnect_identity(ada.id, &g1, "1").await.unwrap() });
    let b = tokio::spawn(async move { s2.disconnect_identity(ada.id, &g2, "2").await.unwrap() });
    let mut outcomes = [a.await.unwrap(), b.await.unwrap()];
    outcomes.sort();
    assert_eq!(outcomes, [Some(false), Some(true)]);
    assert_eq!(store.identities_of(ada.id).await.unwrap().len(), 1);
    // Unknown, or someone else's: nothing.
    let bob = store.create_account(&new_account("bob", "bob@b.example"), None).await.unwrap();
    let left = store.identities_of(ada.id).await.unwrap().remove(0);
    assert_eq!(store.disconnect_identity(bob.id, &left.provider, &left.subject).await.unwrap(), None);
    assert_eq!(store.disconnect_identity(ada.id, &github, "nope").await.unwrap(), None);
    // With a password, the last identity may go.
    store.connect_identity(&identity("github", "3", bob.id)).await.unwrap();
    assert_eq!(store.disconnect_identity(bob.id, &github, "3").await.unwrap(), Some(true));
    assert!(store.identities_of(bob.id).await.unwrap().is_empty());
}

pub async fn providers_are_kept_replaced_and_found_by_verified_domain(store: Arc<dyn Store>) {
    let owner = store.create_account(&new_account("ada", "ada@a.example"), None).await.unwrap();
    let github = ProviderName::parse("github").unwrap();
    store
        .put_provider(&provider(github.clone(), None, preset("github", "one").unwrap(), false), false, None)
        .await
        .unwrap();
    store
        .put_provider(&provider(github.clone(), None, preset("github", "two").unwrap(), false), false, None)
        .await
        .unwrap();
    assert_eq!(store.provider(&github).await.unwrap().unwrap().config.client_id, "two", "replaced");
    assert_eq!(store.provider(&github).await.unwrap().unwrap().secret_sealed, [1, 2, 3]);

    let org = NewOrg {
        id: OrgId::from_uuid(uuid::Uuid::now_v7()),
        slug: Slug::parse("acme").unwrap(),
        name: "Acme".into(),
        creator: owner.id,
        now: T0,
    };
    let audit = Audit {
        workspace: None,
        actor: None,
        actor_label: "test".into(),
        action: "x".into(),
        target: "x".into(),
        detail: None,
        ip: None,
        at: T0,
        data: None,
    };
    let org = store.create_org(&org, &audit).await.unwrap();
    let org_name = ProviderName::for_org(org.id);
    let org_provider = provider(org_name.clone(), Some(org.id), preset("gitlab", "acme").unwrap(), true);
    store.put_provider(&org_provider, false, Some(&audit)).await.unwrap();
    // Operators' list leaves organizations' out.
    assert_eq!(names(&store.operator_providers().await.unwrap()), ["github"]);
    let stored = store.provider(&org_name).await.unwrap().unwrap();
    assert_eq!((stored.org, stored.required), (Some(org.id), true));

    // Routed by domain only once the domain is verified.
    let domain = OrgDomain {
        domain: DomainName::parse("acme.example").unwrap(),
        token: "t".into(),
        verified_at: None,
        created_at: T0,
    };
    store.add_domain(org.id, &domain, &audit).await.unwrap();
    assert!(store.provider_for_domain("acme.example").await.unwrap().is_none());
    store.verify_domain(org.id, &domain.domain, T0, &audit).await.unwrap();
    assert_eq!(store.provider_for_domain("acme.example").await.unwrap().unwrap().name, org_name);
    assert!(store.provider_for_domain("eu.acme.example").await.unwrap().is_none());

    // Saving again with forget_identities disconnects its identities (a new
    // issuer); deleting it does too; both are in the org's audit log.
    store.connect_identity(&identity(org_name.as_str(), "s1", owner.id)).await.unwrap();
    store.put_provider(&org_provider, false, Some(&audit)).await.unwrap();
    assert_eq!(store.identities_of(owner.id).await.unwrap().len(), 1, "kept");
    store.put_provider(&org_provider, true, Some(&audit)).await.unwrap();
    assert!(store.identities_of(owner.id).await.unwrap().is_empty(), "forgotten");
    store.connect_identity(&identity(org_name.as_str(), "s2", owner.id)).await.unwrap();
    store.connect_identity(&identity("github", "keep", owner.id)).await.unwrap();
    let logged = store.org_audit_log(org.id, None, 100).await.unwrap().len();
    assert!(store.delete_provider(&org_name, Some(&audit)).await.unwrap());
    assert!(!store.delete_provider(&org_name, Some(&audit)).await.unwrap());
    assert_eq!(store.org_audit_log(org.id, None, 100).await.unwrap().len(), logged + 1);
    assert_eq!(store.identities_of(owner.id).await.unwrap(), [identity("github", "keep", owner.id)]);
    assert!(store.provider_for_domain("acme.example").await.unwrap().is_none());
    assert!(store.provider(&github).await.unwrap().is_some());
}
