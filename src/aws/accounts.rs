//! Member accounts through STS AssumeRole: the role `member-role.yaml` makes in each account,
//! assumed with the secret's ARN as a session tag, one IAM client per (account, secret), kept
//! until shortly before its credentials expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::types::Tag;

use super::{IamClient, aws_error};
use crate::accounts::{no_member_role, partition_of};
use crate::config::{MEMBER_EXTERNAL_ID_VAR, MemberSettings};
use crate::error::{Error, Remedy, Result};
use crate::services::MemberAccounts;

/// The session tag that carries the secret's ARN: the member role lets a session touch only the
/// keys of users whose binding tag names that same secret (`aws:PrincipalTag`).
pub const SECRET_SESSION_TAG: &str = "iam-key-rotator-secret";

/// How long an assumed session lasts; a Lambda invocation lasts at most 15 minutes.
const SESSION: Duration = Duration::from_secs(3600);
/// A session this close to its end is assumed afresh.
const MARGIN: Duration = Duration::from_secs(300);

type Sessions = HashMap<(String, String), (IamClient, SystemTime)>;

pub struct AssumedRoles {
    sts: aws_sdk_sts::Client,
    sdk: SdkConfig,
    settings: MemberSettings,
    sessions: Mutex<Sessions>,
}

impl AssumedRoles {
    pub fn new(sdk: &SdkConfig, settings: &MemberSettings) -> Self {
        AssumedRoles {
            sts: aws_sdk_sts::Client::new(sdk),
            sdk: sdk.clone(),
            settings: settings.clone(),
            sessions: Mutex::default(),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn assume(&self, role: &str, account: &str, secret_arn: &str) -> Result<IamClient> {
        let role_arn = format!(
            "arn:{}:iam::{account}:role/{role}",
            partition_of(secret_arn)
        );
        let unreachable = |reason: String, retry: bool| Error::AccountUnreachable {
            secret: secret_arn.to_string(),
            account: account.to_string(),
            reason,
            retry,
        };
        let tag = Tag::builder()
            .key(SECRET_SESSION_TAG)
            .value(secret_arn)
            .build()
            .map_err(|e| unreachable(e.to_string(), false))?;
        let out = self
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("iam-key-rotator")
            .duration_seconds(SESSION.as_secs() as i32)
            .set_external_id(self.settings.external_id.clone())
            .tags(tag)
            .send()
            .await
            .map_err(|e| {
                let err = aws_error("AssumeRole", e);
                let retry = err.remedy() == Remedy::Retry;
                let external_id = match &self.settings.external_id {
                    Some(_) => format!(" with the external id {MEMBER_EXTERNAL_ID_VAR} gives"),
                    None => String::new(),
                };
                unreachable(
                    format!(
                        "could not assume {role_arn} ({err}). Deploy member-role.yaml in {account} (its role must trust this function's role{external_id}), or correct AccountId in the secret"
                    ),
                    retry,
                )
            })?;
        let session = out
            .credentials()
            .ok_or_else(|| unreachable("AssumeRole answered without credentials".into(), true))?;
        let expires = SystemTime::try_from(*session.expiration())
            .unwrap_or_else(|_| SystemTime::now() + SESSION);
        let credentials = Credentials::new(
            session.access_key_id(),
            session.secret_access_key(),
            Some(session.session_token().to_string()),
            Some(expires),
            "iam-key-rotator-member-role",
        );
        let config = self
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        let iam = IamClient::new(&config);
        let mut sessions = self.sessions();
        let now = SystemTime::now();
        sessions.retain(|_, (_, until)| *until > now + MARGIN);
        sessions.insert(
            (account.to_string(), secret_arn.to_string()),
            (iam.clone(), expires),
        );
        Ok(iam)
    }
}

impl MemberAccounts<IamClient> for AssumedRoles {
    async fn member_iam(&self, account: &str, secret_arn: &str) -> Result<IamClient> {
        let Some(role) = &self.settings.role else {
            return Err(no_member_role(secret_arn, account));
        };
        let key = (account.to_string(), secret_arn.to_string());
        if let Some((iam, until)) = self.sessions().get(&key)
            && *until > SystemTime::now() + MARGIN
        {
            return Ok(iam.clone());
        }
        self.assume(role, account, secret_arn).await
    }
}
