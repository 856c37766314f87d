//! Which of a user's keys createSecret may delete to make room under IAM's 2-key quota, and why
//! the others must stay: plain rules over what IAM and the secret's versions say.

use std::time::{Duration, SystemTime};

use crate::services::{KeyInfo, KeyStatus};

/// IAM lets a user hold at most this many access keys.
pub const KEYS_PER_USER: usize = 2;

/// IAM's CreateDate is truncated to the second, so a key made in the same second as the
/// rotation's version may show a time up to this much earlier.
pub const CREATE_DATE_ROUNDING: Duration = Duration::from_secs(1);

/// The longest one attempt of a rotation can run: Lambda's 15-minute limit. A key made later
/// than this after the rotation began cannot be a crash leftover of it, even when Secrets Manager
/// retries the rotation hours later with the same token.
pub const LONGEST_ATTEMPT: Duration = Duration::from_secs(15 * 60);

/// Why createSecret deletes a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Made by an earlier attempt of this rotation that crashed before storing it.
    CrashLeftover,
    /// Inactive, so nothing can be using it.
    Inactive,
    /// Expired by IAM, so nothing can be using it.
    Expired,
    /// Still active, but held only by an older version of this secret and not used since the
    /// current version was stored.
    HeldByOldVersion,
}

/// What createSecret makes of one of the user's keys other than the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Deleted whatever the quota needs: a crash leftover of this very rotation.
    Leftover,
    /// May be deleted if room is needed.
    Removable(Removal),
    /// Must stay; the reason is told to the operator.
    Keep(String),
}

/// Which kind of version holds a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// The version that carries AWSCURRENT now.
    Current(String),
    /// A version that carries AWSPENDING: another attempt's key, still in flight.
    Pending(String),
    /// An older version: AWSPREVIOUS, or one that lost its labels.
    Old,
}

/// A key that an earlier attempt of this rotation created and then crashed before storing: active
/// and made within [`LONGEST_ATTEMPT`] of the rotation's start (its token's version was created,
/// or the CLI noted it). The caller also checks that no version holds it and that it was never
/// used. Secrets Manager retries with the same token, so without this the retry would find the
/// quota full of its own keys; any key made before the rotation started, or after its first
/// attempt must have ended (a retry may come hours later), is someone else's.
pub fn is_crash_leftover(key: &KeyInfo, started: Option<SystemTime>) -> bool {
    let made_during_this_rotation = match (key.created, started) {
        (Some(created), Some(started)) => {
            created + CREATE_DATE_ROUNDING >= started && created <= started + LONGEST_ATTEMPT
        }
        _ => false,
    };
    key.status == KeyStatus::Active && made_during_this_rotation
}

