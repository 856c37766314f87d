//! Rotations the CLI drives itself, playing Secrets Manager's part: it resumes a rotation left
//! unfinished, restarts one that cannot finish, and never leaves a secret stuck behind it.

use std::time::{Instant, SystemTime};

use tracing::{info, warn};

use super::{CLI_ROTATION_TAG, Contract, LONGEST_ATTEMPT};
use crate::change::{Change, ChangeKind};
use crate::delivery::{DESTINATIONS, GiveBack};
use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::event::{RotationEvent, Step};
use crate::scope::{same_user, user_label};
use crate::secret::KeySecret;
use crate::services::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, IamKeys, SecretInfo, SecretTags, SecretVersions, Services,
};

/// How long a cancel may take to give the destinations back the current key.
const GIVE_BACK_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

/// How a `rotate` went.
#[derive(Debug)]
pub struct Rotation {
    /// The token of the rotation that completed.
    pub token: String,
    /// The token of an unfinished rotation that was taken over, if any.
    pub resumed: Option<String>,
    /// What was cancelled on the way (an unfinished rotation that could not be finished).
    pub cancelled: Vec<Change>,
}

/// Rotates now. An unfinished rotation (AWSPENDING left on a version that is not AWSCURRENT, or
/// a CLI run that crashed before storing its key) is resumed with its token; if it cannot finish,
/// it is cancelled and a fresh rotation runs. A rotation that fails is cancelled before the error
/// is returned, so the secret is never left with AWSPENDING for the next rotation to trip on.
/// A rotation Secrets Manager started less than [`LONGEST_ATTEMPT`] ago is neither taken over nor
/// cancelled (`RotationInFlight`): its attempt may still be running.
pub async fn rotate<X: Services>(
    rotator: &Rotator<X>,
    secret_id: &str,
    deadline: Instant,
) -> Result<Rotation> {
    let info = rotator.secrets().describe(secret_id).await?;
    let mut cancelled = Vec::new();
    let resumed = unfinished_token(&info);
    if let Some(token) = &resumed {
        refuse_if_in_flight(rotator, &info, token, SystemTime::now()).await?;
        info!(%token, "resuming an unfinished rotation");
        match run_to_end(rotator, secret_id, token, deadline).await {
            Ok(()) => {
                return Ok(Rotation {
                    token: token.clone(),
                    resumed,
                    cancelled,
                });
            }
            Err(e) if cannot_finish(&e) => {
                warn!(%token, error = %e, "the unfinished rotation cannot finish; cancelling it and starting afresh");
                cancelled = cancel_rotation(rotator, secret_id, Some(token)).await?;
            }
            Err(e) => return Err(cancel_after(rotator, secret_id, token, e).await),
        }
    }
    let token = uuid::Uuid::new_v4().to_string();
    match run_to_end(rotator, secret_id, &token, deadline).await {
        Ok(()) => Ok(Rotation {
            token,
            resumed,
            cancelled,
        }),
        Err(e) => Err(cancel_after(rotator, secret_id, &token, e).await),
    }
}

/// Ends whatever rotation of the secret is unfinished: takes AWSPENDING off its version, gives the
/// secret's destinations back the current key, deletes the rotation's new key if nothing ever
/// used it (a used one, or one a destination may still hold, is kept and named), and removes the
/// CLI's note. Never touches the AWSCURRENT key.
pub async fn cancel<X: Services>(rotator: &Rotator<X>, secret_id: &str) -> Result<Vec<Change>> {
    cancel_rotation(rotator, secret_id, None).await
}

