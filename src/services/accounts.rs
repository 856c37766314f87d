//! Member accounts of an AWS Organization, as far as rotation and the audit need them: IAM in
//! another account, reached through the roles the organization deploys there (`member-role.yaml`).

use std::future::Future;

use crate::error::Result;
use crate::services::Iam;

/// Reaches IAM in accounts other than the function's own.
pub trait MemberAccounts<I: Iam>: Send + Sync {
    /// IAM in `account`, for acting on the user of the secret `secret_arn` (which the session
    /// carries as a tag, so the member role can bind itself to users tagged with that secret).
    fn member_iam(&self, account: &str, secret_arn: &str)
    -> impl Future<Output = Result<I>> + Send;

    /// IAM in `account` through the role named `role` there, with no session tag: the audit's
    /// read-only role (member-role.yaml's AuditRole), or the role an operator adopts a user
    /// through (one that may tag users, which the function's member role may not).
    fn role_iam(&self, account: &str, role: &str) -> impl Future<Output = Result<I>> + Send;
}