/// The keys to delete so that a user holding `key_count` keys can take one more: every crash
/// leftover, then as few removable keys as needed, inactive and expired ones first, oldest first.
/// `verdicts` covers every key but the current one, which is never deleted.
/// `Err` says why each key that could have made room must stay.
pub fn plan_room(
    key_count: usize,
    verdicts: &[(KeyInfo, Verdict)],
) -> Result<Vec<(KeyInfo, Removal)>, Vec<String>> {
    let mut removals: Vec<(KeyInfo, Removal)> = verdicts
        .iter()
        .filter(|(_, v)| *v == Verdict::Leftover)
        .map(|(k, _)| (k.clone(), Removal::CrashLeftover))
        .collect();
    let excess = (key_count - removals.len() + 1).saturating_sub(KEYS_PER_USER);
    if excess == 0 {
        return Ok(removals);
    }

    let mut candidates: Vec<(&KeyInfo, Removal)> = verdicts
        .iter()
        .filter_map(|(k, v)| match v {
            Verdict::Removable(why) => Some((k, *why)),
            _ => None,
        })
        .collect();
    candidates.sort_by_key(|(k, why)| (*why == Removal::HeldByOldVersion, k.created));

    if candidates.len() < excess {
        let blocking = verdicts
            .iter()
            .filter_map(|(_, v)| match v {
                Verdict::Keep(why) => Some(why.clone()),
                _ => None,
            })
            .collect();
        return Err(blocking);
    }
    removals.extend(
        candidates
            .into_iter()
            .take(excess)
            .map(|(k, why)| (k.clone(), why)),
    );
    Ok(removals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, status: KeyStatus, age_days: u64) -> KeyInfo {
        KeyInfo {
            id: id.to_string(),
            status,
            created: Some(
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000 - age_days * 86_400),
            ),
        }
    }

    fn ids(removals: &[(KeyInfo, Removal)]) -> Vec<&str> {
        removals.iter().map(|(k, _)| k.id.as_str()).collect()
    }

    fn keep(why: &str) -> Verdict {
        Verdict::Keep(why.to_string())
    }

    #[test]
    fn one_key_leaves_room_and_nothing_is_deleted() {
        assert!(plan_room(1, &[]).unwrap().is_empty());
    }

    #[test]
    fn the_inactive_previous_key_is_deleted_to_make_room() {
        let old = key("OLD", KeyStatus::Inactive, 180);
        let removals = plan_room(2, &[(old, Verdict::Removable(Removal::Inactive))]).unwrap();
        assert_eq!(ids(&removals), ["OLD"]);
        assert_eq!(removals[0].1, Removal::Inactive);
    }

    #[test]
    fn a_key_that_must_stay_blocks_and_says_why() {
        let stranger = key("STRANGER", KeyStatus::Active, 9);
        let blocking = plan_room(2, &[(stranger, keep("STRANGER is in use"))]).unwrap_err();
        assert_eq!(blocking, ["STRANGER is in use"]);
    }

    #[test]
    fn crash_leftovers_are_always_removed() {
        let left = key("LEFT", KeyStatus::Active, 0);
        let removals = plan_room(2, &[(left.clone(), Verdict::Leftover)]).unwrap();
        assert_eq!(removals, [(left, Removal::CrashLeftover)]);
    }

    #[test]
    fn inactive_and_expired_keys_go_before_old_versions_keys_and_older_before_newer() {
        let verdicts = [
            (
                key("PREV", KeyStatus::Active, 40),
                Verdict::Removable(Removal::HeldByOldVersion),
            ),
            (
                key("NEWER", KeyStatus::Inactive, 10),
                Verdict::Removable(Removal::Inactive),
            ),
            (
                key("OLDER", KeyStatus::Expired, 20),
                Verdict::Removable(Removal::Expired),
            ),
        ];
        let removals = plan_room(3, &verdicts).unwrap();
        assert_eq!(ids(&removals), ["OLDER", "NEWER"]);
    }

    #[test]
    fn a_leftover_must_be_active_and_made_since_the_rotation_started() {
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000 - 300);
        assert!(is_crash_leftover(
            &key("NEW", KeyStatus::Active, 0),
            Some(started)
        ));
        assert!(!is_crash_leftover(
            &key("NEW", KeyStatus::Inactive, 0),
            Some(started)
        ));
        assert!(!is_crash_leftover(
            &key("OLD", KeyStatus::Active, 5),
            Some(started)
        ));
        assert!(!is_crash_leftover(&key("NEW", KeyStatus::Active, 0), None));
    }

    #[test]
    fn a_key_made_after_the_first_attempt_must_have_ended_is_someone_elses() {
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000 - 3 * 86_400);
        let at = |offset: Duration| KeyInfo {
            id: "NEW".into(),
            status: KeyStatus::Active,
            created: Some(started + offset),
        };
        assert!(is_crash_leftover(
            &at(Duration::from_secs(14 * 60)),
            Some(started)
        ));
        assert!(!is_crash_leftover(
            &at(Duration::from_secs(16 * 60)),
            Some(started)
        ));
        assert!(!is_crash_leftover(
            &at(Duration::from_secs(5 * 3600)),
            Some(started)
        ));
    }

    #[test]
    fn a_key_made_in_the_same_second_as_the_rotation_counts_as_its_own() {
        let started = SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_000_000_700);
        let same_second = KeyInfo {
            id: "NEW".into(),
            status: KeyStatus::Active,
            created: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000)),
        };
        assert!(is_crash_leftover(&same_second, Some(started)));
    }
}
