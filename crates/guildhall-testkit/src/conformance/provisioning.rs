//! Conformance of `ProvisioningStore`: leases on SCIM connections hold under
//! racing nodes, rounds follow the event log and back off, and the map of
//! pushed resources is unique and scoped.

use super::{T0, new_account};
use guildhall_app::ports::{
    Audit, EventScope, NewGroup, NewWorkspace, ObjectKind, ProvisionedCounts, RemoteObject, RoundOutcome,
    ScimConnection, Store, StoreError, Workspace,
};
use guildhall_core::provisioning::SyncStatus;
use guildhall_core::workspaces::{Permission, Plan, Slug};
use guildhall_core::{GroupId, Timestamp, WorkspaceId};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

fn audit(ws: WorkspaceId, action: &str) -> Audit {
    Audit {
        workspace: Some(ws),
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

async fn workspace(store: &dyn Store, slug: &str) -> Workspace {
    let creator = store.create_account(&new_account(slug, &format!("{slug}@example.com")), None).await.unwrap();
    let new = NewWorkspace {
        id: WorkspaceId::from_uuid(Uuid::now_v7()),
        slug: Slug::parse(slug).unwrap(),
        name: slug.to_owned(),
        plan: Plan::Free,
        creator: creator.id,
        admins_group: GroupId::from_uuid(Uuid::now_v7()),
        now: T0,
    };
    store.create_workspace(&new, &audit(new.id, "workspace.created")).await.unwrap()
}

/// An event in the workspace's log (a new group).
async fn event(store: &dyn Store, ws: &Workspace) {
    let id = Uuid::now_v7();
    let g = NewGroup {
        id: GroupId::from_uuid(id),
        slug: Slug::parse(&format!("g{}", id.simple())).unwrap(),
        name: "g".into(),
        default_permission: Permission::Read,
    };
    store.create_group(ws.id, &g, &audit(ws.id, "group.created")).await.unwrap();
}

async fn connection(store: &dyn Store, ws: &Workspace, name: &str) -> ScimConnection {
    let c = ScimConnection {
        id: Uuid::now_v7(),
        scope: EventScope::Workspace(ws.id),
        name: name.into(),
        base_url: "https://app.example.com/scim/v2".into(),
        enabled: true,
        status: SyncStatus::Pending,
        last_error: None,
        last_synced_at: None,
        last_attempt_at: None,
        next_attempt_at: Some(T0),
        failures: 0,
        cursor: 0,
        created_by: "test".into(),
        created_at: T0,
        updated_at: T0,
    };
    store.create_scim_connection(&c, b"sealed", &audit(ws.id, "provisioning.created")).await.unwrap();
    c
}

fn lease(t: Timestamp) -> Timestamp {
    t.plus(Duration::from_secs(300))
}

fn at(secs: u64) -> Timestamp {
    T0.plus(Duration::from_secs(secs))
}

async fn claim_ids(store: &dyn Store, owner: &str, now: Timestamp) -> Vec<Uuid> {
    store.claim_scim_connections(owner, now, lease(now), 100).await.unwrap().iter().map(|c| c.connection.id).collect()
}

async fn get(store: &dyn Store, c: &ScimConnection) -> (ScimConnection, ProvisionedCounts) {
    store.scim_connection(c.scope, c.id).await.unwrap().unwrap()
}

pub async fn provisioning_claims_are_exclusive_and_leases_expire(store: Arc<dyn Store>) {
    let a = workspace(store.as_ref(), "acme").await;
    let b = workspace(store.as_ref(), "bravo").await;
    let mut all = BTreeSet::new();
    for i in 0..6 {
        let ws = if i % 2 == 0 { &a } else { &b };
        all.insert(connection(store.as_ref(), ws, &format!("app{i}")).await.id);
    }
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let owner = format!("node-{i}");
                let got = store.claim_scim_connections(&owner, T0, lease(T0), 2).await.unwrap();
                for c in &got {
                    assert_eq!(c.token_sealed, b"sealed");
                    assert!(c.full, "a new connection asks for a full round");
                    assert_eq!(c.connection.last_attempt_at, Some(T0));
                }
                got.into_iter().map(|c| (owner.clone(), c.connection.id)).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.unwrap());
    }
    let distinct: BTreeSet<Uuid> = claimed.iter().map(|(_, id)| *id).collect();
    assert_eq!(claimed.len(), distinct.len(), "a connection was leased twice: {claimed:?}");
    // Whatever the racing workers left is claimed now, once.
    let rest = claim_ids(store.as_ref(), "sweeper", T0).await;
    let mut owners: Vec<(String, Uuid)> = claimed.clone();
    owners.extend(rest.iter().map(|id| ("sweeper".to_owned(), *id)));
    assert_eq!(owners.iter().map(|(_, id)| *id).collect::<BTreeSet<_>>(), all);
    assert_eq!(owners.len(), 6);
    // Leased: nobody else gets them until the lease runs out.
    assert!(claim_ids(store.as_ref(), "late", at(299)).await.is_empty());
    // The holder renews and records; a stranger can do neither.
    let (owner, first) = owners[0].clone();
    assert!(!store.renew_scim_lease(first, "stranger", at(600)).await.unwrap());
    assert!(store.renew_scim_lease(first, &owner, at(600)).await.unwrap());
    let done = RoundOutcome::Synced { cursor: store.latest_event().await.unwrap() };
    assert!(!store.finish_scim_round(first, "stranger", T0, at(1), &done).await.unwrap());
    // A node that died holding the others: at the lease's end they are free
    // again (the renewed one stays held).
    let again: BTreeSet<Uuid> = claim_ids(store.as_ref(), "restarted", at(300)).await.into_iter().collect();
    assert_eq!(again.len(), 5, "expired leases were not claimable again");
    assert!(!again.contains(&first), "a renewed lease was taken");
    assert!(store.finish_scim_round(first, &owner, T0, at(1), &done).await.unwrap());
    assert!(!store.finish_scim_round(first, &owner, T0, at(1), &done).await.unwrap(), "recorded twice");
    // The dead node's late result is not recorded.
    let (dead, second) = owners.iter().find(|(_, id)| *id != first).cloned().unwrap();
    assert!(!store.finish_scim_round(second, &dead, T0, at(1), &done).await.unwrap());
    assert_eq!(connection_of(&store, second, &a, &b).await.status, SyncStatus::Pending);
}

