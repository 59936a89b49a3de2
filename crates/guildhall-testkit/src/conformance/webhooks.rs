//! Conformance of `WebhookStore`: the fan-out of the event log into
//! deliveries and the leases on them hold under racing nodes.

use super::{T0, new_account};
use guildhall_app::ports::{
    AttemptOutcome, Audit, DeliveryAttempt, DeliveryStatus, EventScope, NewGroup, NewWorkspace, Store, WebhookDelivery,
    WebhookEndpoint, Workspace,
};
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

fn au(ws: &Workspace, action: &str) -> Audit {
    audit(ws.id, action)
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

/// Writes `n` events (group creations) to the workspace's log.
async fn events(store: &dyn Store, ws: &Workspace, prefix: &str, n: usize) {
    for i in 0..n {
        let g = NewGroup {
            id: GroupId::from_uuid(Uuid::now_v7()),
            slug: Slug::parse(&format!("{prefix}{i}")).unwrap(),
            name: format!("{prefix}{i}"),
            default_permission: Permission::Read,
        };
        store.create_group(ws.id, &g, &au(ws, "group.created")).await.unwrap();
    }
}

async fn endpoint(store: &dyn Store, ws: &Workspace, types: &str) -> WebhookEndpoint {
    let e = WebhookEndpoint {
        id: Uuid::now_v7(),
        scope: EventScope::Workspace(ws.id),
        url: "https://hooks.example.com/in".into(),
        description: String::new(),
        event_types: types.into(),
        enabled: true,
        created_by: "test".into(),
        created_at: T0,
        updated_at: T0,
        failing_since: None,
    };
    store.create_webhook(&e, b"sealed", &au(ws, "webhook.created")).await.unwrap();
    e
}

async fn all_deliveries(store: &dyn Store, e: &WebhookEndpoint) -> Vec<WebhookDelivery> {
    store.deliveries(e.scope, e.id, 100).await.unwrap().into_iter().map(|(d, _)| d).collect()
}

/// Runs the fan-out until no endpoint is behind.
async fn fan_out_all(store: &dyn Store, now: Timestamp) -> u32 {
    let mut made = 0;
    loop {
        let behind = store.webhooks_behind().await.unwrap();
        if behind.is_empty() {
            return made;
        }
        for id in behind {
            made += store.fan_out_webhook(id, now, 3).await.unwrap();
        }
    }
}

fn attempt(at: Timestamp, code: Option<u16>) -> DeliveryAttempt {
    DeliveryAttempt { at, status_code: code, error: code.is_none().then(|| "no answer".into()), duration_ms: 5 }
}

pub async fn webhook_fan_out_makes_one_delivery_per_event_under_racing_workers(store: Arc<dyn Store>) {
    let ws = workspace(store.as_ref(), "acme").await;
    let other = workspace(store.as_ref(), "other").await;
    events(store.as_ref(), &ws, "before", 2).await;
    let all = endpoint(store.as_ref(), &ws, "").await;
    let groups = endpoint(store.as_ref(), &ws, "group.*").await;
    let none = endpoint(store.as_ref(), &ws, "repository.created").await;
    // History is not sent: each endpoint starts after its own creation
    // event (the first one sees the later two, the second the last).
    assert_eq!(store.webhooks_behind().await.unwrap(), [all.id, groups.id]);
    assert_eq!(fan_out_all(store.as_ref(), T0).await, 2);
    assert!(store.webhooks_behind().await.unwrap().is_empty());
    events(store.as_ref(), &ws, "g", 20).await;
    events(store.as_ref(), &other, "o", 3).await;
    store
        .create_group(
            ws.id,
            &NewGroup {
                id: GroupId::from_uuid(Uuid::now_v7()),
                slug: Slug::parse("last").unwrap(),
                name: "last".into(),
                default_permission: Permission::Read,
            },
            &au(&ws, "repository.created"),
        )
        .await
        .unwrap();

    let workers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { fan_out_all(store.as_ref(), T0).await })
        })
        .collect();
    let mut made = 0;
    for w in workers {
        made += w.await.unwrap();
    }
    assert_eq!(made, 21 + 20 + 1, "racing workers made {made} deliveries");
    for (e, expected) in [(&all, 23), (&groups, 20), (&none, 1)] {
        let ds = all_deliveries(store.as_ref(), e).await;
        let seqs: BTreeSet<i64> = ds.iter().map(|d| d.event_seq.unwrap()).collect();
        assert_eq!((ds.len(), seqs.len()), (expected, expected), "{}: {ds:#?}", e.event_types);
        assert!(ds.iter().all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0));
        let ids: BTreeSet<&str> = ds.iter().map(|d| d.message_id.as_str()).collect();
        assert_eq!(ids.len(), expected, "webhook-ids repeat");
    }
    // Newest first, with the event in the body.
    let ds = all_deliveries(store.as_ref(), &none).await;
    let body: serde_json::Value = serde_json::from_str(&ds[0].body).unwrap();
    assert_eq!((body["type"].as_str(), body["workspace"].as_str()), (Some("repository.created"), Some("acme")));
    assert_eq!(body["cursor"].as_i64(), ds[0].event_seq);
    // Another workspace's endpoint sees none of it.
    let theirs = endpoint(store.as_ref(), &other, "").await;
    assert_eq!(fan_out_all(store.as_ref(), T0).await, 0);
    assert!(all_deliveries(store.as_ref(), &theirs).await.is_empty());
    assert!(store.deliveries(EventScope::Workspace(other.id), all.id, 100).await.unwrap().is_empty());
}

