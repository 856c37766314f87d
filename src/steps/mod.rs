//! Runs one rotation step: checks the event against Secrets Manager's contract, then calls the step.
//!
//! Each step lives in its own module, named after it. Every step is idempotent: Secrets Manager
//! retries a whole rotation with the same token when any step fails.

mod create_secret;
mod finish_secret;
mod room;
mod set_secret;
mod test_secret;
mod values;

pub use create_secret::CLI_ROTATION_TAG;
pub use room::LONGEST_ATTEMPT;

use std::time::Instant;

use tracing::{Instrument, info, info_span, warn};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::event::{RotationEvent, Step};
use crate::secret::{AccessKey, KeySecret};
use crate::services::{
    AWSCURRENT, AWSPENDING, Iam, IamUser, KeyChecker, SecretInfo, SecretStore, StoredValue,
};
use values::ValueCache;

/// The rotation engine: the three services it talks to and its settings. Built once, used for every event.
pub struct Rotator<S, I, K> {
    secrets: S,
    iam: I,
    checker: K,
    config: Config,
    values: ValueCache,
}

/// How strictly to hold a rotation to Secrets Manager's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// Secrets Manager started the rotation: rotation is enabled and the token's version exists.
    SecretsManager,
    /// The CLI started it: rotation need not be enabled, and createSecret makes the token's version.
    Cli,
}

impl<S: SecretStore, I: Iam, K: KeyChecker> Rotator<S, I, K> {
    pub fn new(secrets: S, iam: I, checker: K, config: Config) -> Self {
        Rotator {
            secrets,
            iam,
            checker,
            config,
            values: ValueCache::default(),
        }
    }

    pub fn secrets(&self) -> &S {
        &self.secrets
    }

