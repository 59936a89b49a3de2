//! Counters for throttling, shared by every node through the database.

use super::StoreError;
use async_trait::async_trait;
use guildhall_core::Timestamp;
use guildhall_core::throttle::{ThrottlePolicy, ThrottleState};

#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// The key's state (fresh if never hit).
    async fn throttle_state(&self, key: &str, now: Timestamp) -> Result<ThrottleState, StoreError>;

    /// Applies one hit under `policy` atomically and returns the new state.
    async fn throttle_hit(
        &self,
        key: &str,
        policy: &ThrottlePolicy,
        now: Timestamp,
    ) -> Result<ThrottleState, StoreError>;

    async fn throttle_clear(&self, key: &str) -> Result<(), StoreError>;
}
