//! setSecret: IAM made the key itself; this proves the pending key is real, then delivers it to
//! every destination the secret lists (SSM parameters, GitHub Actions secrets).

use std::time::Instant;

use tracing::{info, warn};

use super::Rotator;
use crate::delivery::GiveBack;
use crate::error::{Error, Result};
use crate::event::RotationEvent;
use crate::secret::KeySecret;
use crate::services::{AWSPENDING, IamKeys, KeyStatus, SecretInfo, Services};

impl<X: Services> Rotator<X> {
    /// Checks that the pending key exists, is Active, and belongs to the secret's user, then puts
    /// it into each of the pending value's `Destinations`, before `deadline`.
    ///
    /// Assumes createSecret stored a value under the token. Changes nothing in IAM or the secret's
    /// versions, except when the pending key can never be promoted (deleted, deactivated, expired,
    /// or someone else's): then it gives the destinations back the current key (an earlier
    /// attempt may have delivered the dead one) and abandons this rotation, so that it does not
    /// fail the same way forever and block the next. Refuses, changing nothing, a pending version
    /// that names another user than AWSCURRENT, a user out of scope, or a destination outside what
    /// the deployer allows (someone may have written the version by hand). Before any destination
    /// is written, the key must work (STS, as testSecret checks it) and the pending value must be
    /// the current one with a new key, so only a key this rotation made, proven to sign as the
    /// user, is ever delivered. Delivering again with the same token writes nothing an SSM
    /// parameter already holds.
    pub(super) async fn set_secret(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        deadline: Instant,
    ) -> Result<()> {
        let (pending, key) = self.read_pending_key(event, info).await?;
        let (current, _) = self.read_current(info).await?;
        let iam_user = self
            .same_user_in_scope(event, info, AWSPENDING, &pending, &current)
            .await?;
        let destinations = self.destinations(&event.secret_id, &pending)?;
        let user = pending.user_name();
        let keys = iam_user.iam.list_keys(user).await?;
        let unusable = match keys.iter().find(|k| k.id == key.id) {
            None => "the user has no such key (it was deleted, or belongs to someone else)".into(),
            Some(k) if k.status != KeyStatus::Active => format!("it is {}", k.status.as_str()),
            Some(_) => {
                info!(user, new_key_id = %key.id, "the pending key exists and is active");
                if destinations.is_empty() {
                    return Ok(());
                }
                // Only ever a key this rotation made, proven to work, goes anywhere.
                self.refuse_a_value_written_by_hand(event, &pending, &current)?;
                self.wait_until_it_works(&iam_user.user, &key, deadline)
                    .await?;
                return self.deliver(info, &key, &destinations, deadline).await;
            }
        };
        if !destinations.is_empty() {
            self.give_back_or_warn(info, &current, &pending, deadline)
                .await;
        }
        Err(self.abandon(event, user, &key.id, &unusable).await)
    }

    /// A pending value that is not the current value with a new key was written by hand (or the
    /// current one was edited since): delivering it would hand whatever it holds, under whatever
    /// names it lists, to the destinations. Refused, changing nothing.
    fn refuse_a_value_written_by_hand(
        &self,
        event: &RotationEvent,
        pending: &KeySecret,
        current: &KeySecret,
    ) -> Result<()> {
        let reason = if pending.key_id() == current.key_id() {
            "its pending value holds the current key, not a new one: it was written by hand"
        } else if !pending.same_beside_key(current) {
            "its pending value holds other fields than AWSCURRENT (its Destinations, say): one of them was edited after the rotation began"
        } else {
            return Ok(());
        };
        Err(Error::StaleRotation {
            secret: event.secret_id.clone(),
            token: event.token.clone(),
            reason: format!("{reason}, so no destination was written"),
        })
    }

    /// Gives the destinations back the current key, for a rotation about to be abandoned.
    async fn give_back_or_warn(
        &self,
        info: &SecretInfo,
        current: &KeySecret,
        pending: &KeySecret,
        deadline: Instant,
    ) {
        if let GiveBack::Failed(why) = self.give_back(info, current, Some(pending), deadline).await
        {
            warn!(reason = %why, "the destinations may still hold the abandoned rotation's key; point their consumers at the current key");
        }
    }
}
