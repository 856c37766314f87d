//! createSecret: makes a new access key, making room under IAM's 2-key quota, and stores it as AWSPENDING.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use tracing::{error, info, warn};

use super::key_quota::{Holder, LONGEST_ATTEMPT, Removal, Verdict, is_crash_leftover, plan_room};
use super::{Contract, Rotator};
use crate::dates;
use crate::error::{Error, Result};
use crate::event::RotationEvent;
use crate::secret::{AccessKey, KeySecret};
use crate::services::{
    AWSCURRENT, AWSPENDING, IamKeys, KeyInfo, KeyStatus, SecretInfo, SecretTags, SecretVersion,
    SecretVersions, Services, StoredValue,
};
use crate::versions::parse_value;

/// The secret's tag in which the CLI notes the rotation it is starting, as "<token> <unix seconds>",
/// before it creates a key. Secrets Manager's own rotations have a version made before any key
/// (its `CreatedDate` bounds what counts as this rotation's key); the CLI's version only appears
/// once the key is stored, so a CLI run after a crash reads the start here instead.
pub const CLI_ROTATION_TAG: &str = "iam-key-rotator:cli-rotation";

impl<X: Services> Rotator<X> {
    /// Creates the new key and stores it under the token as AWSPENDING.
    ///
    /// Assumes the token's version carries AWSPENDING (or, from the CLI, does not exist yet).
    /// Refuses, before any key is made, a secret whose `Destinations` are malformed or outside
    /// what the deployer allows.
    /// Guarantees: the AWSCURRENT key is never touched; no key that another rotation's AWSPENDING
    /// version holds is deleted; no active key used since the current version was stored is
    /// deleted; an active key the secret does not know is deleted only if this rotation made it
    /// (see [`is_crash_leftover`]). If the key cannot be stored it is deleted again, so a failed
    /// attempt leaves no extra key.
    pub(super) async fn create_secret(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        contract: Contract,
    ) -> Result<()> {
        if let Some(pending) = self.read_token_value(event, info).await? {
            info!(
                key_id = pending.key_id(),
                "a value is already stored under the token; nothing to do"
            );
            return Ok(());
        }

        let (current, current_value) = self.read_current(info).await?;
        let user = self
            .user_in_scope(&event.secret_id, &info.arn, &current)
            .await?;
        let iam = &*user.iam;
        // A destination this function may not write is refused before any key exists.
        self.destinations(&event.secret_id, &current)?;
        let started = self.note_cli_rotation(event, info, contract).await?;
        let keys = iam.list_keys(user.name()).await?;
        let others: Vec<&KeyInfo> = keys
            .iter()
            .filter(|k| Some(k.id.as_str()) != current.key_id())
            .collect();

        // The versions tell which keys the secret knows, and when this rotation began.
        let versions = if others.is_empty() && !keys.is_empty() {
            Vec::new()
        } else {
            self.secrets().list_versions(&info.arn).await?
        };
        let started = started.or_else(|| {
            versions
                .iter()
                .find(|v| v.id == event.token)
                .and_then(|v| v.created)
        });
        let holders = self.holders(event, info, &versions, &others).await?;

        let mut verdicts = Vec::new();
        for key in others {
            let verdict = self
                .verdict(
                    iam,
                    &event.secret_id,
                    key,
                    &holders,
                    started,
                    current_value.created,
                )
                .await?;
            verdicts.push((key.clone(), verdict));
        }
        let removals = plan_room(keys.len(), &verdicts).map_err(|blocking| Error::KeyQuota {
            secret: event.secret_id.clone(),
            user: user.name().to_string(),
            blocking,
        })?;
        let keeps_a_key = keys.len() > removals.len();
        for (key, why) in removals {
            iam.delete_key(user.name(), &key.id).await?;
            info!(user = %user.name(), key_id = %key.id, reason = ?why, "deleted access key to make room");
        }

        let new_key = iam.create_key(user.name()).await?;
        info!(user = %user.name(), new_key_id = %new_key.id, "created access key");
        if !keeps_a_key {
            self.remove_twins(iam, user.name(), &new_key.id, started)
                .await?;
        }
        self.store_pending_or_undo(event, info, iam, user.name(), &current, new_key)
            .await?;
        if started.is_some() && contract == Contract::Cli && info.version(&event.token).is_none() {
            // The version now exists and dates the rotation itself; the note has done its job.
            if let Err(e) = self.secrets().untag(&info.arn, CLI_ROTATION_TAG).await {
                warn!(error = %e, "could not remove the CLI's rotation note; it is harmless");
            }
        }
        Ok(())
    }

