//! finishSecret: promotes the pending version to AWSCURRENT, then deactivates the key it replaced
//! (never a key `adopt` brought under rotation, nor one whose successor went to destinations: the
//! sweep retires those once unused).

use tracing::{info, warn};

use super::Rotator;
use super::key_quota::CREATE_DATE_ROUNDING;
use crate::delivery::{DESTINATIONS, parse_all};
use crate::error::{Error, Result};
use crate::event::RotationEvent;
use crate::retirement::note::{self, Note};
use crate::secret::KeySecret;
use crate::services::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, IamKeys, KeyInfo, KeyStatus, SecretInfo, SecretTags,
    SecretVersions, Services, StoredValue,
};

impl<X: Services> Rotator<X> {
    /// Moves AWSCURRENT to the token's version (the old one becomes AWSPREVIOUS), then sets the
    /// previous key Inactive, unless a grace period is configured (`ROTATOR_DEACTIVATE_AFTER`):
    /// then it stays Active and the sweep retires it once its consumers have moved. An adopted key
    /// (the previous version holds its id without its secret part) always stays Active, and so
    /// does a key replaced by one delivered to destinations (their consumers move as they next
    /// read them, which only the sweep's quiet rule can tell). It is never
    /// deleted here: the sweep or the next rotation does that. AWSPENDING stays on the new version, which is how AWS lets
    /// a rotation end; Secrets Manager (or the CLI) takes it off.
    ///
    /// Assumes testSecret passed. Refuses, changing nothing, when the pending version names another
    /// user than AWSCURRENT or one out of scope, when the pending key no longer exists
    /// or is not Active, and when AWSCURRENT changed after this rotation began (promoting would
    /// undo that change). Running it again after it succeeded changes nothing; running it after a
    /// crash half-way finishes the job. A previous key already inactive or deleted is fine.
    pub(super) async fn finish_secret(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
    ) -> Result<()> {
        let secret_id = &event.secret_id;
        let token = &event.token;
        let (pending, new_key) = self.read_pending_key(event, info).await?;
        let user = pending.user_name();

        // The version being replaced, read before any label moves so its key is known.
        let promoting = info.labelled(AWSCURRENT).filter(|v| v.id != *token);
        let replaced = promoting.or_else(|| info.labelled(AWSPREVIOUS));
        let previous = match replaced {
            Some(version) => match self.dated_version_value(info, &version.id).await? {
                Some(stored) => Some((
                    crate::versions::parse_value(secret_id, AWSPREVIOUS, &stored)?,
                    stored,
                )),
                None => None,
            },
            None => None,
        };

        let scoped = match (promoting, &previous) {
            (Some(_), Some((replaced, _))) => {
                self.same_user_in_scope(event, info, AWSPENDING, &pending, replaced)
                    .await?
            }
            _ => self.user_in_scope(secret_id, &info.arn, &pending).await?,
        };

        let keys = scoped.iam.list_keys(user).await?;
        let unusable = |reason: String| Error::PendingKeyUnusable {
            user: user.to_string(),
            key_id: new_key.id.clone(),
            reason,
            abandoned: false,
        };
        let new_key_info = match keys.iter().find(|k| k.id == new_key.id) {
            None => return Err(unusable("the user has no such key any more".to_string())),
            Some(k) if k.status != KeyStatus::Active => {
                return Err(unusable(format!("it is {}", k.status.as_str())));
            }
            Some(k) => k,
        };

        // Read before any label moves, from the list alone: whatever the deployer allows now, a
        // listed destination may hold the new key, so the old one must wait for the sweep.
        let delivers =
            !matches!(parse_all(pending.field(DESTINATIONS)), Ok(listed) if listed.is_empty());
        if let Some(current) = promoting {
            if let Some((previous, stored)) = &previous
                && let Some(reason) = is_stale(&pending, new_key_info, previous, stored)
            {
                return Err(Error::StaleRotation {
                    secret: secret_id.clone(),
                    token: token.clone(),
                    reason,
                });
            }
            self.secrets()
                .move_label(secret_id, AWSCURRENT, Some(token), Some(&current.id))
                .await?;
            info!(from_version = %current.id, new_key_id = %new_key.id, "moved AWSCURRENT to the new version");
        }

        let Some((previous, _)) = previous else {
            return Ok(());
        };
        let Some(old_key_id) = previous.key_id().filter(|id| *id != new_key.id) else {
            return Ok(());
        };
        if previous.user_name() != user || previous.account_id() != pending.account_id() {
            warn!(
                old_key_id,
                old_user = previous.user_name(),
                "the previous version names another user; leaving its key alone"
            );
            return Ok(());
        }
        if previous.is_adopted_key() {
            // Adopted: its consumers sign with it from their own settings, not from the secret,
            // so they cannot have moved yet. Only the sweep's quiet rule retires it.
            self.note_kept(
                secret_id,
                info,
                replaced.map(|v| v.id.as_str()),
                Note::Adopted,
            )
            .await;
            info!(
                old_key_id,
                "kept the adopted previous key active; the sweep retires it once unused"
            );
            return Ok(());
        }
        if delivers {
            self.note_kept(
                secret_id,
                info,
                replaced.map(|v| v.id.as_str()),
                Note::Delivered,
            )
            .await;
            info!(
                old_key_id,
                "kept the previous key active: the new key went to destinations whose consumers move as they next read them; the sweep retires it once unused"
            );
            return Ok(());
        }
        if !self.config().retire.deactivate_after.is_zero() {
            info!(
                old_key_id,
                grace = %humantime::format_duration(self.config().retire.deactivate_after),
                "kept the previous key active for its grace period; the sweep retires it once unused"
            );
            return Ok(());
        }
        match keys.iter().find(|k| k.id == old_key_id) {
            Some(k) if k.status == KeyStatus::Active => {
                scoped.iam.deactivate_key(user, old_key_id).await?;
                info!(old_key_id, "deactivated the previous key");
            }
            Some(k) => info!(
                old_key_id,
                status = k.status.as_str(),
                "the previous key is already out of use"
            ),
            None => info!(old_key_id, "the previous key is already deleted"),
        }
        Ok(())
    }
}

