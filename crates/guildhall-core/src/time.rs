//! Instants as milliseconds since the Unix epoch.
//!
//! Both databases store instants as a 64-bit integer of milliseconds (see
//! `docs/adr/0003-timestamps-as-integers.md`): ordering and comparison are then
//! identical on SQLite and PostgreSQL.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An instant, in whole milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    pub fn from_offset_datetime(t: ::time::OffsetDateTime) -> Self {
        let ms = t.unix_timestamp_nanos() / 1_000_000;
        Self(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    pub fn to_offset_datetime(self) -> ::time::OffsetDateTime {
        ::time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(::time::OffsetDateTime::UNIX_EPOCH)
    }

    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms))
    }

    #[must_use]
    pub fn minus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(ms))
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// RFC 3339 text, for pages and JSON.
    pub fn rfc3339(self) -> String {
        self.to_offset_datetime().format(&::time::format_description::well_known::Rfc3339).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_offset_datetime() {
        let t = Timestamp::from_millis(1_795_000_000_123);
        assert_eq!(Timestamp::from_offset_datetime(t.to_offset_datetime()), t);
        assert_eq!(t.rfc3339(), "2026-11-18T11:06:40.123Z");
    }

    #[test]
    fn since_never_goes_negative() {
        let a = Timestamp::from_millis(1000);
        assert_eq!(a.since(Timestamp::from_millis(400)), Duration::from_millis(600));
        assert_eq!(Timestamp::from_millis(400).since(a), Duration::ZERO);
    }

    #[test]
    fn minus_undoes_plus_and_saturates() {
        let a = Timestamp::from_millis(1000);
        assert_eq!(a.plus(Duration::from_secs(5)).minus(Duration::from_secs(5)), a);
        assert_eq!(a.minus(Duration::from_millis(400)), Timestamp::from_millis(600));
        assert_eq!(
            Timestamp::from_millis(i64::MIN + 1).minus(Duration::from_secs(1)),
            Timestamp::from_millis(i64::MIN)
        );
    }
}
