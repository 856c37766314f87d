//! Bringing one IAM user under rotation, idempotently: the user (made if asked), a secret holding
//! its current key's id, the tag binding the user to that secret, and rotation attached, which
//! rotates now. The adopted key becomes the previous key, kept Active until nothing has used it for
//! the quiet time, then retired by the sweep. Running it again changes nothing. It binds a user only
//! to a secret it can trust: one it makes, one the user's binding tag already names, or one the
//! operator vouches for (`--reuse-secret`); and it never moves a binding away from another secret.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{Value, json};

mod trust;

use trust::{describe_policy, secret_exists, secret_named};

use crate::accounts::{AccountIam, account_of, account_of_user, member_account};
use crate::delivery::{DESTINATIONS, parse_shorthand};
use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::secret::KeySecret;
use crate::services::{
    AWSCURRENT, IamKeys, IamUsers, KeyStatus, MemberAccounts, Schedule, SecretCatalog,
    SecretVersions, Services,
};

/// The tag the function checks when `ROTATOR_USER_TAG` is set; adopt sets it in any case.
pub const DEFAULT_USER_TAG: &str = "iam-key-rotator:secret";

/// The tag adopt puts on the secrets it makes. Anyone who may create secrets could forge it, so it
/// only informs the operator; trust comes from the user's binding tag (set by IAM administrators)
/// or the operator's `--reuse-secret`.
pub const CREATED_BY_TAG: &str = "iam-key-rotator:created-by";

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
    /// Bind the user to an existing secret `<prefix><user>` that adopt did not bind it to.
    pub reuse_secret: bool,
    /// Where the first rotation delivers the new key (`--deliver-to`), as shorthands like
    /// `ssm:/ci/deploy/aws` or `github:acme/api:prod`: recorded in the secret's `Destinations`.
    pub deliver_to: Vec<String>,
    /// The user's account when it is a member account of the organization (`--account`): the
    /// secret records it as `AccountId`, and its name carries it (`<prefix><account>/<user>`).
    pub account: Option<String>,
    /// The role in that account adopt acts through (`--account-role`): it must read the user and
    /// its keys, tag users, and with `create` make them, which the function's member role may not.
    pub account_role: String,
}

/// The role Organizations makes in each account it creates, trusting the management account.
pub const ORGANIZATION_ADMIN_ROLE: &str = "OrganizationAccountAccessRole";

/// An existing secret the operator told adopt to reuse, as they should check it.
#[derive(Debug, Clone, Serialize)]
pub struct ReusedSecret {
    pub arn: String,
    pub tags: Vec<(String, String)>,
    /// Whether its resource policy lets others read it.
    pub policy: String,
}

/// What one step of the plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    CreateUser,
    CreateSecret,
    TagUser,
    AttachRotation,
}

/// One step of the plan, said for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    pub action: PlanAction,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Adoption {
    pub user: String,
    pub secret: String,
    /// What had to be done (empty when the user was already under rotation).
    pub plan: Vec<PlannedStep>,
    /// Whether the plan was carried out (false for a dry run).
    pub done: bool,
    /// What the consumers of the adopted key must do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumers: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reused: Option<ReusedSecret>,
}

