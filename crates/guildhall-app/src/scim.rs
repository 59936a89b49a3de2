//! The SCIM 2.0 service provider (RFC 7643/7644, ADR 0011): a workspace's
//! members and groups (read), and an org's managed accounts and directory
//! groups (read and write, by the org's own identity provider).
//!
//! Resources are rendered to JSON once, here; filters, sorting and PATCH
//! run on that JSON with the pure engine in `guildhall_core::scim`, and the
//! result of a write is parsed back into the domain.

use crate::App;
use crate::directory::DirectoryAccess;
use crate::error::AppError;
use crate::ports::{GroupWrite, NewAccount, Page, StoreError, TextOp, UserCondition, UserField, UserKey, UserWrite};
use guildhall_core::AccountId;
use guildhall_core::accounts::{DisplayName, Email};
use guildhall_core::identities::{Profile, username_candidate};
use guildhall_core::scim::schema::{GROUP, USER};
use guildhall_core::scim::{
    AttrPath, CompValue, CompareOp, Filter, GROUP_SCHEMA_URN, PatchRequest, ResourceSchema, ScimError, ScimType,
    SortOrder, USER_SCHEMA_URN, sort,
};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;

mod render;

pub use render::{etag_matches, project};

/// A directory's user ids in listing order and the event number they were
/// read at.
pub(crate) type CachedIds = (i64, Arc<Vec<AccountId>>);

/// The most resources one page returns (`count` above it is lowered).
pub const MAX_PAGE: u64 = 1000;
const DEFAULT_PAGE: u64 = 100;

/// Users or Groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Users,
    Groups,
}

impl Kind {
    fn schema(self) -> &'static ResourceSchema {
        match self {
            Self::Users => &USER,
            Self::Groups => &GROUP,
        }
    }
}

/// What went wrong: a SCIM error with its `scimType`, or the app's.
#[derive(Debug)]
pub enum ScimFailure {
    Scim(ScimError),
    App(AppError),
    /// `If-Match` named another version (412).
    Precondition,
    /// A write to a read-only (workspace) endpoint (405).
    ReadOnly,
}

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        Self::Scim(e)
    }
}

impl From<AppError> for ScimFailure {
    fn from(e: AppError) -> Self {
        Self::App(e)
    }
}

impl From<StoreError> for ScimFailure {
    fn from(e: StoreError) -> Self {
        Self::App(e.into())
    }
}

fn invalid(detail: impl Into<String>) -> ScimFailure {
    ScimFailure::Scim(ScimError::new(ScimType::InvalidValue, detail))
}

fn not_found() -> ScimFailure {
    ScimFailure::App(AppError::NotFound)
}

/// The query of a listing (RFC 7644 §3.4.2).
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    /// `attributes` / `excludedAttributes`, comma-separated (§3.4.2.5).
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl ListQuery {
    fn projects(&self) -> bool {
        self.attributes.is_some() || self.excluded_attributes.is_some()
    }

    /// Resources as the page shows them: projected, then serialised.
    fn shown(&self, resources: impl IntoIterator<Item = Value>) -> Result<Vec<Box<RawValue>>, ScimFailure> {
        resources
            .into_iter()
            .map(|mut r| {
                project(&mut r, self.attributes.as_deref(), self.excluded_attributes.as_deref());
                raw(&r)
            })
            .collect()
    }
}

fn raw(resource: &Value) -> Result<Box<RawValue>, ScimFailure> {
    serde_json::value::to_raw_value(resource).map_err(internal)
}

fn internal(e: serde_json::Error) -> ScimFailure {
    ScimFailure::App(AppError::Internal(e.into()))
}

/// One page of a listing, its resources serialised: a large page is
/// written once, straight from what was read (`ListResponse`).
#[derive(Debug)]
pub struct ListPage {
    pub total: u64,
    pub start_index: u64,
    pub resources: Vec<Box<RawValue>>,
}

