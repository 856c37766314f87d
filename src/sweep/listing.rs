//! Triage from ListSecrets alone: the findings a secret's listing shows, and whether the policy has
//! work on its previous key now (only then does the sweep look further, in IAM).

use std::time::{Duration, SystemTime};

use super::{Finding, FindingKind};
use crate::config::Config;
use crate::error::Result;
use crate::services::{AWSCURRENT, AWSPENDING, SecretStore, SecretSummary};

const DAY: Duration = Duration::from_secs(24 * 3600);
/// A rotation takes seconds to minutes; AWSPENDING off AWSCURRENT for longer is stuck.
const STUCK_AFTER: Duration = Duration::from_secs(3600);

pub struct Triage {
    pub findings: Vec<Finding>,
    /// Rotated by this function (or, without one, by any function).
    pub managed: bool,
    /// The version AWSPENDING sits on, off AWSCURRENT: a rotation in progress, never touched.
    pub unfinished: Option<String>,
    /// The policy has work on the previous key now.
    pub has_work: bool,
}

pub fn triage(
    secret: &SecretSummary,
    config: &Config,
    function_arn: Option<&str>,
    now: SystemTime,
) -> Triage {
    let finding = |kind, detail: String| Finding {
        secret_id: secret.name.clone(),
        kind,
        detail,
    };
    let mut findings = Vec::new();
    let rotated_by = secret.rotation_function();
    let managed = secret.rotation_enabled
        && match (rotated_by, function_arn) {
            (Some(by), Some(this)) => same_function(by, this),
            (Some(_), None) => true,
            (None, _) => false,
        };
    if !managed {
        let detail = match (secret.rotation_enabled, rotated_by) {
            (true, Some(by)) => format!("rotated by another function, {by}"),
            _ => "rotation is off: nothing rotates this secret".to_string(),
        };
        findings.push(finding(FindingKind::RotationDisabled, detail));
    }
    if let Some(next) = secret.next_rotation
        && now > next + DAY
    {
        findings.push(finding(
            FindingKind::RotationOverdue,
            format!(
                "its next rotation was due at {}",
                humantime::format_rfc3339_seconds(next)
            ),
        ));
    }
    let unfinished = secret
        .versions
        .iter()
        .find(|v| v.has(AWSPENDING) && !v.has(AWSCURRENT))
        .map(|v| v.id.clone());
    let has_work = managed && unfinished.is_none() && config.retirement().has_work(secret, now);
    Triage {
        findings,
        managed,
        unfinished,
        has_work,
    }
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`: the same function whatever the qualifier.
pub(super) fn same_function(a: &str, b: &str) -> bool {
    let unqualified = |arn: &str| arn.split(':').take(7).collect::<Vec<_>>().join(":");
    unqualified(a) == unqualified(b)
}

/// RotationStuck when the unfinished rotation's version is more than an hour old (one call).
pub async fn stuck<S: SecretStore>(
    secrets: &S,
    secret: &SecretSummary,
    version: &str,
    now: SystemTime,
) -> Result<Option<Finding>> {
    let versions = secrets.list_versions(&secret.arn).await?;
    let created = versions
        .iter()
        .find(|v| v.id == version)
        .and_then(|v| v.created);
    Ok(created
        .filter(|created| now > *created + STUCK_AFTER)
        .map(|created| Finding {
            secret_id: secret.name.clone(),
            kind: FindingKind::RotationStuck,
            detail: format!(
                "AWSPENDING has been on version {version} since {}; finish it or cancel it (iam-key-rotator-cli rotate, or cancel)",
                humantime::format_rfc3339_seconds(created)
            ),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_function_matches_whatever_its_qualifier() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:rotator";
        assert!(same_function(arn, &format!("{arn}:live")));
        assert!(!same_function(
            arn,
            "arn:aws:lambda:us-east-1:123456789012:function:other"
        ));
    }
}
