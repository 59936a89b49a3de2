//! Leases for background jobs, and operator settings shared by all nodes.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::Timestamp;

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Takes (or renews) the lease on `job` for `owner` until `until`, if it
    /// is free, expired at `now`, or already `owner`'s. Atomic across nodes.
    async fn take_lease(&self, job: &str, owner: &str, now: Timestamp, until: Timestamp) -> Result<bool, StoreError>;
    async fn release_lease(&self, job: &str, owner: &str) -> Result<(), StoreError>;
    async fn operator_setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets (`Some`) or clears (`None`) a setting.
    async fn set_operator_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError>;
}
