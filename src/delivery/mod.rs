//! Delivery: puts a rotation's new key where its consumers read it (SSM parameters, GitHub Actions
//! secrets), confirms that each destination holds it, and gives them back the current key when a
//! rotation is called off. setSecret delivers, testSecret confirms, the sweep watches.

mod destination;
mod github;
mod record;
mod ssm;

use std::future::Future;
use std::time::{Instant, SystemTime};

use secrecy::SecretString;
use serde::Serialize;
use tracing::{info, warn};

pub use destination::{
    DESTINATIONS, Destination, SecretNames, Visibility, is_github_login, parse_all, parse_shorthand,
};
pub use record::DELIVERED_TAG;

use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::secret::{AccessKey, KeySecret};
use crate::services::{IamKeys, KeyStatus, SecretInfo, SecretTags, SecretVersions, Services};
use record::Record;

/// What a destination holds, as far as can be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "holds", content = "detail", rename_all = "snake_case")]
pub enum Holds {
    /// The expected key, confirmed.
    Key,
    /// Nothing: the parameter or a secret is gone.
    Missing(String),
    /// Something else, and how that is known.
    Other(String),
    /// It could not be read now (throttled, refused, no answer): that tells nothing either way.
    Unreadable(String),
}

/// One destination and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    pub destination: String,
    #[serde(flatten)]
    pub holds: Holds,
}

/// The key a destination should hold: its id, and its secret part when the secret stores it.
pub struct Expected<'a> {
    pub key_id: &'a str,
    pub secret: Option<&'a SecretString>,
}

/// How giving the destinations back the current key went, when a rotation is called off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiveBack {
    /// The secret delivers nowhere.
    NoDestinations,
    /// Every destination holds the current key again.
    Done,
    /// They could not be given it (why): they may hold the rotation's key, which must stay.
    Failed(String),
}

impl<X: Services> Rotator<X> {
    /// The destinations `value` lists, each within what this deployment allows. Refused whole,
    /// with what is wrong, when any one is malformed or outside the limits.
    pub fn destinations(&self, secret_id: &str, value: &KeySecret) -> Result<Vec<Destination>> {
        let refuse = |reason: String| Error::InvalidDestination {
            secret: secret_id.to_string(),
            reason,
        };
        let destinations = parse_all(value.field(DESTINATIONS)).map_err(refuse)?;
        for destination in &destinations {
            destination::check_allowed(destination, &self.config().delivery).map_err(refuse)?;
        }
        Ok(destinations)
    }

    /// Puts `key` into every destination, before `deadline`. Idempotent: an SSM parameter that
    /// holds the key already is not written again, and GitHub's PUT replaces a secret with the
    /// same value. Notes on the secret when the GitHub secrets were written, which is how they
    /// are confirmed later. A failure names the destination; those written before it keep a key
    /// that works, and the next attempt writes the rest.
    pub(crate) async fn deliver(
        &self,
        info: &SecretInfo,
        key: &AccessKey,
        destinations: &[Destination],
        deadline: Instant,
    ) -> Result<()> {
        let first = SystemTime::now();
        let mut lookups = github::Lookups::default();
        let mut to_github = false;
        // GitHub's own times of the writes, by which its `updated_at` is later read.
        let mut github_times: Vec<SystemTime> = Vec::new();
        for destination in destinations {
            let written = match destination {
                Destination::Ssm { name, kms_key_id } => {
                    let delivery =
                        ssm::deliver(self.parameters(), name, kms_key_id.as_deref(), key);
                    before(deadline, delivery).await
                }
                Destination::GitHub {
                    scope,
                    visibility,
                    names,
                } => {
                    to_github = true;
                    let delivery = github::deliver(
                        self.github(),
                        &mut lookups,
                        scope,
                        visibility.as_ref(),
                        names,
                        key,
                    );
                    before(deadline, delivery).await.map(|d| {
                        d.map(|times| {
                            github_times.extend(times);
                            true
                        })
                    })
                }
            };
            let written = written.unwrap_or_else(|late| {
                Err(Error::DeliveryFailed {
                    destination: destination.to_string(),
                    reason: late.to_string(),
                    retry: true,
                })
            });
            match written {
                Ok(true) => {
                    info!(destination = %destination, key_id = %key.id, "delivered the key")
                }
                Ok(false) => {
                    info!(destination = %destination, key_id = %key.id, "the destination holds the key already")
                }
                Err(e @ Error::DeliveryFailed { .. }) => return Err(e),
                Err(e) => {
                    return Err(Error::DeliveryFailed {
                        destination: destination.to_string(),
                        retry: e.remedy() == crate::error::Remedy::Retry,
                        reason: e.to_string(),
                    });
                }
            }
        }
        if to_github {
            let (first, last) = match (github_times.iter().min(), github_times.iter().max()) {
                (Some(first), Some(last)) => (*first, *last),
                _ => (first, SystemTime::now()),
            };
            let record = Record {
                key_id: key.id.clone(),
                first,
                last,
            };
            self.secrets()
                .tag(&info.arn, DELIVERED_TAG, &record.write())
                .await?;
        }
        Ok(())
    }

