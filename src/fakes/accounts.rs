//! Member accounts in memory: each its own [`FakeIam`]. An account without one refuses, as an
//! account whose role does not trust the function does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{FakeIam, lock};
use crate::error::{Error, Result};
use crate::services::MemberAccounts;

#[derive(Clone, Default)]
pub struct FakeAccounts {
    members: Arc<Mutex<HashMap<String, FakeIam>>>,
    /// Every (account, secret ARN) a session was asked for, in order.
    pub sessions: Arc<Mutex<Vec<(String, String)>>>,
    /// How long assuming an audit role takes, as a slow STS or a far region would.
    pub audit_delay: Arc<Mutex<Duration>>,
}

impl FakeAccounts {
    /// Deploys the member role in `account`, whose IAM the returned handle shows.
    pub fn add(&self, account: &str) -> FakeIam {
        let iam = FakeIam::member(account);
        lock(&self.members).insert(account.to_string(), iam.clone());
        iam
    }

    /// Takes the roles out of `account`, as if member-role.yaml were never deployed there.
    pub fn remove(&self, account: &str) {
        lock(&self.members).remove(account);
    }

    pub fn all(&self) -> Vec<FakeIam> {
        lock(&self.members).values().cloned().collect()
    }
}

impl MemberAccounts<FakeIam> for FakeAccounts {
    async fn member_iam(&self, account: &str, secret_arn: &str) -> Result<FakeIam> {
        lock(&self.sessions).push((account.to_string(), secret_arn.to_string()));
        lock(&self.members)
            .get(account)
            .cloned()
            .ok_or_else(|| Error::AccountUnreachable {
                secret: secret_arn.to_string(),
                account: account.to_string(),
                reason: format!(
                    "could not assume arn:aws:iam::{account}:role/iam-key-rotator-member (AccessDenied: not authorized to perform sts:AssumeRole)"
                ),
                retry: false,
            })
    }

    async fn role_iam(&self, account: &str, role: &str) -> Result<FakeIam> {
        let delay = *lock(&self.audit_delay);
        tokio::time::sleep(delay).await;
        lock(&self.members)
            .get(account)
            .cloned()
            .ok_or_else(|| Error::Aws {
                operation: "AssumeRole",
                code: Some("AccessDenied".into()),
                status: Some(403),
                message: format!(
                    "not authorized to perform sts:AssumeRole on arn:aws:iam::{account}:role/{role}"
                ),
            })
    }
}
