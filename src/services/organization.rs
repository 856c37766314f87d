//! AWS Organizations, as far as the organization-wide audit needs it: the tree of organizational
//! units and the accounts in each.

use std::future::Future;

use crate::error::Result;

/// A unit of the tree: the root or an organizational unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUnit {
    pub id: String,
    pub name: String,
}

/// A member account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`: only an active account can be audited.
    pub state: String,
}

/// The organization's tree, read from its management account or a delegated administrator.
/// Each call returns every page.
pub trait OrganizationTree: Send + Sync {
    /// The account the caller is in (STS GetCallerIdentity).
    fn caller_account(&self) -> impl Future<Output = Result<String>> + Send;

    fn roots(&self) -> impl Future<Output = Result<Vec<OrgUnit>>> + Send;

    /// The organizational units directly under `parent` (ListChildren).
    fn child_units(&self, parent: &str) -> impl Future<Output = Result<Vec<OrgUnit>>> + Send;

    /// The accounts directly under `parent` (ListAccountsForParent).
    fn accounts_in(&self, parent: &str) -> impl Future<Output = Result<Vec<OrgAccount>>> + Send;
}
