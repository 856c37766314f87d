//! Security Hub, as far as the audit's import needs it: findings in its format (ASFF), imported,
//! and the ones this tool imported before that are still active.

use std::future::Future;
use std::time::SystemTime;

use crate::error::Result;

/// The fields of an ASFF finding this tool writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFinding {
    /// Stable per (account, user, key, check): importing it again updates it.
    pub id: String,
    pub product_arn: String,
    /// `iam-key-rotator/<check>`: what lets the tool find its own findings again.
    pub generator_id: String,
    pub account_id: String,
    pub region: String,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW` or `INFORMATIONAL`.
    pub severity: String,
    pub title: String,
    pub description: String,
    pub types: Vec<String>,
    /// `AwsIamUser` or `AwsIamAccessKey`, and its ARN or id.
    pub resource_type: String,
    pub resource_id: String,
    pub remediation: String,
    /// `FAILED` while the finding holds, `PASSED` once it no longer does.
    pub compliance: String,
    /// `ACTIVE`, or `ARCHIVED` once it no longer holds.
    pub record_state: String,
}

/// Security Hub's findings, for the account and region the audit runs in.
pub trait FindingsHub: Send + Sync {
    /// BatchImportFindings with at most 100 findings; returns the ids it refused, with why.
    fn import(
        &self,
        findings: &[HubFinding],
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;

    /// The active findings of `product_arn` whose GeneratorId starts with `generator`, every page.
    fn active(
        &self,
        product_arn: &str,
        generator: &str,
    ) -> impl Future<Output = Result<Vec<HubFinding>>> + Send;
}