impl<X: Services> Rotator<X> {
    /// Tells the sweep's listing that the previous version's key was kept Active at rotation
    /// (`Adopted` or `Delivered`). A hint only (the sweep decides from the values), so a failure
    /// costs at most a later retirement, never the rotation; a note the sweep already wrote about
    /// that version is kept.
    async fn note_kept(
        &self,
        secret_id: &str,
        info: &SecretInfo,
        version: Option<&str>,
        kept: Note,
    ) {
        let Some(version) = version else {
            return;
        };
        if note::read(info.tag(note::NOTE_TAG), version).is_some() {
            return;
        }
        let note = note::write(version, kept);
        if let Err(e) = self.secrets().tag(secret_id, note::NOTE_TAG, &note).await {
            warn!(error = %e, "could not note the kept previous key for the sweep; its daily deep sweep still finds it");
        }
    }
}

/// Why promoting `pending` would undo a change made to AWSCURRENT (`current`, stored as
/// `current_stored`) after this rotation began; `None` when AWSCURRENT is still what the rotation
/// started from.
///
/// The pending value is the current value of its time with a new key, so any difference beside
/// the key is an edit made since. And the current version was stored before the new key was
/// made, unless someone stored a newer one since (IAM's and Secrets Manager's clocks are AWS's
/// own; IAM's CreateDate is truncated to the second).
fn is_stale(
    pending: &KeySecret,
    new_key: &KeyInfo,
    current: &KeySecret,
    current_stored: &StoredValue,
) -> Option<String> {
    if !pending.same_beside_key(current) {
        return Some(format!(
            "AWSCURRENT (version {}) holds other fields than this rotation's pending value: it was edited after the rotation began",
            current_stored.version_id
        ));
    }
    match (current_stored.created, new_key.created) {
        (Some(stored), Some(made)) if stored > made + CREATE_DATE_ROUNDING => Some(format!(
            "AWSCURRENT moved to version {}, stored at {}, after this rotation made its key {} at {}",
            current_stored.version_id,
            humantime::format_rfc3339_seconds(stored),
            new_key.id,
            humantime::format_rfc3339_seconds(made)
        )),
        _ => None,
    }
}
