//! Secrets Manager, as far as the capabilities need it: what it tells about a secret and its
//! versions, and the trait its adapter and fakes implement.

use std::future::Future;
use std::time::SystemTime;

use secrecy::SecretString;

use super::{AWSCURRENT, AWSPENDING};
use crate::error::Result;

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
        labelled(&self.versions, label)
    }

    /// The version a rotation left AWSPENDING on without finishing it; `None` when AWSPENDING
    /// is on no version or on AWSCURRENT (which is how a successful rotation may end).
    pub fn unfinished_rotation(&self) -> Option<&SecretVersion> {
        self.labelled(AWSPENDING).filter(|v| !v.has(AWSCURRENT))
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        tag(&self.tags, key)
    }

    /// The function rotation is attached to, whether rotation is on or paused: its deployment
    /// decides how this secret's keys are treated.
    pub fn rotation_function(&self) -> Option<&str> {
        attached(&self.rotation_lambda_arn)
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
        labelled(&self.versions, label)
    }

    /// The function rotation is attached to, whether rotation is on or paused: its deployment
    /// decides how this secret's keys are treated.
    pub fn rotation_function(&self) -> Option<&str> {
        attached(&self.rotation_lambda_arn)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        tag(&self.tags, key)
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

/// A secret and its versions: what a rotation reads and writes.
pub trait SecretVersions: Send + Sync {
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

/// The tags this tool keeps on a secret: the CLI's note of its rotation, the sweep's note.
pub trait SecretTags: Send + Sync {
    /// Sets a tag on the secret (the CLI's note of a rotation it started).
    fn tag(
        &self,
        secret_id: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    fn untag(&self, secret_id: &str, key: &str) -> impl Future<Output = Result<()>> + Send;
}

/// The secrets of the account: listed, read in bulk, made, and attached to rotation.
pub trait SecretCatalog: Send + Sync {
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

/// Secrets Manager, as far as the capabilities need it: the three traits above, as one bound.
pub trait SecretStore: SecretVersions + SecretTags + SecretCatalog {}

impl<T: SecretVersions + SecretTags + SecretCatalog> SecretStore for T {}

/// When Secrets Manager rotates a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every so many days (1 to 1000).
    Days(i64),
    /// `rate(...)` or `cron(...)`.
    Expression(String),
}

/// What DescribeSecret and ListSecrets both tell, read one way.
fn labelled<'a>(versions: &'a [SecretVersion], label: &str) -> Option<&'a SecretVersion> {
    versions.iter().find(|v| v.has(label))
}

fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn attached(function_arn: &Option<String>) -> Option<&str> {
    function_arn.as_deref().filter(|arn| !arn.is_empty())
}
