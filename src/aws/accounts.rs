//! Member accounts through STS AssumeRole: the roles `member-role.yaml` makes in each account,
//! the rotation role assumed with the secret's ARN as a session tag (one session per account and
//! secret), the audit role (or the role adopt acts through) without; each session kept until
//! shortly before it expires.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::types::Tag;

use super::{IamClient, aws_error};
use crate::accounts::{no_member_role, partition_of, partition_of_region};
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

    /// A session of `role_arn` (with the secret's ARN as session tag when given), as IAM's client.
    async fn assume(
        &self,
        role_arn: &str,
        external_id: Option<&str>,
        secret_arn: Option<&str>,
    ) -> Result<(IamClient, SystemTime)> {
        let mut request = self
            .sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name("iam-key-rotator")
            .duration_seconds(SESSION.as_secs() as i32)
            .set_external_id(external_id.map(str::to_string));
        if let Some(secret_arn) = secret_arn {
            let tag = Tag::builder()
                .key(SECRET_SESSION_TAG)
                .value(secret_arn)
                .build()
                .map_err(|e| Error::InvalidConfig(e.to_string()))?;
            request = request.tags(tag);
        }
        let out = request
            .send()
            .await
            .map_err(|e| aws_error("AssumeRole", e))?;
        let session = out.credentials().ok_or_else(|| Error::Aws {
            operation: "AssumeRole",
            code: None,
            status: None,
            message: "AssumeRole answered without credentials".into(),
        })?;
        let expires = SystemTime::try_from(*session.expiration())
            .unwrap_or_else(|_| SystemTime::now() + SESSION);
        let credentials = Credentials::new(
            session.access_key_id(),
            session.secret_access_key(),
            Some(session.session_token().to_string()),
            Some(expires),
            "iam-key-rotator-member-account",
        );
        let config = self
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Ok((IamClient::new(&config), expires))
    }

    /// The cached session under `key`, or a new one from `assume`.
    async fn session(
        &self,
        key: (String, String),
        assume: impl Future<Output = Result<(IamClient, SystemTime)>>,
    ) -> Result<IamClient> {
        let now = SystemTime::now();
        if let Some((iam, until)) = self.sessions().get(&key)
            && *until > now + MARGIN
        {
            return Ok(iam.clone());
        }
        let (iam, until) = assume.await?;
        let mut sessions = self.sessions();
        sessions.retain(|_, (_, until)| *until > now + MARGIN);
        sessions.insert(key, (iam.clone(), until));
        Ok(iam)
    }
}

/// STS's limit on a session tag's value.
const SESSION_TAG_MAX: usize = 256;

fn role_arn(partition: &str, account: &str, role: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/{role}")
}

impl MemberAccounts<IamClient> for AssumedRoles {
    async fn member_iam(&self, account: &str, secret_arn: &str) -> Result<IamClient> {
        let Some(role) = &self.settings.role else {
            return Err(no_member_role(secret_arn, account));
        };
        // STS refuses a session tag value over 256 characters with a message that names no fix.
        if secret_arn.chars().count() > SESSION_TAG_MAX {
            return Err(Error::AccountUnreachable {
                secret: secret_arn.to_string(),
                account: account.to_string(),
                retry: false,
                reason: format!(
                    "the secret's ARN is {} characters, and the session tag that names it to the member role holds {SESSION_TAG_MAX} at most: give the secret a shorter name",
                    secret_arn.chars().count()
                ),
            });
        }
        let role_arn = role_arn(partition_of(secret_arn), account, role);
        let external_id = self.settings.external_id.as_deref();
        let key = (account.to_string(), secret_arn.to_string());
        self.session(key, self.assume(&role_arn, external_id, Some(secret_arn)))
            .await
            .map_err(|err| {
                let asks = match external_id {
                    Some(_) => format!(" with the external id {MEMBER_EXTERNAL_ID_VAR} gives"),
                    None => String::new(),
                };
                Error::AccountUnreachable {
                    secret: secret_arn.to_string(),
                    account: account.to_string(),
                    retry: err.remedy() == Remedy::Retry,
                    reason: format!(
                        "could not assume {role_arn} ({err}). Deploy member-role.yaml in {account} (its role must trust this function's role{asks}; to run the CLI, run it as the central role member-role.yaml's OperatorRoleName names), or correct AccountId in the secret"
                    ),
                }
            })
    }

    async fn role_iam(&self, account: &str, role: &str) -> Result<IamClient> {
        // The caller's own partition: the one its region lies in.
        let partition = partition_of_region(self.sdk.region().map(|r| r.as_ref()).unwrap_or(""));
        let role_arn = role_arn(partition, account, role);
        let key = (account.to_string(), format!("role:{role}"));
        self.session(key, self.assume(&role_arn, None, None)).await
    }
}
