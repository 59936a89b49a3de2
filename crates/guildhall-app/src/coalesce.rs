//! Coalescing of concurrent reads of the same key, without staleness.
//!
//! A caller may use the result of a read only if that read *started after the
//! caller arrived*: it then reflects every change committed before the call,
//! exactly as a read of its own would. Under load, one read in flight serves
//! every caller that arrived before it started, so hot keys (a product's token,
//! a busy workspace's version) cost one database round trip per wave of
//! requests instead of one per request.

use crate::error::AppError;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Idle keys kept at most; beyond this, idle slots are dropped (so a flood of
/// random tokens cannot grow the map without bound).
const MAX_IDLE_KEYS: usize = 10_000;

struct SlotState<V> {
    in_flight: bool,
    /// The last result and the ticket its read started at.
    last: Option<(u64, V)>,
}

struct Slot<V> {
    state: Mutex<SlotState<V>>,
    done: Notify,
}

pub(crate) struct Coalescer<K, V> {
    tickets: AtomicU64,
    slots: Mutex<HashMap<K, Arc<Slot<V>>>>,
}

impl<K, V> Default for Coalescer<K, V> {
    fn default() -> Self {
        Self { tickets: AtomicU64::new(0), slots: Mutex::new(HashMap::new()) }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; go on.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Ends a flight even if the leader's future is dropped mid-read.
struct Flight<'a, V> {
    slot: &'a Slot<V>,
}

impl<V> Drop for Flight<'_, V> {
    fn drop(&mut self) {
        lock(&self.slot.state).in_flight = false;
        self.slot.done.notify_waiters();
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Coalescer<K, V> {
    fn slot(&self, key: &K) -> Arc<Slot<V>> {
        let mut slots = lock(&self.slots);
        if slots.len() > MAX_IDLE_KEYS {
            slots.retain(|_, s| lock(&s.state).in_flight);
        }
        slots
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Slot { state: Mutex::new(SlotState { in_flight: false, last: None }), done: Notify::new() })
            })
            .clone()
    }

    /// The value for `key`, from a `load` that started after this call began
    /// (this call's own, or a concurrent caller's).
    pub(crate) async fn get<F, Fut>(&self, key: &K, load: F) -> Result<V, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, AppError>>,
    {
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst);
        let slot = self.slot(key);
        let mut load = Some(load);
        loop {
            let notified = {
                let mut state = lock(&slot.state);
                if let Some((started, value)) = &state.last
                    && *started > ticket
                {
                    return Ok(value.clone());
                }
                if !state.in_flight {
                    state.in_flight = true;
                    None
                } else {
                    // Registered before the lock is released: a completion
                    // after this point wakes it.
                    Some(slot.done.notified())
                }
            };
            match notified {
                Some(n) => n.await,
                None => {
                    let flight = Flight { slot: &slot };
                    let started = self.tickets.fetch_add(1, Ordering::SeqCst);
                    let Some(load) = load.take() else {
                        return Err(AppError::Internal("coalescer: a caller led twice".into()));
                    };
                    let result = load().await;
                    if let Ok(value) = &result {
                        lock(&slot.state).last = Some((started, value.clone()));
                    }
                    drop(flight);
                    return result;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_share_a_read() {
        let c = Arc::new(Coalescer::<u8, u64>::default());
        let loads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (c, loads) = (c.clone(), loads.clone());
                tokio::spawn(async move {
                    c.get(&1, || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(7)
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 7);
        }
        let n = loads.load(Ordering::SeqCst);
        assert!((1..=3).contains(&n), "{n} loads for 50 concurrent callers");
    }

    #[tokio::test]
    async fn a_later_caller_never_sees_an_earlier_read() {
        let c = Coalescer::<u8, u64>::default();
        assert_eq!(c.get(&1, || async { Ok(1) }).await.unwrap(), 1);
        // The value changed after the first read finished: a new call reads again.
        assert_eq!(c.get(&1, || async { Ok(2) }).await.unwrap(), 2);
        assert_eq!(c.get(&2, || async { Ok(9) }).await.unwrap(), 9, "keys are independent");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_leader_does_not_strand_the_others() {
        let c = Arc::new(Coalescer::<u8, u64>::default());
        let leader = {
            let c = c.clone();
            tokio::spawn(async move { c.get(&1, std::future::pending::<Result<u64, AppError>>).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let follower = {
            let c = c.clone();
            tokio::spawn(async move { c.get(&1, || async { Ok(5) }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        let got = tokio::time::timeout(Duration::from_secs(5), follower).await.expect("follower stranded");
        assert_eq!(got.unwrap().unwrap(), 5);
    }

    #[tokio::test]
    async fn errors_are_not_shared_as_values() {
        let c = Coalescer::<u8, u64>::default();
        assert!(c.get(&1, || async { Err(AppError::NotFound) }).await.is_err());
        assert_eq!(c.get(&1, || async { Ok(3) }).await.unwrap(), 3);
    }
}