/// A filter that names at most one user, answered by the database.
fn user_key(f: &Filter) -> Option<UserKey<'_>> {
    let (path, value) = match f {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(v) } => (path, v.as_str()),
        Filter::ValuePath { path, filter } if path.name.eq_ignore_ascii_case("emails") && path.sub_attr.is_none() => {
            match filter.as_ref() {
                Filter::Compare { path: sub, op: CompareOp::Eq, value: CompValue::Str(v) }
                    if sub.name.eq_ignore_ascii_case("value") && sub.sub_attr.is_none() =>
                {
                    return Some(UserKey::Email(v));
                }
                _ => return None,
            }
        }
        _ => return None,
    };
    match user_attribute(path)? {
        ("username", None) => Some(UserKey::UserName(value)),
        ("externalid", None) => Some(UserKey::ExternalId(value)),
        ("emails", Some("value")) => Some(UserKey::Email(value)),
        ("id", None) => uuid::Uuid::parse_str(value).ok().map(|u| UserKey::Id(AccountId::from_uuid(u))),
        _ => None,
    }
}

/// What the database can check of a filter on workspace members: a
/// condition every user the filter matches meets (`None`: none narrower
/// than everyone). A part it cannot express is left out of an `and`, and
/// makes an `or` or a `not` inexpressible; the filter itself then decides.
/// (An org's users show what its directory wrote, not these columns.)
fn narrow(f: &Filter, in_emails: bool) -> Option<UserCondition> {
    match f {
        Filter::And(items) => {
            let parts: Vec<UserCondition> = items.iter().filter_map(|i| narrow(i, in_emails)).collect();
            (!parts.is_empty()).then_some(UserCondition::All(parts))
        }
        Filter::Or(items) => items.iter().map(|i| narrow(i, in_emails)).collect::<Option<_>>().map(UserCondition::Any),
        Filter::ValuePath { path, filter } if !in_emails && user_attribute(path) == Some(("emails", None)) => {
            narrow(filter, true)
        }
        Filter::Compare { path, op, value } => {
            let field = if in_emails {
                (path.uri.is_none() && path.sub_attr.is_none() && path.name.eq_ignore_ascii_case("value"))
                    .then_some(UserField::Email)
            } else {
                match user_attribute(path)? {
                    ("username", None) => Some(UserField::UserName),
                    ("displayname", None) | ("name", Some("formatted")) => Some(UserField::DisplayName),
                    ("emails", None | Some("value")) => Some(UserField::Email),
                    ("active", None) => {
                        let b = match value {
                            CompValue::Bool(b) => *b,
                            CompValue::Str(s) => guildhall_core::scim::eval::parse_bool(s)?,
                            _ => return None,
                        };
                        return match op {
                            CompareOp::Eq => Some(UserCondition::Active(b)),
                            CompareOp::Ne => Some(UserCondition::Active(!b)),
                            _ => None,
                        };
                    }
                    _ => None,
                }
            }?;
            // (No column holds a NUL, which PostgreSQL cannot take as text.)
            let CompValue::Str(v) = value else { return None };
            if v.contains('\0') {
                return None;
            }
            let op = match op {
                CompareOp::Eq => TextOp::Eq,
                CompareOp::Co => TextOp::Contains,
                CompareOp::Sw => TextOp::StartsWith,
                CompareOp::Ew => TextOp::EndsWith,
                _ => return None,
            };
            // Folded as the filter folds it (Unicode lowercase).
            Some(UserCondition::Text { field, op, value: v.to_lowercase() })
        }
        _ => None,
    }
}

/// A path into the User schema as (name, sub-attribute), lowercased, for
/// the attributes the database can look up or narrow by.
fn user_attribute(path: &AttrPath) -> Option<(&'static str, Option<&'static str>)> {
    if path.uri.as_deref().is_some_and(|u| !u.eq_ignore_ascii_case(USER_SCHEMA_URN)) {
        return None;
    }
    let known = ["id", "externalid", "username", "displayname", "name", "emails", "active"];
    let name = known.into_iter().find(|k| path.name.eq_ignore_ascii_case(k))?;
    let sub = match path.sub_attr.as_deref() {
        None => None,
        Some(s) => Some(["formatted", "value"].into_iter().find(|k| s.eq_ignore_ascii_case(k))?),
    };
    Some((name, sub))
}

/// A listing's parameters, parsed.
struct Parsed {
    filter: Option<Filter>,
    sort_by: Option<AttrPath>,
    order: SortOrder,
    /// 1-based.
    start_index: u64,
    count: u64,
}

