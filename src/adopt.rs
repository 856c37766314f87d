//! Bringing one IAM user under rotation, idempotently: the user (made if asked), a secret holding
//! its current key's id, the tag binding the user to that secret, and rotation attached, which
//! rotates now. The adopted key becomes the previous key, retired by the after-rotation policy once
//! its consumers have moved to the secret. Running it again changes nothing.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::secret::KeySecret;
use crate::services::{AWSCURRENT, Iam, KeyChecker, KeyStatus, Schedule, SecretStore};
use crate::steps::Rotator;

/// The tag the function checks when `ROTATOR_USER_TAG` is set; adopt sets it in any case.
pub const DEFAULT_USER_TAG: &str = "iam-key-rotator:secret";

#[derive(Debug, Clone)]
pub struct Request {
    pub user: String,
    pub function_arn: String,
    /// Make the user (under the rotation path) if it does not exist.
    pub create: bool,
    /// Which active key consumers use now, when the user has two.
    pub key_id: Option<String>,
    pub schedule: Schedule,
    pub dry_run: bool,
}

/// One step of the plan, and whether it was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub action: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Adoption {
    pub user: String,
    pub secret: String,
    /// What had to be done (empty when the user was already under rotation).
    pub plan: Vec<Step>,
    /// Whether the plan was carried out (false for a dry run).
    pub done: bool,
}

/// Plans, then (unless a dry run) carries out, the adoption of `request.user`.
pub async fn adopt<S: SecretStore, I: Iam, K: KeyChecker>(
    rotator: &Rotator<S, I, K>,
    request: &Request,
) -> Result<Adoption> {
    let config = rotator.config();
    let (iam, secrets) = (rotator.iam(), rotator.secrets());
    let name = &request.user;
    let refuse = |reason: String| Error::CannotAdopt {
        user: name.clone(),
        reason,
    };
    let path = &config.user_path_prefix;
    let prefix = if config.secret_name_prefix.is_empty() {
        "iam-keys/"
    } else {
        &config.secret_name_prefix
    };
    let secret_name = format!("{prefix}{name}");
    let tag = config.user_tag.as_deref().unwrap_or(DEFAULT_USER_TAG);
    let mut plan = Vec::new();
    let step = |action: &'static str, detail: String| Step { action, detail };

    // The secret, when an earlier run made it: then the key it holds is settled already.
    let existing = secrets
        .list_secrets(&secret_name)
        .await?
        .into_iter()
        .find(|s| s.name == secret_name);

    // The user, and the key consumers use now.
    let user = iam.user(name).await?;
    let key_id = match &user {
        None if !request.create => {
            return Err(refuse(format!(
                "no such user; pass --create to make it under {path}"
            )));
        }
        None => {
            plan.push(step(
                "create_user",
                format!("create IAM user {name} under {path}"),
            ));
            None
        }
        Some(_) if existing.is_some() => None,
        Some(user) => {
            if !user.path.starts_with(path.as_str()) {
                return Err(refuse(format!(
                    "its path {} is outside {path}, where the function may rotate keys; move it (aws iam update-user --new-path)",
                    user.path
                )));
            }
            let active: Vec<String> = iam
                .list_keys(name)
                .await?
                .into_iter()
                .filter(|k| k.status == KeyStatus::Active)
                .map(|k| k.id)
                .collect();
            let chosen = match (&request.key_id, active.as_slice()) {
                (Some(id), _) if !active.contains(id) => {
                    return Err(refuse(format!("it has no active key {id}")));
                }
                (Some(id), _) => Some(id.clone()),
                (None, []) => None,
                (None, [one]) => Some(one.clone()),
                (None, _) => {
                    return Err(refuse(format!(
                        "it has two active keys ({}); pass --key-id with the one its consumers use",
                        active.join(", ")
                    )));
                }
            };
            if let Some(other) = active.iter().find(|id| Some(*id) != chosen.as_ref()) {
                return Err(refuse(format!(
                    "its other active key {other} would leave no room for the first rotation (IAM allows two keys); deactivate it if nothing uses it (aws iam update-access-key --user-name {name} --access-key-id {other} --status Inactive), then run adopt again"
                )));
            }
            chosen
        }
    };

    // The secret: reused when it exists and names this user.
    if let Some(secret) = &existing {
        let current = match secret.labelled(AWSCURRENT) {
            Some(v) => secrets.value(&secret.arn, Some(&v.id), None).await?,
            None => None,
        };
        let holder = current.and_then(|v| KeySecret::parse(v.text.expose_secret()).ok());
        if holder.as_ref().map(|h| h.user_name()) != Some(name.as_str()) {
            return Err(refuse(format!(
                "secret {secret_name} exists but does not name user {name} in UserName"
            )));
        }
    } else {
        let holds = key_id
            .as_ref()
            .map(|id| format!(", and key {id} (its id; IAM never shows the secret part again)"))
            .unwrap_or_default();
        plan.push(step(
            "create_secret",
            format!("create secret {secret_name} holding UserName {name}{holds}"),
        ));
    }
    let tagged_with = user
        .as_ref()
        .and_then(|u| u.tags.iter().find(|(k, _)| k == tag))
        .map(|(_, v)| v.clone());
    let bound = match (&existing, &tagged_with) {
        (Some(secret), Some(value)) => *value == secret.arn,
        _ => false,
    };
    if !bound {
        plan.push(step(
            "tag_user",
            format!("tag user {name} with {tag}=<the secret's ARN>, binding it to its secret"),
        ));
    }
    let rotating = existing.as_ref().is_some_and(|s| {
        s.rotation_enabled
            && s.rotation_lambda_arn.as_deref() == Some(request.function_arn.as_str())
    });
    if !rotating {
        let when = match &request.schedule {
            Schedule::Days(days) => format!("every {days} days"),
            Schedule::Expression(e) => e.clone(),
        };
        plan.push(step(
            "attach_rotation",
            format!(
                "rotate {secret_name} with {} {when}, starting now: consumers then read the new key from the secret",
                request.function_arn
            ),
        ));
    }

    let mut adoption = Adoption {
        user: name.clone(),
        secret: secret_name.clone(),
        plan,
        done: false,
    };
    if request.dry_run || adoption.plan.is_empty() {
        return Ok(adoption);
    }
    if user.is_none() {
        iam.create_user(name, path).await?;
    }
    let secret_arn = match &existing {
        Some(secret) => secret.arn.clone(),
        None => {
            let mut value = json!({"UserName": name});
            if let Some(id) = &key_id {
                value["AccessKeyId"] = json!(id);
            }
            secrets
                .create_secret(&secret_name, &SecretString::from(value.to_string()))
                .await?
        }
    };
    if !bound {
        iam.tag_user(name, tag, &secret_arn).await?;
    }
    if !rotating {
        secrets
            .attach_rotation(&secret_arn, &request.function_arn, &request.schedule)
            .await?;
    }
    adoption.secret = secret_arn;
    adoption.done = true;
    Ok(adoption)
}
