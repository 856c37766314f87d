//! Carrying out a retirement decision: first checked against fresh answers (the listing may be
//! minutes behind, another sweep may be at work), then done, then noted on the secret.

use std::time::SystemTime;

use super::listing::same_function;
use super::{Action, ActionKind, Finding, FindingKind, LastUse, Options, Summary};
use crate::engine::Rotator;
use crate::error::Result;
use crate::retirement::note::{self, Note};
use crate::retirement::{Decision, Facts};
use crate::services::{
    AWSCURRENT, AWSPREVIOUS, IamKeys, SecretSummary, SecretTags, SecretVersions, Services,
};

/// The previous key a decision is about: which secret and version hold it, whose it is, and the
/// IAM of the user's account.
pub struct PreviousKey<'a, I> {
    pub secret: &'a SecretSummary,
    pub version: &'a str,
    pub user: &'a str,
    pub key_id: &'a str,
    pub iam: &'a I,
}

/// Checks a decision that changes a key against fresh answers, since the listing may be minutes
/// behind and another sweep may be at work on the same key: DescribeSecret for the labels and the
/// note, and, before a deletion, ListAccessKeys for the key's status right then. A decision can
/// only soften here, never grow into a change the first look did not call for. A secret that
/// another function rotates by now (the listing did not show it yet) is left to that function.
pub async fn confirm<X: Services>(
    rotator: &Rotator<X>,
    key: &PreviousKey<'_, X::Iam>,
    decision: Decision,
    facts: Facts<'_>,
    options: &Options,
    now: SystemTime,
) -> Result<Decision> {
    let PreviousKey {
        secret,
        version,
        user,
        key_id,
        iam,
    } = *key;
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
    let still_ours = options.function_arn.as_deref().is_none_or(|this| {
        fresh
            .rotation_function()
            .is_some_and(|by| same_function(by, this))
    });
    if !still_previous || !still_ours || fresh.unfinished_rotation().is_some() {
        return Ok(Decision::Wait);
    }
    let note = note::read(fresh.tag(note::NOTE_TAG), version);
    if decision == Decision::Deactivate {
        // Another sweep deactivated it, or someone switched it back on since: not ours to redo.
        return Ok(match note {
            None | Some(Note::Adopted | Note::Delivered) => Decision::Deactivate,
            Some(_) => Decision::Wait,
        });
    }
    let status = match decision {
        Decision::Delete => iam
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
pub async fn carry_out<X: Services>(
    rotator: &Rotator<X>,
    key: &PreviousKey<'_, X::Iam>,
    decision: Decision,
    options: &Options,
    now: SystemTime,
    report: &mut Summary,
) -> Result<()> {
    let PreviousKey {
        secret,
        version,
        user,
        key_id,
        iam,
    } = *key;
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
                iam.deactivate_key(user, key_id).await?;
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
                iam.delete_key(user, key_id).await?;
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
