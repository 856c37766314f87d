//! finishSecret: promotes the pending version to AWSCURRENT, then deactivates the key it replaced.

use tracing::{info, warn};

use super::Rotator;
use crate::error::Result;
use crate::event::RotationEvent;
use crate::services::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, Iam, KeyChecker, KeyStatus, SecretInfo, SecretStore,
};

impl<S: SecretStore, I: Iam, K: KeyChecker> Rotator<S, I, K> {
    /// Moves AWSCURRENT to the token's version (the old one becomes AWSPREVIOUS), takes AWSPENDING
    /// off, then sets the previous key Inactive. It is not deleted: the next rotation does that,
    /// which gives a grace period of one rotation interval.
    ///
    /// Assumes testSecret passed. Running it again after it succeeded changes nothing; running it
    /// after a crash half-way finishes the job. A previous key already inactive or deleted is fine.
    pub(super) async fn finish_secret(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
    ) -> Result<()> {
        let secret_id = &event.secret_id;
        let token = &event.token;
        let (pending, new_key) = self.read_pending_key(event).await?;
        let new_key_id = new_key.id.as_str();

        // The version being replaced, read before any label moves so its key is known.
        let replaced = match info.labelled(AWSCURRENT) {
            Some(current) if current.id != *token => Some(current.id.clone()),
            _ => info.labelled(AWSPREVIOUS).map(|v| v.id.clone()),
        };
        let previous = match &replaced {
            Some(id) => self
                .secrets
                .value(secret_id, Some(id), None)
                .await?
                .map(|stored| super::parse_value(secret_id, AWSPREVIOUS, &stored))
                .transpose()?,
            None => None,
        };

        if let Some(current) = info.labelled(AWSCURRENT).filter(|v| v.id != *token) {
            self.secrets
                .move_label(secret_id, AWSCURRENT, Some(token), Some(&current.id))
                .await?;
            info!(from_version = %current.id, new_key_id = %new_key_id, "moved AWSCURRENT to the new version");
        }
        if info.version(token).is_some_and(|v| v.has(AWSPENDING)) {
            self.secrets
                .move_label(secret_id, AWSPENDING, None, Some(token))
                .await?;
        }

        let Some(previous) = previous else {
            return Ok(());
        };
        let Some(old_key_id) = previous.key_id().filter(|id| *id != new_key_id) else {
            return Ok(());
        };
        if previous.user_name() != pending.user_name() {
            warn!(
                old_key_id,
                old_user = previous.user_name(),
                "the previous version names another user; leaving its key alone"
            );
            return Ok(());
        }
        let keys = self.iam.list_keys(pending.user_name()).await?;
        match keys.iter().find(|k| k.id == old_key_id) {
            Some(k) if k.status == KeyStatus::Active => {
                self.iam
                    .deactivate_key(pending.user_name(), old_key_id)
                    .await?;
                info!(old_key_id, "deactivated the previous key");
            }
            Some(_) => info!(old_key_id, "the previous key is already inactive"),
            None => info!(old_key_id, "the previous key is already deleted"),
        }
        Ok(())
    }
}