/// The four steps with `token`, as Secrets Manager runs them, then AWSPENDING taken off as it does.
async fn run_to_end<X: Services>(
    rotator: &Rotator<X>,
    secret_id: &str,
    token: &str,
    deadline: Instant,
) -> Result<()> {
    for step in Step::ALL {
        let event = RotationEvent {
            step,
            secret_id: secret_id.to_string(),
            token: token.to_string(),
            rotation_token: None,
        };
        rotator.run_under(&event, deadline, Contract::Cli).await?;
    }
    let info = rotator.secrets().describe(secret_id).await?;
    if info.version(token).is_some_and(|v| v.has(AWSPENDING)) {
        rotator
            .secrets()
            .move_label(secret_id, AWSPENDING, None, Some(token))
            .await?;
    }
    Ok(())
}

/// The token of a rotation left unfinished: AWSPENDING off AWSCURRENT, or a CLI note whose token
/// has no version yet (a run that crashed between making its key and storing it).
fn unfinished_token(info: &SecretInfo) -> Option<String> {
    if let Some(version) = info.unfinished_rotation() {
        return Some(version.id.clone());
    }
    let noted = info.tag(CLI_ROTATION_TAG)?.split_once(' ')?.0;
    info.version(noted).is_none().then(|| noted.to_string())
}

/// Refuses to touch a rotation that Secrets Manager may still be running: one that no CLI run
/// noted, whose token version was made less than [`LONGEST_ATTEMPT`] ago. A CLI run's rotation
/// (its note names the token) is resumed at once: a same-token attempt racing it is safe, as
/// Secrets Manager's own retries are.
async fn refuse_if_in_flight<X: Services>(
    rotator: &Rotator<X>,
    info: &SecretInfo,
    token: &str,
    now: SystemTime,
) -> Result<()> {
    if noted_by_cli(info, token) {
        return Ok(());
    }
    let versions = rotator.secrets().list_versions(&info.arn).await?;
    let Some(started) = versions
        .iter()
        .find(|v| v.id == token)
        .and_then(|v| v.created)
    else {
        return Ok(());
    };
    if now >= started + LONGEST_ATTEMPT {
        return Ok(());
    }
    Err(Error::RotationInFlight {
        secret: info.arn.clone(),
        version: token.to_string(),
        started: humantime::format_rfc3339_seconds(started).to_string(),
        settled: humantime::format_rfc3339_seconds(started + LONGEST_ATTEMPT).to_string(),
    })
}

/// Whether the CLI's note names `token`: a rotation a CLI run started.
fn noted_by_cli(info: &SecretInfo, token: &str) -> bool {
    info.tag(CLI_ROTATION_TAG)
        .and_then(|note| note.split_once(' '))
        .is_some_and(|(noted, _)| noted == token)
}

/// Errors after which a rotation's token can never succeed.
fn cannot_finish(error: &Error) -> bool {
    matches!(
        error,
        Error::PendingKeyUnusable { .. }
            | Error::StaleRotation { .. }
            | Error::NotPending { .. }
            | Error::WrongIdentity { .. }
            | Error::InvalidSecret { .. }
    )
}

/// Cancels the rotation under `token` after it failed with `error`, and returns that error.
async fn cancel_after<X: Services>(
    rotator: &Rotator<X>,
    secret_id: &str,
    token: &str,
    error: Error,
) -> Error {
    match cancel_rotation(rotator, secret_id, Some(token)).await {
        Ok(changes) => {
            for change in changes {
                warn!(%change, "cancelled the failed rotation");
            }
        }
        Err(e) => {
            warn!(error = %e, "could not cancel the failed rotation; run `iam-key-rotator-cli cancel --secret-id {secret_id}`")
        }
    }
    error
}