pub async fn webhook_claims_are_exclusive_and_leases_expire(store: Arc<dyn Store>) {
    let ws = workspace(store.as_ref(), "acme").await;
    let e = endpoint(store.as_ref(), &ws, "").await;
    events(store.as_ref(), &ws, "g", 30).await;
    assert_eq!(fan_out_all(store.as_ref(), T0).await, 30);
    let until = T0.plus(Duration::from_secs(60));
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let owner = format!("node-{i}");
                let mut mine = Vec::new();
                loop {
                    let got = store.claim_deliveries(&owner, T0, until, 2).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    for c in &got {
                        assert_eq!(c.url, "https://hooks.example.com/in");
                        assert_eq!(c.secret_sealed, b"sealed");
                    }
                    mine.extend(got.into_iter().map(|c| (owner.clone(), c.delivery.id)));
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.unwrap());
    }
    let distinct: BTreeSet<Uuid> = claimed.iter().map(|(_, id)| *id).collect();
    assert_eq!((claimed.len(), distinct.len()), (30, 30), "a delivery was leased twice");
    // Leased: nobody else gets them until the lease runs out.
    assert!(store.claim_deliveries("late", T0.plus(Duration::from_secs(59)), until, 100).await.unwrap().is_empty());
    // The holder's record is taken; a stranger's is not.
    let (owner, first) = claimed[0].clone();
    assert!(
        !store.record_attempt(first, "stranger", &attempt(T0, Some(200)), AttemptOutcome::Succeeded).await.unwrap()
    );
    assert!(store.record_attempt(first, &owner, &attempt(T0, Some(200)), AttemptOutcome::Succeeded).await.unwrap());
    assert!(!store.record_attempt(first, &owner, &attempt(T0, Some(200)), AttemptOutcome::Succeeded).await.unwrap());
    // A node that died holding the rest: at the lease's end they are free.
    let again = store.claim_deliveries("restarted", until, until.plus(Duration::from_secs(60)), 100).await.unwrap();
    assert_eq!(again.len(), 29, "expired leases were not claimable again");
    assert!(again.iter().all(|c| c.delivery.id != first), "a succeeded delivery was claimed");
    // The dead node's late answer is not recorded.
    let (dead, second) = claimed[1].clone();
    assert!(!store.record_attempt(second, &dead, &attempt(T0, Some(200)), AttemptOutcome::Succeeded).await.unwrap());
    let ds = store.deliveries(e.scope, e.id, 100).await.unwrap();
    let done: Vec<_> = ds.iter().filter(|(d, _)| d.status == DeliveryStatus::Succeeded).collect();
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].0.id, done[0].0.attempts, done[0].1.len()), (first, 1, 1));
}

