//! The retirement policy as plain rules over what IAM, the listing and the secret tell about the
//! previous key: whether it needs a look now, and when it is deactivated, kept, deleted, or left
//! to an operator.

use std::time::{Duration, SystemTime};

use super::note::{self, Note};
use crate::services::{AWSPREVIOUS, KeyStatus, KeyUsage, SecretSummary};

/// What happens to the previous key after a rotation.
#[derive(Debug, Clone, PartialEq)]
pub struct RetirePolicy {
    /// The previous key stays Active this long after the rotation; zero: finishSecret deactivates it.
    pub deactivate_after: Duration,
    /// ... and is deactivated only once it has not been used for this long.
    pub quiet_for: Duration,
    /// An inactive previous key is deleted this long after it was deactivated (or last used, if
    /// later); `None`: left for the next rotation to delete.
    pub delete_after: Option<Duration>,
}

impl Default for RetirePolicy {
    fn default() -> Self {
        RetirePolicy {
            deactivate_after: Duration::ZERO,
            quiet_for: Duration::from_secs(24 * 3600),
            delete_after: Some(Duration::from_secs(7 * 24 * 3600)),
        }
    }
}

/// What the policy says about the previous key now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// In its grace period, or not inactive long enough to be deleted; or nothing to do now.
    Wait,
    /// Past its grace period but used within the quiet time: stays Active.
    KeptInUse(KeyUsage),
    Deactivate,
    Delete,
    /// Inactive, but no one recorded when it was deactivated: the wait before its deletion
    /// starts now, and the note says so.
    CountFromNow,
    /// Active again after it was deactivated: someone switched it back on; never undone.
    LeftAlone(String),
    /// Nothing more to do: the key is gone, or deletion is left to the next rotation.
    Finished,
}

/// What the sweep knows about the previous key.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub status: Option<KeyStatus>,
    pub last_used: Option<&'a KeyUsage>,
    /// When the current version was stored (the key was replaced).
    pub rotated_at: SystemTime,
    /// What the sweep (or finishSecret) recorded about this key before.
    pub note: Option<Note>,
    /// For a key finishSecret keeps Active whatever the policy, because its consumers cannot have
    /// moved at rotation: a key brought under rotation by `adopt` (they read it from their own
    /// settings; the time is the adoption's) or one replaced by a key delivered to destinations
    /// (they move as they next read them; the time is the rotation's). Only the quiet rule,
    /// counted from this time at the earliest, retires it.
    pub kept_at_rotation: Option<SystemTime>,
}

/// The policy, applied to an ordinary previous key's status and last use. `rotated_at` is when
/// the current version was stored; `note` what the sweep recorded about this key before.
pub fn decide(
    status: Option<KeyStatus>,
    last_used: Option<&KeyUsage>,
    rotated_at: SystemTime,
    note: Option<Note>,
    policy: &RetirePolicy,
    now: SystemTime,
) -> Decision {
    let facts = Facts {
        status,
        last_used,
        rotated_at,
        note,
        kept_at_rotation: None,
    };
    decide_on(&facts, policy, now)
}

impl RetirePolicy {
    /// This policy as the sweep applies it when AWS shows a key's use up to `lag` late: only the
    /// time before the lag is known, so a key counts as quiet once no use has shown for
    /// `quiet_for` on top of it.
    pub fn with_last_use_lag(&self, lag: Duration) -> RetirePolicy {
        RetirePolicy {
            quiet_for: self.quiet_for + lag,
            ..self.clone()
        }
    }

    /// Whether the previous key may need the policy's attention now, from the listing alone (the
    /// sweep looks at the secret in IAM only then). Agrees with [`RetirePolicy::decide`]: it says
    /// no only where that would say wait or finished.
    pub fn has_work(&self, secret: &SecretSummary, now: SystemTime) -> bool {
        let Some(previous) = secret.labelled(AWSPREVIOUS) else {
            return false;
        };
        let due =
            |since: SystemTime, after: Option<Duration>| after.is_some_and(|d| now >= since + d);
        match note::read(secret.tag(note::NOTE_TAG), &previous.id) {
            Some(Note::Done | Note::LeftAlone) => false,
            Some(Note::Deactivated(at)) => {
                due(at.max(secret.last_rotated.unwrap_or(at)), self.delete_after)
            }
            // finishSecret left the key Active whatever the policy: the quiet rule retires it.
            Some(Note::Adopted | Note::Delivered) => secret
                .last_rotated
                .is_none_or(|rotated| now >= rotated + self.deactivate_after),
            None => match secret.last_rotated {
                None => true,
                // finishSecret deactivated the key when it rotated; deletion comes next.
                Some(rotated) if self.deactivate_after.is_zero() => due(rotated, self.delete_after),
                Some(rotated) => now >= rotated + self.deactivate_after,
            },
        }
    }

    /// The policy, applied to everything known about the previous key.
    pub fn decide(&self, facts: &Facts, now: SystemTime) -> Decision {
        decide_on(facts, self, now)
    }
}

fn decide_on(facts: &Facts, policy: &RetirePolicy, now: SystemTime) -> Decision {
    let Facts {
        status,
        last_used,
        rotated_at,
        note,
        kept_at_rotation,
    } = *facts;
    // finishSecret deactivates an ordinary previous key at rotation when there is no grace
    // period; an adopted one, or one whose successor went to destinations, never.
    let deactivated_at_rotation = kept_at_rotation.is_none() && policy.deactivate_after.is_zero();
    match status {
        None => Decision::Finished,
        Some(KeyStatus::Unknown) => Decision::Wait,
        Some(KeyStatus::Active) => {
            match note {
                Some(Note::Deactivated(_) | Note::Done) => {
                    return Decision::LeftAlone(
                        "switched back on after the sweep deactivated it; left Active until the next rotation".into(),
                    );
                }
                // Reported once; the note keeps every later sweep off it.
                Some(Note::LeftAlone) => return Decision::Wait,
                Some(Note::Adopted | Note::Delivered) | None => {}
            }
            if deactivated_at_rotation {
                return Decision::LeftAlone(
                    "Active although the policy deactivates it at rotation: switched back on by someone; left Active until the next rotation".into(),
                );
            }
            if now < rotated_at + policy.deactivate_after {
                return Decision::Wait;
            }
            if let Some(usage) = last_used
                && now < usage.when + policy.quiet_for
            {
                return Decision::KeptInUse(usage.clone());
            }
            match kept_at_rotation {
                Some(at) if now < at.max(rotated_at) + policy.quiet_for => Decision::Wait,
                _ => Decision::Deactivate,
            }
        }
        Some(status @ (KeyStatus::Inactive | KeyStatus::Expired)) => {
            let Some(delete_after) = policy.delete_after else {
                return Decision::Finished;
            };
            let deactivated = match note {
                Some(Note::Deactivated(at)) => at,
                // Someone switched it back on and off again, or an older sweep finished with it:
                // the next rotation removes it.
                Some(Note::LeftAlone | Note::Done) => return Decision::Wait,
                // IAM expired it, or finishSecret deactivated it: no later than the rotation.
                _ if status == KeyStatus::Expired || deactivated_at_rotation => rotated_at,
                // Deactivated by a sweep whose note this listing does not show yet, or by hand.
                _ => return Decision::CountFromNow,
            };
            // A note only ever lengthens the wait: it counts from the latest of the three.
            let mut since = deactivated.max(rotated_at);
            if let Some(usage) = last_used {
                since = since.max(usage.when);
            }
            if now >= since + delete_after {
                Decision::Delete
            } else {
                Decision::Wait
            }
        }
    }
}