/// Cancels the unfinished rotation, or only the one under `token` when given.
async fn cancel_rotation<X: Services>(
    rotator: &Rotator<X>,
    secret_id: &str,
    token: Option<&str>,
) -> Result<Vec<Change>> {
    let secrets = rotator.secrets();
    let info = secrets.describe(secret_id).await?;
    let mut changes = Vec::new();
    if let Some(note) = info.tag(CLI_ROTATION_TAG)
        && token.is_none_or(|t| note.starts_with(t))
    {
        secrets.untag(secret_id, CLI_ROTATION_TAG).await?;
        changes.push(Change {
            action: ChangeKind::NoteRemoved,
            key_id: None,
            version_id: None,
            reason: format!("the CLI's note of a rotation it started ({CLI_ROTATION_TAG})"),
        });
    }
    let Some(pending) = info
        .labelled(AWSPENDING)
        .filter(|v| token.is_none_or(|t| v.id == t))
    else {
        return Ok(changes);
    };
    // A rotation that finished may leave AWSPENDING on AWSCURRENT: its key is the current one.
    let finished = pending.has(AWSCURRENT);
    // Decide about the pending key before any write, so a refusal changes nothing.
    let key_to_check = match finished {
        true => PendingKey::None,
        false => pending_key(rotator, &info, &pending.id).await?,
    };
    secrets
        .move_label(secret_id, AWSPENDING, None, Some(&pending.id))
        .await?;
    let reason = match finished {
        true => "AWSPENDING taken off AWSCURRENT: that rotation had finished",
        false => "AWSPENDING taken off: the rotation is cancelled",
    };
    changes.push(Change::version(ChangeKind::Abandoned, &pending.id, reason));
    let (pending_secret, key_id) = match key_to_check {
        PendingKey::None => return Ok(changes),
        PendingKey::OtherUser {
            key_id,
            user,
            secrets_user,
        } => {
            changes.push(Change::key(
                ChangeKind::Kept,
                &key_id,
                format!("the pending version named {user}, not the secret's user {secrets_user}: a key of someone else's is left alone"),
            ));
            return Ok(changes);
        }
        PendingKey::Ours(pending_secret, key_id) => (pending_secret, key_id),
    };
    let user = pending_secret.user_name();
    let iam = rotator.iam_for(&info.arn, &pending_secret).await?;
    if !iam.list_keys(user).await?.iter().any(|k| k.id == key_id) {
        return Ok(changes);
    }
    let (current, _) = rotator.read_current(&info).await?;
    let pending_value = rotator
        .read_key_secret(&info.arn, &pending.id)
        .await?
        .secret;
    let delivers = [Some(&current), pending_value.as_ref()]
        .into_iter()
        .flatten()
        .any(|value| value.field(DESTINATIONS).is_some());
    // Secrets Manager's finishSecret may have promoted the key meanwhile: then it is the
    // destinations' rightful key, and nothing is given back or deleted.
    if delivers && let Some(label) = promoted_meanwhile(rotator, secret_id, &key_id).await? {
        changes.push(Change::key(
            ChangeKind::Kept,
            &key_id,
            format!("the rotation finished meanwhile: {label} holds this key now"),
        ));
        return Ok(changes);
    }
    // Its destinations may hold the key by now: they get the current one back first. A key that
    // was handed out stays Active all the same: a consumer may have read it already, and AWS
    // shows its use hours late; the next rotation retires it once it shows none.
    let budget = Instant::now() + GIVE_BACK_BUDGET;
    match rotator
        .give_back(&info, &current, pending_value.as_ref(), budget)
        .await
    {
        GiveBack::NoDestinations => {}
        GiveBack::Done => {
            changes.push(Change {
                action: ChangeKind::GivenBack,
                key_id: current.key_id().map(str::to_string),
                version_id: None,
                reason: "the secret's destinations hold the current key again".into(),
            });
            changes.push(Change::key(
                ChangeKind::Kept,
                &key_id,
                "the cancelled rotation's key went to the secret's destinations, where a consumer may have read it: it stays Active, and the next rotation deletes it once it shows no use",
            ));
            return Ok(changes);
        }
        GiveBack::Failed(why) => {
            changes.push(Change::key(
                ChangeKind::Kept,
                &key_id,
                format!("a destination may hold the cancelled rotation's key ({why}); it stays Active: point the destination's consumers at a working key, then delete it"),
            ));
            return Ok(changes);
        }
    }
    let last_used = iam.last_used(&key_id).await?;
    // Read last, right before the delete: AWSPENDING is off by now, so no finishSecret that
    // starts later can promote the key; one already under way may have.
    if last_used.is_none()
        && let Some(label) = promoted_meanwhile(rotator, secret_id, &key_id).await?
    {
        changes.push(Change::key(
            ChangeKind::Kept,
            &key_id,
            format!("the rotation finished meanwhile: {label} holds this key now"),
        ));
        return Ok(changes);
    }
    match last_used {
        None => {
            iam.delete_key(user, &key_id).await?;
            changes.push(Change::key(ChangeKind::Deleted,
                &key_id,
                "the cancelled rotation's new key, never used",
            ));
        }
        Some(usage) => changes.push(Change::key(ChangeKind::Kept,
            &key_id,
            format!(
                "the cancelled rotation's new key was used (last {usage}); delete it once nothing relies on it"
            ),
        )),
    }
    Ok(changes)
}

