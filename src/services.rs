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
    /// When the version was made: ListSecretVersionIds tells it, DescribeSecret does not.
    pub created: Option<SystemTime>,
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
    /// The function rotation is attached to (it stays named when rotation is turned off).
    pub rotation_lambda_arn: Option<String>,
    /// The versions that carry at least one label.
    pub versions: Vec<SecretVersion>,
    pub tags: Vec<(String, String)>,
}

impl SecretInfo {
    pub fn version(&self, id: &str) -> Option<&SecretVersion> {
        self.versions.iter().find(|v| v.id == id)
    }

    pub fn labelled(&self, label: &str) -> Option<&SecretVersion> {
        self.versions.iter().find(|v| v.has(label))
    }

    /// The version a rotation left AWSPENDING on without finishing it; `None` when AWSPENDING
    /// is on no version or on AWSCURRENT (which is how a successful rotation may end).
    pub fn unfinished_rotation(&self) -> Option<&SecretVersion> {
        self.labelled(AWSPENDING).filter(|v| !v.has(AWSCURRENT))
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The function rotation is attached to, whether rotation is on or paused: its deployment
    /// decides how this secret's keys are treated.
    pub fn rotation_function(&self) -> Option<&str> {
        self.rotation_lambda_arn
            .as_deref()
            .filter(|arn| !arn.is_empty())
    }
}

/// A secret as ListSecrets shows it: no value, but its labels, rotation settings, dates and tags.
#[derive(Debug, Clone, Default)]
pub struct SecretSummary {
    pub arn: String,
    pub name: String,
    pub rotation_enabled: bool,
    pub rotation_lambda_arn: Option<String>,
    pub last_rotated: Option<SystemTime>,
    pub next_rotation: Option<SystemTime>,
    /// Every labelled version (without dates).
    pub versions: Vec<SecretVersion>,
    pub tags: Vec<(String, String)>,
}

impl SecretSummary {
    pub fn labelled(&self, label: &str) -> Option<&SecretVersion> {
        self.versions.iter().find(|v| v.has(label))
    }

    /// The function rotation is attached to, whether rotation is on or paused: its deployment
    /// decides how this secret's keys are treated.
    pub fn rotation_function(&self) -> Option<&str> {
        self.rotation_lambda_arn
            .as_deref()
            .filter(|arn| !arn.is_empty())
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A version's value as GetSecretValue returns it.
#[derive(Debug, Clone)]
pub struct StoredValue {
    pub version_id: String,
    pub created: Option<SystemTime>,
    pub text: SecretString,
}

/// A secret's AWSCURRENT value, as BatchGetSecretValue returns it.
#[derive(Debug, Clone)]
pub struct CurrentValue {
    pub arn: String,
    pub name: String,
    /// When the AWSCURRENT version was made: a rotation, or a value stored by hand.
    pub created: Option<SystemTime>,
    pub text: SecretString,
}

/// A secret BatchGetSecretValue could not read: its `Errors` entry (a customer managed KMS key
/// that refuses to decrypt, access denied, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableSecret {
    /// The secret's name or ARN, as AWS gives it.
    pub secret_id: String,
    pub code: String,
    pub message: String,
}

/// What one sweep of BatchGetSecretValue got: the values it could read, and the secrets it could not.
#[derive(Debug, Clone, Default)]
pub struct CurrentValues {
    pub values: Vec<CurrentValue>,
    pub unreadable: Vec<UnreadableSecret>,
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

    /// Sets a tag on the secret (the CLI's note of a rotation it started).
    fn tag(
        &self,
        secret_id: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    fn untag(&self, secret_id: &str, key: &str) -> impl Future<Output = Result<()>> + Send;

    /// Every secret whose name starts with `name_prefix` (every secret for ""), page by page.
    fn list_secrets(
        &self,
        name_prefix: &str,
    ) -> impl Future<Output = Result<Vec<SecretSummary>>> + Send;

    /// The AWSCURRENT values of every secret whose name starts with `name_prefix`, 20 per call
    /// (BatchGetSecretValue), and the secrets it could not read.
    fn current_values(
        &self,
        name_prefix: &str,
    ) -> impl Future<Output = Result<CurrentValues>> + Send;

    /// Creates a secret with these tags (in the same call, so it never exists without them);
    /// returns its ARN.
    fn create_secret(
        &self,
        name: &str,
        value: &SecretString,
        tags: &[(&str, &str)],
    ) -> impl Future<Output = Result<String>> + Send;

    /// The secret's resource policy (JSON), if it has one.
    fn resource_policy(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Turns rotation on with `function_arn` on `schedule`, which starts a rotation now.
    fn attach_rotation(
        &self,
        secret_id: &str,
        function_arn: &str,
        schedule: &Schedule,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// When Secrets Manager rotates a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every so many days (1 to 1000).
    Days(i64),
    /// `rate(...)` or `cron(...)`.
    Expression(String),
}

/// Lambda, to read the settings of the function deployed to rotate a secret.
pub trait Functions: Send + Sync {
    /// The function's environment variables (its configuration, never its code).
    fn environment(
        &self,
        function_arn: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
}

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

/// IAM, as far as rotation needs it.
pub trait Iam: Send + Sync {
    /// `None` when no user has that name.
    fn user(&self, name: &str) -> impl Future<Output = Result<Option<IamUser>>> + Send;

    fn list_keys(&self, user: &str) -> impl Future<Output = Result<Vec<KeyInfo>>> + Send;

    fn create_key(&self, user: &str) -> impl Future<Output = Result<AccessKey>> + Send;

    fn deactivate_key(&self, user: &str, key_id: &str) -> impl Future<Output = Result<()>> + Send;

    /// Succeeds when the key is already gone.
    fn delete_key(&self, user: &str, key_id: &str) -> impl Future<Output = Result<()>> + Send;

    /// When, where and by which service the key was last used; `None` if never.
    fn last_used(&self, key_id: &str) -> impl Future<Output = Result<Option<KeyUsage>>> + Send;

    fn create_user(&self, name: &str, path: &str) -> impl Future<Output = Result<IamUser>> + Send;

    fn tag_user(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Asks IAM for a fresh credential report; `true` once one is ready.
    fn generate_credential_report(&self) -> impl Future<Output = Result<bool>> + Send;

    fn credential_report(&self) -> impl Future<Output = Result<CredentialReport>> + Send;
}

/// Every outside service a capability may call, as one bundle: adding a service adds an associated
/// type here, and no capability's signature changes.
pub trait Services: Send + Sync {
    type Secrets: SecretStore;
    type Iam: Iam;
    type Keys: KeyChecker;

    fn secrets(&self) -> &Self::Secrets;
    fn iam(&self) -> &Self::Iam;
    /// STS, to prove a new key works.
    fn keys(&self) -> &Self::Keys;
}

/// The services as plain fields: the SDK clients (see `wiring`), or fakes in tests.
pub struct Clients<S, I, K> {
    pub secrets: S,
    pub iam: I,
    pub keys: K,
}

impl<S: SecretStore, I: Iam, K: KeyChecker> Services for Clients<S, I, K> {
    type Secrets = S;
    type Iam = I;
    type Keys = K;

    fn secrets(&self) -> &S {
        &self.secrets
    }

    fn iam(&self) -> &I {
        &self.iam
    }

    fn keys(&self) -> &K {
        &self.keys
    }
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
