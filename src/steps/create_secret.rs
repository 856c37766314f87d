//! createSecret: makes a new access key, making room under IAM's 2-key quota, and stores it as AWSPENDING.

use std::collections::HashSet;
use std::time::SystemTime;

use tracing::{error, info, warn};

use super::{Rotator, parse_value};
use crate::error::{Error, Result};
use crate::event::RotationEvent;
use crate::secret::{AccessKey, KeySecret};
use crate::services::{AWSCURRENT, Iam, KeyChecker, KeyInfo, KeyStatus, SecretInfo, SecretStore};

/// IAM lets a user hold at most this many access keys.
pub const KEYS_PER_USER: usize = 2;

/// Why createSecret deletes a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Made by an earlier attempt of a rotation that crashed before storing it.
    CrashLeftover,
    /// Inactive, so nothing can be using it.
    Inactive,
    /// Still active, but held only by an older version of this secret (AWSPREVIOUS or abandoned).
    HeldByOldVersion,
}

impl<S: SecretStore, I: Iam, K: KeyChecker> Rotator<S, I, K> {
    /// Creates the new key and stores it under the token as AWSPENDING.
    ///
    /// Assumes the token's version carries AWSPENDING (or, from the CLI, does not exist yet).
    /// Guarantees: the AWSCURRENT key is never touched, and no active key unknown to this secret is
    /// deleted unless it is a leftover of a crashed attempt (see [`is_crash_leftover`]). If the
    /// key cannot be stored it is deleted again, so a failed attempt leaves no extra key.
    pub(super) async fn create_secret(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
    ) -> Result<()> {
        if let Some(pending) = self.read_pending(event).await? {
            info!(
                key_id = pending.key_id(),
                "a value is already stored under the token; nothing to do"
            );
            return Ok(());
        }

        let (current, current_value) = self.read_current(&event.secret_id).await?;
        let user = self
            .user_in_scope(&event.secret_id, &info.arn, current.user_name())
            .await?;
        let keys = self.iam.list_keys(&user.name).await?;
        let others: HashSet<String> = keys
            .iter()
            .filter(|k| Some(k.id.as_str()) != current.key_id())
            .map(|k| k.id.clone())
            .collect();
        let mut known = self.keys_held_by_old_versions(event, &others).await?;
        known.extend(current.key_id().map(str::to_string));

        let mut leftovers = HashSet::new();
        for key in &keys {
            if is_crash_leftover(key, &known, current_value.created)
                && self.iam.last_used(&key.id).await?.is_none()
            {
                leftovers.insert(key.id.clone());
            }
        }

        let removals =
            plan_room(&keys, current.key_id(), &known, &leftovers).map_err(|blocking| {
                Error::KeyQuota {
                    secret: event.secret_id.clone(),
                    user: user.name.clone(),
                    blocking: blocking.join(" and "),
                }
            })?;
        let keeps_a_key = keys.len() > removals.len();
        for (key, why) in removals {
            self.iam.delete_key(&user.name, &key.id).await?;
            info!(user = %user.name, key_id = %key.id, reason = ?why, "deleted access key to make room");
        }

        let new_key = self.iam.create_key(&user.name).await?;
        info!(user = %user.name, new_key_id = %new_key.id, "created access key");
        if !keeps_a_key {
            self.remove_twins(&user.name, &new_key.id, current_value.created)
                .await?;
        }
        self.store_pending_or_undo(event, &user.name, &current, new_key)
            .await
    }

    /// When the user had no other key, IAM's quota cannot stop the SDK's retry of a
    /// CreateAccessKey whose first answer was lost from making a second key. Removes such a twin
    /// now, while it can only be ours: active, held by no version, never used, and new.
    async fn remove_twins(
        &self,
        user: &str,
        new_key_id: &str,
        current_stored: Option<SystemTime>,
    ) -> Result<()> {
        let ours = HashSet::from([new_key_id.to_string()]);
        for key in self.iam.list_keys(user).await? {
            if is_crash_leftover(&key, &ours, current_stored)
                && self.iam.last_used(&key.id).await?.is_none()
            {
                self.iam.delete_key(user, &key.id).await?;
                info!(user, key_id = %key.id, "deleted a twin of the new key left by a lost answer");
            }
        }
        Ok(())
    }

