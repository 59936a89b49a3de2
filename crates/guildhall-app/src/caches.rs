//! What a node keeps in memory for its hot paths (bearer tokens, permission
//! indexes, products, OAuth grants known to be live), and how it learns that an entry went stale: the change feed
//! (ADR 0006).
//!
//! - An entry is *used* only while the feed has been followed recently
//!   (`fresh`): within `max_lag` of the start of a successful catch-up.
//!   Otherwise callers read the database as if there were no cache.
//! - A load inserts what it read only if nothing was invalidated since it
//!   began (`epoch`), so a read that raced a change cannot bring stale data
//!   back.
//! - After its own writes a node catches up before it answers, so a client
//!   sees its own changes at once; changes made elsewhere (another node, the
//!   CLI) are seen within one follow interval.

use crate::ports::{AccessToken, Change, ChangeStore, Product, StoreError};
use guildhall_core::accounts::Account;
use guildhall_core::workspaces::PermissionIndex;
use guildhall_core::{GrantId, ProductId, WorkspaceId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// Changes read per round trip while catching up.
const BATCH: u32 = 1000;
/// Entries kept at most; a full map is emptied (a flood of distinct keys
/// cannot grow memory without bound).
const MAX_TOKENS: usize = 100_000;
const MAX_INDEXES: usize = 256;
const MAX_PRODUCTS: usize = 10_000;
const MAX_LIVE_GRANTS: usize = 100_000;

/// A workspace's permission index and the version it was built from.
pub(crate) struct CachedIndex {
    pub id: WorkspaceId,
    pub version: i64,
    pub index: PermissionIndex,
}

/// A live bearer token and its account, as last read from the store.
pub(crate) struct CachedToken {
    pub token: AccessToken,
    pub account: Account,
    /// When the store last recorded a use (milliseconds), or `i64::MIN`.
    pub last_used_ms: AtomicI64,
}

pub(crate) struct Caches {
    tokens: RwLock<HashMap<[u8; 32], Arc<CachedToken>>>,
    indexes: RwLock<HashMap<String, Arc<CachedIndex>>>,
    products: RwLock<HashMap<ProductId, Arc<Product>>>,
    /// Grants read from the store as not revoked.
    live_grants: RwLock<HashSet<GrantId>>,
    /// Bumped by every invalidation.
    epoch: AtomicU64,
    /// The last change applied; `None` before the first catch-up.
    cursor: tokio::sync::Mutex<Option<i64>>,
    base: Instant,
    /// Milliseconds after `base` at which the last successful catch-up
    /// started, plus one (0: never).
    synced_at: AtomicU64,
    max_lag: Duration,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // The maps hold plain data; a panic elsewhere leaves them usable.
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Caches {
    pub(crate) fn new(max_lag: Duration) -> Self {
        Self {
            tokens: RwLock::default(),
            indexes: RwLock::default(),
            products: RwLock::default(),
            live_grants: RwLock::default(),
            epoch: AtomicU64::new(0),
            cursor: tokio::sync::Mutex::new(None),
            base: Instant::now(),
            synced_at: AtomicU64::new(0),
            max_lag,
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether entries may be used without asking the database.
    pub(crate) fn fresh(&self) -> bool {
        self.fresh_at(self.elapsed_ms())
    }

    fn fresh_at(&self, elapsed_ms: u64) -> bool {
        let synced = self.synced_at.load(Ordering::Acquire);
        let max_lag = u64::try_from(self.max_lag.as_millis()).unwrap_or(u64::MAX);
        synced > 0 && elapsed_ms.saturating_sub(synced - 1) <= max_lag
    }

    /// Taken before a load; hand it back to `put_*`.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn token(&self, hash: &[u8; 32]) -> Option<Arc<CachedToken>> {
        read(&self.tokens).get(hash).cloned()
    }

    pub(crate) fn put_token(&self, hash: [u8; 32], entry: Arc<CachedToken>, epoch: u64) {
        let mut tokens = write(&self.tokens);
        if self.epoch() != epoch {
            return;
        }
        if tokens.len() >= MAX_TOKENS {
            tokens.clear();
        }
        tokens.insert(hash, entry);
    }

    /// The last index built for a workspace slug, fresh or not.
    pub(crate) fn index(&self, slug: &str) -> Option<Arc<CachedIndex>> {
        read(&self.indexes).get(slug).cloned()
    }

    pub(crate) fn put_index(&self, slug: &str, entry: Arc<CachedIndex>, epoch: u64) {
        let mut indexes = write(&self.indexes);
        if self.epoch() != epoch {
            return;
        }
        if indexes.len() >= MAX_INDEXES {
            indexes.clear();
        }
        indexes.insert(slug.to_owned(), entry);
    }

    pub(crate) fn product(&self, id: ProductId) -> Option<Arc<Product>> {
        read(&self.products).get(&id).cloned()
    }

    pub(crate) fn put_product(&self, product: Arc<Product>, epoch: u64) {
        let mut products = write(&self.products);
        if self.epoch() != epoch {
            return;
        }
        if products.len() >= MAX_PRODUCTS {
            products.clear();
        }
        products.insert(product.id, product);
    }

    pub(crate) fn grant_live(&self, id: GrantId) -> bool {
        read(&self.live_grants).contains(&id)
    }

    pub(crate) fn put_live_grant(&self, id: GrantId, epoch: u64) {
        let mut grants = write(&self.live_grants);
        if self.epoch() != epoch {
            return;
        }
        if grants.len() >= MAX_LIVE_GRANTS {
            grants.clear();
        }
        grants.insert(id);
    }

    fn apply(&self, change: Change) {
        match change {
            Change::Product(id) => {
                let mut products = write(&self.products);
                self.epoch.fetch_add(1, Ordering::AcqRel);
                products.remove(&id);
            }
            Change::Grant(id) => {
                let mut grants = write(&self.live_grants);
                self.epoch.fetch_add(1, Ordering::AcqRel);
                grants.remove(&id);
            }
            Change::Workspace(id) => {
                let mut indexes = write(&self.indexes);
                self.epoch.fetch_add(1, Ordering::AcqRel);
                indexes.retain(|_, e| e.id != id);
            }
            Change::Account(id) => {
                let mut tokens = write(&self.tokens);
                self.epoch.fetch_add(1, Ordering::AcqRel);
                tokens.retain(|_, e| e.account.id != id);
            }
        }
    }

    fn clear(&self) {
        let mut tokens = write(&self.tokens);
        let mut indexes = write(&self.indexes);
        let mut products = write(&self.products);
        let mut grants = write(&self.live_grants);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        tokens.clear();
        indexes.clear();
        products.clear();
        grants.clear();
    }

    /// Applies every change committed before this call. On failure the
    /// caches are emptied and distrusted until a catch-up succeeds: a node
    /// that cannot follow the feed must not answer from memory.
    pub(crate) async fn catch_up(&self, store: &dyn ChangeStore) -> Result<(), StoreError> {
        let mut cursor = self.cursor.lock().await;
        let started = self.elapsed_ms();
        let result = self.follow(store, &mut cursor).await;
        match &result {
            Ok(()) => self.synced_at.store(started + 1, Ordering::Release),
            Err(_) => {
                self.synced_at.store(0, Ordering::Release);
                self.clear();
            }
        }
        result
    }

    async fn follow(&self, store: &dyn ChangeStore, cursor: &mut Option<i64>) -> Result<(), StoreError> {
        let Some(mut last) = *cursor else {
            // Start from now: nothing loaded before this point is kept.
            let latest = store.latest_change().await?;
            self.clear();
            *cursor = Some(latest);
            return Ok(());
        };
        loop {
            let changes = store.changes_since(last, BATCH).await?;
            if changes.first().is_some_and(|(seq, _)| *seq != last + 1) {
                // Pruned before we read them: we cannot know what changed.
                self.clear();
            }
            for (seq, change) in &changes {
                self.apply(*change);
                last = *seq;
                *cursor = Some(last);
            }
            if changes.len() < BATCH as usize {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The cache rules against an in-memory feed: a stand-in that lets a test
    //! write gaps and failures the real stores (checked by the conformance
    //! suite) never produce on demand.
    use super::*;
    use async_trait::async_trait;
    use guildhall_core::accounts::{AccountStatus, DisplayName, Email, Username};
    use guildhall_core::workspaces::PermissionData;
    use guildhall_core::{AccessTokenId, AccountId, Timestamp};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Feed {
        changes: Mutex<Vec<(i64, Change)>>,
        down: std::sync::atomic::AtomicBool,
    }

    impl Feed {
        fn push(&self, seq: i64, change: Change) {
            self.changes.lock().unwrap().push((seq, change));
        }
        fn check(&self) -> Result<(), StoreError> {
            if self.down.load(Ordering::Relaxed) { Err(StoreError::Backend("down".into())) } else { Ok(()) }
        }
    }

    #[async_trait]
    impl ChangeStore for Feed {
        async fn latest_change(&self) -> Result<i64, StoreError> {
            self.check()?;
            Ok(self.changes.lock().unwrap().last().map_or(0, |(s, _)| *s))
        }
        async fn changes_since(&self, after: i64, limit: u32) -> Result<Vec<(i64, Change)>, StoreError> {
            self.check()?;
            let all = self.changes.lock().unwrap();
            Ok(all.iter().filter(|(s, _)| *s > after).take(limit as usize).copied().collect())
        }
    }

    fn ws() -> WorkspaceId {
        WorkspaceId::from_uuid(uuid::Uuid::now_v7())
    }

    fn index(id: WorkspaceId) -> Arc<CachedIndex> {
        Arc::new(CachedIndex { id, version: 1, index: PermissionIndex::build(PermissionData::default()) })
    }

    fn token(account: AccountId) -> Arc<CachedToken> {
        let t0 = Timestamp::from_millis(0);
        let account = Account {
            id: account,
            email: Email::parse("ada@example.com").unwrap(),
            email_verified: true,
            username: Username::parse("ada").unwrap(),
            display_name: DisplayName::parse("Ada").unwrap(),
            status: AccountStatus::Active,
            is_operator: false,
            must_change_password: false,
            has_password: true,
            managed_by: None,
            created_at: t0,
            updated_at: t0,
        };
        let token = AccessToken {
            id: AccessTokenId::from_uuid(uuid::Uuid::now_v7()),
            account: account.id,
            name: "ci".into(),
            scopes: vec![],
            created_at: t0,
            last_used_at: None,
            expires_at: None,
        };
        Arc::new(CachedToken { token, account, last_used_ms: AtomicI64::new(i64::MIN) })
    }

    #[tokio::test]
    async fn entries_are_trusted_only_after_a_catch_up_and_until_it_lags() {
        let caches = Caches::new(Duration::from_millis(50));
        let feed = Feed::default();
        assert!(!caches.fresh(), "trusted before following the feed");
        caches.catch_up(&feed).await.unwrap();
        assert!(caches.fresh());
        let synced = caches.synced_at.load(Ordering::Acquire) - 1;
        assert!(caches.fresh_at(synced + 50));
        assert!(!caches.fresh_at(synced + 51), "trusted although the feed was not read for longer than max_lag");
        feed.down.store(true, Ordering::Relaxed);
        assert!(caches.catch_up(&feed).await.is_err());
        assert!(!caches.fresh(), "a failed catch-up made the caches trusted");
    }

    #[tokio::test]
    async fn a_change_drops_exactly_its_subjects_entries() {
        let caches = Caches::new(Duration::from_secs(60));
        let feed = Feed::default();
        caches.catch_up(&feed).await.unwrap();
        let (acme, globex) = (ws(), ws());
        let (ada, bob) = (AccountId::from_uuid(uuid::Uuid::now_v7()), AccountId::from_uuid(uuid::Uuid::now_v7()));
        caches.put_index("acme", index(acme), caches.epoch());
        caches.put_index("globex", index(globex), caches.epoch());
        caches.put_token([1; 32], token(ada), caches.epoch());
        caches.put_token([2; 32], token(bob), caches.epoch());
        feed.push(1, Change::Workspace(acme));
        feed.push(2, Change::Account(bob));
        caches.catch_up(&feed).await.unwrap();
        assert!(caches.index("acme").is_none(), "a changed workspace kept its index");
        assert!(caches.index("globex").is_some(), "an unchanged workspace lost its index");
        assert!(caches.token(&[1; 32]).is_some(), "an unchanged account lost its token");
        assert!(caches.token(&[2; 32]).is_none(), "a changed account kept its token");
        // Applied once: the next catch-up starts after them.
        caches.put_index("acme", index(acme), caches.epoch());
        caches.catch_up(&feed).await.unwrap();
        assert!(caches.index("acme").is_some());
    }

    #[tokio::test]
    async fn a_load_that_raced_an_invalidation_is_not_kept() {
        let caches = Caches::new(Duration::from_secs(60));
        let feed = Feed::default();
        caches.catch_up(&feed).await.unwrap();
        let acme = ws();
        let epoch = caches.epoch(); // a load begins…
        feed.push(1, Change::Workspace(acme));
        caches.catch_up(&feed).await.unwrap(); // …a change lands…
        caches.put_index("acme", index(acme), epoch); // …and the load ends.
        assert!(caches.index("acme").is_none(), "a load older than an invalidation was cached");
    }

    #[tokio::test]
    async fn a_gap_in_the_feed_or_a_failure_empties_the_caches() {
        let caches = Caches::new(Duration::from_secs(60));
        let feed = Feed::default();
        caches.catch_up(&feed).await.unwrap();
        let ada = AccountId::from_uuid(uuid::Uuid::now_v7());
        caches.put_index("acme", index(ws()), caches.epoch());
        caches.put_token([1; 32], token(ada), caches.epoch());
        // Changes 1 and 2 were pruned before this node read them.
        feed.push(3, Change::Workspace(ws()));
        caches.catch_up(&feed).await.unwrap();
        assert!(caches.index("acme").is_none() && caches.token(&[1; 32]).is_none(), "kept entries across a gap");
        caches.put_token([1; 32], token(ada), caches.epoch());
        feed.down.store(true, Ordering::Relaxed);
        assert!(caches.catch_up(&feed).await.is_err());
        assert!(caches.token(&[1; 32]).is_none(), "kept entries while the feed could not be read");
    }
}
