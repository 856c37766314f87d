//! The secret's record of its last delivery to GitHub (a tag): which key, and when it was
//! written. GitHub never gives a secret's value back, only when it was last written, so this is
//! what tells our write from someone else's.

use std::time::{Duration, SystemTime};

use crate::dates;

/// The tag: "<access key id> <first write, unix seconds> <last write, unix seconds>".
pub const DELIVERED_TAG: &str = "iam-key-rotator:delivered";

/// How far GitHub's clock may be from ours, and its timestamps are whole seconds.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key_id: String,
    pub first: SystemTime,
    pub last: SystemTime,
}

impl Record {
    pub fn read(tag: Option<&str>) -> Option<Record> {
        let mut parts = tag?.split(' ');
        let key_id = parts.next()?.to_string();
        let first = dates::from_epoch_seconds(parts.next()?.parse().ok()?);
        let last = dates::from_epoch_seconds(parts.next()?.parse().ok()?);
        (first <= last).then_some(Record {
            key_id,
            first,
            last,
        })
    }

    pub fn write(&self) -> String {
        format!(
            "{} {} {}",
            self.key_id,
            dates::epoch_seconds(self.first),
            dates::epoch_seconds(self.last)
        )
    }

    /// Whether a secret GitHub says was written at `at` was written by this delivery.
    pub fn covers(&self, at: SystemTime) -> bool {
        at + CLOCK_SKEW >= self.first && at <= self.last + CLOCK_SKEW
    }

    /// The delivery's time, as people read it.
    pub fn window(&self) -> String {
        format!(
            "{} to {}",
            humantime::format_rfc3339_seconds(self.first),
            humantime::format_rfc3339_seconds(self.last)
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn a_record_reads_back_and_covers_only_its_own_writes() {
        let first = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let record = Record {
            key_id: "AKIANEW".into(),
            first,
            last: first + Duration::from_secs(3),
        };
        assert_eq!(Record::read(Some(&record.write())), Some(record.clone()));
        assert!(record.covers(first + Duration::from_secs(2)));
        assert!(!record.covers(first + Duration::from_secs(3600)));
        assert!(!record.covers(first - Duration::from_secs(86_400)));
        assert_eq!(Record::read(Some("AKIA 5")), None);
        assert_eq!(Record::read(None), None);
    }
}
