//! One round of a connection: the application is made to match the scope's
//! directory as it stands now (docs/provisioning.md).
//!
//! 1. The directory is read in one transaction with the event cursor it is
//!    consistent with, so every later change is after the cursor and makes
//!    another round.
//! 2. Users already pushed are replaced (PUT) when their fingerprint
//!    changed; the others are adopted (found by `userName`, then replaced)
//!    or created (POST).
//! 3. Groups likewise (adopted by `externalId`, else by a unique
//!    `displayName`), with the application's ids of their members; groups
//!    no longer here are deleted.
//! 4. Users no longer here are deprovisioned: `active` set to false
//!    (PATCH), after step 3 took them out of every group.
//!
//! The map is saved after each write, so a round cut short keeps what it
//! did. A failing endpoint stops the round; a resource the application
//! refuses is skipped, and the round ends in error naming it.

use super::remote::{Endpoint, Failure, Remote, Written, resource_id};
use crate::App;
use crate::error::AppError;
use crate::ports::{ClaimedConnection, EventScope, ObjectKind, RemoteObject, StoreError};
use guildhall_core::Timestamp;
use guildhall_core::accounts::{Account, AccountStatus};
use guildhall_core::provisioning::{
    LEASE, LEASE_RENEW, UserFields, fingerprint, group_resource, parse_base_url, user_resource,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Why a round stopped early.
#[derive(Debug)]
pub(super) enum Stop {
    /// Recorded as the connection's last error, and retried.
    Failed(String),
    /// The lease was lost or the connection deleted: nothing to record.
    Abandoned,
    /// The database failed.
    Store(AppError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Self::Store(e.into())
    }
}

/// A resource as it should be downstream.
struct Desired {
    local: Uuid,
    label: String,
    body: Value,
    fingerprint: String,
    active: bool,
}

struct Round<'a> {
    app: &'a App,
    remote: Remote<'a>,
    connection: Uuid,
    owner: &'a str,
    full: bool,
    map: HashMap<(ObjectKind, Uuid), RemoteObject>,
    problems: Vec<String>,
    renewed: Timestamp,
}

/// Runs a round; the cursor everything is now downstream up to.
pub(super) async fn run(app: &App, c: &ClaimedConnection, owner: &str, token: String) -> Result<i64, Stop> {
    let conn = &c.connection;
    let base = parse_base_url(&conn.base_url, app.settings().provisioning_allow_loopback)
        .map_err(|e| Stop::Failed(format!("The base URL is no longer accepted: {e}")))?;
    let store = app.store();
    let Some(Directory { cursor, users, groups }) = read(app, conn.scope).await? else {
        return Err(Stop::Abandoned);
    };
    let map = store.remote_objects(conn.id).await?.into_iter().map(|o| ((o.kind, o.local_id), o)).collect();
    let mut round = Round {
        app,
        remote: Remote::new(app, base, token),
        connection: conn.id,
        owner,
        full: c.full,
        map,
        problems: Vec::new(),
        renewed: app.now(),
    };
    let users: Vec<Desired> = users.iter().map(desired_user).collect();
    round.push_users(&users).await?;
    let wanted: HashSet<Uuid> = users.iter().map(|u| u.local).collect();
    round.push_groups(&groups, &wanted).await?;
    round.deprovision(&wanted).await?;
    match round.problems.len() {
        0 => Ok(cursor),
        1 => Err(Stop::Failed(round.problems.remove(0))),
        n => Err(Stop::Failed(format!("{} (and {} more)", round.problems.remove(0), n - 1))),
    }
}

/// A group of the scope: id, name, members.
struct Group {
    id: Uuid,
    name: String,
    members: Vec<Uuid>,
}

/// The scope's people and groups, and the cursor they are consistent with.
struct Directory {
    cursor: i64,
    users: Vec<Account>,
    groups: Vec<Group>,
}

/// A workspace's members and groups, or an org's managed accounts (those
/// its directory has not deleted) and directory groups; `None` if the
/// workspace or org is gone.
async fn read(app: &App, scope: EventScope) -> Result<Option<Directory>, Stop> {
    let store = app.store();
    Ok(match scope {
        EventScope::Workspace(ws) => store.directory_snapshot(ws).await?.map(|s| Directory {
            cursor: s.cursor,
            users: s.members,
            groups: s
                .groups
                .into_iter()
                .map(|g| Group { id: g.id.0, name: g.name, members: g.members.iter().map(|m| m.0).collect() })
                .collect(),
        }),
        EventScope::Org(org) => {
            let (cursor, users, groups) = store.org_directory_snapshot(org).await?;
            Some(Directory {
                cursor,
                users: users.into_iter().map(|u| u.account).collect(),
                groups: groups
                    .into_iter()
                    .map(|g| Group {
                        id: g.id,
                        name: g.display_name,
                        members: g.members.iter().map(|(m, _)| m.0).collect(),
                    })
                    .collect(),
            })
        }
    })
}

