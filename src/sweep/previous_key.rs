//! A secret examined in IAM: its health (see `health`), and its previous key, deactivated once
//! its grace period is over and nothing uses it, deleted a while after. Only ever the key
//! AWSPREVIOUS holds, for the secret's own user; never the AWSCURRENT key, never a key of a
//! rotation in progress, never a key the secret does not know.

use std::time::SystemTime;

use super::{Options, Summary, carry_out, deliveries, health};
use crate::engine::Rotator;
use crate::error::Result;
use crate::retirement::{Decision, Facts, note};
use crate::services::{AWSCURRENT, AWSPREVIOUS, IamKeys, SecretSummary, Services};
use crate::versions::KeyVersion;

/// Looks at one secret in IAM: its current key's health, unknown keys, and the previous key,
/// which it retires as the policy decides (`RetirePolicy::decide`), unless this is a dry run. The
/// listing it starts from may be minutes old: a decision that changes a key is checked again
/// against fresh answers before it is carried out.
pub async fn examine<X: Services>(
    rotator: &Rotator<X>,
    secret: &SecretSummary,
    options: &Options,
    now: SystemTime,
    report: &mut Summary,
) -> Result<()> {
    let Some(current_version) = secret.labelled(AWSCURRENT) else {
        return Ok(());
    };
    let KeyVersion {
        secret: current,
        stored: current_stored,
    } = rotator
        .read_key_secret(&secret.arn, &current_version.id)
        .await?;
    let Some(current) = current else {
        return Ok(());
    };
    let user = current.user_name().to_string();
    let scoped = rotator
        .user_in_scope(&secret.arn, &secret.arn, &current)
        .await?;
    let iam = &*scoped.iam;
    let keys = iam.list_keys(&user).await?;

    health::health(secret, &current, &keys, report);
    let destinations = rotator.destinations(&secret.arn, &current)?;
    let delivered = deliveries::check(rotator, secret, &current, &destinations, report).await?;

    let previous = match secret.labelled(AWSPREVIOUS) {
        Some(version) => {
            let read = rotator.read_key_secret(&secret.arn, &version.id).await?;
            Some((version.id.clone(), read.secret, read.stored))
        }
        None => None,
    };
    let previous_key = previous
        .as_ref()
        .and_then(|(_, value, _)| value.as_ref())
        .filter(|value| value.user_name() == user && value.account_id() == current.account_id())
        .and_then(|value| value.key_id())
        .filter(|id| Some(*id) != current.key_id())
        .map(str::to_string);

    health::unknown_keys(
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
    let adopted = value.as_ref().is_some_and(|v| v.is_adopted_key());
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
        kept_at_rotation: match adopted {
            true => Some(stored.unwrap_or(rotated_at)),
            false => (!destinations.is_empty()).then_some(rotated_at),
        },
    };
    let mut decision = rotator.config().retirement().decide(&facts, now);
    // Retire the previous key only once every destination is confirmed to hold the current one.
    if decision == Decision::Deactivate && !delivered {
        decision = Decision::Wait;
    }
    let key = carry_out::PreviousKey {
        secret,
        version,
        user: &user,
        key_id: &key_id,
        iam,
    };
    let decision = carry_out::confirm(rotator, &key, decision, facts, options, now).await?;
    carry_out::carry_out(rotator, &key, decision, options, now, report).await
}