    pub fn iam(&self) -> &I {
        &self.iam
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

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
            let info = self.secrets.describe(&event.secret_id).await?;
            if !self.may_proceed(event, &info, contract)? {
                return Ok(());
            }
            match event.step {
                Step::CreateSecret => self.create_secret(event, &info, contract).await?,
                Step::SetSecret => self.set_secret(event, &info).await?,
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

    /// A version's value, read at most once per process; `None` when the version holds none.
    async fn version_value(
        &self,
        info: &SecretInfo,
        version_id: &str,
    ) -> Result<Option<StoredValue>> {
        match self.values.get(&info.arn, version_id) {
            Some(known) => Ok(Some(known)),
            None => self.read_and_keep(info, version_id).await,
        }
    }

    async fn read_and_keep(
        &self,
        info: &SecretInfo,
        version_id: &str,
    ) -> Result<Option<StoredValue>> {
        let stored = self
            .secrets
            .value(&info.arn, Some(version_id), None)
            .await?;
        if let Some(stored) = &stored {
            self.values.put(&info.arn, stored.clone());
        }
        Ok(stored)
    }

    /// Like [`Self::version_value`], but also knowing when the version was stored: a value this
    /// process stored itself is cached without that date, so it is read once more when needed.
    async fn dated_version_value(
        &self,
        info: &SecretInfo,
        version_id: &str,
    ) -> Result<Option<StoredValue>> {
        match self.values.get(&info.arn, version_id) {
            Some(known) if known.created.is_some() => Ok(Some(known)),
            _ => self.read_and_keep(info, version_id).await,
        }
    }

    /// The AWSCURRENT value, parsed, with the time it was stored.
    async fn read_current(&self, info: &SecretInfo) -> Result<(KeySecret, StoredValue)> {
        let no_value = |reason: &str| Error::InvalidSecret {
            secret: info.arn.clone(),
            label: AWSCURRENT.to_string(),
            reason: reason.to_string(),
        };
        let version = info
            .labelled(AWSCURRENT)
            .ok_or_else(|| no_value("no version carries it"))?;
        let stored = self
            .dated_version_value(info, &version.id)
            .await?
            .ok_or_else(|| no_value("it has no value"))?;
        let secret = parse_value(&info.arn, AWSCURRENT, &stored)?;
        Ok((secret, stored))
    }

    /// The value stored under the token, if createSecret has stored one.
    async fn read_token_value(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
    ) -> Result<Option<KeySecret>> {
        match self.version_value(info, &event.token).await? {
            Some(stored) => Ok(Some(parse_value(&event.secret_id, AWSPENDING, &stored)?)),
            None => Ok(None),
        }
    }

    /// The token's value and its key, for the steps after createSecret, which need them there.
    async fn read_pending_key(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
    ) -> Result<(KeySecret, AccessKey)> {
        let pending = self.read_token_value(event, info).await?.ok_or_else(|| {
            Error::PendingValueMissing {
                secret: event.secret_id.clone(),
                token: event.token.clone(),
            }
        })?;
        let key = pending.key().cloned().ok_or_else(|| Error::InvalidSecret {
            secret: event.secret_id.clone(),
            label: AWSPENDING.to_string(),
            reason: "it holds no access key".to_string(),
        })?;
        Ok((pending, key))
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
            .secrets
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

    /// A version's value as a key secret, with when it was stored; the secret is `None` when the
    /// version holds no value or one in another format. For the sweep and the CLI, which look at
    /// versions outside a step.
    pub async fn read_key_secret(
        &self,
        secret_arn: &str,
        version_id: &str,
    ) -> Result<(Option<KeySecret>, Option<std::time::SystemTime>)> {
        use secrecy::ExposeSecret;
        let Some(stored) = self
            .secrets
            .value(secret_arn, Some(version_id), None)
            .await?
        else {
            return Ok((None, None));
        };
        Ok((
            KeySecret::parse(stored.text.expose_secret()).ok(),
            stored.created,
        ))
    }

    /// The user of a version this step acts on (`label` names it in errors), checked as
    /// createSecret checks the current one: it must be the user AWSCURRENT (`current`) names,
    /// exist, lie in scope and be bound to this secret. Every step after createSecret calls this
    /// before it changes anything, so a hand-written version cannot steer a step to another user.
    async fn same_user_in_scope(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        label: &str,
        version: &KeySecret,
        current: &KeySecret,
    ) -> Result<IamUser> {
        if version.user_name() != current.user_name() {
            return Err(Error::UserMismatch {
                secret: event.secret_id.clone(),
                label: label.to_string(),
                user: current.user_name().to_string(),
                other_user: version.user_name().to_string(),
            });
        }
        self.user_in_scope(&event.secret_id, &info.arn, version.user_name())
            .await
    }

    /// Refuses a user this function may not touch, as every step does before it acts on a key.
    pub async fn check_scope(&self, secret_arn: &str, user: &str) -> Result<()> {
        self.user_in_scope(secret_arn, secret_arn, user)
            .await
            .map(|_| ())
    }

    /// The secret's IAM user, refused when it does not exist, lies outside the configured path, or
    /// lacks the configured tag naming this secret.
    async fn user_in_scope(
        &self,
        secret_id: &str,
        secret_arn: &str,
        name: &str,
    ) -> Result<IamUser> {
        let user = self
            .iam
            .user(name)
            .await?
            .ok_or_else(|| Error::UserNotFound {
                secret: secret_id.to_string(),
                user: name.to_string(),
            })?;
        if !user.path.starts_with(&self.config.user_path_prefix) {
            return Err(Error::UserOutOfScope {
                user: user.name,
                path: user.path,
                allowed: format!("IAM path {}", self.config.user_path_prefix),
            });
        }
        if let Some(tag) = &self.config.user_tag
            && !user.tags.iter().any(|(k, v)| k == tag && v == secret_arn)
        {
            return Err(Error::UserOutOfScope {
                path: user.path,
                allowed: format!("users tagged {tag}={secret_arn}"),
                user: user.name,
            });
        }
        Ok(user)
    }
}

fn parse_value(secret_id: &str, label: &str, stored: &StoredValue) -> Result<KeySecret> {
    use secrecy::ExposeSecret;
    KeySecret::parse(stored.text.expose_secret()).map_err(|reason| Error::InvalidSecret {
        secret: secret_id.to_string(),
        label: label.to_string(),
        reason,
    })
}

#[cfg(test)]
mod tests;
