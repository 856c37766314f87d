//! The previous key of one secret: deactivated once its grace period is over and nothing uses it,
//! deleted a while after. Only ever the key AWSPREVIOUS holds, for the secret's own user; never the
//! AWSCURRENT key, never a key of a rotation in progress, never a key the secret does not know.

use std::time::SystemTime;

use super::note::{self, Note};
use super::{Action, Finding, FindingKind, LastUse, Options, Report};
use crate::config::RetirePolicy;
use crate::error::{Error, Result};
use crate::secret::KeySecret;
use crate::services::{
    AWSCURRENT, AWSPREVIOUS, Iam, KeyChecker, KeyInfo, KeyStatus, KeyUsage, SecretStore,
    SecretSummary,
};
use crate::steps::Rotator;

/// What the policy says about the previous key now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// In its grace period, or not inactive long enough to be deleted.
    Wait,
    /// Past its grace period but used within the quiet time: stays Active.
    KeptInUse(KeyUsage),
    Deactivate,
    Delete,
    /// Active again after it was deactivated: someone switched it back on; never undone.
    LeftAlone(String),
    /// Nothing more to do: the key is gone, or deletion is left to the next rotation.
    Finished,
}

/// The policy, applied to the previous key's status and last use. `rotated_at` is when the
/// current version was stored; `note` what the sweep recorded about this key before.
pub fn decide(
    status: Option<KeyStatus>,
    last_used: Option<&KeyUsage>,
    rotated_at: SystemTime,
    note: Option<Note>,
    policy: &RetirePolicy,
    now: SystemTime,
) -> Decision {
    match status {
        None => Decision::Finished,
        Some(KeyStatus::Unknown) => Decision::Wait,
        Some(KeyStatus::Active) => {
            if let Some(Note::Deactivated(_)) = note {
                return Decision::LeftAlone(
                    "switched back on after the sweep deactivated it; left Active".into(),
                );
            }
            if policy.deactivate_after.is_zero() {
                return Decision::LeftAlone(
                    "Active although the policy deactivates it at rotation: switched back on by someone; left Active".into(),
                );
            }
            if now < rotated_at + policy.deactivate_after {
                return Decision::Wait;
            }
            match last_used {
                Some(usage) if now < usage.when + policy.quiet_for => {
                    Decision::KeptInUse(usage.clone())
                }
                _ => Decision::Deactivate,
            }
        }
        Some(KeyStatus::Inactive | KeyStatus::Expired) => {
            let Some(delete_after) = policy.delete_after else {
                return Decision::Finished;
            };
            let deactivated = match note {
                Some(Note::Deactivated(at)) => at,
                _ => rotated_at,
            };
            let since = last_used.map_or(deactivated, |u| u.when.max(deactivated));
            if now >= since + delete_after {
                Decision::Delete
            } else {
                Decision::Wait
            }
        }
    }
}

