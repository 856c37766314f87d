//! GitHub's Actions secrets API, as far as delivery needs it: a scope's public key, writing a
//! sealed secret, and when a secret was last written (GitHub never gives a value back).

use std::fmt;
use std::future::Future;
use std::time::SystemTime;

use crate::error::Result;

/// Where on GitHub a set of Actions secrets lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GitHubScope {
    Repository {
        owner: String,
        repo: String,
    },
    /// A deployment environment of a repository (its secrets apply to jobs of that environment).
    Environment {
        owner: String,
        repo: String,
        environment: String,
    },
    Organization {
        org: String,
    },
}

impl GitHubScope {
    /// The account that owns the scope: what `ROTATOR_GITHUB_OWNERS` allows or not.
    pub fn owner(&self) -> &str {
        match self {
            GitHubScope::Repository { owner, .. } | GitHubScope::Environment { owner, .. } => owner,
            GitHubScope::Organization { org } => org,
        }
    }
}

impl fmt::Display for GitHubScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitHubScope::Repository { owner, repo } => write!(f, "{owner}/{repo}"),
            GitHubScope::Environment {
                owner,
                repo,
                environment,
            } => write!(f, "{owner}/{repo} (environment {environment})"),
            GitHubScope::Organization { org } => write!(f, "organization {org}"),
        }
    }
}

/// A scope's public key: values are sealed to it before they are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub key_id: String,
    /// The X25519 public key (32 bytes).
    pub key: Vec<u8>,
}

/// Which repositories of an organization may read an organization secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgAccess {
    Private,
    /// These repositories, by GitHub's numeric ids.
    Selected(Vec<u64>),
}

/// A value sealed to a scope's public key, ready to send.
#[derive(Debug, Clone)]
pub struct SealedSecret {
    /// The libsodium sealed box, base64: only GitHub can open it.
    pub encrypted_value: String,
    pub key_id: String,
    /// For an organization secret: who may read it.
    pub access: Option<OrgAccess>,
}

/// GitHub's Actions secrets API.
pub trait GitHubSecrets: Send + Sync {
    fn public_key(&self, scope: &GitHubScope) -> impl Future<Output = Result<PublicKey>> + Send;

    /// A repository's numeric id, which organization secrets name their repositories by.
    fn repository_id(&self, owner: &str, repo: &str) -> impl Future<Output = Result<u64>> + Send;

    /// Creates or replaces the secret `name` (GitHub's PUT is idempotent). Returns GitHub's own
    /// time of the write (its `Date`), when it tells it: the clock its `updated_at` is read by.
    fn put_secret(
        &self,
        scope: &GitHubScope,
        name: &str,
        sealed: &SealedSecret,
    ) -> impl Future<Output = Result<Option<SystemTime>>> + Send;

    /// When the secret was last written; `None` when it does not exist.
    fn updated_at(
        &self,
        scope: &GitHubScope,
        name: &str,
    ) -> impl Future<Output = Result<Option<SystemTime>>> + Send;
}