/// The connection `id` (one of the workspaces').
async fn connection_of(store: &Arc<dyn Store>, id: Uuid, a: &Workspace, b: &Workspace) -> ScimConnection {
    for ws in [a, b] {
        if let Some((c, _)) = store.scim_connection(EventScope::Workspace(ws.id), id).await.unwrap() {
            return c;
        }
    }
    panic!("no connection {id}");
}

pub async fn provisioning_rounds_follow_the_event_log_and_back_off(store: Arc<dyn Store>) {
    let ws = workspace(store.as_ref(), "acme").await;
    let other = workspace(store.as_ref(), "other").await;
    let c = connection(store.as_ref(), &ws, "app").await;
    // Due at once for its first, full round.
    let claimed = store.claim_scim_connections("a", T0, lease(T0), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|x| (x.connection.id, x.full)).collect::<Vec<_>>(), [(c.id, true)]);
    let cursor = store.latest_event().await.unwrap();
    let synced = RoundOutcome::Synced { cursor };
    assert!(store.finish_scim_round(c.id, "a", T0, at(1), &synced).await.unwrap());
    let (now, _) = get(store.as_ref(), &c).await;
    assert_eq!(
        (now.status, now.cursor, now.last_synced_at, now.next_attempt_at, now.failures, now.last_error),
        (SyncStatus::InSync, cursor, Some(at(1)), None, 0, None)
    );
    // In sync: nothing to do, whatever happens elsewhere.
    event(store.as_ref(), &other).await;
    assert!(claim_ids(store.as_ref(), "b", at(2)).await.is_empty());
    // An event of its workspace makes a round (not a full one).
    event(store.as_ref(), &ws).await;
    let claimed = store.claim_scim_connections("b", at(2), lease(at(2)), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|x| (x.connection.id, x.full)).collect::<Vec<_>>(), [(c.id, false)]);
    // It fails: retried at its time, not before, however many events come.
    let failed = RoundOutcome::Failed { error: "GET /Users: no answer".into(), retry_at: at(32) };
    assert!(store.finish_scim_round(c.id, "b", at(2), at(3), &failed).await.unwrap());
    let (now, _) = get(store.as_ref(), &c).await;
    assert_eq!(
        (now.status, now.failures, now.next_attempt_at, now.last_error.as_deref(), now.cursor),
        (SyncStatus::Error, 1, Some(at(32)), Some("GET /Users: no answer"), cursor)
    );
    event(store.as_ref(), &ws).await;
    assert!(claim_ids(store.as_ref(), "c", at(31)).await.is_empty(), "a failing connection was not held off");
    assert_eq!(claim_ids(store.as_ref(), "c", at(32)).await, [c.id]);
    let twice = RoundOutcome::Failed { error: "again".into(), retry_at: at(92) };
    assert!(store.finish_scim_round(c.id, "c", at(32), at(33), &twice).await.unwrap());
    assert_eq!(get(store.as_ref(), &c).await.0.failures, 2);
    // "Sync now" ends the wait and asks for a full round.
    assert!(
        store.request_scim_sync(c.scope, c.id, at(40), &audit(ws.id, "provisioning.sync_requested")).await.unwrap()
    );
    assert!(
        !store.request_scim_sync(EventScope::Workspace(other.id), c.id, at(40), &audit(other.id, "x")).await.unwrap(),
        "another workspace asked for a sync"
    );
    let claimed = store.claim_scim_connections("d", at(40), lease(at(40)), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|x| (x.connection.id, x.full)).collect::<Vec<_>>(), [(c.id, true)]);
    // A request made while the round runs survives its success.
    assert!(
        store.request_scim_sync(c.scope, c.id, at(41), &audit(ws.id, "provisioning.sync_requested")).await.unwrap()
    );
    let latest = RoundOutcome::Synced { cursor: store.latest_event().await.unwrap() };
    assert!(store.finish_scim_round(c.id, "d", at(40), at(42), &latest).await.unwrap());
    let (now, _) = get(store.as_ref(), &c).await;
    assert_eq!(
        (now.status, now.failures, now.last_error, now.next_attempt_at),
        (SyncStatus::InSync, 0, None, Some(at(41)))
    );
    let claimed = store.claim_scim_connections("e", at(42), lease(at(42)), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|x| (x.connection.id, x.full)).collect::<Vec<_>>(), [(c.id, true)]);
    assert!(store.finish_scim_round(c.id, "e", at(42), at(43), &latest).await.unwrap());
    assert!(claim_ids(store.as_ref(), "f", at(44)).await.is_empty());
    // A cursor never moves back.
    assert!(
        store.request_scim_sync(c.scope, c.id, at(45), &audit(ws.id, "provisioning.sync_requested")).await.unwrap()
    );
    assert_eq!(claim_ids(store.as_ref(), "g", at(45)).await, [c.id]);
    assert!(store.finish_scim_round(c.id, "g", at(45), at(46), &RoundOutcome::Synced { cursor: 1 }).await.unwrap());
    assert!(get(store.as_ref(), &c).await.0.cursor > 1);

    // Disabled: never claimed, whatever is due. Enabled again with a
    // resync: pending, due at once, failures forgotten.
    let off = ScimConnection { enabled: false, updated_at: at(50), ..get(store.as_ref(), &c).await.0 };
    assert!(store.update_scim_connection(&off, None, false, &audit(ws.id, "provisioning.updated")).await.unwrap());
    event(store.as_ref(), &ws).await;
    assert!(claim_ids(store.as_ref(), "h", at(60)).await.is_empty());
    let on = ScimConnection { enabled: true, name: "renamed".into(), updated_at: at(61), ..off.clone() };
    assert!(
        store.update_scim_connection(&on, Some(b"other"), true, &audit(ws.id, "provisioning.updated")).await.unwrap()
    );
    let claimed = store.claim_scim_connections("i", at(61), lease(at(61)), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let x = &claimed[0];
    assert_eq!((x.connection.name.as_str(), x.token_sealed.as_slice(), x.full), ("renamed", &b"other"[..], true));
    assert_eq!((x.connection.status, x.connection.failures), (SyncStatus::Pending, 0));
    // Another workspace cannot change or remove it.
    let stolen = ScimConnection { scope: EventScope::Workspace(other.id), ..on.clone() };
    assert!(!store.update_scim_connection(&stolen, None, true, &audit(other.id, "x")).await.unwrap());
    assert!(!store.delete_scim_connection(stolen.scope, c.id, &audit(other.id, "x")).await.unwrap());
    assert!(store.scim_connection(stolen.scope, c.id).await.unwrap().is_none());
    assert!(store.scim_connections(stolen.scope).await.unwrap().is_empty());
    assert_eq!(store.scim_connections(c.scope).await.unwrap().len(), 1);
}