    /// For a rotation the CLI starts (its token has no version yet): the time noted on the secret
    /// for this token by an earlier run that crashed, or now, noted before any key is made.
    /// `None` under Secrets Manager, whose version of the token dates the rotation.
    async fn note_cli_rotation(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        contract: Contract,
    ) -> Result<Option<SystemTime>> {
        if contract != Contract::Cli || info.version(&event.token).is_some() {
            return Ok(None);
        }
        let now = SystemTime::now();
        if let Some(noted) = info
            .tag(CLI_ROTATION_TAG)
            .and_then(|note| parse_cli_note(note, &event.token, now))
        {
            return Ok(Some(noted));
        }
        let seconds = dates::epoch_seconds(now);
        self.secrets()
            .tag(
                &info.arn,
                CLI_ROTATION_TAG,
                &format!("{} {seconds}", event.token),
            )
            .await?;
        Ok(Some(dates::from_epoch_seconds(seconds)))
    }

    /// What createSecret may do with `key`, one of the user's keys besides the current one.
    async fn verdict(
        &self,
        iam: &X::Iam,
        secret_id: &str,
        key: &KeyInfo,
        holders: &HashMap<String, Holder>,
        started: Option<SystemTime>,
        current_stored: Option<SystemTime>,
    ) -> Result<Verdict> {
        let id = &key.id;
        match key.status {
            KeyStatus::Inactive => return Ok(Verdict::Removable(Removal::Inactive)),
            KeyStatus::Expired => return Ok(Verdict::Removable(Removal::Expired)),
            KeyStatus::Unknown => {
                return Ok(Verdict::Keep(format!(
                    "{id} has a status this version of the function does not know"
                )));
            }
            KeyStatus::Active => {}
        }
        match holders.get(id) {
            Some(Holder::Current(version)) => Ok(Verdict::Keep(format!(
                "{id} is the current key (version {version} carries AWSCURRENT)"
            ))),
            Some(Holder::Pending(version)) => Ok(Verdict::Keep(format!(
                "{id} is the new key of another rotation in progress (version {version} carries AWSPENDING)"
            ))),
            Some(Holder::Old) => {
                self.old_versions_verdict(iam, secret_id, key, current_stored)
                    .await
            }
            None if is_crash_leftover(key, started) && iam.last_used(id).await?.is_none() => {
                Ok(Verdict::Leftover)
            }
            None => Ok(Verdict::Keep(format!(
                "{id} is active and held by no version of the secret (made by hand, or used elsewhere)"
            ))),
        }
    }

