//! setSecret: IAM made the key itself, so there is nothing to push; this proves the pending key is real.

use tracing::info;

use super::Rotator;
use crate::error::Result;
use crate::event::RotationEvent;
use crate::services::{AWSPENDING, IamKeys, KeyStatus, SecretInfo, Services};

impl<X: Services> Rotator<X> {
    /// Checks that the pending key exists, is Active, and belongs to the secret's user.
    ///
    /// Assumes createSecret stored a value under the token. Changes nothing, except when the
    /// pending key can never be promoted (deleted, deactivated, expired, or someone else's): then
    /// it abandons this rotation, so that it does not fail the same way forever and block the next.
    /// Refuses, changing nothing, a pending version that names another user than AWSCURRENT, or
    /// a user out of scope (someone may have written the version by hand).
    pub(super) async fn set_secret(&self, event: &RotationEvent, info: &SecretInfo) -> Result<()> {
        let (pending, key) = self.read_pending_key(event, info).await?;
        let (current, _) = self.read_current(info).await?;
        self.same_user_in_scope(event, info, AWSPENDING, &pending, &current)
            .await?;
        let user = pending.user_name();
        let keys = self.iam().list_keys(user).await?;
        match keys.iter().find(|k| k.id == key.id) {
            None => Err(self
                .abandon(
                    event,
                    user,
                    &key.id,
                    "the user has no such key (it was deleted, or belongs to someone else)",
                )
                .await),
            Some(k) if k.status != KeyStatus::Active => Err(self
                .abandon(
                    event,
                    user,
                    &key.id,
                    &format!("it is {}", k.status.as_str()),
                )
                .await),
            Some(_) => {
                info!(user, new_key_id = %key.id, "the pending key exists and is active");
                Ok(())
            }
        }
    }
}
