//! IAM, as far as the capabilities need it: users, their access keys, their last use, and the
//! credential report.

use std::future::Future;
use std::time::SystemTime;

use crate::error::Result;
use crate::secret::AccessKey;

/// IAM's credential report: one CSV row per user, and when AWS made it.
#[derive(Debug, Clone)]
pub struct CredentialReport {
    pub generated: Option<SystemTime>,
    pub csv: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub tags: Vec<(String, String)>,
}

/// The states IAM reports for an access key. Only an Active key can sign a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum KeyStatus {
    Active,
    Inactive,
    /// IAM expired the key: it cannot be used again, so it may be deleted to make room.
    Expired,
    /// A status this build does not know: never promoted, never deleted.
    Unknown,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
            KeyStatus::Expired => "Expired",
            KeyStatus::Unknown => "Unknown",
        }
    }
}

impl std::fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What GetAccessKeyLastUsed tells about a key's last use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub when: SystemTime,
    pub service: Option<String>,
    pub region: Option<String>,
}

impl std::fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} by {} in {}",
            humantime::format_rfc3339_seconds(self.when),
            self.service.as_deref().unwrap_or("an unknown service"),
            self.region.as_deref().unwrap_or("an unknown region")
        )
    }
}

/// An access key as ListAccessKeys shows it (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    pub status: KeyStatus,
    pub created: Option<SystemTime>,
}

/// IAM users: looked up (with their path and tags), made, tagged.
pub trait IamUsers: Send + Sync {
    /// `None` when no user has that name.
    fn user(&self, name: &str) -> impl Future<Output = Result<Option<IamUser>>> + Send;

    fn create_user(&self, name: &str, path: &str) -> impl Future<Output = Result<IamUser>> + Send;

    fn tag_user(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The names of the users carrying the tag `key`, whatever its value: one look at the whole
    /// account (GetAccountAuthorizationDetails, a call per page of users), not one per user.
    fn users_tagged(&self, key: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
}

/// A user's access keys: listed, made, deactivated, deleted, and when each was last used.
pub trait IamKeys: Send + Sync {
    fn list_keys(&self, user: &str) -> impl Future<Output = Result<Vec<KeyInfo>>> + Send;

    fn create_key(&self, user: &str) -> impl Future<Output = Result<AccessKey>> + Send;

    fn deactivate_key(&self, user: &str, key_id: &str) -> impl Future<Output = Result<()>> + Send;

    /// Succeeds when the key is already gone.
    fn delete_key(&self, user: &str, key_id: &str) -> impl Future<Output = Result<()>> + Send;

    /// When, where and by which service the key was last used; `None` if never.
    fn last_used(&self, key_id: &str) -> impl Future<Output = Result<Option<KeyUsage>>> + Send;
}

/// IAM's credential report.
pub trait CredentialReports: Send + Sync {
    /// Asks IAM for a fresh credential report; `true` once one is ready.
    fn generate_credential_report(&self) -> impl Future<Output = Result<bool>> + Send;

    fn credential_report(&self) -> impl Future<Output = Result<CredentialReport>> + Send;
}

/// IAM, as far as the capabilities need it: the three traits above, as one bound.
pub trait Iam: IamUsers + IamKeys + CredentialReports {}

impl<T: IamUsers + IamKeys + CredentialReports> Iam for T {}