/// The label (AWSCURRENT or AWSPREVIOUS) whose version holds `key_id` now, read afresh: Secrets
/// Manager's own finishSecret may have promoted the pending key since the rotation was read, and
/// a key those labels hold is never a cancelled rotation's to delete.
async fn promoted_meanwhile<X: Services>(
    rotator: &Rotator<X>,
    secret_id: &str,
    key_id: &str,
) -> Result<Option<&'static str>> {
    let info = rotator.secrets().describe(secret_id).await?;
    for label in [AWSCURRENT, AWSPREVIOUS] {
        let Some(version) = info.labelled(label) else {
            continue;
        };
        let value = rotator
            .read_key_secret(&info.arn, &version.id)
            .await?
            .secret;
        if value.as_ref().and_then(|v| v.key_id()) == Some(key_id) {
            return Ok(Some(label));
        }
    }
    Ok(None)
}

/// The pending value and its key's id, when that key is not also AWSCURRENT's: the rotation's
/// own when it names the secret's user (who must be in scope), else someone else's.
async fn pending_key<X: Services>(
    rotator: &Rotator<X>,
    info: &SecretInfo,
    version_id: &str,
) -> Result<PendingKey> {
    let Some(pending) = rotator.read_key_secret(&info.arn, version_id).await?.secret else {
        return Ok(PendingKey::None);
    };
    let Some(key_id) = pending.key_id() else {
        return Ok(PendingKey::None);
    };
    if let Some(current) = info.labelled(AWSCURRENT) {
        let current = rotator
            .read_key_secret(&info.arn, &current.id)
            .await?
            .secret;
        if current.as_ref().and_then(|c| c.key_id()) == Some(key_id) {
            return Ok(PendingKey::None);
        }
        // A hand-written pending version may name someone else's key: never ours to delete. Nor
        // is one whose user cannot be compared with the secret's.
        let secrets_user = match &current {
            Some(current) if same_user(&pending, current) => None,
            Some(current) => Some(user_label(current)),
            None => Some("(AWSCURRENT cannot be read as a key secret)".to_string()),
        };
        if let Some(secrets_user) = secrets_user {
            return Ok(PendingKey::OtherUser {
                key_id: key_id.to_string(),
                user: user_label(&pending),
                secrets_user,
            });
        }
    }
    rotator
        .user_in_scope(&info.arn, &info.arn, &pending)
        .await?;
    let key_id = key_id.to_string();
    Ok(PendingKey::Ours(pending, key_id))
}

/// The key a cancelled rotation's pending version names, and whether cancel may act on it.
enum PendingKey {
    /// No key, or the current one.
    None,
    /// A key of another user than the secret's: named, never touched.
    OtherUser {
        key_id: String,
        user: String,
        secrets_user: String,
    },
    /// The rotation's own key, of the secret's user, in scope.
    Ours(KeySecret, String),
}
