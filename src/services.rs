//! The three AWS services the steps use, as small traits: the SDK adapters live in `aws`, fakes in tests.

use std::future::Future;
use std::time::SystemTime;

use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::secret::AccessKey;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// A version of a secret and the staging labels attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion {
    pub id: String,
    pub labels: Vec<String>,
}

impl SecretVersion {
    pub fn has(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }
}

/// What DescribeSecret tells about a secret.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    pub arn: String,
    pub rotation_enabled: bool,
    /// The versions that carry at least one label.
    pub versions: Vec<SecretVersion>,
}

impl SecretInfo {
    pub fn version(&self, id: &str) -> Option<&SecretVersion> {
        self.versions.iter().find(|v| v.id == id)
    }

    pub fn labelled(&self, label: &str) -> Option<&SecretVersion> {
        self.versions.iter().find(|v| v.has(label))
    }
}

/// A version's value as GetSecretValue returns it.
#[derive(Debug, Clone)]
pub struct StoredValue {
    pub version_id: String,
    pub created: Option<SystemTime>,
    pub text: SecretString,
}

/// Secrets Manager, as far as rotation needs it.
pub trait SecretStore: Send + Sync {
    fn describe(&self, secret_id: &str) -> impl Future<Output = Result<SecretInfo>> + Send;

    /// Every version Secrets Manager still keeps, including those that lost all their labels.
    fn list_versions(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Vec<SecretVersion>>> + Send;

    /// The value of the version with this id and/or label; `None` when that version has no value.
    fn value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        label: Option<&str>,
    ) -> impl Future<Output = Result<Option<StoredValue>>> + Send;

    /// Stores `value` as a new version with id `token` and the label AWSPENDING.
    fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretString,
        rotation_token: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Attaches `label` to version `to` and/or removes it from version `from`.
    fn move_label(
        &self,
        secret_id: &str,
        label: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Inactive,
}

/// An access key as ListAccessKeys shows it (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    pub status: KeyStatus,
    pub created: Option<SystemTime>,
}

/// IAM, as far as rotation needs it.
pub trait Iam: Send + Sync {
    /// `None` when no user has that name.
    fn user(&self, name: &str) -> impl Future<Output = Result<Option<IamUser>>> + Send;

    fn list_keys(&self, user: &str) -> impl Future<Output = Result<Vec<KeyInfo>>> + Send;

    fn create_key(&self, user: &str) -> impl Future<Output = Result<AccessKey>> + Send;

    fn deactivate_key(&self, user: &str, key_id: &str) -> impl Future<Output = Result<()>> + Send;

    /// Succeeds when the key is already gone.
    fn delete_key(&self, user: &str, key_id: &str) -> impl Future<Output = Result<()>> + Send;

    /// When the key was last used; `None` if never.
    fn last_used(&self, key_id: &str) -> impl Future<Output = Result<Option<SystemTime>>> + Send;
}

/// Why a key could not prove who it is.
#[derive(Debug)]
pub enum CheckError {
    /// AWS does not accept the key (yet): new keys take seconds to propagate.
    NotYetValid { code: String },
    /// Anything else; not worth retrying here.
    Failed(Error),
}

/// STS, used to prove that a key works.
pub trait KeyChecker: Send + Sync {
    /// The ARN that a request signed with `key` is made as.
    fn caller_arn(
        &self,
        key: &AccessKey,
    ) -> impl Future<Output = Result<String, CheckError>> + Send;
}
