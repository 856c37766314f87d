//! Reading secret versions, for the steps, the sweep and the CLI alike. A version's value never
//! changes once stored, so each is read once per process (the four steps of a rotation usually run
//! in the same warm Lambda process) and kept in [`ValueCache`].

use std::collections::HashMap;
use std::sync::Mutex;

use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::event::RotationEvent;
use crate::secret::{AccessKey, KeySecret};
use crate::services::{AWSCURRENT, AWSPENDING, SecretInfo, SecretVersions, Services, StoredValue};

/// More versions than one function process needs at once; past it the cache starts afresh.
const CAPACITY: usize = 64;

#[derive(Default)]
pub struct ValueCache {
    /// By (secret ARN, version id). Only values that exist: an empty version may still get one.
    values: Mutex<HashMap<(String, String), StoredValue>>,
}

impl ValueCache {
    pub fn get(&self, secret_arn: &str, version_id: &str) -> Option<StoredValue> {
        self.lock()
            .get(&(secret_arn.to_string(), version_id.to_string()))
            .cloned()
    }

    pub fn put(&self, secret_arn: &str, value: StoredValue) {
        let mut values = self.lock();
        if values.len() >= CAPACITY {
            values.clear();
        }
        values.insert((secret_arn.to_string(), value.version_id.clone()), value);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), StoredValue>> {
        self.values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<X: Services> Rotator<X> {
    /// A version's value, read at most once per process; `None` when the version holds none.
    pub(crate) async fn version_value(
        &self,
        info: &SecretInfo,
        version_id: &str,
    ) -> Result<Option<StoredValue>> {
        match self.values.get(&info.arn, version_id) {
            Some(known) => Ok(Some(known)),
            None => self.read_and_keep(info, version_id).await,
        }
    }

    pub(crate) async fn read_and_keep(
        &self,
        info: &SecretInfo,
        version_id: &str,
    ) -> Result<Option<StoredValue>> {
        let stored = self
            .secrets()
            .value(&info.arn, Some(version_id), None)
            .await?;
        if let Some(stored) = &stored {
            self.values.put(&info.arn, stored.clone());
        }
        Ok(stored)
    }

    /// Like [`Self::version_value`], but also knowing when the version was stored: a value this
    /// process stored itself is cached without that date, so it is read once more when needed.
    pub(crate) async fn dated_version_value(
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
    pub(crate) async fn read_current(&self, info: &SecretInfo) -> Result<(KeySecret, StoredValue)> {
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
    pub(crate) async fn read_token_value(
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
    pub(crate) async fn read_pending_key(
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

    /// A version's value as a key secret, with when it was stored. For the sweep and the CLI,
    /// which look at versions outside a step.
    pub async fn read_key_secret(&self, secret_arn: &str, version_id: &str) -> Result<KeyVersion> {
        use secrecy::ExposeSecret;
        let Some(stored) = self
            .secrets()
            .value(secret_arn, Some(version_id), None)
            .await?
        else {
            return Ok(KeyVersion::default());
        };
        Ok(KeyVersion {
            secret: KeySecret::parse(stored.text.expose_secret()).ok(),
            stored: stored.created,
        })
    }
}

/// A version read as a key secret, outside a step.
#[derive(Debug, Default)]
pub struct KeyVersion {
    /// `None` when the version holds no value, or one in another format.
    pub secret: Option<KeySecret>,
    /// When the version was stored.
    pub stored: Option<std::time::SystemTime>,
}

pub(crate) fn parse_value(secret_id: &str, label: &str, stored: &StoredValue) -> Result<KeySecret> {
    use secrecy::ExposeSecret;
    KeySecret::parse(stored.text.expose_secret()).map_err(|reason| Error::InvalidSecret {
        secret: secret_id.to_string(),
        label: label.to_string(),
        reason,
    })
}
