//! The sweep's note on a secret (a tag) of where it stands with the previous key, so that a secret
//! with nothing to do costs no IAM call, and a key the sweep deactivated is known as such. The
//! note is a hint for the listing: every decision that changes a key reads it again, fresh.

use std::time::SystemTime;

use crate::dates;

/// The tag: "<AWSPREVIOUS version id> <what>", what being `deactivated <unix seconds>`, `done`,
/// `left-alone`, `adopted` or `delivered`.
pub const NOTE_TAG: &str = "iam-key-rotator:previous-key";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// The sweep deactivated this version's key at that time.
    Deactivated(SystemTime),
    /// Nothing more to do for this version's key (deleted, gone, or kept for the next rotation).
    Done,
    /// Someone switched this version's key back on: no sweep touches it until the next rotation.
    LeftAlone,
    /// finishSecret left this version's key Active because `adopt` brought it under rotation; the
    /// sweep's quiet rule retires it. A hint for the listing only: the value decides.
    Adopted,
    /// finishSecret left this version's key Active because the new key went to destinations whose
    /// consumers move to it only as they next read them; the sweep's quiet rule retires it.
    Delivered,
}

/// The note about version `previous`; `None` when the tag is absent or about another version.
pub fn read(tag: Option<&str>, previous: &str) -> Option<Note> {
    let mut parts = tag?.split(' ');
    if parts.next()? != previous {
        return None;
    }
    match (parts.next()?, parts.next()) {
        ("done", _) => Some(Note::Done),
        ("left-alone", _) => Some(Note::LeftAlone),
        ("adopted", _) => Some(Note::Adopted),
        ("delivered", _) => Some(Note::Delivered),
        ("deactivated", Some(seconds)) => Some(Note::Deactivated(dates::from_epoch_seconds(
            seconds.parse().ok()?,
        ))),
        _ => None,
    }
}

pub fn write(previous: &str, note: Note) -> String {
    match note {
        Note::Done => format!("{previous} done"),
        Note::LeftAlone => format!("{previous} left-alone"),
        Note::Adopted => format!("{previous} adopted"),
        Note::Delivered => format!("{previous} delivered"),
        Note::Deactivated(at) => {
            format!("{previous} deactivated {}", dates::epoch_seconds(at))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_note_is_read_back_only_for_its_version() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let tag = write("v1", Note::Deactivated(at));
        assert_eq!(read(Some(&tag), "v1"), Some(Note::Deactivated(at)));
        assert_eq!(read(Some(&tag), "v2"), None);
        assert_eq!(read(Some(&write("v1", Note::Done)), "v1"), Some(Note::Done));
        for note in [Note::LeftAlone, Note::Adopted, Note::Delivered] {
            assert_eq!(read(Some(&write("v1", note)), "v1"), Some(note));
        }
        assert_eq!(read(Some("garbage"), "v1"), None);
        assert_eq!(read(None, "v1"), None);
    }
}