pub async fn webhook_retries_are_scheduled_and_finished_deliveries_stay_finished(store: Arc<dyn Store>) {
    let ws = workspace(store.as_ref(), "acme").await;
    let e = endpoint(store.as_ref(), &ws, "").await;
    events(store.as_ref(), &ws, "g", 2).await;
    fan_out_all(store.as_ref(), T0).await;
    let lease = |t: Timestamp| t.plus(Duration::from_secs(60));
    let claimed = store.claim_deliveries("a", T0, lease(T0), 1).await.unwrap();
    let d = claimed[0].delivery.id;
    let retry = T0.plus(Duration::from_secs(30));
    assert!(store.record_attempt(d, "a", &attempt(T0, Some(500)), AttemptOutcome::RetryAt(retry)).await.unwrap());
    assert!(
        store
            .record_attempt(claimed_one(&store, "b", T0).await, "b", &attempt(T0, None), AttemptOutcome::Failed)
            .await
            .unwrap()
    );
    // Not due before its time, due at it.
    let early = T0.plus(Duration::from_secs(29));
    assert!(store.claim_deliveries("c", early, lease(early), 10).await.unwrap().is_empty());
    let due = store.claim_deliveries("c", retry, lease(retry), 10).await.unwrap();
    assert_eq!(due.iter().map(|c| (c.delivery.id, c.delivery.attempts)).collect::<Vec<_>>(), [(d, 1)]);
    let later = retry.plus(Duration::from_secs(1));
    assert!(store.record_attempt(d, "c", &attempt(later, Some(204)), AttemptOutcome::Succeeded).await.unwrap());
    let far = T0.plus(Duration::from_secs(86_400));
    assert!(store.claim_deliveries("d", far, lease(far), 10).await.unwrap().is_empty(), "finished work came back");
    let log = store.deliveries(e.scope, e.id, 10).await.unwrap();
    let (done, attempts) = log.iter().find(|(x, _)| x.id == d).unwrap();
    assert_eq!(
        (done.status, done.attempts, done.last_status_code, done.finished_at),
        (DeliveryStatus::Succeeded, 2, Some(204), Some(later))
    );
    assert_eq!(attempts.iter().map(|a| a.status_code).collect::<Vec<_>>(), [Some(500), Some(204)]);
    let (failed, _) = log.iter().find(|(x, _)| x.id != d).unwrap();
    assert_eq!((failed.status, failed.last_error.as_deref()), (DeliveryStatus::Failed, Some("no answer")));

    // A redelivery is a new pending delivery with the same webhook-id; it
    // cannot be added to another workspace's endpoint.
    let again = WebhookDelivery {
        id: Uuid::now_v7(),
        redelivery_of: Some(d),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: far,
        last_status_code: None,
        last_error: None,
        finished_at: None,
        ..done.clone()
    };
    let other = workspace(store.as_ref(), "other").await;
    assert!(!store.insert_delivery(EventScope::Workspace(other.id), &again, None).await.unwrap());
    assert!(store.insert_delivery(e.scope, &again, Some(&au(&ws, "webhook.redelivered"))).await.unwrap());
    let claimed = store.claim_deliveries("e", far, lease(far), 10).await.unwrap();
    let sent: Vec<&str> = claimed.iter().map(|c| c.delivery.message_id.as_str()).collect();
    assert_eq!(sent, [done.message_id.as_str()]);

    // A disabled endpoint gets nothing: no new deliveries, none sent.
    assert!(store.record_attempt(again.id, "e", &attempt(far, None), AttemptOutcome::RetryAt(far)).await.unwrap());
    let off = WebhookEndpoint { enabled: false, ..e.clone() };
    assert!(store.update_webhook(&off, &au(&ws, "webhook.updated")).await.unwrap());
    events(store.as_ref(), &ws, "h", 2).await;
    assert_eq!(fan_out_all(store.as_ref(), far).await, 0);
    assert!(store.claim_deliveries("f", far, lease(far), 10).await.unwrap().is_empty());
    // Enabled again: the pending one goes; what happened while off does not.
    assert!(store.update_webhook(&e, &au(&ws, "webhook.updated")).await.unwrap());
    assert_eq!(fan_out_all(store.as_ref(), far).await, 0);
    assert_eq!(store.claim_deliveries("g", far, lease(far), 10).await.unwrap().len(), 1);
    // Deleting the endpoint removes its log.
    assert!(store.delete_webhook(e.scope, e.id, &au(&ws, "webhook.deleted")).await.unwrap());
    assert!(!store.delete_webhook(e.scope, e.id, &au(&ws, "webhook.deleted")).await.unwrap());
    assert!(store.deliveries(e.scope, e.id, 10).await.unwrap().is_empty());
    assert!(store.webhook(e.scope, e.id).await.unwrap().is_none());
}

