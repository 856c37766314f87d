//! Which report slot holds which key: the keys a secret names are matched by id against the
//! user's keys in IAM (ListAccessKeys), and those to the report's slots by creation date, to the
//! second. The report has no key ids, and it may be hours old: a slot is never given a key by its
//! position, and a report that predates what IAM or a secret shows is told stale.

use std::time::SystemTime;

use futures::StreamExt;
use secrecy::ExposeSecret;

use super::checks::Managed;
use super::credential_report::UserRow;
use super::secrets::{Named, SecretKeys};
use crate::error::{Error, Result};
use crate::secret::KeySecret;
use crate::services::{AWSPREVIOUS, Iam, KeyInfo, KeyStatus, SecretStore};

/// IAM's request rate is the account's: as many users at a time as the sweep looks at.
const CONCURRENCY: usize = 8;

/// What IAM tells about one user's keys, against the report's row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserKeys {
    /// Report slot → the key's id, and the secret that holds it.
    pub slots: Vec<(u8, String, Option<Managed>)>,
    /// Keys a secret's AWSCURRENT names that IAM does not have: (key id, that secret).
    pub missing: Vec<(String, Managed)>,
    /// Why the report's row for this user is older than what IAM or a secret shows.
    pub stale: Option<String>,
}

/// Looks up, in IAM, every user a secret names and the report has a row for.
pub async fn look_up<S: SecretStore, I: Iam>(
    secrets: &S,
    iam: &I,
    rows: &[UserRow],
    held: &SecretKeys,
    generated: Option<SystemTime>,
) -> Result<Vec<(String, UserKeys)>> {
    let lookups = rows
        .iter()
        .filter_map(|row| Some((row, held.by_user.get(&row.user)?)))
        .map(|(row, named)| async move {
            let keys = match iam.list_keys(&row.user).await {
                Ok(keys) => keys,
                // Deleted since the report: it holds no key now.
                Err(Error::Aws {
                    code: Some(code), ..
                }) if code == "NoSuchEntity" => Vec::new(),
                Err(e) => return Err(e),
            };
            let previous = previous_keys(secrets, &row.user, &keys, named).await;
            Ok((
                row.user.clone(),
                match_user(row, &keys, named, &previous, generated),
            ))
        });
    futures::stream::iter(lookups)
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// The keys the AWSPREVIOUS versions name, read only when the user holds an active key that no
/// AWSCURRENT names (a previous key in its grace period is under rotation too).
async fn previous_keys<S: SecretStore>(
    secrets: &S,
    user: &str,
    keys: &[KeyInfo],
    named: &[Named],
) -> Vec<(String, Managed)> {
    let unexplained = keys
        .iter()
        .any(|k| k.status == KeyStatus::Active && !named.iter().any(|n| n.key_id == k.id));
    if !unexplained {
        return Vec::new();
    }
    let mut previous = Vec::new();
    for n in named {
        // An unreadable previous version only leaves that key unmanaged, which is the safe side.
        let Ok(Some(value)) = secrets.value(&n.arn, None, Some(AWSPREVIOUS)).await else {
            continue;
        };
        if let Ok(secret) = KeySecret::parse(value.text.expose_secret())
            && secret.user_name() == user
            && let Some(id) = secret.key_id()
        {
            previous.push((id.to_string(), n.managed.clone()));
        }
    }
    previous
}

/// Whole seconds: IAM and the report date keys to the second.
fn second(t: SystemTime) -> u64 {
    crate::dates::epoch_seconds(t)
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Matches one user's keys in IAM to the report's slots, and the secrets' keys to those.
pub fn match_user(
    row: &UserRow,
    keys: &[KeyInfo],
    named: &[Named],
    previous: &[(String, Managed)],
    generated: Option<SystemTime>,
) -> UserKeys {
    let mut out = UserKeys::default();
    let slot_of = |key: &KeyInfo| {
        let created = second(key.created?);
        let same_date: Vec<_> = row
            .keys
            .iter()
            .filter(|s| s.last_rotated.map(second) == Some(created))
            .collect();
        // Two keys made in the same second: their status may still tell them apart.
        let pick: Vec<_> = if same_date.len() > 1 {
            same_date
                .into_iter()
                .filter(|s| s.active == (key.status == KeyStatus::Active))
                .collect()
        } else {
            same_date
        };
        match pick.as_slice() {
            [one] => Some(one.slot),
            _ => None,
        }
    };
    for key in keys {
        let Some(slot) = slot_of(key) else {
            continue;
        };
        let managed = named
            .iter()
            .find(|n| n.key_id == key.id)
            .map(|n| n.managed.clone())
            .or_else(|| {
                previous
                    .iter()
                    .find(|(id, _)| *id == key.id && key.status == KeyStatus::Active)
                    .map(|(_, m)| m.clone())
            });
        out.slots.push((slot, key.id.clone(), managed));
    }
    out.missing = named
        .iter()
        .filter(|n| !keys.iter().any(|k| k.id == n.key_id))
        .map(|n| (n.key_id.clone(), n.managed.clone()))
        .collect();
    out.stale = stale(row, keys, named, generated);
    out
}

/// Why the row is older than IAM or a secret, if it is.
fn stale(
    row: &UserRow,
    keys: &[KeyInfo],
    named: &[Named],
    generated: Option<SystemTime>,
) -> Option<String> {
    let report = match generated {
        Some(g) => format!("report generated at {}", rfc3339(g)),
        None => "the credential report".to_string(),
    };
    // The report's time has whole seconds: a rotation in that same second cannot be told apart,
    // but its new key then shows as missing from the report below.
    if let Some(g) = generated
        && let Some(n) = named
            .iter()
            .filter(|n| n.rotated.is_some_and(|r| second(r) > second(g)))
            .max_by_key(|n| n.rotated)
        && let Some(rotated) = n.rotated
    {
        return Some(format!(
            "{report}, before secret {} rotated at {}: its key ages are stale",
            n.managed.secret,
            rfc3339(rotated)
        ));
    }
    let shown: Vec<u64> = row
        .keys
        .iter()
        .filter_map(|s| s.last_rotated.map(second))
        .collect();
    if let Some(key) = keys
        .iter()
        .find(|k| k.created.is_some_and(|c| !shown.contains(&second(c))))
    {
        return Some(format!(
            "{report} does not show key {} (made at {}): its key ages are stale",
            key.id,
            key.created.map(rfc3339).unwrap_or_default()
        ));
    }
    let made: Vec<u64> = keys.iter().filter_map(|k| k.created.map(second)).collect();
    if let Some((slot, at)) = row.keys.iter().find_map(|s| {
        let at = s.last_rotated?;
        (!made.contains(&second(at))).then_some((s.slot, at))
    }) {
        return Some(format!(
            "{report} shows a key in slot {slot} (made at {}) that IAM no longer has: its key ages are stale",
            rfc3339(at)
        ));
    }
    None
}