    /// What createSecret may do with an active key that only an older version of the secret holds
    /// (the previous key, still Active). It may go only once nothing can be relying on it: its
    /// grace period (`ROTATOR_DEACTIVATE_AFTER`) is over, no use shows since the current version
    /// was stored, and that version is old enough (`ROTATOR_LAST_USE_LAG`) for AWS to have
    /// reported a use, as is the key itself; AWS shows a key's use hours late, so "no use seen"
    /// of a younger one proves nothing (a called-off rotation's key, which may have been handed
    /// out, is such a key).
    async fn old_versions_verdict(
        &self,
        iam: &X::Iam,
        secret_id: &str,
        key: &KeyInfo,
        current_stored: Option<SystemTime>,
    ) -> Result<Verdict> {
        let id = key.id.as_str();
        let Some(stored) = current_stored else {
            return Ok(Verdict::Keep(format!(
                "{id} is held by an old version of the secret, and when the current version was stored is unknown"
            )));
        };
        let age = SystemTime::now().duration_since(stored).unwrap_or_default();
        let when = humantime::format_rfc3339_seconds(stored);
        let grace = self.config().retire.deactivate_after;
        if age < grace {
            return Ok(Verdict::Keep(format!(
                "{id} is the previous key, still in its grace period of {} (the current version was stored at {when}); if nothing uses it, retire it first with `iam-key-rotator-cli retire --secret-id {secret_id}`",
                humantime::format_duration(grace)
            )));
        }
        if let Some(usage) = iam.last_used(id).await?
            && usage.when > stored
        {
            return Ok(Verdict::Keep(format!(
                "{id} is held by an old version of the secret but is still in use: last used {usage}, after the current version was stored"
            )));
        }
        let lag = self.config().last_use_lag;
        if let Some(made) = key.created
            && SystemTime::now().duration_since(made).unwrap_or_default() < lag
        {
            return Ok(Verdict::Keep(format!(
                "{id} is held by an old version of the secret and shows no use, but it was made at {}, and AWS reports a key's use up to {} late (ROTATOR_LAST_USE_LAG), so that proves nothing yet; if nothing uses it, delete it by hand",
                humantime::format_rfc3339_seconds(made),
                humantime::format_duration(lag)
            )));
        }
        if age < lag {
            return Ok(Verdict::Keep(format!(
                "{id} is held by an old version of the secret and shows no use since the current version was stored at {when}, but AWS reports a key's use up to {} late (ROTATOR_LAST_USE_LAG), so that proves nothing yet; if nothing uses it, retire it with `iam-key-rotator-cli retire --secret-id {secret_id}`",
                humantime::format_duration(lag)
            )));
        }
        Ok(Verdict::Removable(Removal::HeldByOldVersion))
    }

    /// When the user had no other key, IAM's quota cannot stop the SDK's retry of a
    /// CreateAccessKey whose first answer was lost from making a second key. Removes such a twin
    /// now, while it can only be ours: active, held by no version, never used, and made by this rotation.
    async fn remove_twins(
        &self,
        iam: &X::Iam,
        user: &str,
        new_key_id: &str,
        started: Option<SystemTime>,
    ) -> Result<()> {
        for key in iam.list_keys(user).await? {
            if key.id != new_key_id
                && is_crash_leftover(&key, started)
                && iam.last_used(&key.id).await?.is_none()
            {
                iam.delete_key(user, &key.id).await?;
                info!(user, key_id = %key.id, "deleted a twin of the new key left by a lost answer");
            }
        }
        Ok(())
    }

    /// Stores the new key under the token. If that fails, deletes the key again, unless the value
    /// may have been stored after all (a lost response), which the next attempt sorts out.
    async fn store_pending_or_undo(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        iam: &X::Iam,
        user: &str,
        current: &KeySecret,
        new_key: AccessKey,
    ) -> Result<()> {
        let new_key_id = new_key.id.clone();
        let mut pending = current.with_key(new_key);
        if let Some(region) = &self.config().ses_smtp_region {
            pending = pending.with_smtp_credentials(region);
        }
        let pending = pending.to_json();
        let Err(put_error) = self
            .secrets()
            .put_pending(
                &event.secret_id,
                &event.token,
                &pending,
                event.rotation_token.as_deref(),
            )
            .await
        else {
            info!(new_key_id = %new_key_id, "stored the new key as AWSPENDING");
            // Stored, so this is the token's value for good: the next steps need not read it.
            let stored = StoredValue {
                version_id: event.token.clone(),
                created: None,
                text: pending,
            };
            self.values.put(&info.arn, stored);
            return Ok(());
        };

        match self.read_token_value(event, info).await {
            Ok(Some(stored)) if stored.key_id() == Some(new_key_id.as_str()) => {
                warn!(new_key_id = %new_key_id, error = %put_error, "PutSecretValue reported an error but the value was stored; keeping the key");
                Ok(())
            }
            Ok(_) => {
                match iam.delete_key(user, &new_key_id).await {
                    Ok(()) => {
                        warn!(new_key_id = %new_key_id, "could not store the new key; deleted it again")
                    }
                    Err(e) => {
                        error!(new_key_id = %new_key_id, error = %e, "could not store the new key, nor delete it; the next attempt removes it as a crash leftover")
                    }
                }
                Err(put_error)
            }
            Err(e) => {
                warn!(new_key_id = %new_key_id, error = %e, "could not store the new key, nor tell whether it was stored; the next attempt sorts it out");
                Err(put_error)
            }
        }
    }

