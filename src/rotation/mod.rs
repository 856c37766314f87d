//! Rotation: checks each event against Secrets Manager's contract, then runs its step.
//!
//! Each step lives in its own module, named after it; `key_quota` says which keys may make room
//! under IAM's two-key quota, and `cli_driver` plays Secrets Manager's part for the CLI. Every
//! step is idempotent: Secrets Manager retries a whole rotation with the same token when any step
//! fails.

pub mod cli_driver;
mod create_secret;
mod finish_secret;
mod key_quota;
mod set_secret;
mod test_secret;

pub use create_secret::CLI_ROTATION_TAG;
pub use key_quota::LONGEST_ATTEMPT;

use std::time::Instant;

use tracing::{Instrument, info, info_span, warn};

use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::event::{RotationEvent, Step};
use crate::services::{AWSCURRENT, AWSPENDING, SecretInfo, SecretVersions, Services};

/// How strictly to hold a rotation to Secrets Manager's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// Secrets Manager started the rotation: rotation is enabled and the token's version exists.
    SecretsManager,
    /// The CLI started it: rotation need not be enabled, and createSecret makes the token's version.
    Cli,
}

impl<X: Services> Rotator<X> {
    /// Runs `event`'s step as Secrets Manager would have it, finishing before `deadline`.
    pub async fn run(&self, event: &RotationEvent, deadline: Instant) -> Result<()> {
        self.run_under(event, deadline, Contract::SecretsManager)
            .await
    }

    /// Runs `event`'s step under the given contract.
    pub async fn run_under(
        &self,
        event: &RotationEvent,
        deadline: Instant,
        contract: Contract,
    ) -> Result<()> {
        let span = info_span!(
            "rotation",
            step = %event.step,
            secret = %event.secret_id,
            token = %event.token,
        );
        async {
            info!("step started");
            let info = self.secrets().describe(&event.secret_id).await?;
            if !self.may_proceed(event, &info, contract)? {
                return Ok(());
            }
            match event.step {
                Step::CreateSecret => self.create_secret(event, &info, contract).await?,
                Step::SetSecret => self.set_secret(event, &info, deadline).await?,
                Step::TestSecret => self.test_secret(event, &info, deadline).await?,
                Step::FinishSecret => self.finish_secret(event, &info).await?,
            }
            info!("step finished");
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Secrets Manager's contract: rotation is on, the token is a version of the secret, and that
    /// version is AWSPENDING. `Ok(false)` when it is already AWSCURRENT: the step has nothing to do.
    fn may_proceed(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        contract: Contract,
    ) -> Result<bool> {
        let secret = &event.secret_id;
        if contract == Contract::SecretsManager && !info.rotation_enabled {
            return Err(Error::RotationNotEnabled {
                secret: secret.clone(),
            });
        }
        let Some(version) = info.version(&event.token) else {
            if contract == Contract::Cli && event.step == Step::CreateSecret {
                // Secrets Manager would refuse to start a second rotation; so do we.
                if let Some(pending) = info.unfinished_rotation() {
                    return Err(Error::RotationInProgress {
                        secret: secret.clone(),
                        version: pending.id.clone(),
                    });
                }
                return Ok(true);
            }
            return Err(Error::UnknownVersion {
                secret: secret.clone(),
                token: event.token.clone(),
            });
        };
        // finishSecret goes on: a run that crashed after moving the label still has to retire the old key.
        if version.has(AWSCURRENT) && event.step != Step::FinishSecret {
            info!("version is already AWSCURRENT; nothing to do");
            return Ok(false);
        }
        if !version.has(AWSPENDING) && !version.has(AWSCURRENT) {
            return Err(Error::NotPending {
                secret: secret.clone(),
                token: event.token.clone(),
                labels: if version.labels.is_empty() {
                    "none".to_string()
                } else {
                    version.labels.join(", ")
                },
            });
        }
        Ok(true)
    }

    /// Ends this rotation because its pending key can never be promoted: takes AWSPENDING off the
    /// token's version, so that Secrets Manager's next rotation can start instead of this one
    /// failing the same way forever. Returns the error that says so.
    async fn abandon(
        &self,
        event: &RotationEvent,
        user: &str,
        key_id: &str,
        reason: &str,
    ) -> Error {
        let abandoned = match self
            .secrets()
            .move_label(&event.secret_id, AWSPENDING, None, Some(&event.token))
            .await
        {
            Ok(()) => {
                warn!(
                    user,
                    pending_key_id = key_id,
                    reason,
                    "abandoned the rotation: its pending key can never be promoted"
                );
                true
            }
            Err(e) => {
                warn!(user, pending_key_id = key_id, reason, error = %e, "could not abandon the rotation");
                false
            }
        };
        Error::PendingKeyUnusable {
            user: user.to_string(),
            key_id: key_id.to_string(),
            reason: reason.to_string(),
            abandoned,
        }
    }
}

#[cfg(test)]
mod tests;
