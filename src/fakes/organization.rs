//! An organization and Security Hub in memory, for the organization-wide audit's tests.

use std::sync::{Arc, Mutex};

use super::lock;
use crate::error::{Error, Result};
use crate::services::{FindingsHub, HubFinding, OrgAccount, OrgUnit, OrganizationTree};

/// The tree: units by parent, accounts by parent. The caller is the management account.
#[derive(Clone, Default)]
pub struct FakeOrganization {
    pub management: String,
    units: Arc<Mutex<Vec<(String, OrgUnit)>>>,
    accounts: Arc<Mutex<Vec<(String, OrgAccount)>>>,
}

pub const ROOT: &str = "r-root";

impl FakeOrganization {
    pub fn new(management: &str) -> Self {
        let org = FakeOrganization {
            management: management.to_string(),
            ..FakeOrganization::default()
        };
        org.add_account(ROOT, management, "management");
        org
    }

    pub fn add_unit(&self, parent: &str, id: &str, name: &str) {
        lock(&self.units).push((
            parent.to_string(),
            OrgUnit {
                id: id.into(),
                name: name.into(),
            },
        ));
    }

    pub fn add_account(&self, parent: &str, id: &str, name: &str) {
        lock(&self.accounts).push((
            parent.to_string(),
            OrgAccount {
                id: id.into(),
                name: name.into(),
                state: "ACTIVE".into(),
            },
        ));
    }

    pub fn suspend(&self, id: &str) {
        for (_, a) in lock(&self.accounts).iter_mut().filter(|(_, a)| a.id == id) {
            a.state = "SUSPENDED".into();
        }
    }
}

impl OrganizationTree for FakeOrganization {
    async fn caller_account(&self) -> Result<String> {
        Ok(self.management.clone())
    }

    async fn roots(&self) -> Result<Vec<OrgUnit>> {
        Ok(vec![OrgUnit {
            id: ROOT.into(),
            name: "Root".into(),
        }])
    }

    async fn child_units(&self, parent: &str) -> Result<Vec<OrgUnit>> {
        Ok(lock(&self.units)
            .iter()
            .filter(|(p, _)| p == parent)
            .map(|(_, u)| u.clone())
            .collect())
    }

    async fn accounts_in(&self, parent: &str) -> Result<Vec<OrgAccount>> {
        Ok(lock(&self.accounts)
            .iter()
            .filter(|(p, _)| p == parent)
            .map(|(_, a)| a.clone())
            .collect())
    }
}

/// Security Hub: findings by id, updated in place on import, as AWS does.
#[derive(Clone, Default)]
pub struct FakeHub {
    pub findings: Arc<Mutex<Vec<HubFinding>>>,
    pub calls: Arc<Mutex<Vec<usize>>>,
    /// Security Hub not enabled in the region: every call refused, as AWS does.
    pub not_enabled: Arc<Mutex<bool>>,
    /// After this many imports, every import is throttled beyond the SDK's retries.
    pub throttled_after: Arc<Mutex<Option<usize>>>,
}

impl FakeHub {
    fn refusal(&self) -> Option<Error> {
        (*lock(&self.not_enabled)).then(|| Error::Aws {
            operation: "GetFindings",
            code: Some("InvalidAccessException".into()),
            status: Some(401),
            message: "Account 123456789012 is not subscribed to AWS Security Hub".into(),
        })
    }
}

impl FindingsHub for FakeHub {
    async fn import(&self, findings: &[HubFinding]) -> Result<Vec<(String, String)>> {
        assert!(
            findings.len() <= 100,
            "BatchImportFindings takes 100 at most"
        );
        if let Some(e) = self.refusal() {
            return Err(e);
        }
        if lock(&self.throttled_after).is_some_and(|n| lock(&self.calls).len() >= n) {
            return Err(Error::Aws {
                operation: "BatchImportFindings",
                code: Some("ThrottlingException".into()),
                status: Some(429),
                message: "Rate exceeded".into(),
            });
        }
        lock(&self.calls).push(findings.len());
        let mut stored = lock(&self.findings);
        for f in findings {
            match stored
                .iter_mut()
                .find(|s| s.id == f.id && s.product_arn == f.product_arn)
            {
                Some(s) => *s = f.clone(),
                None => stored.push(f.clone()),
            }
        }
        Ok(Vec::new())
    }

    async fn active(&self, product_arn: &str, generator: &str) -> Result<Vec<HubFinding>> {
        if let Some(e) = self.refusal() {
            return Err(e);
        }
        Ok(lock(&self.findings)
            .iter()
            .filter(|f| {
                f.product_arn == product_arn
                    && f.generator_id.starts_with(generator)
                    && f.record_state == "ACTIVE"
            })
            .cloned()
            .collect())
    }
}
