//! Throttling of repeated attempts (failed sign-ins, verification resends,
//! password-reset requests): a fixed window per key, then a lockout that
//! doubles with each lockout in a row (up to a day) until an attempt
//! succeeds and the key is cleared.
//!
//! The rule is a pure function from the stored state to the next state; the
//! store applies it to the row in one transaction, so every node sees the same
//! counters.

use crate::Timestamp;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Hits allowed in one window before the key is locked.
    pub max_hits: u32,
    pub window: Duration,
    /// How long the key stays locked the first time `max_hits` is reached;
    /// each further lockout in a row lasts twice as long, up to `MAX_LOCKOUT`.
    pub lockout: Duration,
}

/// The longest lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(24 * 3600);

/// A key's stored state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleState {
    pub hits: u32,
    pub window_start: Timestamp,
    pub locked_until: Option<Timestamp>,
    /// Lockouts so far without a success in between.
    pub lockouts: u32,
}

impl ThrottleState {
    pub fn fresh(now: Timestamp) -> Self {
        Self { hits: 0, window_start: now, locked_until: None, lockouts: 0 }
    }

    /// `Some(remaining)` while the key is locked at `now`.
    pub fn locked(&self, now: Timestamp) -> Option<Duration> {
        self.locked_until.filter(|until| *until > now).map(|until| until.since(now))
    }
}

impl ThrottlePolicy {
    /// The state after one more hit at `now`.
    pub fn hit(&self, state: ThrottleState, now: Timestamp) -> ThrottleState {
        // A running lock outlives the window: it ends only at `locked_until`.
        let locked = state.locked_until.is_some_and(|u| u > now);
        let window_over = !locked && now.since(state.window_start) >= self.window;
        let lock_over = state.locked_until.is_some_and(|u| u <= now);
        let mut next = match window_over || lock_over {
            true => ThrottleState { lockouts: state.lockouts, ..ThrottleState::fresh(now) },
            false => state,
        };
        next.hits = next.hits.saturating_add(1);
        if next.hits >= self.max_hits && next.locked_until.is_none() {
            next.locked_until = Some(now.plus(self.lockout_after(next.lockouts)));
            next.lockouts = next.lockouts.saturating_add(1);
        }
        next
    }

    /// How long the lockout after `earlier` lockouts in a row lasts.
    pub fn lockout_after(&self, earlier: u32) -> Duration {
        self.lockout.saturating_mul(1 << earlier.min(16)).min(MAX_LOCKOUT.max(self.lockout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: ThrottlePolicy =
        ThrottlePolicy { max_hits: 3, window: Duration::from_secs(60), lockout: Duration::from_secs(300) };

    fn at(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn locks_after_max_hits_within_the_window() {
        let mut s = ThrottleState::fresh(at(0));
        for t in 0..2 {
            s = P.hit(s, at(t));
            assert_eq!(s.locked(at(t)), None);
        }
        s = P.hit(s, at(2));
        assert_eq!(s.locked(at(2)), Some(Duration::from_secs(300)));
        assert_eq!(s.locked(at(301)), Some(Duration::from_secs(1)));
        assert_eq!(s.locked(at(302)), None);
    }

    #[test]
    fn hits_in_an_old_window_are_forgotten() {
        let mut s = ThrottleState::fresh(at(0));
        s = P.hit(s, at(0));
        s = P.hit(s, at(1));
        s = P.hit(s, at(61));
        assert_eq!(s.hits, 1);
        assert_eq!(s.locked(at(61)), None);
    }

    #[test]
    fn each_lockout_in_a_row_lasts_twice_as_long_up_to_a_day() {
        let mut s = ThrottleState::fresh(at(0));
        let mut t = 0;
        for expected in [300, 600, 1200] {
            for _ in 0..3 {
                s = P.hit(s, at(t));
            }
            assert_eq!(s.locked(at(t)), Some(Duration::from_secs(expected)));
            t += expected as i64;
        }
        assert_eq!(s.lockouts, 3);
        assert_eq!(P.lockout_after(30), MAX_LOCKOUT);
    }

    #[test]
    fn a_lock_longer_than_the_window_holds_to_its_end() {
        let mut s = ThrottleState::fresh(at(0));
        for t in 0..3 {
            s = P.hit(s, at(t));
        }
        // Second lockout in a row: 600 s, ten windows long.
        for t in 302..305 {
            s = P.hit(s, at(t));
        }
        assert_eq!(s.locked(at(304)), Some(Duration::from_secs(600)));
        // A guess well past the 60 s window, inside the lock, stays locked.
        s = P.hit(s, at(500));
        assert!(s.locked(at(500)).is_some(), "the lock ended with the window");
        assert!(s.hits > P.max_hits);
    }

    #[test]
    fn a_hit_after_the_lockout_starts_over() {
        let mut s = ThrottleState::fresh(at(0));
        for t in 0..3 {
            s = P.hit(s, at(t));
        }
        s = P.hit(s, at(400));
        assert_eq!((s.hits, s.locked(at(400))), (1, None));
    }
}
