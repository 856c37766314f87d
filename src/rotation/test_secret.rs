//! testSecret: proves the pending key works by asking STS who it is, waiting out IAM's propagation
//! delay, then that every destination holds it.

use std::time::Instant;

use tracing::{debug, info};

use super::Rotator;
use crate::backoff::Backoff;
use crate::delivery::{Expected, Holds};
use crate::error::{Error, Result};
use crate::event::RotationEvent;
use crate::secret::AccessKey;
use crate::secret::KeySecret;
use crate::services::{AWSPENDING, CheckError, IamUser, KeyChecker, SecretInfo, Services};

impl<X: Services> Rotator<X> {
    /// Calls STS GetCallerIdentity signed with the pending key until AWS accepts it, then checks that
    /// it signs as exactly the secret's user (account, path and name), then that each destination
    /// holds it (an SSM parameter read back; each GitHub secret written by setSecret's delivery).
    ///
    /// New keys are refused for several seconds after creation, so refusals are retried with
    /// exponential backoff and jitter, within the configured budget and never past `deadline`.
    ///
    /// `rotate-secret --no-rotate-immediately` tests the configuration alone: Secrets Manager then
    /// calls this step on a pending version with no value (AWS) or a copy of the current one
    /// (moto). That call checks what it can (the secret is readable, its user exists and is in
    /// scope) and passes. Changes nothing.
    pub(super) async fn test_secret(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        deadline: Instant,
    ) -> Result<()> {
        let pending = self.read_token_value(event, info).await?;
        let Some((pending, key)) = pending.as_ref().and_then(|p| p.key().map(|key| (p, key)))
        else {
            return self.test_configuration(event, info).await;
        };
        let (current, _) = self.read_current(info).await?;
        if current.key_id() == Some(key.id.as_str()) {
            return self.test_configuration(event, info).await;
        }
        let user = self
            .same_user_in_scope(event, info, AWSPENDING, pending, &current)
            .await?;

        self.wait_until_it_works(&user.user, key, deadline).await?;
        self.confirm_delivery(event, info, pending, deadline).await
    }

    /// Calls STS signed with `key` until AWS accepts it (IAM takes seconds to propagate a new key),
    /// within the configured budget and never past `deadline`, then checks it signs as exactly
    /// `user`. setSecret calls it too, before it hands a key to any destination.
    pub(super) async fn wait_until_it_works(
        &self,
        user: &IamUser,
        key: &AccessKey,
        deadline: Instant,
    ) -> Result<()> {
        let started = Instant::now();
        let give_up_at = deadline.min(started + self.config().test_budget);
        let config = self.config();
        let mut backoff =
            Backoff::new(config.test_first_delay, config.test_max_delay, give_up_at).with_jitter();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let remaining = give_up_at.saturating_duration_since(Instant::now());
            let outcome = tokio::time::timeout(remaining, self.key_checker().caller_arn(key))
                .await
                .unwrap_or_else(|_| {
                    Err(CheckError::NotYetValid {
                        code: "no answer before the deadline".to_string(),
                    })
                });
            let code = match outcome {
                Ok(arn) if arn == user.arn => {
                    crate::metrics::test_secret_waited(started.elapsed());
                    info!(user = %user.name, new_key_id = %key.id, attempts, "the new key works");
                    return Ok(());
                }
                Ok(arn) => {
                    return Err(Error::WrongIdentity {
                        key_id: key.id.clone(),
                        expected: user.arn.clone(),
                        actual: arn,
                    });
                }
                Err(CheckError::Failed(e)) => return Err(e),
                Err(CheckError::NotYetValid { code }) => code,
            };

            let Some(pause) = backoff.next_pause() else {
                return Err(Error::KeyNeverValid {
                    user: user.name.clone(),
                    key_id: key.id.clone(),
                    attempts,
                    waited: started.elapsed(),
                    last_code: code,
                });
            };
            debug!(new_key_id = %key.id, attempts, code = %code, pause_ms = pause.as_millis() as u64, "the new key is not accepted yet; waiting");
            tokio::time::sleep(pause).await;
        }
    }

    /// Fails, naming the destination, unless every destination of `pending` holds its key.
    async fn confirm_delivery(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        pending: &KeySecret,
        deadline: Instant,
    ) -> Result<()> {
        let destinations = self.destinations(&event.secret_id, pending)?;
        let Some(key) = pending.key() else {
            return Ok(());
        };
        let expected = Expected {
            key_id: &key.id,
            secret: Some(&key.secret),
        };
        let holdings = self
            .holdings(&info.tags, &expected, &destinations, deadline)
            .await;
        for holding in holdings {
            let reason = match holding.holds {
                Holds::Key => continue,
                Holds::Missing(why) | Holds::Other(why) | Holds::Unreadable(why) => why,
            };
            return Err(Error::DeliveryUnconfirmed {
                destination: holding.destination,
                reason,
            });
        }
        if !destinations.is_empty() {
            info!(new_key_id = %key.id, destinations = destinations.len(), "every destination holds the new key");
        }
        Ok(())
    }

    /// Secrets Manager's test of the rotation's configuration: no new key to try, so this checks
    /// that the current value is readable and names a user this function may rotate.
    async fn test_configuration(&self, event: &RotationEvent, info: &SecretInfo) -> Result<()> {
        let (current, _) = self.read_current(info).await?;
        let user = self
            .user_in_scope(&event.secret_id, &info.arn, &current)
            .await?;
        info!(user = %user.name(), "no new key under the token: tested the configuration only");
        Ok(())
    }
}
