//! What the secrets under the prefix say: which key each names for which user, when it last
//! rotated, and which secrets could not be read at all.

use std::collections::HashMap;
use std::time::SystemTime;

use secrecy::ExposeSecret;

use super::checks::Managed;
use crate::accounts::member_account;
use crate::delivery::{self, DESTINATIONS};
use crate::error::Result;
use crate::secret::KeySecret;
use crate::services::{SecretStore, SecretSummary};

/// A key a secret's AWSCURRENT value names.
#[derive(Debug, Clone)]
pub struct Named {
    pub key_id: String,
    pub managed: Managed,
    /// The secret's ARN, to read its AWSPREVIOUS value if the user holds a second key.
    pub arn: String,
    /// The secret's newest rotation: its LastRotatedDate, or its AWSCURRENT version's date when
    /// that is later (a value stored by hand is a rotation too).
    pub rotated: Option<SystemTime>,
}

/// A secret BatchGetSecretValue could not read.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub name: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct SecretKeys {
    /// User name → the keys its secrets name, for users of the account the secrets live in.
    pub by_user: HashMap<String, Vec<Named>>,
    /// The same for users of other accounts (a secret's `AccountId`), by account.
    pub by_member: HashMap<String, HashMap<String, Vec<Named>>>,
    pub unreadable: Vec<Unreadable>,
    /// Whether the audit of these users reports the unreadable secrets: only in the account the
    /// secrets live in. Elsewhere they only leave keys untold (never called unmanaged).
    pub reports_unreadable: bool,
    /// The member account these users are in (`None`: the account the secrets live in).
    pub member: Option<String>,
    /// The rotation function most secrets use, for the remedies.
    pub function_arn: String,
}

impl SecretKeys {
    /// What the secrets say of the users of a member account, as if that were their own account.
    pub fn of_member(&self, account: &str) -> SecretKeys {
        SecretKeys {
            by_user: self.by_member.get(account).cloned().unwrap_or_default(),
            by_member: HashMap::new(),
            // Which account an unreadable secret's user is in cannot be read either: any key here
            // may be its, so none is called unmanaged; its findings are the caller's account's.
            unreadable: self.unreadable.clone(),
            reports_unreadable: false,
            member: Some(account.to_string()),
            function_arn: self.function_arn.clone(),
        }
    }
}

/// Reads every secret under `prefix` (ListSecrets, then BatchGetSecretValue 20 at a time).
pub async fn read<S: SecretStore>(secrets: &S, prefix: &str) -> Result<SecretKeys> {
    let summaries = secrets.list_secrets(prefix).await?;
    let by_arn: HashMap<&str, &SecretSummary> =
        summaries.iter().map(|s| (s.arn.as_str(), s)).collect();
    let mut functions: HashMap<&str, usize> = HashMap::new();
    for s in &summaries {
        if let Some(f) = s.rotation_function() {
            *functions.entry(f).or_default() += 1;
        }
    }
    let function_arn = functions
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(f, _)| f.to_string())
        .unwrap_or_else(|| "FUNCTION_ARN".to_string());

    let batch = secrets.current_values(prefix).await?;
    let mut by_user: HashMap<String, Vec<Named>> = HashMap::new();
    let mut by_member: HashMap<String, HashMap<String, Vec<Named>>> = HashMap::new();
    for value in batch.values {
        // A value that is not a key secret names no key; the rotation refuses it on its own.
        let Ok(secret) = KeySecret::parse(value.text.expose_secret()) else {
            continue;
        };
        let Some(key_id) = secret.key_id() else {
            continue;
        };
        // A user of another account is not this account's user of that name.
        let users = match member_account(secret.account_id(), &value.arn) {
            Some(account) => by_member.entry(account.to_string()).or_default(),
            None => &mut by_user,
        };
        let summary = by_arn.get(value.arn.as_str());
        let last_rotated = summary.and_then(|s| s.last_rotated);
        let managed = Managed {
            secret: summary.map_or(value.name.clone(), |s| s.name.clone()),
            rotation_enabled: summary.is_some_and(|s| s.rotation_enabled),
            last_rotated,
            next_rotation: summary.and_then(|s| s.next_rotation),
            destinations: match delivery::parse_all(secret.field(DESTINATIONS)) {
                Ok(destinations) => destinations.iter().map(|d| d.to_string()).collect(),
                Err(why) => vec![format!("unreadable Destinations: {why}")],
            },
        };
        users
            .entry(secret.user_name().to_string())
            .or_default()
            .push(Named {
                key_id: key_id.to_string(),
                managed,
                arn: value.arn,
                rotated: last_rotated.max(value.created),
            });
    }
    let unreadable = batch
        .unreadable
        .into_iter()
        .map(|u| Unreadable {
            // AWS may name the secret by ARN; people know it by name.
            name: summaries
                .iter()
                .find(|s| s.arn == u.secret_id || s.name == u.secret_id)
                .map_or(u.secret_id, |s| s.name.clone()),
            code: u.code,
            message: u.message,
        })
        .collect();
    Ok(SecretKeys {
        by_user,
        by_member,
        unreadable,
        reports_unreadable: true,
        member: None,
        function_arn,
    })
}