fn desired_user(a: &Account) -> Desired {
    let active = a.status == AccountStatus::Active;
    let body = user_resource(&UserFields {
        id: a.id,
        username: a.username.as_str(),
        email: a.email_verified.then(|| a.email.as_str()),
        display_name: a.display_name.as_str(),
        active,
    });
    Desired { local: a.id.0, label: a.username.to_string(), fingerprint: fingerprint(&body), body, active }
}

impl Round<'_> {
    fn mapped(&self, kind: ObjectKind, local: Uuid) -> Option<&RemoteObject> {
        self.map.get(&(kind, local))
    }

    /// Whether another local object of `kind` holds this remote id.
    fn taken(&self, kind: ObjectKind, remote: &str, local: Uuid) -> bool {
        self.map.values().any(|o| o.kind == kind && o.remote_id == remote && o.local_id != local)
    }

    /// Keeps the lease while the round runs long.
    async fn keep_lease(&mut self) -> Result<(), Stop> {
        let now = self.app.now();
        if now.as_millis() - self.renewed.as_millis() < i64::try_from(LEASE_RENEW.as_millis()).unwrap_or(i64::MAX) {
            return Ok(());
        }
        if !self.app.store().renew_scim_lease(self.connection, self.owner, now.plus(LEASE)).await? {
            return Err(Stop::Abandoned);
        }
        self.renewed = now;
        Ok(())
    }

    /// A resource failure is noted and the round goes on; an endpoint
    /// failure stops it.
    fn note<T>(&mut self, r: Result<T, Failure>) -> Result<Option<T>, Stop> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(Failure::Resource(e)) => {
                self.problems.push(e);
                Ok(None)
            }
            Err(Failure::Endpoint(e)) => Err(Stop::Failed(e)),
        }
    }

    async fn save(&mut self, kind: ObjectKind, d: &Desired, remote: String, fp: String) -> Result<(), Stop> {
        let object = RemoteObject { kind, local_id: d.local, remote_id: remote, fingerprint: fp, active: d.active };
        match self.app.store().save_remote_object(self.connection, &object).await {
            Ok(true) => {
                self.map.insert((kind, d.local), object);
                Ok(())
            }
            Ok(false) => Err(Stop::Abandoned),
            Err(StoreError::Conflict(_)) => {
                self.problems.push(format!(
                    "{} {}: the application gave it the id {} of another one",
                    kind.as_str(),
                    d.label,
                    object.remote_id
                ));
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn forget(&mut self, kind: ObjectKind, local: Uuid) -> Result<(), Stop> {
        self.app.store().forget_remote_object(self.connection, kind, local).await?;
        self.map.remove(&(kind, local));
        Ok(())
    }

    /// Replaces a mapped resource that changed (or every one in a full
    /// round); `false` if the application no longer has it.
    async fn update(&mut self, kind: ObjectKind, endpoint: Endpoint, d: &Desired) -> Result<bool, Stop> {
        let Some(m) = self.mapped(kind, d.local).cloned() else { return Ok(false) };
        if !self.full && m.fingerprint == d.fingerprint {
            return Ok(true);
        }
        self.keep_lease().await?;
        let written = self.remote.replace(endpoint, &m.remote_id, &d.body, &d.label).await;
        match self.note(written)? {
            Some(Written::Done) => self.save(kind, d, m.remote_id, d.fingerprint.clone()).await?,
            Some(Written::Gone) => {
                self.forget(kind, d.local).await?;
                return Ok(false);
            }
            None => {}
        }
        Ok(true)
    }

    /// Adopts the one match of `candidates` or creates the resource.
    async fn adopt_or_create(
        &mut self,
        kind: ObjectKind,
        endpoint: Endpoint,
        d: &Desired,
        candidates: Vec<Value>,
    ) -> Result<(), Stop> {
        let free: Vec<String> =
            candidates.iter().filter_map(resource_id).filter(|id| !self.taken(kind, id, d.local)).collect();
        self.keep_lease().await?;
        if let [id] = free.as_slice() {
            let written = self.remote.replace(endpoint, id, &d.body, &d.label).await;
            match self.note(written)? {
                Some(Written::Done) => return self.save(kind, d, id.clone(), d.fingerprint.clone()).await,
                Some(Written::Gone) => {}
                None => return Ok(()),
            }
        }
        let created = self.remote.create(endpoint, &d.body, &d.label).await;
        if let Some(id) = self.note(created)? {
            self.save(kind, d, id, d.fingerprint.clone()).await?;
        }
        Ok(())
    }

    async fn push_users(&mut self, users: &[Desired]) -> Result<(), Stop> {
        // Changes first: a rename frees a userName a newcomer may take.
        let mut new = Vec::new();
        for d in users {
            if !self.update(ObjectKind::User, Endpoint::Users, d).await? {
                new.push(d);
            }
        }
        for d in new {
            let found = self.remote.find(Endpoint::Users, "userName", &d.label).await;
            let Some(found) = self.note(found)? else { continue };
            let same: Vec<Value> = found
                .into_iter()
                .filter(|r| r["userName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&d.label)))
                .collect();
            self.adopt_or_create(ObjectKind::User, Endpoint::Users, d, same).await?;
        }
        Ok(())
    }

    async fn push_groups(&mut self, groups: &[Group], wanted: &HashSet<Uuid>) -> Result<(), Stop> {
        let mut desired = Vec::with_capacity(groups.len());
        for g in groups {
            let members: Vec<&str> = g
                .members
                .iter()
                .filter(|a| wanted.contains(a))
                .filter_map(|a| self.mapped(ObjectKind::User, *a).map(|o| o.remote_id.as_str()))
                .collect();
            let body = group_resource(&g.name, &g.id.to_string(), &members);
            desired.push(Desired {
                local: g.id,
                label: g.name.clone(),
                fingerprint: fingerprint(&body),
                body,
                active: true,
            });
        }
        for d in &desired {
            if self.update(ObjectKind::Group, Endpoint::Groups, d).await? {
                continue;
            }
            let by_id = self.remote.find(Endpoint::Groups, "externalId", &d.local.to_string()).await;
            let Some(found) = self.note(by_id)? else { continue };
            let mut same: Vec<Value> =
                found.into_iter().filter(|r| r["externalId"].as_str() == Some(&d.local.to_string())).collect();
            if same.is_empty() {
                let by_name = self.remote.find(Endpoint::Groups, "displayName", &d.label).await;
                let Some(found) = self.note(by_name)? else { continue };
                same = found.into_iter().filter(|r| r["displayName"].as_str() == Some(d.label.as_str())).collect();
                if same.len() > 1 {
                    same.clear();
                }
            }
            self.adopt_or_create(ObjectKind::Group, Endpoint::Groups, d, same).await?;
        }
        let here: HashSet<Uuid> = desired.iter().map(|d| d.local).collect();
        let gone: Vec<RemoteObject> =
            self.map.values().filter(|o| o.kind == ObjectKind::Group && !here.contains(&o.local_id)).cloned().collect();
        for o in gone {
            self.keep_lease().await?;
            let deleted = self.remote.delete(Endpoint::Groups, &o.remote_id, &format!("group {}", o.local_id)).await;
            if self.note(deleted)?.is_some() {
                self.forget(ObjectKind::Group, o.local_id).await?;
            }
        }
        Ok(())
    }

    async fn deprovision(&mut self, wanted: &HashSet<Uuid>) -> Result<(), Stop> {
        let leaving: Vec<RemoteObject> = self
            .map
            .values()
            .filter(|o| o.kind == ObjectKind::User && o.active && !wanted.contains(&o.local_id))
            .cloned()
            .collect();
        for o in leaving {
            self.keep_lease().await?;
            let label = format!("user {}", o.local_id);
            let written = self.remote.deactivate(&o.remote_id, &label).await;
            match self.note(written)? {
                Some(Written::Done) => {
                    let d = Desired {
                        local: o.local_id,
                        label,
                        body: Value::Null,
                        fingerprint: String::new(),
                        active: false,
                    };
                    self.save(ObjectKind::User, &d, o.remote_id, String::new()).await?;
                }
                Some(Written::Gone) => self.forget(ObjectKind::User, o.local_id).await?,
                None => {}
            }
        }
        Ok(())
    }
}
