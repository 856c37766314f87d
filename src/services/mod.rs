//! The outside services the capabilities call, as traits (one file each), and [`Services`], the one
//! bundle of them every capability takes: the SDK adapters live in `aws`, the fakes in `fakes`,
//! and `wiring` puts the real ones together.

mod iam;
mod lambda;
mod secrets;
mod sts;

pub use iam::{
    CredentialReport, CredentialReports, Iam, IamKeys, IamUser, IamUsers, KeyInfo, KeyStatus,
    KeyUsage,
};
pub use lambda::Functions;
pub use secrets::{
    CurrentValue, CurrentValues, Schedule, SecretCatalog, SecretInfo, SecretStore, SecretSummary,
    SecretTags, SecretVersion, SecretVersions, StoredValue, UnreadableSecret,
};
pub use sts::{CheckError, KeyChecker};

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// Every outside service a capability may call, as one bundle: adding a service adds an associated
/// type here, and no capability's signature changes.
pub trait Services: Send + Sync {
    type Secrets: SecretStore;
    type Iam: Iam;
    type KeyChecker: KeyChecker;

    fn secrets(&self) -> &Self::Secrets;
    fn iam(&self) -> &Self::Iam;
    /// STS, to prove a new key works.
    fn key_checker(&self) -> &Self::KeyChecker;
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
    type KeyChecker = K;

    fn secrets(&self) -> &S {
        &self.secrets
    }

    fn iam(&self) -> &I {
        &self.iam
    }

    fn key_checker(&self) -> &K {
        &self.keys
    }
}