    /// What each destination holds, compared with `expected`. `tags` are the secret's, fresh: they
    /// record the last delivery to GitHub. Reads only; a destination that cannot be read now is
    /// reported as such, never as holding or not holding the key.
    pub(crate) async fn holdings(
        &self,
        tags: &[(String, String)],
        expected: &Expected<'_>,
        destinations: &[Destination],
        deadline: Instant,
    ) -> Vec<Holding> {
        let record = Record::read(
            tags.iter()
                .find(|(k, _)| k == DELIVERED_TAG)
                .map(|(_, v)| v.as_str()),
        );
        let mut holdings = Vec::new();
        for destination in destinations {
            let holds = match destination {
                Destination::Ssm { name, .. } => {
                    before(deadline, ssm::holds(self.parameters(), name, expected)).await
                }
                Destination::GitHub { scope, names, .. } => {
                    let read =
                        github::holds(self.github(), scope, names, record.as_ref(), expected);
                    before(deadline, read).await
                }
            };
            holdings.push(Holding {
                destination: destination.to_string(),
                holds: holds.unwrap_or_else(|late| Holds::Unreadable(late.to_string())),
            });
        }
        holdings
    }

    /// Gives the current key (of `current`, the AWSCURRENT value) back to every destination that
    /// `current` or the called-off rotation's `pending` value lists, for a rotation that may have
    /// delivered its own key. Only a key that IAM shows Active goes back: a current key that is
    /// gone or switched off (the reason for the rotation, say) would cut every consumer off, so
    /// then nothing is written and the caller must keep the rotation's key. So too when the secret
    /// does not hold the current key's secret part (an adopted key).
    pub(crate) async fn give_back(
        &self,
        info: &SecretInfo,
        current: &KeySecret,
        pending: Option<&KeySecret>,
        deadline: Instant,
    ) -> GiveBack {
        let mut destinations = match self.destinations(&info.arn, current) {
            Ok(d) => d,
            Err(e) => return GiveBack::Failed(e.to_string()),
        };
        // The pending value's own list, when it differs: setSecret refused any it did not allow,
        // so only those it may have written are added.
        if let Some(Ok(listed)) = pending.map(|p| self.destinations(&info.arn, p)) {
            for destination in listed {
                if !destinations
                    .iter()
                    .any(|d| d.to_string() == destination.to_string())
                {
                    destinations.push(destination);
                }
            }
        }
        if destinations.is_empty() {
            return GiveBack::NoDestinations;
        }
        let Some(key) = current.key() else {
            return GiveBack::Failed(
                "the current value holds no secret part (an adopted key), so the destinations cannot be given it back".into(),
            );
        };
        let iam = match self.iam_for(&info.arn, current).await {
            Ok(iam) => iam,
            Err(e) => return GiveBack::Failed(e.to_string()),
        };
        match iam.list_keys(current.user_name()).await {
            Ok(keys) => match keys.iter().find(|k| k.id == key.id) {
                Some(k) if k.status == KeyStatus::Active => {}
                Some(k) => {
                    return GiveBack::Failed(format!(
                        "the current key {} is {}: giving it back would cut every consumer off",
                        key.id,
                        k.status.as_str()
                    ));
                }
                None => {
                    return GiveBack::Failed(format!(
                        "the current key {} no longer exists: giving it back would cut every consumer off",
                        key.id
                    ));
                }
            },
            Err(e) => return GiveBack::Failed(e.to_string()),
        }
        match self.deliver(info, key, &destinations, deadline).await {
            Ok(()) => {
                info!(key_id = %key.id, "gave the destinations back the current key");
                GiveBack::Done
            }
            Err(e) => {
                warn!(error = %e, "could not give the destinations back the current key");
                GiveBack::Failed(e.to_string())
            }
        }
    }
}

impl<X: Services> Rotator<X> {
    /// Delivers the current key again to every destination of the secret, and says what each
    /// holds then: the remedy for a destination someone overwrote or deleted (`DeliveryStale`),
    /// which needs no new key. Refused while a rotation is under way (it delivers its own), and
    /// when the current key is not Active or its secret part is not stored (after `adopt`: rotate
    /// instead), changing nothing.
    pub async fn deliver_again(&self, secret_id: &str, deadline: Instant) -> Result<Vec<Holding>> {
        let info = self.secrets().describe(secret_id).await?;
        if let Some(pending) = info.unfinished_rotation() {
            return Err(Error::RotationInProgress {
                secret: secret_id.to_string(),
                version: pending.id.clone(),
            });
        }
        let (current, _) = self.read_current(&info).await?;
        match self.give_back(&info, &current, None, deadline).await {
            GiveBack::NoDestinations => return Ok(Vec::new()),
            GiveBack::Done => {}
            GiveBack::Failed(why) => {
                return Err(Error::DeliveryFailed {
                    destination: format!("the destinations of {secret_id}"),
                    reason: format!(
                        "{why}; rotate the secret instead (iam-key-rotator-cli rotate)"
                    ),
                    retry: false,
                });
            }
        }
        let Some(key) = current.key() else {
            return Ok(Vec::new());
        };
        let tags = self.secrets().describe(secret_id).await?.tags;
        let expected = Expected {
            key_id: &key.id,
            secret: Some(&key.secret),
        };
        let destinations = self.destinations(secret_id, &current)?;
        Ok(self
            .holdings(&tags, &expected, &destinations, deadline)
            .await)
    }
}

/// Runs `call`, giving up at `deadline` (the invocation's end): `Err` says it ran out of time.
async fn before<T>(deadline: Instant, call: impl Future<Output = T>) -> Result<T, &'static str> {
    tokio::time::timeout_at(deadline.into(), call)
        .await
        .map_err(|_| "no answer before the invocation's deadline")
}

#[cfg(test)]
mod tests;