/// Plans, then (unless a dry run) carries out, the adoption of `request.user`.
pub async fn adopt<X: Services>(rotator: &Rotator<X>, request: &Request) -> Result<Adoption> {
    let config = rotator.config();
    let secrets = rotator.secrets();
    let name = &request.user;
    let refuse = |reason: String| Error::CannotAdopt {
        user: name.clone(),
        reason,
    };
    // A member account: one the function may reach, or its first rotation would fail.
    let member = member_account(request.account.as_deref(), &request.function_arn);
    let iam = match member {
        None => AccountIam::Own(rotator.own_iam()),
        Some(account) => {
            rotator.may_reach(&request.function_arn, account)?;
            let iam = rotator
                .services()
                .accounts()
                .role_iam(account, &request.account_role)
                .await
                .map_err(|e| {
                    refuse(format!(
                        "could not assume {} in account {account} ({e}): pass --account-role with a role there that you may assume and that may read and tag users",
                        request.account_role
                    ))
                })?;
            AccountIam::Member(iam)
        }
    };
    let iam = &*iam;
    let path = &config.user_path_prefix;
    let prefix = if config.secret_name_prefix.is_empty() {
        "iam-keys/"
    } else {
        &config.secret_name_prefix
    };
    // The same name may be a user of several accounts: a member's secret is named by both.
    let secret_name = match member {
        None => format!("{prefix}{name}"),
        Some(account) => format!("{prefix}{account}/{name}"),
    };
    let tag = config.user_tag.as_deref().unwrap_or(DEFAULT_USER_TAG);
    let mut plan = Vec::new();
    let step = |action: PlanAction, detail: String| PlannedStep { action, detail };

    // Where the key goes, checked against what the function may write before anything changes.
    let destinations = destinations(rotator, name, &request.deliver_to)?;

    // The secret, when an earlier run made it: then the key it holds is settled already.
    let existing = secret_named(secrets, &secret_name).await?;

    // The user, and the key consumers use now.
    let user = iam.user(name).await?;
    let key_id = match &user {
        None if !request.create => {
            return Err(refuse(format!(
                "no such user{}; pass --create to make it under {path}",
                member
                    .map(|a| format!(" in account {a}"))
                    .unwrap_or_default()
            )));
        }
        None => {
            plan.push(step(
                PlanAction::CreateUser,
                format!("create IAM user {name} under {path}"),
            ));
            None
        }
        Some(_) if existing.is_some() => None,
        Some(user) => {
            if !rotator.path_in_scope(&user.path) {
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

    // The binding: never moved away from another secret that exists.
    let tagged_with = user
        .as_ref()
        .and_then(|u| u.tags.iter().find(|(k, _)| k == tag))
        .map(|(_, v)| v.clone());
    if let Some(bound_to) = &tagged_with
        && existing.as_ref().is_none_or(|s| s.arn != *bound_to)
        && secret_exists(secrets, bound_to).await?
    {
        return Err(refuse(format!(
            "its tag {tag} binds it to another secret, {bound_to}, which exists; adopt never moves a binding. Rotate that secret instead, or, if nothing uses it, remove the tag (aws iam untag-user --user-name {name} --tag-keys {tag}) and run adopt again"
        )));
    }
    let bound = match (&existing, &tagged_with) {
        (Some(secret), Some(value)) => *value == secret.arn,
        _ => false,
    };

    // The secret: reused when it exists, names this user, and is trusted.
    let mut reused = None;
    if let Some(secret) = &existing
        && !bound
    {
        if !request.reuse_secret {
            let made_by = match secret.tag(CREATED_BY_TAG) {
                Some(_) => format!(
                    "it carries adopt's tag {CREATED_BY_TAG} (an earlier run that stopped early?), but anyone who may create secrets can set that tag"
                ),
                None => "adopt did not make it".to_string(),
            };
            return Err(refuse(format!(
                "secret {secret_name} ({}) exists and user {name} is not bound to it ({made_by}); check who can read and change it (aws secretsmanager describe-secret and get-resource-policy --secret-id {}), then run again with --reuse-secret, or delete or rename it",
                secret.arn, secret.arn
            )));
        }
        let policy = secrets.resource_policy(&secret.arn).await?;
        reused = Some(ReusedSecret {
            arn: secret.arn.clone(),
            tags: secret.tags.clone(),
            policy: describe_policy(policy.as_deref()),
        });
    }
    if existing.is_some() && !destinations.is_empty() {
        return Err(refuse(format!(
            "secret {secret_name} exists, and adopt never rewrites a secret: add the destinations to its Destinations field yourself (aws secretsmanager put-secret-value), or run adopt without --deliver-to"
        )));
    }
    if let Some(secret) = &existing {
        let current = match secret.labelled(AWSCURRENT) {
            Some(v) => secrets.value(&secret.arn, Some(&v.id), None).await?,
            None => None,
        };
        let holder = current.and_then(|v| KeySecret::parse(v.text.expose_secret()).ok());
        let names_the_user = holder.as_ref().is_some_and(|h| {
            h.user_name() == name
                && account_of_user(&secret.arn, h) == member.or(account_of(&secret.arn))
        });
        if !names_the_user {
            return Err(refuse(format!(
                "secret {secret_name} exists but does not name user {name}{} in UserName and AccountId",
                member
                    .map(|a| format!(" of account {a}"))
                    .unwrap_or_default()
            )));
        }
    } else {
        let holds = key_id
            .as_ref()
            .map(|id| format!(", and key {id} (its id; IAM never shows the secret part again)"))
            .unwrap_or_default();
        let delivers = match request.deliver_to.is_empty() {
            true => String::new(),
            false => format!(
                ", and the Destinations its new keys go to: {}",
                request.deliver_to.join(", ")
            ),
        };
        plan.push(step(
            PlanAction::CreateSecret,
            format!("create secret {secret_name} holding UserName {name}{holds}{delivers}"),
        ));
    }
    if !bound {
        plan.push(step(
            PlanAction::TagUser,
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
                PlanAction::AttachRotation,
            format!(
                "rotate {secret_name} with {} {when}, starting now: consumers then read the new key from the secret",
                request.function_arn
            ),
        ));
    }

    let consumers = key_id.as_ref().map(|id| match request.deliver_to.is_empty() {
        false => format!(
            "The first rotation (now) delivers a new key to {}, where the consumers of key {id} read it, and confirms it is there. Key {id} stays Active until nothing has used it for the function's ROTATOR_QUIET_FOR (24h by default); the sweep then deactivates it, and deletes it after ROTATOR_DELETE_AFTER. Until then each sweep reports who still uses it (PreviousKeyInUse: service, region, when).",
            request.deliver_to.join(", ")
        ),
        true => format!(
            "Consumers of key {id} sign with it from their own settings (a CI system's, say), not from the secret: make them read the secret {secret_name} (AWSCURRENT, now a new key), or move them to it. Key {id} stays Active until nothing has used it for the function's ROTATOR_QUIET_FOR (24h by default); the sweep then deactivates it, and deletes it after ROTATOR_DELETE_AFTER. Until then each sweep reports who still uses it (PreviousKeyInUse: service, region, when)."
        ),
    });
    let mut adoption = Adoption {
        user: name.clone(),
        secret: secret_name.clone(),
        plan,
        done: false,
        consumers,
        reused,
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
            if let Some(account) = member {
                value["AccountId"] = json!(account);
            }
            if let Some(id) = &key_id {
                value["AccessKeyId"] = json!(id);
            }
            if !destinations.is_empty() {
                value[DESTINATIONS] = Value::Array(destinations.clone());
            }
            secrets
                .create_secret(
                    &secret_name,
                    &SecretString::from(value.to_string()),
                    &[(CREATED_BY_TAG, "adopt")],
                )
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

/// The `--deliver-to` shorthands as the secret stores them, each within what the function may
/// write (its `ROTATOR_SSM_PREFIX` and `ROTATOR_GITHUB_OWNERS`).
fn destinations<X: Services>(
    rotator: &Rotator<X>,
    user: &str,
    specs: &[String],
) -> Result<Vec<Value>> {
    let refuse = |reason: String| Error::CannotAdopt {
        user: user.to_string(),
        reason,
    };
    let values = specs
        .iter()
        .map(|spec| parse_shorthand(spec))
        .collect::<std::result::Result<Vec<Value>, String>>()
        .map_err(|e| refuse(format!("--deliver-to {e}")))?;
    let value = json!({"UserName": user, DESTINATIONS: values});
    let secret = KeySecret::parse(&value.to_string()).map_err(refuse)?;
    rotator
        .destinations(user, &secret)
        .map_err(|e| refuse(format!("--deliver-to: {e}")))?;
    Ok(values)
}