/// Looks at one secret in IAM: its current key's health, unknown keys, and the previous key,
/// which it retires as [`decide`] says (unless this is a dry run).
pub async fn visit<S: SecretStore, I: Iam, K: KeyChecker>(
    rotator: &Rotator<S, I, K>,
    secret: &SecretSummary,
    options: &Options,
    now: SystemTime,
    report: &mut Report,
) -> Result<()> {
    let iam = rotator.iam();
    let finding = |kind, detail: String| Finding {
        secret_id: secret.name.clone(),
        kind,
        detail,
    };
    let Some(current_version) = secret.labelled(AWSCURRENT) else {
        return Ok(());
    };
    let (current, current_stored) = rotator
        .read_key_secret(&secret.arn, &current_version.id)
        .await?;
    let Some(current) = current else {
        return Ok(());
    };
    let user = current.user_name().to_string();
    rotator.check_scope(&secret.arn, &user).await?;
    let keys = iam.list_keys(&user).await?;

    if let Some(key_id) = current.key_id() {
        match keys.iter().find(|k| k.id == key_id) {
            Some(k) if k.status == KeyStatus::Active => {}
            Some(k) => report.findings.push(finding(
                FindingKind::CurrentKeyBroken,
                format!(
                    "AWSCURRENT's key {key_id} is {}: consumers cannot sign with it",
                    k.status.as_str()
                ),
            )),
            None => report.findings.push(finding(
                FindingKind::CurrentKeyBroken,
                format!(
                    "AWSCURRENT's key {key_id} no longer exists: consumers cannot sign with it"
                ),
            )),
        }
    }

    let previous = match secret.labelled(AWSPREVIOUS) {
        Some(version) => Some((
            version.id.clone(),
            rotator.read_key_secret(&secret.arn, &version.id).await?.0,
        )),
        None => None,
    };
    let previous_key = previous
        .as_ref()
        .and_then(|(_, value)| value.as_ref())
        .filter(|value| value.user_name() == user)
        .and_then(|value| value.key_id())
        .filter(|id| Some(*id) != current.key_id())
        .map(str::to_string);

    unknown_keys(
        rotator,
        secret,
        &keys,
        &current,
        previous_key.as_deref(),
        report,
    )
    .await?;

    let (Some((version, _)), Some(key_id)) = (&previous, previous_key) else {
        return Ok(());
    };
    let key = keys.iter().find(|k| k.id == key_id);
    let last_used = match key {
        Some(_) => iam.last_used(&key_id).await?,
        None => None,
    };
    let note = note::read(secret.tag(note::NOTE_TAG), version);
    // When the previous key was replaced: the later of the two dates AWS gives, so that a rotation
    // Secrets Manager did not record (the CLI's) still gets its whole grace period.
    let rotated_at = match (secret.last_rotated, current_stored) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => a.or(b).unwrap_or(now),
    };
    let decision = decide(
        key.map(|k| k.status),
        last_used.as_ref(),
        rotated_at,
        note,
        &rotator.config().retire,
        now,
    );
    act(
        rotator, secret, version, &user, &key_id, decision, options, now, report,
    )
    .await
}

/// Carries out a decision about the previous key, and records the sweep's note.
#[allow(clippy::too_many_arguments)]
async fn act<S: SecretStore, I: Iam, K: KeyChecker>(
    rotator: &Rotator<S, I, K>,
    secret: &SecretSummary,
    version: &str,
    user: &str,
    key_id: &str,
    decision: Decision,
    options: &Options,
    now: SystemTime,
    report: &mut Report,
) -> Result<()> {
    let action = |action: &'static str, reason: String, last_used: Option<LastUse>| Action {
        secret_id: secret.name.clone(),
        key_id: key_id.to_string(),
        action,
        reason,
        last_used,
    };
    let policy = &rotator.config().retire;
    let note = match decision {
        Decision::Wait => return Ok(()),
        Decision::KeptInUse(usage) => {
            let detail = format!(
                "the previous key {key_id} is still in use (last used {usage}); it stays Active until unused for {}",
                humantime::format_duration(policy.quiet_for)
            );
            report.findings.push(Finding {
                secret_id: secret.name.clone(),
                kind: FindingKind::PreviousKeyInUse,
                detail: detail.clone(),
            });
            report
                .actions
                .push(action("kept_in_use", detail, Some(LastUse::from(&usage))));
            return Ok(());
        }
        Decision::Deactivate => {
            if !options.dry_run {
                rotator.iam().deactivate_key(user, key_id).await?;
            }
            report.actions.push(action(
                "deactivated",
                format!(
                    "grace period of {} over and unused for {}",
                    humantime::format_duration(policy.deactivate_after),
                    humantime::format_duration(policy.quiet_for)
                ),
                None,
            ));
            Note::Deactivated(now)
        }
        Decision::Delete => {
            if !options.dry_run {
                rotator.iam().delete_key(user, key_id).await?;
            }
            let after = policy.delete_after.unwrap_or_default();
            report.actions.push(action(
                "deleted",
                format!(
                    "inactive and unused for {}",
                    humantime::format_duration(after)
                ),
                None,
            ));
            Note::Done
        }
        Decision::LeftAlone(reason) => {
            report.actions.push(action("left_alone", reason, None));
            Note::Done
        }
        Decision::Finished => Note::Done,
    };
    let value = note::write(version, note);
    if !options.dry_run && secret.tag(note::NOTE_TAG) != Some(value.as_str()) {
        rotator
            .secrets()
            .tag(&secret.arn, note::NOTE_TAG, &value)
            .await?;
    }
    Ok(())
}

