//! The change feed (ADR 0006): every store write that can make a cached
//! value wrong records a `Change` in the same transaction, numbered gaplessly
//! in commit order, so each node can drop exactly what went stale.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::{AccountId, GrantId, ProductId, WorkspaceId};

/// What a write changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Anything that can alter a permission or membership in the workspace,
    /// or the workspace itself (including its deletion).
    Workspace(WorkspaceId),
    /// The account row or its access tokens (status, password, verified
    /// email, a revoked token).
    Account(AccountId),
    /// A product's registration (its secret, redirect URIs, scopes…).
    Product(ProductId),
    /// An OAuth grant was revoked: its tokens stop working.
    Grant(GrantId),
}

#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// The number of the last committed change (0 before the first).
    async fn latest_change(&self) -> Result<i64, StoreError>;

    /// Up to `limit` committed changes numbered above `after`, in order.
    /// Old changes are pruned: a reader that finds the first number is not
    /// `after + 1` has missed some and must drop everything it cached.
    async fn changes_since(&self, after: i64, limit: u32) -> Result<Vec<(i64, Change)>, StoreError>;
}