    /// Stores the new key under the token. If that fails, deletes the key again, unless the value
    /// may have been stored after all (a lost response), which the next attempt sorts out.
    async fn store_pending_or_undo(
        &self,
        event: &RotationEvent,
        user: &str,
        current: &KeySecret,
        new_key: AccessKey,
    ) -> Result<()> {
        let new_key_id = new_key.id.clone();
        let pending = current.with_key(new_key);
        let Err(put_error) = self
            .secrets
            .put_pending(
                &event.secret_id,
                &event.token,
                &pending.to_json(),
                event.rotation_token.as_deref(),
            )
            .await
        else {
            info!(new_key_id = %new_key_id, "stored the new key as AWSPENDING");
            return Ok(());
        };

        match self.read_pending(event).await {
            Ok(Some(stored)) if stored.key_id() == Some(new_key_id.as_str()) => {
                warn!(new_key_id = %new_key_id, error = %put_error, "PutSecretValue reported an error but the value was stored; keeping the key");
                Ok(())
            }
            Ok(_) => {
                match self.iam.delete_key(user, &new_key_id).await {
                    Ok(()) => {
                        warn!(new_key_id = %new_key_id, "could not store the new key; deleted it again")
                    }
                    Err(e) => {
                        error!(new_key_id = %new_key_id, error = %e, "could not store the new key, nor delete it; the next attempt removes it as a crash leftover")
                    }
                }
                Err(put_error)
            }
            Err(e) => {
                warn!(new_key_id = %new_key_id, error = %e, "could not store the new key, nor tell whether it was stored; the next attempt sorts it out");
                Err(put_error)
            }
        }
    }

    /// Which of the `wanted` key ids some older version of this secret holds, labelled or not.
    /// Labelled versions are read first, and reading stops once every wanted key is found, so a
    /// secret's long history costs no calls in the usual case.
    async fn keys_held_by_old_versions(
        &self,
        event: &RotationEvent,
        wanted: &HashSet<String>,
    ) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        let mut versions = self.secrets.list_versions(&event.secret_id).await?;
        versions.retain(|v| v.id != event.token && !v.has(AWSCURRENT));
        versions.sort_by_key(|v| v.labels.is_empty());
        for version in versions {
            if found.len() == wanted.len() {
                break;
            }
            let Some(stored) = self
                .secrets
                .value(&event.secret_id, Some(&version.id), None)
                .await?
            else {
                continue;
            };
            // An old version in another format only means we cannot vouch for its key.
            match parse_value(&event.secret_id, &version.id, &stored) {
                Ok(secret) => found.extend(
                    secret
                        .key_id()
                        .filter(|id| wanted.contains(*id))
                        .map(str::to_string),
                ),
                Err(e) => {
                    warn!(version = %version.id, error = %e, "skipping a version that is not a key secret")
                }
            }
        }
        Ok(found)
    }
}

/// A key that an earlier attempt created and then crashed before storing: active, held by no
/// version of the secret, and created after the current version was stored. (The caller also
/// checks that it was never used.) Secrets Manager retries with the same token, so without this
/// the retry would find the quota full of its own keys.
pub fn is_crash_leftover(
    key: &KeyInfo,
    known: &HashSet<String>,
    current_stored: Option<SystemTime>,
) -> bool {
    let created_after_current = match (key.created, current_stored) {
        (Some(created), Some(stored)) => created >= stored,
        _ => false,
    };
    key.status == KeyStatus::Active && !known.contains(&key.id) && created_after_current
}

