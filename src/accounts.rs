//! The account rule: which AWS account's IAM holds a secret's user. A secret's `AccountId` names a
//! member account of the organization, reached through the role `member-role.yaml` makes there;
//! without it (or naming the secret's own account) the user is in the function's own account.

use std::ops::Deref;

use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::secret::KeySecret;
use crate::services::{MemberAccounts, Services};

/// Whether `id` is an AWS account id: 12 digits.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// IAM of one account: the function's own, or a member account's, reached for one secret.
pub enum AccountIam<'a, I> {
    Own(&'a I),
    Member(I),
}

impl<I> Deref for AccountIam<'_, I> {
    type Target = I;

    fn deref(&self) -> &I {
        match self {
            AccountIam::Own(iam) => iam,
            AccountIam::Member(iam) => iam,
        }
    }
}

impl<X: Services> Rotator<X> {
    /// IAM of the account that holds `secret`'s user. Callers reach a user's keys through
    /// [`Rotator::user_in_scope`], which asks here and then checks the user's scope.
    pub(crate) async fn iam_for(
        &self,
        secret_arn: &str,
        secret: &KeySecret,
    ) -> Result<AccountIam<'_, X::Iam>> {
        self.iam_in(secret_arn, secret.account_id()).await
    }

    /// IAM of `account` (`None`: the function's own), for acting on the user of `secret_arn`.
    pub(crate) async fn iam_in(
        &self,
        secret_arn: &str,
        account: Option<&str>,
    ) -> Result<AccountIam<'_, X::Iam>> {
        match member_account(account, secret_arn) {
            Some(account) => {
                self.may_reach(secret_arn, account)?;
                let iam = self
                    .services()
                    .accounts()
                    .member_iam(account, secret_arn)
                    .await?;
                Ok(AccountIam::Member(iam))
            }
            _ => Ok(AccountIam::Own(self.services().iam())),
        }
    }
}

impl<X: Services> Rotator<X> {
    /// Refuses a member account this function may not reach (no member role set, or not among
    /// `ROTATOR_MEMBER_ACCOUNTS`) before any call to it; `secret_arn` names the secret in errors.
    pub(crate) fn may_reach(&self, secret_arn: &str, account: &str) -> Result<()> {
        let members = &self.config().members;
        if members.role.is_none() {
            return Err(no_member_role(secret_arn, account));
        }
        if !members.accounts.allows(account) {
            return Err(Error::AccountUnreachable {
                secret: secret_arn.to_string(),
                account: account.to_string(),
                reason: "it is not among the member accounts this function may reach (ROTATOR_MEMBER_ACCOUNTS, the template's MemberAccountIds): the deployer decides where rotated users may live, not whoever writes a secret. Add it there, or correct AccountId".into(),
                retry: false,
            });
        }
        Ok(())
    }
}

/// The member account `account` names, seen from the account `home_arn` lives in (a secret's, or
/// the function's): `None` when it names that account itself, or none.
pub fn member_account<'a>(account: Option<&'a str>, home_arn: &str) -> Option<&'a str> {
    account.filter(|a| Some(*a) != account_of(home_arn))
}

/// The account `secret`'s user is in: its `AccountId`, else the account the secret lives in.
pub fn account_of_user<'a>(secret_arn: &'a str, secret: &'a KeySecret) -> Option<&'a str> {
    secret.account_id().or_else(|| account_of(secret_arn))
}

/// The account an ARN names (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The partition an ARN names (`aws`, `aws-cn`, `aws-us-gov`), `aws` if it names none.
pub fn partition_of(arn: &str) -> &str {
    arn.split(':')
        .nth(1)
        .filter(|p| p.starts_with("aws"))
        .unwrap_or("aws")
}

/// The partition a region lies in.
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The refusal for a secret naming another account when this function reaches none.
pub fn no_member_role(secret_arn: &str, account: &str) -> Error {
    Error::AccountUnreachable {
        secret: secret_arn.to_string(),
        account: account.to_string(),
        reason: format!(
            "this function reaches no other account. Deploy member-role.yaml in {account} (a StackSet does it for an OU) and set the template parameter MemberRoleName (ROTATOR_MEMBER_ROLE), or remove AccountId if the user is in this account"
        ),
        retry: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_names_its_account_and_partition() {
        let arn = "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:ci-AbCdEf";
        assert_eq!(account_of(arn), Some("123456789012"));
        assert_eq!(partition_of(arn), "aws-cn");
        assert_eq!(account_of("ci-bot"), None);
        assert_eq!(partition_of("ci-bot"), "aws");
    }

    #[test]
    fn an_account_is_a_member_account_only_seen_from_another() {
        let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-keys/ci-AbCdEf";
        assert_eq!(
            member_account(Some("111122223333"), secret),
            Some("111122223333")
        );
        assert_eq!(member_account(Some("123456789012"), secret), None);
        assert_eq!(member_account(None, secret), None);
    }
}
