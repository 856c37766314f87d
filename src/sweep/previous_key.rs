//! The previous key of one secret: deactivated once its grace period is over and nothing uses it,
//! deleted a while after. Only ever the key AWSPREVIOUS holds, for the secret's own user; never the
//! AWSCURRENT key, never a key of a rotation in progress, never a key the secret does not know.

use std::time::SystemTime;

use super::{Action, ActionKind, Finding, FindingKind, LastUse, Options, Report};
use crate::engine::Rotator;
use crate::error::Result;
use crate::retirement::note::{self, Note};
use crate::retirement::{Decision, Facts};
use crate::secret::KeySecret;
use crate::services::{
    AWSCURRENT, AWSPREVIOUS, Iam, KeyInfo, KeyStatus, SecretStore, SecretSummary, Services,
};

/// Looks at one secret in IAM: its current key's health, unknown keys, and the previous key,
/// which it retires as [`RetirePolicy::decide`](crate::retirement::RetirePolicy::decide) says (unless this is a dry run). The listing it starts from
/// may be minutes old: a decision that changes a key is checked again against fresh answers.
pub async fn visit<X: Services>(
    rotator: &Rotator<X>,
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
        Some(version) => {
            let (value, stored) = rotator.read_key_secret(&secret.arn, &version.id).await?;
            Some((version.id.clone(), value, stored))
        }
        None => None,
    };
    let previous_key = previous
        .as_ref()
        .and_then(|(_, value, _)| value.as_ref())
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

    let (Some((version, value, stored)), Some(key_id)) = (&previous, previous_key) else {
        return Ok(());
    };
    // An id without its secret part: a key `adopt` brought under rotation.
    let adopted = value.as_ref().is_some_and(|v| v.key().is_none());
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
    let facts = Facts {
        status: key.map(|k| k.status),
        last_used: last_used.as_ref(),
        rotated_at,
        note,
        adopted: adopted.then(|| stored.unwrap_or(rotated_at)),
    };
    let decision = rotator.config().retirement().decide(&facts, now);
    let decision = confirm(
        rotator, secret, version, &user, &key_id, decision, facts, now,
    )
    .await?;
    act(
        rotator, secret, version, &user, &key_id, decision, options, now, report,
    )
    .await
}

/// Checks a decision that changes a key against fresh answers, since the listing may be minutes
/// behind and another sweep may be at work on the same key: DescribeSecret for the labels and the
/// note, and, before a deletion, ListAccessKeys for the key's status right then. A decision can
/// only soften here, never grow into a change the first look did not call for.
#[allow(clippy::too_many_arguments)]
async fn confirm<X: Services>(
    rotator: &Rotator<X>,
    secret: &SecretSummary,
    version: &str,
    user: &str,
    key_id: &str,
    decision: Decision,
    facts: Facts<'_>,
    now: SystemTime,
) -> Result<Decision> {
    if !matches!(
        decision,
        Decision::Deactivate | Decision::Delete | Decision::CountFromNow
    ) {
        return Ok(decision);
    }
    let fresh = rotator.secrets().describe(&secret.arn).await?;
    let still_previous = fresh
        .labelled(AWSPREVIOUS)
        .is_some_and(|v| v.id == version && !v.has(AWSCURRENT));
    if !still_previous || fresh.unfinished_rotation().is_some() {
        return Ok(Decision::Wait);
    }
    let note = note::read(fresh.tag(note::NOTE_TAG), version);
    if decision == Decision::Deactivate {
        // Another sweep deactivated it, or someone switched it back on since: not ours to redo.
        return Ok(match note {
            None | Some(Note::Adopted) => Decision::Deactivate,
            Some(_) => Decision::Wait,
        });
    }
    let status = match decision {
        Decision::Delete => rotator
            .iam()
            .list_keys(user)
            .await?
            .into_iter()
            .find(|k| k.id == key_id)
            .map(|k| k.status),
        _ => facts.status,
    };
    let again = rotator.config().retirement().decide(
        &Facts {
            status,
            note,
            ..facts
        },
        now,
    );
    Ok(match again {
        Decision::Delete if decision == Decision::Delete => Decision::Delete,
        Decision::Delete | Decision::Deactivate | Decision::KeptInUse(_) => Decision::Wait,
        other => other,
    })
}

/// Carries out a decision about the previous key, and records the sweep's note.
#[allow(clippy::too_many_arguments)]
async fn act<X: Services>(
    rotator: &Rotator<X>,
    secret: &SecretSummary,
    version: &str,
    user: &str,
    key_id: &str,
    decision: Decision,
    options: &Options,
    now: SystemTime,
    report: &mut Report,
) -> Result<()> {
    let action = |action: ActionKind, reason: String, last_used: Option<LastUse>| Action {
        secret_id: secret.name.clone(),
        key_id: key_id.to_string(),
        action,
        reason,
        last_used,
    };
    let policy = &rotator.config().retirement();
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
            report.actions.push(action(
                ActionKind::KeptInUse,
                detail,
                Some(LastUse::from(&usage)),
            ));
            return Ok(());
        }
        Decision::Deactivate => {
            if !options.dry_run {
                rotator.iam().deactivate_key(user, key_id).await?;
            }
            report.actions.push(action(
                ActionKind::Deactivated,
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
                ActionKind::Deleted,
                format!(
                    "inactive and unused for {}",
                    humantime::format_duration(after)
                ),
                None,
            ));
            Note::Done
        }
        Decision::CountFromNow => Note::Deactivated(now),
        Decision::LeftAlone(reason) => {
            report
                .actions
                .push(action(ActionKind::LeftAlone, reason, None));
            Note::LeftAlone
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
async fn unknown_keys<X: Services>(
    rotator: &Rotator<X>,
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