async fn claimed_one(store: &Arc<dyn Store>, owner: &str, now: Timestamp) -> Uuid {
    store.claim_deliveries(owner, now, now.plus(Duration::from_secs(60)), 1).await.unwrap()[0].delivery.id
}

pub async fn finished_deliveries_are_pruned_in_batches_and_pending_ones_kept(store: Arc<dyn Store>) {
    let ws = workspace(store.as_ref(), "acme").await;
    let e = endpoint(store.as_ref(), &ws, "").await;
    events(store.as_ref(), &ws, "g", 6).await;
    fan_out_all(store.as_ref(), T0).await;
    let claimed = store.claim_deliveries("a", T0, T0.plus(Duration::from_secs(60)), 10).await.unwrap();
    assert_eq!(claimed.len(), 6);
    // Four succeed at T0, one is given up a minute later, one waits.
    let later = T0.plus(Duration::from_secs(60));
    let far = T0.plus(Duration::from_secs(86_400));
    for (i, c) in claimed.iter().enumerate() {
        let (at, outcome) = match i {
            0..4 => (T0, AttemptOutcome::Succeeded),
            4 => (later, AttemptOutcome::Failed),
            _ => (T0, AttemptOutcome::RetryAt(far)),
        };
        assert!(store.record_attempt(c.delivery.id, "a", &attempt(at, Some(500)), outcome).await.unwrap());
    }
    let pending = claimed[5].delivery.id;
    // Strictly before: nothing that finished at T0 goes with `before` = T0.
    assert_eq!(store.prune_deliveries(T0, 10).await.unwrap(), 0);
    // In batches of the limit asked.
    let just_after = T0.plus(Duration::from_millis(1));
    assert_eq!(store.prune_deliveries(just_after, 3).await.unwrap(), 3);
    assert_eq!(store.prune_deliveries(just_after, 3).await.unwrap(), 1);
    assert_eq!(store.prune_deliveries(just_after, 3).await.unwrap(), 0);
    assert_eq!(all_deliveries(store.as_ref(), &e).await.len(), 2);
    // Later the failed one goes; the pending one never does.
    assert_eq!(store.prune_deliveries(far.plus(Duration::from_secs(86_400 * 365)), 10).await.unwrap(), 1);
    let left = store.deliveries(e.scope, e.id, 10).await.unwrap();
    assert_eq!(
        left.iter().map(|(d, a)| (d.id, d.status, a.len())).collect::<Vec<_>>(),
        [(pending, DeliveryStatus::Pending, 1)]
    );
}

pub async fn a_webhook_owner_is_its_workspace_slug_and_admins(store: Arc<dyn Store>) {
    let ws = workspace(store.as_ref(), "acme").await;
    let bob = store.create_account(&new_account("bob", "bob@example.com"), None).await.unwrap();
    let devs = NewGroup {
        id: GroupId::from_uuid(Uuid::now_v7()),
        slug: Slug::parse("devs").unwrap(),
        name: "Devs".into(),
        default_permission: Permission::Read,
    };
    let devs = store.create_group(ws.id, &devs, &au(&ws, "group.created")).await.unwrap();
    store.add_member(devs.id, bob.id, &au(&ws, "group.member_added")).await.unwrap();
    let (slug, admins) = store.webhook_owner(EventScope::Workspace(ws.id)).await.unwrap().unwrap();
    assert_eq!(slug, "acme");
    assert_eq!(
        admins.iter().map(|a| a.username.as_str()).collect::<Vec<_>>(),
        ["acme"],
        "a member who is not an admin"
    );
    let gone = EventScope::Workspace(WorkspaceId::from_uuid(Uuid::now_v7()));
    assert!(store.webhook_owner(gone).await.unwrap().is_none());
}
