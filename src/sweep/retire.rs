//! `retire`: the operator's command to retire a secret's previous key now, whatever the policy
//! says (for a key that leaked).

use std::time::SystemTime;

use super::{Action, ActionKind};
use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::retirement::note::{self, Note};
use crate::services::{
    AWSCURRENT, AWSPREVIOUS, IamKeys, KeyStatus, SecretTags, SecretVersions, Services,
};

/// Deactivates (and with `delete`, deletes) the previous key of a secret now, whatever the
/// policy says: for an operator who knows the key leaked. Never the AWSCURRENT key.
pub async fn retire<X: Services>(
    rotator: &Rotator<X>,
    secret_id: &str,
    delete: bool,
) -> Result<Vec<Action>> {
    let info = rotator.secrets().describe(secret_id).await?;
    let no_previous = || Error::NoPreviousKey {
        secret: secret_id.to_string(),
    };
    let current_version = info.labelled(AWSCURRENT).ok_or_else(no_previous)?;
    let previous_version = info.labelled(AWSPREVIOUS).ok_or_else(no_previous)?;
    let current = rotator
        .read_key_secret(&info.arn, &current_version.id)
        .await?
        .secret;
    let previous = rotator
        .read_key_secret(&info.arn, &previous_version.id)
        .await?
        .secret;
    let (Some(current), Some(previous)) = (current, previous) else {
        return Err(no_previous());
    };
    let key_id = previous
        .key_id()
        .filter(|id| {
            Some(*id) != current.key_id()
                && previous.user_name() == current.user_name()
                && previous.account_id() == current.account_id()
        })
        .ok_or_else(no_previous)?
        .to_string();
    let user = current.user_name();
    let scoped = rotator
        .user_in_scope(secret_id, &info.arn, &current)
        .await?;
    let Some(key) = scoped
        .iam
        .list_keys(user)
        .await?
        .into_iter()
        .find(|k| k.id == key_id)
    else {
        return Ok(Vec::new());
    };
    let action = |action: ActionKind, reason: &str| Action {
        secret_id: secret_id.to_string(),
        key_id: key_id.clone(),
        action,
        reason: reason.to_string(),
        last_used: None,
    };
    let mut actions = Vec::new();
    if key.status == KeyStatus::Active {
        scoped.iam.deactivate_key(user, &key_id).await?;
        actions.push(action(ActionKind::Deactivated, "retired by an operator"));
    }
    let note = if delete {
        scoped.iam.delete_key(user, &key_id).await?;
        actions.push(action(ActionKind::Deleted, "retired by an operator"));
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