/// The keys to delete so that the user can take one more: every crash leftover, then as few
/// others as needed, inactive ones and those the secret holds first, oldest first.
/// Never the current key; never an active key the secret does not hold.
/// `Err` names the keys that block the way when there is no safe choice.
pub fn plan_room(
    keys: &[KeyInfo],
    current_key: Option<&str>,
    known: &HashSet<String>,
    leftovers: &HashSet<String>,
) -> Result<Vec<(KeyInfo, Removal)>, Vec<String>> {
    let mut removals: Vec<(KeyInfo, Removal)> = keys
        .iter()
        .filter(|k| leftovers.contains(&k.id))
        .map(|k| (k.clone(), Removal::CrashLeftover))
        .collect();
    let remaining: Vec<&KeyInfo> = keys.iter().filter(|k| !leftovers.contains(&k.id)).collect();
    let excess = (remaining.len() + 1).saturating_sub(KEYS_PER_USER);
    if excess == 0 {
        return Ok(removals);
    }

    let mut candidates: Vec<(&KeyInfo, Removal)> = remaining
        .iter()
        .filter(|k| Some(k.id.as_str()) != current_key)
        .filter_map(|k| match k.status {
            KeyStatus::Inactive => Some((*k, Removal::Inactive)),
            KeyStatus::Active if known.contains(&k.id) => Some((*k, Removal::HeldByOldVersion)),
            KeyStatus::Active => None,
        })
        .collect();
    candidates
        .sort_by_key(|(k, why)| (*why != Removal::Inactive, !known.contains(&k.id), k.created));

    if candidates.len() < excess {
        let blocking = remaining
            .iter()
            .filter(|k| Some(k.id.as_str()) != current_key && k.status == KeyStatus::Active)
            .map(|k| k.id.clone())
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
    use std::time::Duration;

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

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn ids(removals: &[(KeyInfo, Removal)]) -> Vec<&str> {
        removals.iter().map(|(k, _)| k.id.as_str()).collect()
    }

    #[test]
    fn one_key_leaves_room_and_nothing_is_deleted() {
        let keys = [key("CUR", KeyStatus::Active, 90)];
        assert!(
            plan_room(&keys, Some("CUR"), &set(&["CUR"]), &set(&[]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_inactive_previous_key_is_deleted_to_make_room() {
        let keys = [
            key("CUR", KeyStatus::Active, 90),
            key("OLD", KeyStatus::Inactive, 180),
        ];
        let removals = plan_room(&keys, Some("CUR"), &set(&["CUR", "OLD"]), &set(&[])).unwrap();
        assert_eq!(ids(&removals), ["OLD"]);
        assert_eq!(removals[0].1, Removal::Inactive);
    }

    #[test]
    fn an_active_key_held_by_an_old_version_may_go() {
        let keys = [
            key("CUR", KeyStatus::Active, 1),
            key("PREV", KeyStatus::Active, 90),
        ];
        let removals = plan_room(&keys, Some("CUR"), &set(&["CUR", "PREV"]), &set(&[])).unwrap();
        assert_eq!(removals, [(keys[1].clone(), Removal::HeldByOldVersion)]);
    }

    #[test]
    fn an_unknown_active_key_blocks_and_is_named() {
        let keys = [
            key("CUR", KeyStatus::Active, 1),
            key("STRANGER", KeyStatus::Active, 9),
        ];
        let blocking = plan_room(&keys, Some("CUR"), &set(&["CUR"]), &set(&[])).unwrap_err();
        assert_eq!(blocking, ["STRANGER"]);
    }

    #[test]
    fn the_current_key_is_never_deleted_even_when_inactive() {
        let keys = [
            key("CUR", KeyStatus::Inactive, 1),
            key("STRANGER", KeyStatus::Active, 9),
        ];
        let blocking = plan_room(&keys, Some("CUR"), &set(&["CUR"]), &set(&[])).unwrap_err();
        assert_eq!(blocking, ["STRANGER"]);
    }

    #[test]
    fn crash_leftovers_are_always_removed() {
        let keys = [
            key("CUR", KeyStatus::Active, 90),
            key("LEFT", KeyStatus::Active, 0),
        ];
        let removals = plan_room(&keys, Some("CUR"), &set(&["CUR"]), &set(&["LEFT"])).unwrap();
        assert_eq!(removals, [(keys[1].clone(), Removal::CrashLeftover)]);
    }

    #[test]
    fn inactive_keys_go_before_active_ones_and_older_before_newer() {
        let keys = [
            key("NEWER", KeyStatus::Inactive, 10),
            key("OLDER", KeyStatus::Inactive, 20),
            key("PREV", KeyStatus::Active, 30),
        ];
        let removals = plan_room(&keys, None, &set(&["PREV"]), &set(&[])).unwrap();
        assert_eq!(ids(&removals), ["OLDER", "NEWER"]);
    }

    #[test]
    fn a_leftover_must_be_active_unknown_and_newer_than_the_current_version() {
        let stored = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000 - 86_400);
        let known = set(&["CUR"]);
        assert!(is_crash_leftover(
            &key("NEW", KeyStatus::Active, 0),
            &known,
            Some(stored)
        ));
        assert!(!is_crash_leftover(
            &key("NEW", KeyStatus::Inactive, 0),
            &known,
            Some(stored)
        ));
        assert!(!is_crash_leftover(
            &key("CUR", KeyStatus::Active, 0),
            &known,
            Some(stored)
        ));
        assert!(!is_crash_leftover(
            &key("OLD", KeyStatus::Active, 5),
            &known,
            Some(stored)
        ));
        assert!(!is_crash_leftover(
            &key("NEW", KeyStatus::Active, 0),
            &known,
            None
        ));
    }
}