impl Parsed {
    fn from(q: &ListQuery) -> Result<Self, ScimFailure> {
        let filter = q
            .filter
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .map(Filter::parse)
            .transpose()
            .map_err(ScimError::from)?;
        let sort_by = q
            .sort_by
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                AttrPath::parse(s.trim()).map_err(|e| ScimError::new(ScimType::InvalidValue, format!("sortBy: {e}")))
            })
            .transpose()?;
        Ok(Self {
            filter,
            sort_by,
            order: SortOrder::parse(q.sort_order.as_deref())?,
            start_index: u64::try_from(q.start_index.unwrap_or(1).max(1)).unwrap_or(1),
            count: u64::try_from(q.count.unwrap_or(DEFAULT_PAGE as i64).max(0)).unwrap_or(0).min(MAX_PAGE),
        })
    }
}

pub struct ScimService<'a> {
    app: &'a App,
}

impl<'a> ScimService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// A page of users or groups, filtered and sorted as asked.
    pub async fn list(
        &self,
        d: &DirectoryAccess,
        kind: Kind,
        q: &ListQuery,
        base: &str,
    ) -> Result<ListPage, ScimFailure> {
        let schema = kind.schema();
        let Parsed { filter, sort_by, order, start_index, count } = Parsed::from(q)?;
        if let Some(f) = &filter {
            f.validate(schema)?;
        }
        let offset = start_index - 1;
        let store = self.app.store();

        // The database pages when nothing needs the whole set in memory.
        if kind == Kind::Users && filter.is_none() && sort_by.is_none() {
            let ids = self.user_ids(d).await?;
            let end = (offset.saturating_add(count) as usize).min(ids.len());
            let start = (offset as usize).min(end);
            let users = store.scim_users_by_ids(d.scope, &ids[start..end]).await?;
            let resources = if q.projects() {
                q.shown(users.iter().map(|u| render::user(u, base)))?
            } else {
                users
                    .iter()
                    .map(|u| render::UserResource::new(u, base).into_raw().map_err(internal))
                    .collect::<Result<_, _>>()?
            };
            return Ok(ListPage { total: ids.len() as u64, start_index, resources });
        }
        let key = match (&filter, kind) {
            (Some(f), Kind::Users) => user_key(f),
            _ => None,
        };
        if sort_by.is_none() && (filter.is_none() || key.is_some()) {
            let page = Page { offset, limit: Some(count) };
            let (total, resources): (u64, Vec<Value>) = match kind {
                Kind::Users => {
                    let (total, users) = store.scim_users(d.scope, key, page).await?;
                    (total, users.iter().map(|u| render::user(u, base)).collect())
                }
                Kind::Groups => {
                    let (total, groups) = store.scim_groups(d.scope, None, page).await?;
                    (total, groups.iter().map(|g| render::group(g, base, d.org_id().is_none())).collect())
                }
            };
            // A key lookup still checks the whole filter (case rules, the
            // rest of the expression).
            let resources: Vec<Value> = match &filter {
                Some(f) => resources.into_iter().filter(|r| f.matches(r, schema)).collect(),
                None => resources,
            };
            let total = if filter.is_some() { resources.len() as u64 } else { total };
            return Ok(ListPage { total, start_index, resources: q.shown(resources)? });
        }
        let all = Page { offset: 0, limit: None };
        // The database narrows the candidates; the filter below decides.
        // Candidates that are most of the directory read faster whole.
        let candidates = match (&filter, kind, d.org_id()) {
            (Some(f), Kind::Users, None) => match narrow(f, false) {
                Some(condition) => {
                    let ids = store.scim_user_ids_where(d.scope, &condition).await?;
                    (ids.len() <= self.user_ids(d).await?.len() / 2).then_some(ids)
                }
                None => None,
            },
            _ => None,
        };
        let mut resources: Vec<Value> = match (kind, candidates) {
            (Kind::Users, Some(ids)) => {
                store.scim_users_by_ids(d.scope, &ids).await?.iter().map(|u| render::user(u, base)).collect()
            }
            (Kind::Users, None) => {
                store.scim_users(d.scope, None, all).await?.1.iter().map(|u| render::user(u, base)).collect()
            }
            (Kind::Groups, _) => store
                .scim_groups(d.scope, None, all)
                .await?
                .1
                .iter()
                .map(|g| render::group(g, base, d.org_id().is_none()))
                .collect(),
        };
        if let Some(f) = &filter {
            resources.retain(|r| f.matches(r, schema));
        }
        if let Some(path) = &sort_by {
            sort::sort_resources(&mut resources, path, schema, order);
        }
        let total = resources.len() as u64;
        let resources = q.shown(resources.into_iter().skip(offset as usize).take(count as usize))?;
        Ok(ListPage { total, start_index, resources })
    }

    /// The directory's user ids in listing order, from memory while no event
    /// was written since they were read: every change to who is in a
    /// directory, or to a username, writes an event (ADR 0011). Paging a
    /// large directory thus costs one page of rows per request, not a scan.
    async fn user_ids(&self, d: &DirectoryAccess) -> Result<Arc<Vec<AccountId>>, ScimFailure> {
        let store = self.app.store();
        let seq = store.latest_event().await?;
        let cached = self
            .app
            .scim_ids
            .lock()
            .ok()
            .and_then(|m| m.get(&d.scope).filter(|(s, _)| *s == seq).map(|(_, ids)| ids.clone()));
        if let Some(ids) = cached {
            return Ok(ids);
        }
        let ids = Arc::new(store.scim_user_ids(d.scope).await?);
        if let Ok(mut m) = self.app.scim_ids.lock() {
            // Bounded: a server serves few directories over SCIM at once.
            if m.len() >= 64 {
                m.clear();
            }
            m.insert(d.scope, (seq, ids.clone()));
        }
        Ok(ids)
    }

    /// Users and groups at once (`POST /.search`, RFC 7644 §3.4.3): each
    /// resource is matched and sorted by its own schema.
    pub async fn search_all(&self, d: &DirectoryAccess, q: &ListQuery, base: &str) -> Result<ListPage, ScimFailure> {
        let Parsed { filter, sort_by, order, start_index, count } = Parsed::from(q)?;
        let store = self.app.store();
        let all = Page { offset: 0, limit: None };
        let users = store.scim_users(d.scope, None, all).await?.1;
        let groups = store.scim_groups(d.scope, None, all).await?.1;
        let mut found: Vec<(Value, &ResourceSchema)> = users
            .iter()
            .map(|u| (render::user(u, base), &USER))
            .chain(groups.iter().map(|g| (render::group(g, base, d.org_id().is_none()), &GROUP)))
            .filter(|(r, schema)| filter.as_ref().is_none_or(|f| f.matches(r, schema)))
            .collect();
        if let Some(path) = &sort_by {
            found.sort_by(|(a, sa), (b, sb)| {
                let (ka, kb) = (sort::sort_key(a, path, sa), sort::sort_key(b, path, sb));
                sort::compare_keys(ka.as_ref(), kb.as_ref(), order)
            });
        }
        let total = found.len() as u64;
        let resources =
            q.shown(found.into_iter().map(|(r, _)| r).skip((start_index - 1) as usize).take(count as usize))?;
        Ok(ListPage { total, start_index, resources })
    }

    /// One user or group by id.
    pub async fn get(&self, d: &DirectoryAccess, kind: Kind, id: &str, base: &str) -> Result<Value, ScimFailure> {
        let id = uuid::Uuid::parse_str(id).map_err(|_| not_found())?;
        let one = Page { offset: 0, limit: Some(1) };
        let store = self.app.store();
        match kind {
            Kind::Users => {
                let (_, users) = store.scim_users(d.scope, Some(UserKey::Id(AccountId::from_uuid(id))), one).await?;
                users.first().map(|u| render::user(u, base)).ok_or_else(not_found)
            }
            Kind::Groups => {
                let (_, groups) = store.scim_groups(d.scope, Some(id), one).await?;
                groups.first().map(|g| render::group(g, base, d.org_id().is_none())).ok_or_else(not_found)
            }
        }
    }

    fn org(&self, d: &DirectoryAccess) -> Result<guildhall_core::OrgId, ScimFailure> {
        d.org_id().ok_or(ScimFailure::ReadOnly)
    }

    /// Provisions a managed account (POST /Users).
    pub async fn create_user(&self, d: &DirectoryAccess, body: &Value, base: &str) -> Result<Value, ScimFailure> {
        let org = self.org(d)?;
        let write = self.user_write(d, body, None).await?;
        self.user_name_free(d, &write.user_name, None).await?;
        let local = write.user_name.split('@').next().unwrap_or_default();
        let profile = Profile {
            subject: String::new(),
            email: Some(write.email.as_str().to_owned()),
            email_verified: false,
            name: None,
            username: Some(local.to_owned()),
        };
        let base_name = username_candidate(&profile).map(|u| u.to_string()).unwrap_or_else(|| "user".into());
        let audit = d.audit("scim.user_provisioned", format!("user:{}", write.user_name), self.app.now());
        for attempt in 0..20u32 {
            let candidate = match attempt {
                0 => base_name.clone(),
                n if n < 10 => format!("{}-{}", base_name.chars().take(30).collect::<String>(), n + 1),
                _ => format!(
                    "{}-{}",
                    base_name.chars().take(26).collect::<String>(),
                    &self.app.new_uuid().simple().to_string()[..8]
                ),
            };
            let Ok(username) = guildhall_core::accounts::Username::parse(&candidate) else { continue };
            let new = NewAccount {
                id: AccountId::from_uuid(self.app.new_uuid()),
                email: write.email.clone(),
                username,
                display_name: write.display_name.clone(),
                password_hash: None,
                email_verified: write.email_verified,
                is_operator: false,
                must_change_password: false,
                identity: None,
                now: write.now,
            };
            match self.app.written(self.app.store().scim_create_user(org, &new, &write, &audit).await).await {
                Ok(user) => return Ok(render::user(&user, base)),
                Err(StoreError::Conflict("username")) => continue,
                Err(StoreError::Conflict("email")) => {
                    return Err(ScimFailure::Scim(ScimError::new(
                        ScimType::Uniqueness,
                        "Another account already has this email address.",
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ScimFailure::App(AppError::Conflict("No free username could be derived from userName.".into())))
    }

    /// Replaces a user (PUT /Users/{id}).
    pub async fn replace_user(
        &self,
        d: &DirectoryAccess,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        base: &str,
    ) -> Result<Value, ScimFailure> {
        let current = self.get(d, Kind::Users, id, base).await?;
        self.write_user(d, &current, body, if_match, base).await
    }

    /// Applies a PatchOp to a user (PATCH /Users/{id}).
    pub async fn patch_user(
        &self,
        d: &DirectoryAccess,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
        base: &str,
    ) -> Result<Value, ScimFailure> {
        self.org(d)?;
        let current = self.get(d, Kind::Users, id, base).await?;
        let next = patch.apply(&current, &USER)?;
        self.write_user(d, &current, &next, if_match, base).await
    }

    async fn write_user(
        &self,
        d: &DirectoryAccess,
        current: &Value,
        body: &Value,
        if_match: Option<&str>,
        base: &str,
    ) -> Result<Value, ScimFailure> {
        let org = self.org(d)?;
        if !etag_matches(current, if_match) {
            return Err(ScimFailure::Precondition);
        }
        let id = current["id"].as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()).ok_or_else(not_found)?;
        let account = AccountId::from_uuid(id);
        let current_email = current["emails"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["primary"] == true))
            .and_then(|e| e["value"].as_str())
            .map(str::to_owned);
        let write = self.user_write(d, body, current_email.as_deref()).await?;
        self.user_name_free(d, &write.user_name, Some(account)).await?;
        let audit = d.audit("scim.user_updated", format!("user:{}", write.user_name), self.app.now());
        match self.app.written(self.app.store().scim_update_user(org, account, &write, &audit).await).await {
            Ok(Some(user)) => Ok(render::user(&user, base)),
            Ok(None) => Err(not_found()),
            Err(StoreError::Conflict("email")) => Err(ScimFailure::Scim(ScimError::new(
                ScimType::Uniqueness,
                "Another account already has this email address.",
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Deprovisions a user (DELETE /Users/{id}): deactivated, out of every
    /// group of the org's workspaces, and no longer listed.
    pub async fn delete_user(
        &self,
        d: &DirectoryAccess,
        id: &str,
        if_match: Option<&str>,
        base: &str,
    ) -> Result<(), ScimFailure> {
        let org = self.org(d)?;
        let current = self.get(d, Kind::Users, id, base).await?;
        if !etag_matches(&current, if_match) {
            return Err(ScimFailure::Precondition);
        }
        let account = AccountId::from_uuid(uuid::Uuid::parse_str(id).map_err(|_| not_found())?);
        let audit = d.audit(
            "scim.user_deleted",
            format!("user:{}", current["userName"].as_str().unwrap_or_default()),
            self.app.now(),
        );
        if self.app.written(self.app.store().scim_delete_user(org, account, &audit).await).await? {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// 409 if another user of the directory has this userName.
    async fn user_name_free(
        &self,
        d: &DirectoryAccess,
        user_name: &str,
        me: Option<AccountId>,
    ) -> Result<(), ScimFailure> {
        let (_, found) = self
            .app
            .store()
            .scim_users(d.scope, Some(UserKey::UserName(user_name)), Page { offset: 0, limit: Some(1) })
            .await?;
        match found.first() {
            Some(u) if Some(u.account.id) != me => Err(ScimFailure::Scim(ScimError::new(
                ScimType::Uniqueness,
                format!("userName {user_name:?} is taken in this directory."),
            ))),
            _ => Ok(()),
        }
    }

    /// Parses a User resource into what the store writes.
    async fn user_write(
        &self,
        d: &DirectoryAccess,
        body: &Value,
        current_email: Option<&str>,
    ) -> Result<UserWrite, ScimFailure> {
        let org = self.org(d)?;
        check_schema(body, USER_SCHEMA_URN)?;
        let user_name = body["userName"]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("userName is required."))?;
        if user_name.chars().count() > 256 {
            return Err(invalid("userName is longer than 256 characters."));
        }
        let emails = body["emails"].as_array().cloned().unwrap_or_default();
        let primary = emails.iter().find(|e| e["primary"] == true).or_else(|| emails.first());
        let email = primary
            .and_then(|e| e["value"].as_str())
            .ok_or_else(|| invalid("An email address (emails[].value) is required."))?;
        let email = Email::parse(email).map_err(|e| invalid(format!("emails: {e}")))?;
        let name = &body["name"];
        let given = [name["givenName"].as_str(), name["familyName"].as_str()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let display = body["displayName"]
            .as_str()
            .or(name["formatted"].as_str())
            .map(str::to_owned)
            .filter(|s| !s.trim().is_empty())
            .or((!given.trim().is_empty()).then_some(given))
            .unwrap_or_else(|| user_name.to_owned());
        let display_name = DisplayName::parse(&display.chars().take(100).collect::<String>())
            .map_err(|_| invalid("displayName is not a usable name."))?;
        let active = match &body["active"] {
            Value::Null => true,
            Value::Bool(b) => *b,
            Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            Value::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => return Err(invalid("active is true or false.")),
        };
        let external_id = match &body["externalId"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err(invalid("externalId is a string.")),
        };
        // An address on one of the org's verified domains is verified; any
        // other must be confirmed by its owner before it is trusted.
        let domains = self.app.store().org_domains(org).await?;
        let on_domain = domains.iter().any(|dm| dm.verified_at.is_some() && dm.domain.as_str() == email.domain());
        let unchanged = current_email.is_some_and(|c| c.eq_ignore_ascii_case(email.as_str()));
        let mut attributes = json!({});
        for key in ["name", "emails", "displayName", "active"] {
            if !body[key].is_null() {
                attributes[key] = body[key].clone();
            }
        }
        Ok(UserWrite {
            user_name: user_name.to_owned(),
            email,
            email_verified: on_domain || unchanged,
            display_name,
            attributes,
            external_id,
            active,
            now: self.app.now(),
        })
    }

    /// Creates an org directory group (POST /Groups).
    pub async fn create_group(&self, d: &DirectoryAccess, body: &Value, base: &str) -> Result<Value, ScimFailure> {
        let org = self.org(d)?;
        let write = self.group_write(d, body).await?;
        let audit = d.audit("scim.group_created", format!("group:{}", write.display_name), self.app.now());
        let id = self.app.new_uuid();
        match self.app.written(self.app.store().scim_create_group(org, id, &write, &audit).await).await {
            Ok(g) => Ok(render::group(&g, base, false)),
            Err(e) => Err(group_conflict(e)),
        }
    }

    pub async fn replace_group(
        &self,
        d: &DirectoryAccess,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        base: &str,
    ) -> Result<Value, ScimFailure> {
        let current = self.get(d, Kind::Groups, id, base).await?;
        self.write_group(d, &current, body, if_match, base).await
    }

    pub async fn patch_group(
        &self,
        d: &DirectoryAccess,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
        base: &str,
    ) -> Result<Value, ScimFailure> {
        self.org(d)?;
        let current = self.get(d, Kind::Groups, id, base).await?;
        let next = patch.apply(&current, &GROUP)?;
        self.write_group(d, &current, &next, if_match, base).await
    }

    async fn write_group(
        &self,
        d: &DirectoryAccess,
        current: &Value,
        body: &Value,
        if_match: Option<&str>,
        base: &str,
    ) -> Result<Value, ScimFailure> {
        let org = self.org(d)?;
        if !etag_matches(current, if_match) {
            return Err(ScimFailure::Precondition);
        }
        let id = current["id"].as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()).ok_or_else(not_found)?;
        let write = self.group_write(d, body).await?;
        let audit = d.audit("scim.group_updated", format!("group:{}", write.display_name), self.app.now());
        match self.app.written(self.app.store().scim_replace_group(org, id, &write, &audit).await).await {
            Ok(Some(g)) => Ok(render::group(&g, base, false)),
            Ok(None) => Err(not_found()),
            Err(e) => Err(group_conflict(e)),
        }
    }

    pub async fn delete_group(
        &self,
        d: &DirectoryAccess,
        id: &str,
        if_match: Option<&str>,
        base: &str,
    ) -> Result<(), ScimFailure> {
        let org = self.org(d)?;
        let current = self.get(d, Kind::Groups, id, base).await?;
        if !etag_matches(&current, if_match) {
            return Err(ScimFailure::Precondition);
        }
        let gid = uuid::Uuid::parse_str(id).map_err(|_| not_found())?;
        let audit = d.audit(
            "scim.group_deleted",
            format!("group:{}", current["displayName"].as_str().unwrap_or_default()),
            self.app.now(),
        );
        if self.app.written(self.app.store().scim_delete_group(org, gid, &audit).await).await? {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    async fn group_write(&self, d: &DirectoryAccess, body: &Value) -> Result<GroupWrite, ScimFailure> {
        self.org(d)?;
        check_schema(body, GROUP_SCHEMA_URN)?;
        let display_name = body["displayName"]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("displayName is required."))?;
        if display_name.chars().count() > 256 {
            return Err(invalid("displayName is longer than 256 characters."));
        }
        let external_id = match &body["externalId"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err(invalid("externalId is a string.")),
        };
        let mut members = Vec::new();
        for m in body["members"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let value = m["value"].as_str().ok_or_else(|| invalid("Each member needs a value (a user id)."))?;
            if m["type"].as_str().is_some_and(|t| !t.eq_ignore_ascii_case("User")) {
                return Err(invalid("Groups hold users, not groups."));
            }
            let id = uuid::Uuid::parse_str(value)
                .map_err(|_| invalid(format!("member {value:?} is not a user of this directory.")))?;
            members.push(AccountId::from_uuid(id));
        }
        Ok(GroupWrite { display_name: display_name.to_owned(), external_id, members, now: self.app.now() })
    }
}

fn group_conflict(e: StoreError) -> ScimFailure {
    match e {
        StoreError::Conflict("display_name") => {
            ScimFailure::Scim(ScimError::new(ScimType::Uniqueness, "The directory already has a group of that name."))
        }
        StoreError::Conflict("member") => invalid("A member is not a user of this directory."),
        e => e.into(),
    }
}

/// The body must name the resource's core schema.
fn check_schema(body: &Value, urn: &str) -> Result<(), ScimFailure> {
    if !body.is_object() {
        return Err(ScimFailure::Scim(ScimError::new(ScimType::InvalidSyntax, "The body is not a JSON object.")));
    }
    let ok = body["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn))));
    if ok {
        Ok(())
    } else {
        Err(ScimFailure::Scim(ScimError::new(ScimType::InvalidSyntax, format!("schemas must include {urn}."))))
    }
}