    /// Which of the `others` keys some version of this secret holds, labelled or not, and whether
    /// that version carries AWSCURRENT or AWSPENDING (another attempt's new key, never "old").
    /// Every version counts, the token's and AWSCURRENT's included: another attempt may have
    /// stored and promoted a key since `info` was read. Current, pending and labelled versions are
    /// read first, and reading stops once every key is found, so a secret's long history costs no
    /// calls in the usual case.
    async fn holders(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        versions: &[SecretVersion],
        others: &[&KeyInfo],
    ) -> Result<HashMap<String, Holder>> {
        let wanted: HashSet<&str> = others.iter().map(|k| k.id.as_str()).collect();
        let mut found = HashMap::new();
        let mut versions: Vec<&SecretVersion> = versions.iter().collect();
        versions.sort_by_key(|v| (!v.has(AWSCURRENT), !v.has(AWSPENDING), v.labels.is_empty()));
        for version in versions {
            if found.len() == wanted.len() {
                break;
            }
            let Some(stored) = self.version_value(info, &version.id).await? else {
                continue;
            };
            // An old version in another format only means we cannot vouch for its key.
            match parse_value(&event.secret_id, &version.id, &stored) {
                Ok(secret) => {
                    if let Some(id) = secret.key_id().filter(|id| wanted.contains(id)) {
                        let holder = if version.has(AWSCURRENT) {
                            Holder::Current(version.id.clone())
                        } else if version.has(AWSPENDING) || version.id == event.token {
                            Holder::Pending(version.id.clone())
                        } else {
                            Holder::Old
                        };
                        found.entry(id.to_string()).or_insert(holder);
                    }
                }
                Err(e) => {
                    warn!(version = %version.id, error = %e, "skipping a version that is not a key secret")
                }
            }
        }
        Ok(found)
    }
}

/// The start of a rotation the CLI noted for `token`, from the tag's "<token> <unix seconds>".
/// A note expires once no attempt of its rotation can still be running ([`LONGEST_ATTEMPT`]), and
/// one dated in the future was not written by a CLI run: either is ignored, and the run notes
/// its own start afresh, so that no key made by hand can pass for this rotation's leftover.
fn parse_cli_note(note: &str, token: &str, now: SystemTime) -> Option<SystemTime> {
    let (noted_token, seconds) = note.split_once(' ')?;
    let seconds: u64 = seconds.parse().ok()?;
    let noted = dates::from_epoch_seconds(seconds);
    let fresh = noted <= now + Duration::from_secs(1) && now <= noted + LONGEST_ATTEMPT;
    (noted_token == token && fresh).then_some(noted)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn the_cli_note_names_its_token_and_start() {
        let noted = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let soon = noted + Duration::from_secs(60);
        assert_eq!(
            parse_cli_note("tok-1 1700000000", "tok-1", soon),
            Some(noted)
        );
        assert_eq!(parse_cli_note("tok-1 1700000000", "tok-2", soon), None);
        assert_eq!(parse_cli_note("garbage", "tok-1", soon), None);
    }

    #[test]
    fn a_cli_note_expires_after_the_longest_attempt_and_is_never_from_the_future() {
        let noted = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let late = noted + LONGEST_ATTEMPT + Duration::from_secs(1);
        assert_eq!(parse_cli_note("tok-1 1700000000", "tok-1", late), None);
        let before = noted - Duration::from_secs(3600);
        assert_eq!(parse_cli_note("tok-1 1700000000", "tok-1", before), None);
    }
}
