//! The sweep: what happens after a rotation. It retires each secret's previous key by the policy
//! (a grace period driven by actual use, deletion after a while) and watches every secret,
//! reporting what an operator must see. Thin entry points: the Lambda's `{"Action": "sweep"}` and
//! the CLI's `sweep` and `retire`.

mod carry_out;
mod deliveries;
mod health;
mod listing;
mod previous_key;
mod retire;

use std::time::{Instant, SystemTime};

use futures::StreamExt;
use serde::Serialize;
use tracing::{error, info, warn};

use crate::delivery::Holding;
use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::services::{KeyUsage, SecretCatalog, SecretSummary, Services};

pub use crate::retirement::{Decision, NOTE_TAG, decide};
pub use retire::retire;

/// What the sweep reports, each as a log line and a metric of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FindingKind {
    /// The previous key is still used after its grace period; it is kept Active.
    PreviousKeyInUse,
    /// The secret is more than a day past its next rotation date.
    RotationOverdue,
    /// AWSPENDING has sat on a version that is not AWSCURRENT for more than an hour.
    RotationStuck,
    /// A secret under the prefix that nothing (or another function) rotates.
    RotationDisabled,
    /// The AWSCURRENT key is missing or not Active: an outage now.
    CurrentKeyBroken,
    /// The user holds an active key that no version of the secret knows.
    UnknownKey,
    /// A destination the secret lists does not hold the current key: someone overwrote or
    /// deleted it, or it was never delivered. Its consumers sign with something else.
    DeliveryStale,
}

impl FindingKind {
    pub const ALL: [FindingKind; 7] = [
        FindingKind::PreviousKeyInUse,
        FindingKind::RotationOverdue,
        FindingKind::RotationStuck,
        FindingKind::RotationDisabled,
        FindingKind::CurrentKeyBroken,
        FindingKind::UnknownKey,
        FindingKind::DeliveryStale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::PreviousKeyInUse => "PreviousKeyInUse",
            FindingKind::RotationOverdue => "RotationOverdue",
            FindingKind::RotationStuck => "RotationStuck",
            FindingKind::RotationDisabled => "RotationDisabled",
            FindingKind::CurrentKeyBroken => "CurrentKeyBroken",
            FindingKind::UnknownKey => "UnknownKey",
            FindingKind::DeliveryStale => "DeliveryStale",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub secret_id: String,
    pub kind: FindingKind,
    pub detail: String,
}

/// A key's last use, as IAM reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastUse {
    pub when: String,
    pub service: Option<String>,
    pub region: Option<String>,
}

impl From<&KeyUsage> for LastUse {
    fn from(usage: &KeyUsage) -> Self {
        LastUse {
            when: humantime::format_rfc3339_seconds(usage.when).to_string(),
            service: usage.service.clone(),
            region: usage.region.clone(),
        }
    }
}

/// What the sweep did (or, in a dry run, would do) to a previous key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Deactivated,
    Deleted,
    /// Used within the quiet time: stays Active, and is reported.
    KeptInUse,
    /// Switched back on by someone: every sweep leaves it until the next rotation.
    LeftAlone,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Deactivated => "deactivated",
            ActionKind::Deleted => "deleted",
            ActionKind::KeptInUse => "kept_in_use",
            ActionKind::LeftAlone => "left_alone",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub secret_id: String,
    pub key_id: String,
    pub action: ActionKind,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<LastUse>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Secrets looked at.
    pub secrets: usize,
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
    /// What each destination of the secrets looked at holds (secrets that deliver somewhere).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
    /// Secrets the sweep could not finish, with why; the others were swept all the same.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    pub dry_run: bool,
    /// When the run's deadline came before every secret was looked at: the name to start after
    /// next time (`StartAfter`), and how many secrets are left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub left: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A destination of a secret, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub secret_id: String,
    #[serde(flatten)]
    pub holding: Holding,
}

/// What to sweep, and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only this secret (name or ARN); it is then also checked in depth.
    pub secret_id: Option<String>,
    /// Report what would be done, change nothing.
    pub dry_run: bool,
    /// Check every secret's keys (CurrentKeyBroken, UnknownKey), not only those the policy is
    /// working on: one IAM look per secret.
    pub deep: bool,
    /// This function's ARN: a secret rotated by another function is reported, not swept.
    pub function_arn: Option<String>,
    /// Only these secrets (ARNs), when given; the others are neither swept nor reported.
    pub only: Option<Vec<String>>,
    /// Start no secret after this instant: the rest are left for the next run (`Summary::next`).
    pub deadline: Option<Instant>,
    /// Only the secrets whose names sort after this one: the continuation of a run that stopped
    /// at its deadline. Secrets are looked at in name order, so a chain of runs visits each once.
    pub start_after: Option<String>,
}