/// UnknownKey: an active key of the user that neither AWSCURRENT, AWSPREVIOUS nor any older
/// version holds. Older versions are read only when such a key turns up.
async fn unknown_keys<S: SecretStore, I: Iam, K: KeyChecker>(
    rotator: &Rotator<S, I, K>,
    secret: &SecretSummary,
    keys: &[KeyInfo],
    current: &KeySecret,
    previous_key: Option<&str>,
    report: &mut Report,
) -> Result<()> {
    let strangers: Vec<&KeyInfo> = keys
        .iter()
        .filter(|k| k.status == KeyStatus::Active)
        .filter(|k| Some(k.id.as_str()) != current.key_id() && Some(k.id.as_str()) != previous_key)
        .collect();
    if strangers.is_empty() {
        return Ok(());
    }
    let secrets = rotator.secrets();
    let mut held = Vec::new();
    for version in secrets.list_versions(&secret.arn).await? {
        if version.has(AWSCURRENT) || version.has(AWSPREVIOUS) {
            continue;
        }
        if let (Some(value), _) = rotator.read_key_secret(&secret.arn, &version.id).await? {
            held.extend(value.key_id().map(str::to_string));
        }
    }
    for key in strangers.into_iter().filter(|k| !held.contains(&k.id)) {
        report.findings.push(Finding {
            secret_id: secret.name.clone(),
            kind: FindingKind::UnknownKey,
            detail: format!(
                "user {} holds the active key {} that no version of the secret knows (made by hand?)",
                current.user_name(),
                key.id
            ),
        });
    }
    Ok(())
}

/// Deactivates (and with `delete`, deletes) the previous key of a secret now, whatever the
/// policy says: for an operator who knows the key leaked. Never the AWSCURRENT key.
pub async fn retire<S: SecretStore, I: Iam, K: KeyChecker>(
    rotator: &Rotator<S, I, K>,
    secret_id: &str,
    delete: bool,
) -> Result<Vec<Action>> {
    let info = rotator.secrets().describe(secret_id).await?;
    let no_previous = || Error::InvalidSecret {
        secret: secret_id.to_string(),
        label: AWSPREVIOUS.to_string(),
        reason: "there is no previous version holding a key of the current user".to_string(),
    };
    let current_version = info.labelled(AWSCURRENT).ok_or_else(no_previous)?;
    let previous_version = info.labelled(AWSPREVIOUS).ok_or_else(no_previous)?;
    let (current, _) = rotator
        .read_key_secret(&info.arn, &current_version.id)
        .await?;
    let (previous, _) = rotator
        .read_key_secret(&info.arn, &previous_version.id)
        .await?;
    let (Some(current), Some(previous)) = (current, previous) else {
        return Err(no_previous());
    };
    let key_id = previous
        .key_id()
        .filter(|id| Some(*id) != current.key_id() && previous.user_name() == current.user_name())
        .ok_or_else(no_previous)?
        .to_string();
    let user = current.user_name();
    rotator.check_scope(&info.arn, user).await?;
    let Some(key) = rotator
        .iam()
        .list_keys(user)
        .await?
        .into_iter()
        .find(|k| k.id == key_id)
    else {
        return Ok(Vec::new());
    };
    let action = |action: &'static str, reason: &str| Action {
        secret_id: secret_id.to_string(),
        key_id: key_id.clone(),
        action,
        reason: reason.to_string(),
        last_used: None,
    };
    let mut actions = Vec::new();
    if key.status == KeyStatus::Active {
        rotator.iam().deactivate_key(user, &key_id).await?;
        actions.push(action("deactivated", "retired by an operator"));
    }
    let note = if delete {
        rotator.iam().delete_key(user, &key_id).await?;
        actions.push(action("deleted", "retired by an operator"));
        Note::Done
    } else {
        Note::Deactivated(SystemTime::now())
    };
    rotator
        .secrets()
        .tag(
            &info.arn,
            note::NOTE_TAG,
            &note::write(&previous_version.id, note),
        )
        .await?;
    Ok(actions)
}
