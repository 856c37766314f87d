//! Dates as AWS and our notes write them: whole seconds since the epoch, and RFC 3339 dates with
//! any offset (through the SDK's own `DateTime`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// Whole seconds since the epoch (IAM's dates and our notes keep no finer time).
pub fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

pub fn from_epoch_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// An RFC 3339 date such as `2026-01-31T09:15:00+00:00` or `...Z`; `None` for anything else.
pub fn rfc3339(text: &str) -> Option<SystemTime> {
    DateTime::from_str(text, Format::DateTimeWithOffset)
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_with_any_offset_and_nothing_else() {
        let noon = from_epoch_seconds(1_785_585_600);
        assert_eq!(rfc3339("2026-08-01T12:00:00+00:00"), Some(noon));
        assert_eq!(rfc3339("2026-08-01T12:00:00Z"), Some(noon));
        assert_eq!(rfc3339("2026-08-01T14:00:00+02:00"), Some(noon));
        for text in ["N/A", "no_information", "not_supported", ""] {
            assert_eq!(rfc3339(text), None, "{text}");
        }
        assert_eq!(epoch_seconds(noon), 1_785_585_600);
    }
}