/// Sweeps every secret under the configured prefix. A secret that needs nothing costs no call
/// beyond the ListSecrets pages: only secrets whose previous key the policy is working on (and,
/// with `deep`, every secret) are looked at in IAM.
pub async fn sweep<X: Services>(
    rotator: &Rotator<X>,
    options: &Options,
    now: SystemTime,
) -> Result<Summary> {
    let config = rotator.config();
    let mut secrets = rotator
        .secrets()
        .list_secrets(&config.secret_name_prefix)
        .await?;
    if let Some(only) = &options.only {
        secrets.retain(|s| only.contains(&s.arn));
    }
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(after) = &options.start_after {
        secrets.retain(|s| s.name > *after);
    }
    if let Some(id) = &options.secret_id {
        secrets.retain(|s| s.arn == *id || s.name == *id);
        if secrets.is_empty() {
            return Err(Error::SecretNotFound {
                secret: id.clone(),
                prefix: config.secret_name_prefix.clone(),
            });
        }
    }
    let mut report = Summary {
        dry_run: options.dry_run,
        ..Summary::default()
    };
    // A few secrets at a time: IAM and STS share an account-wide rate that the sweep must not eat.
    // Each starts only before the deadline; they start in order, so those left are the last ones.
    let sweeps: Vec<_> = secrets
        .iter()
        .map(|secret| async move {
            if options.deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            Some(sweep_one(rotator, secret, options, now).await)
        })
        .collect();
    let mut swept = futures::stream::iter(sweeps).buffered(CONCURRENCY);
    let mut last = None;
    let mut index = 0;
    while let Some(one) = swept.next().await {
        let secret = &secrets[index];
        index += 1;
        let Some(one) = one else {
            report.left += 1;
            continue;
        };
        last = Some(secret.name.clone());
        report.secrets += 1;
        report.actions.extend(one.actions);
        report.findings.extend(one.findings);
        report.deliveries.extend(one.deliveries);
        report.errors.extend(one.errors);
    }
    if report.left > 0 {
        // Nothing visited: the next run would start at the same place. Say so instead.
        let Some(last) = last else {
            return Err(Error::InvalidConfig(format!(
                "the sweep had no time left for any of its {} secrets: raise the function's timeout (FunctionTimeoutSeconds)",
                report.left
            )));
        };
        report.next = Some(last);
    }
    publish(&report);
    Ok(report)
}

/// Secrets looked at in IAM at once.
const CONCURRENCY: usize = 8;

/// One secret's share of the report.
async fn sweep_one<X: Services>(
    rotator: &Rotator<X>,
    secret: &SecretSummary,
    options: &Options,
    now: SystemTime,
) -> Summary {
    let mut report = Summary::default();
    let triage = listing::triage(
        secret,
        rotator.config(),
        options.function_arn.as_deref(),
        now,
    );
    report.findings.extend(triage.findings);
    if let Some(version) = &triage.unfinished {
        match listing::stuck(rotator.secrets(), secret, version, now).await {
            Ok(finding) => report.findings.extend(finding),
            Err(e) => report.errors.push(format!("{}: {e}", secret.name)),
        }
        return report;
    }
    let wanted = triage.has_work || options.deep || options.secret_id.is_some();
    if triage.managed
        && wanted
        && let Err(e) = previous_key::examine(rotator, secret, options, now, &mut report).await
    {
        report.errors.push(format!("{}: {e}", secret.name));
    }
    report
}

/// One log line per action and finding, and their metrics.
fn publish(report: &Summary) {
    for action in &report.actions {
        info!(secret = %action.secret_id, key_id = %action.key_id, action = action.action.as_str(), reason = %action.reason, dry_run = report.dry_run, "sweep action");
    }
    for finding in &report.findings {
        warn!(secret = %finding.secret_id, finding = finding.kind.as_str(), detail = %finding.detail, "sweep finding");
    }
    if let Some(next) = &report.next {
        warn!(left = report.left, start_after = %next, "the sweep stopped at its deadline; the next run starts after this secret");
    }
    for e in &report.errors {
        error!(error = %e, "could not sweep this secret");
    }
    crate::metrics::sweep_errors(report.errors.len() as u64);
    if report.dry_run {
        return;
    }
    let count = |kind| report.actions.iter().filter(|a| a.action == kind).count() as u64;
    crate::metrics::keys_retired(count(ActionKind::Deactivated), count(ActionKind::Deleted));
    for kind in FindingKind::ALL {
        let n = report.findings.iter().filter(|f| f.kind == kind).count() as u64;
        crate::metrics::sweep_findings(kind.as_str(), n);
    }
}

#[cfg(test)]
mod tests;
