//! setSecret: IAM made the key itself, so there is nothing to push; this proves the pending key is real.

use tracing::info;

use super::Rotator;
use crate::error::{Error, Result};
use crate::event::RotationEvent;
use crate::services::{Iam, KeyChecker, KeyStatus, SecretInfo, SecretStore};

impl<S: SecretStore, I: Iam, K: KeyChecker> Rotator<S, I, K> {
    /// Checks that the pending key exists, is Active, and belongs to the secret's user.
    ///
    /// Assumes createSecret stored a value under the token. Changes nothing.
    pub(super) async fn set_secret(&self, event: &RotationEvent, info: &SecretInfo) -> Result<()> {
        let (pending, key) = self.read_pending_key(event).await?;
        let user = self
            .user_in_scope(&event.secret_id, &info.arn, pending.user_name())
            .await?;
        let key_id = key.id.as_str();

        let keys = self.iam.list_keys(&user.name).await?;
        let unusable = |reason: &str| Error::PendingKeyUnusable {
            user: user.name.clone(),
            key_id: key_id.to_string(),
            reason: reason.to_string(),
        };
        match keys.iter().find(|k| k.id == key_id) {
            None => Err(unusable(
                "the user has no such key (it was deleted, or belongs to someone else)",
            )),
            Some(k) if k.status != KeyStatus::Active => Err(unusable("it is Inactive")),
            Some(_) => {
                info!(user = %user.name, new_key_id = %key_id, "the pending key exists and is active");
                Ok(())
            }
        }
    }
}