fn object(kind: ObjectKind, local: Uuid, remote: &str, active: bool) -> RemoteObject {
    RemoteObject { kind, local_id: local, remote_id: remote.into(), fingerprint: format!("fp-{remote}"), active }
}

pub async fn provisioning_maps_are_unique_and_go_with_their_connection(store: Arc<dyn Store>) {
    let ws = workspace(store.as_ref(), "acme").await;
    let c = connection(store.as_ref(), &ws, "one").await;
    let d = connection(store.as_ref(), &ws, "two").await;
    let (ada, bob, devs) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    assert!(store.save_remote_object(c.id, &object(ObjectKind::User, ada, "r1", true)).await.unwrap());
    assert!(store.save_remote_object(c.id, &object(ObjectKind::User, bob, "r2", false)).await.unwrap());
    // The same remote id for a group, or on another connection, is fine.
    assert!(store.save_remote_object(c.id, &object(ObjectKind::Group, devs, "r1", true)).await.unwrap());
    assert!(store.save_remote_object(d.id, &object(ObjectKind::User, bob, "r1", true)).await.unwrap());
    // Two local users cannot share one remote user.
    match store.save_remote_object(c.id, &object(ObjectKind::User, bob, "r1", true)).await {
        Err(StoreError::Conflict("remote_id")) => {}
        other => panic!("expected a remote_id conflict, got {other:?}"),
    }
    // Replacing an entry keeps one per local object.
    let ada2 = RemoteObject { fingerprint: "new".into(), ..object(ObjectKind::User, ada, "r9", false) };
    assert!(store.save_remote_object(c.id, &ada2).await.unwrap());
    let map = store.remote_objects(c.id).await.unwrap();
    assert_eq!(map.len(), 3, "{map:?}");
    assert!(map.contains(&ada2));
    assert!(map.contains(&object(ObjectKind::User, bob, "r2", false)));
    assert_eq!(get(store.as_ref(), &c).await.1, ProvisionedCounts { users: 0, deprovisioned: 2, groups: 1 });
    assert_eq!(get(store.as_ref(), &d).await.1, ProvisionedCounts { users: 1, deprovisioned: 0, groups: 0 });
    store.forget_remote_object(c.id, ObjectKind::User, bob).await.unwrap();
    store.forget_remote_object(c.id, ObjectKind::User, bob).await.unwrap();
    assert_eq!(store.remote_objects(c.id).await.unwrap().len(), 2);
    // Now free, r2 can be another user's.
    assert!(store.save_remote_object(c.id, &object(ObjectKind::User, Uuid::now_v7(), "r2", true)).await.unwrap());
    // Removing the connection removes its map; a late save is refused.
    assert!(store.delete_scim_connection(c.scope, c.id, &audit(ws.id, "provisioning.deleted")).await.unwrap());
    assert!(!store.delete_scim_connection(c.scope, c.id, &audit(ws.id, "provisioning.deleted")).await.unwrap());
    assert!(store.remote_objects(c.id).await.unwrap().is_empty());
    assert!(!store.save_remote_object(c.id, &object(ObjectKind::User, ada, "r1", true)).await.unwrap());
    assert_eq!(store.remote_objects(d.id).await.unwrap().len(), 1);
    // Admin changes are audited in the workspace (and so are events).
    let log = store.audit_log(ws.id, None, 100).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|(_, a)| a.action.as_str()).collect();
    assert!(actions.contains(&"provisioning.created") && actions.contains(&"provisioning.deleted"), "{actions:?}");
}
