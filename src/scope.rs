//! The user-scope rule: the one check every step, the sweep, adopt and the CLI make before they
//! act on a user's keys. The user must exist, lie under the configured IAM path, and (when set)
//! carry the configured tag valued with the secret's ARN, so that whoever may write one secret
//! cannot point it at another user.

use crate::accounts::AccountIam;
use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::event::RotationEvent;
use crate::secret::KeySecret;
use crate::services::{IamUser, IamUsers, SecretInfo, Services};

/// A user that passed the scope check, with the IAM of its account: the only way the capabilities
/// reach a user's keys.
pub struct ScopedUser<'a, I> {
    pub user: IamUser,
    pub iam: AccountIam<'a, I>,
}

impl<I> ScopedUser<'_, I> {
    pub fn name(&self) -> &str {
        &self.user.name
    }
}

impl<X: Services> Rotator<X> {
    /// Whether an IAM path lies under the configured one (`ROTATOR_USER_PATH_PREFIX`).
    pub fn path_in_scope(&self, path: &str) -> bool {
        path.starts_with(&self.config().user_path_prefix)
    }

    /// The user of a version this step acts on (`label` names it in errors), checked as
    /// createSecret checks the current one: it must be the user AWSCURRENT (`current`) names,
    /// exist, lie in scope and be bound to this secret. Every step after createSecret calls this
    /// before it changes anything, so a hand-written version cannot steer a step to another user
    /// (or to the same name in another account).
    pub(crate) async fn same_user_in_scope(
        &self,
        event: &RotationEvent,
        info: &SecretInfo,
        label: &str,
        version: &KeySecret,
        current: &KeySecret,
    ) -> Result<ScopedUser<'_, X::Iam>> {
        if !same_user(version, current) {
            return Err(Error::UserMismatch {
                secret: event.secret_id.clone(),
                label: label.to_string(),
                user: user_label(current),
                other_user: user_label(version),
            });
        }
        self.user_in_scope(&event.secret_id, &info.arn, version)
            .await
    }

    /// The secret's IAM user, in its account, refused when it does not exist, lies outside the
    /// configured path, or lacks the configured tag naming this secret.
    pub(crate) async fn user_in_scope(
        &self,
        secret_id: &str,
        secret_arn: &str,
        secret: &KeySecret,
    ) -> Result<ScopedUser<'_, X::Iam>> {
        let iam = self.iam_for(secret_arn, secret).await?;
        let name = secret.user_name();
        let user = iam.user(name).await?.ok_or_else(|| Error::UserNotFound {
            secret: secret_id.to_string(),
            user: user_label(secret),
        })?;
        // The credentials in use may reach another account's IAM than the one the secret means
        // (a CLI run with another account's credentials): a user of the same name there is not it.
        if let (Some(want), Some(got)) = (
            crate::accounts::account_of_user(secret_arn, secret),
            crate::accounts::account_of(&user.arn),
        ) && want != got
        {
            return Err(Error::AccountUnreachable {
                secret: secret_id.to_string(),
                account: want.to_string(),
                reason: format!(
                    "the credentials in use reach the IAM of account {got}, not of {want}, where the secret's user is; run with credentials of account {want}, or name the user's account in AccountId"
                ),
                retry: false,
            });
        }
        if !self.path_in_scope(&user.path) {
            return Err(Error::UserOutOfScope {
                user: user.name,
                path: user.path,
                allowed: format!("IAM path {}", self.config().user_path_prefix),
            });
        }
        if let Some(tag) = &self.config().user_tag
            && !user.tags.iter().any(|(k, v)| k == tag && v == secret_arn)
        {
            return Err(Error::UserOutOfScope {
                path: user.path,
                allowed: format!("users tagged {tag}={secret_arn}"),
                user: user.name,
            });
        }
        Ok(ScopedUser { user, iam })
    }
}

/// Whether two versions of a secret name the same user: the same name in the same account.
pub(crate) fn same_user(a: &KeySecret, b: &KeySecret) -> bool {
    a.user_name() == b.user_name() && a.account_id() == b.account_id()
}

/// The user a value names, with its account when it names one.
pub(crate) fn user_label(secret: &KeySecret) -> String {
    match secret.account_id() {
        Some(account) => format!("{} (account {account})", secret.user_name()),
        None => secret.user_name().to_string(),
    }
}
