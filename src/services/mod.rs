//! The outside services the capabilities call, as traits (one file each), and [`Services`], the one
//! bundle of them every capability takes: the SDK adapters live in `aws`, the fakes in `fakes`,
//! and `wiring` puts the real ones together.

mod accounts;
mod github;
mod iam;
mod lambda;
mod organization;
mod secrets;
mod security_hub;
mod ssm;
mod sts;

use std::time::SystemTime;

use secrecy::SecretString;

use crate::error::{Error, Result};

pub use accounts::MemberAccounts;
pub use github::{GitHubScope, GitHubSecrets, OrgAccess, PublicKey, SealedSecret};
pub use iam::{
    CredentialReport, CredentialReports, Iam, IamKeys, IamUser, IamUsers, KeyInfo, KeyStatus,
    KeyUsage,
};
pub use lambda::Functions;
pub use organization::{OrgAccount, OrgUnit, OrganizationTree};
pub use secrets::{
    CurrentValue, CurrentValues, Schedule, SecretCatalog, SecretInfo, SecretStore, SecretSummary,
    SecretTags, SecretVersion, SecretVersions, StoredValue, UnreadableSecret,
};
pub use security_hub::{FindingsHub, HubFinding};
pub use ssm::ParameterStore;
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
    type Parameters: ParameterStore;
    type GitHub: GitHubSecrets;
    type Accounts: MemberAccounts<Self::Iam>;
    type Organization: OrganizationTree;
    type SecurityHub: FindingsHub;

    fn secrets(&self) -> &Self::Secrets;
    /// IAM of the function's own account.
    fn iam(&self) -> &Self::Iam;
    /// IAM of the organization's member accounts.
    fn accounts(&self) -> &Self::Accounts;
    /// The organization's tree of accounts, for the organization-wide audit.
    fn organization(&self) -> &Self::Organization;
    /// Where the audit's findings may be imported.
    fn security_hub(&self) -> &Self::SecurityHub;
    /// STS, to prove a new key works.
    fn key_checker(&self) -> &Self::KeyChecker;
    /// SSM Parameter Store, a destination of new keys.
    fn parameters(&self) -> &Self::Parameters;
    /// GitHub Actions secrets, a destination of new keys.
    fn github(&self) -> &Self::GitHub;
}

/// The services as plain fields: the SDK clients (see `wiring`), or fakes in tests. The
/// destinations, member accounts, organization and Security Hub default to [`NotSetUp`], for
/// engines that deliver nowhere and reach no other account.
pub struct Clients<S, I, K, P = NotSetUp, G = NotSetUp, A = NotSetUp, O = NotSetUp, H = NotSetUp> {
    pub secrets: S,
    pub iam: I,
    pub keys: K,
    pub parameters: P,
    pub github: G,
    pub accounts: A,
    pub organization: O,
    pub security_hub: H,
}

impl<S, I, K, P, G, A, O, H> Services for Clients<S, I, K, P, G, A, O, H>
where
    S: SecretStore,
    I: Iam,
    K: KeyChecker,
    P: ParameterStore,
    G: GitHubSecrets,
    A: MemberAccounts<I>,
    O: OrganizationTree,
    H: FindingsHub,
{
    type Secrets = S;
    type Iam = I;
    type KeyChecker = K;
    type Parameters = P;
    type GitHub = G;
    type Accounts = A;
    type Organization = O;
    type SecurityHub = H;

    fn secrets(&self) -> &S {
        &self.secrets
    }

    fn iam(&self) -> &I {
        &self.iam
    }

    fn key_checker(&self) -> &K {
        &self.keys
    }

    fn parameters(&self) -> &P {
        &self.parameters
    }

    fn github(&self) -> &G {
        &self.github
    }

    fn accounts(&self) -> &A {
        &self.accounts
    }

    fn organization(&self) -> &O {
        &self.organization
    }

    fn security_hub(&self) -> &H {
        &self.security_hub
    }
}

/// A service this engine was not given: every call is refused. Delivery checks destinations
/// against the deployer's settings first, so only a wiring mistake reaches it; a secret naming
/// another account is told how to set member accounts up.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotSetUp;

fn not_set_up(service: &str) -> Error {
    Error::InvalidConfig(format!("this engine was built without {service}"))
}

impl<I: Iam> MemberAccounts<I> for NotSetUp {
    async fn member_iam(&self, account: &str, secret_arn: &str) -> Result<I> {
        Err(crate::accounts::no_member_role(secret_arn, account))
    }

    async fn role_iam(&self, account: &str, _: &str) -> Result<I> {
        Err(Error::InvalidConfig(format!(
            "this engine was built without member accounts, so it cannot reach {account}"
        )))
    }
}

impl Functions for NotSetUp {
    async fn environment(&self, _: &str) -> Result<Vec<(String, String)>> {
        Err(not_set_up("Lambda"))
    }

    async fn invoke_later(&self, _: &str, _: &serde_json::Value) -> Result<()> {
        Err(not_set_up("Lambda"))
    }
}

impl OrganizationTree for NotSetUp {
    async fn caller_account(&self) -> Result<String> {
        Err(not_set_up("Organizations"))
    }

    async fn roots(&self) -> Result<Vec<OrgUnit>> {
        Err(not_set_up("Organizations"))
    }

    async fn child_units(&self, _: &str) -> Result<Vec<OrgUnit>> {
        Err(not_set_up("Organizations"))
    }

    async fn accounts_in(&self, _: &str) -> Result<Vec<OrgAccount>> {
        Err(not_set_up("Organizations"))
    }
}

impl FindingsHub for NotSetUp {
    async fn import(&self, _: &[HubFinding]) -> Result<Vec<(String, String)>> {
        Err(not_set_up("Security Hub"))
    }

    async fn active(&self, _: &str, _: &str) -> Result<Vec<HubFinding>> {
        Err(not_set_up("Security Hub"))
    }
}

impl ParameterStore for NotSetUp {
    async fn get(&self, _: &str) -> Result<Option<SecretString>> {
        Err(not_set_up("SSM Parameter Store"))
    }

    async fn put(&self, _: &str, _: &SecretString, _: Option<&str>) -> Result<()> {
        Err(not_set_up("SSM Parameter Store"))
    }
}

impl GitHubSecrets for NotSetUp {
    async fn public_key(&self, _: &GitHubScope) -> Result<PublicKey> {
        Err(not_set_up("GitHub"))
    }

    async fn repository_id(&self, _: &str, _: &str) -> Result<u64> {
        Err(not_set_up("GitHub"))
    }

    async fn put_secret(
        &self,
        _: &GitHubScope,
        _: &str,
        _: &SealedSecret,
    ) -> Result<Option<SystemTime>> {
        Err(not_set_up("GitHub"))
    }

    async fn updated_at(&self, _: &GitHubScope, _: &str) -> Result<Option<SystemTime>> {
        Err(not_set_up("GitHub"))
    }
}
