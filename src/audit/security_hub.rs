//! The audit's findings in Security Hub: one ASFF finding per (account, user, key, check), so a
//! re-run updates instead of duplicating, and the findings of an earlier run that no longer hold
//! marked resolved (PASSED, ARCHIVED). Only accounts audited in this run are resolved: an account
//! that could not be reached keeps its findings.

use std::collections::{HashMap, HashSet};
use std::time::{Instant, SystemTime};

use serde::Serialize;

use super::unseen::UNREADABLE_SECRET;
use super::{Finding, Severity};
use crate::error::{Error, Remedy};
use crate::services::{FindingsHub, HubFinding};

/// Every finding's GeneratorId starts with this, which is how a run finds the earlier ones.
pub const GENERATOR: &str = "iam-key-rotator/";
/// BatchImportFindings takes at most this many findings a call.
const BATCH: usize = 100;

/// Where the findings are imported: the importing account's own product in its region.
#[derive(Debug, Clone)]
pub struct Destination {
    pub partition: String,
    pub region: String,
    /// The account that imports (the audit's own).
    pub account: String,
}

impl Destination {
    /// The product ARN Security Hub gives findings a customer imports.
    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            self.partition, self.region, self.account, self.account
        )
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Imported {
    /// Findings written (new or updated).
    pub imported: usize,
    /// Findings of an earlier run that no longer hold, marked resolved.
    pub resolved: usize,
    /// Findings and resolutions Security Hub refused: (id, why).
    pub refused: Vec<(String, String)>,
    /// Findings not written: Security Hub failed, or the run's deadline came first.
    pub not_written: usize,
    /// Earlier findings that no longer hold but could not be marked resolved, for the same reasons.
    pub not_resolved: usize,
    /// Why Security Hub could not be read or written, and what to do; the audit itself stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<HubFailure>,
}

/// Security Hub failing the import: the error's kind and message, with what to do.
#[derive(Debug, Clone, Serialize)]
pub struct HubFailure {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub message: String,
    #[serde(skip)]
    pub remedy: Remedy,
}

impl HubFailure {
    fn of(error: &Error, to: &Destination) -> HubFailure {
        let what_to_do = match error.remedy() {
            Remedy::Retry => "run the audit again later".to_string(),
            _ => format!(
                "enable Security Hub in {} and give this role securityhub:GetFindings and securityhub:BatchImportFindings on this account's own product, then run the audit again",
                to.region
            ),
        };
        HubFailure {
            kind: error.kind(),
            message: format!(
                "Security Hub in {} did not take the findings ({error}); the audit's report stands. To import them, {what_to_do}: findings already imported are updated, not duplicated",
                to.region
            ),
            remedy: error.remedy(),
        }
    }

    fn out_of_time() -> HubFailure {
        HubFailure {
            kind: "DeadlineReached",
            message: "the run's deadline came before every finding reached Security Hub; those not written get there when their accounts are next audited".into(),
            remedy: Remedy::Retry,
        }
    }
}

impl Imported {
    /// Nothing imported: Security Hub failed before the first finding was written.
    pub fn failed(error: &Error, to: &Destination, findings: usize) -> Imported {
        Imported {
            not_written: findings,
            failed: Some(HubFailure::of(error, to)),
            ..Imported::default()
        }
    }

    /// What did not reach Security Hub (refused, not written, not resolved), and at least 1 when
    /// it failed at all: what `SecurityHubNotImported` counts, so a failure with nothing to
    /// import still raises its alarm.
    pub fn not_imported(&self) -> usize {
        let missing = self.refused.len() + self.not_written + self.not_resolved;
        missing.max(usize::from(self.failed.is_some()))
    }
}

/// Which earlier findings a run judged, so may resolve when it did not find them again: those of
/// the accounts it audited, and the unreadable-secret findings of the account whose secrets it
/// read (its own, which an organization's run may leave out of its selection).
#[derive(Debug, Clone, Default)]
pub struct Judged {
    pub accounts: HashSet<String>,
    pub secrets_of: Option<String>,
}

impl Judged {
    /// The findings of these accounts.
    pub fn accounts(accounts: impl IntoIterator<Item = String>) -> Judged {
        Judged {
            accounts: accounts.into_iter().collect(),
            secrets_of: None,
        }
    }

    fn covers(&self, earlier: &HubFinding) -> bool {
        self.accounts.contains(&earlier.account_id)
            || (self.secrets_of.as_deref() == Some(earlier.account_id.as_str())
                && earlier.generator_id == format!("{GENERATOR}{UNREADABLE_SECRET}"))
    }
}

/// Imports `findings` (each with the account it was found in), and resolves the earlier findings
/// this run judged (`judged`) and did not find again, starting no call after
/// `deadline`. Security Hub failing (not set up, access denied, throttled past the SDK's retries)
/// is reported in the answer, never as an error: the audit it imports stands without it.
pub async fn import<H: FindingsHub>(
    hub: &H,
    to: &Destination,
    findings: &[(String, &Finding)],
    judged: &Judged,
    now: SystemTime,
    deadline: Option<Instant>,
) -> Imported {
    let product = to.product_arn();
    let mut batch: Vec<HubFinding> = Vec::new();
    let mut seen = HashSet::new();
    for (account, finding) in findings {
        let hub_finding = to_hub(to, &product, account, finding, now);
        if seen.insert(hub_finding.id.clone()) {
            batch.push(hub_finding);
        }
    }
    let earlier: HashMap<String, HubFinding> = match hub.active(&product, GENERATOR).await {
        Ok(found) => found
            .into_iter()
            // GetFindings filters on AWS's side; a finding of another product never counts as ours.
            .filter(|f| f.product_arn == product && f.generator_id.starts_with(GENERATOR))
            .map(|f| (f.id.clone(), f))
            .collect(),
        // Without the earlier findings nothing can be resolved, and first-seen dates would be lost.
        Err(e) => return Imported::failed(&e, to, batch.len()),
    };
    for hub_finding in &mut batch {
        if let Some(first) = earlier.get(&hub_finding.id) {
            hub_finding.created_at = first.created_at;
        }
    }
    for old in earlier.into_values() {
        if !seen.contains(&old.id) && judged.covers(&old) {
            batch.push(HubFinding {
                updated_at: now,
                compliance: "PASSED".into(),
                record_state: "ARCHIVED".into(),
                ..old
            });
        }
    }
    let mut report = Imported::default();
    for (n, chunk) in batch.chunks(BATCH).enumerate() {
        let answer = match deadline.is_some_and(|d| Instant::now() >= d) {
            true => Err(None),
            false => hub.import(chunk).await.map_err(Some),
        };
        let refused = match answer {
            Ok(refused) => refused,
            Err(error) => {
                // What was written stays written; the next run writes the rest.
                let (new, old): (Vec<&HubFinding>, Vec<&HubFinding>) = batch[n * BATCH..]
                    .iter()
                    .partition(|f| seen.contains(&f.id));
                (report.not_written, report.not_resolved) = (new.len(), old.len());
                report.failed = Some(match error {
                    Some(e) => HubFailure::of(&e, to),
                    None => HubFailure::out_of_time(),
                });
                break;
            }
        };
        for f in chunk {
            if refused.iter().any(|(id, _)| *id == f.id) {
                continue;
            }
            match seen.contains(&f.id) {
                true => report.imported += 1,
                false => report.resolved += 1,
            }
        }
        report.refused.extend(refused);
    }
    report
}

/// One audit finding in Security Hub's format.
fn to_hub(
    to: &Destination,
    product: &str,
    account: &str,
    f: &Finding,
    now: SystemTime,
) -> HubFinding {
    let key = f
        .key
        .as_ref()
        .and_then(|k| k.id.clone().or_else(|| k.slot.map(|s| format!("slot-{s}"))));
    // A finding about a secret (one that cannot be read, whose user the audit may or may not
    // guess) is told apart by the secret (never by its text, which quotes AWS's changing error
    // message), so that two of them neither collide nor go without a resource, and a re-run
    // updates the same one whatever it guessed.
    let subject = match (&f.secret, f.user.is_empty()) {
        (Some(secret), _) => format!("secret/{}", short_hash(secret)),
        (None, false) => f.user.clone(),
        (None, true) => format!("-/{}", short_hash(&f.detail)),
    };
    let (resource_type, resource_id) = match f.key.as_ref().and_then(|k| k.id.as_deref()) {
        Some(id) => ("AwsIamAccessKey", id.to_string()),
        None if f.arn.is_empty() => ("Other", format!("{account}/{}/{subject}", f.check)),
        None => ("AwsIamUser", f.arn.clone()),
    };
    let controls = f.controls.label();
    let title = match controls.is_empty() {
        true => format!("{} for IAM user {}", f.check, f.user),
        false => format!("{controls}: {} for IAM user {}", f.check, f.user),
    };
    let types = match f.controls.cis {
        Some(_) => {
            "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
        }
        None => "Software and Configuration Checks/AWS Security Best Practices",
    };
    HubFinding {
        id: format!(
            "{GENERATOR}{account}/{subject}/{}/{}",
            key.as_deref().unwrap_or("user"),
            f.check
        ),
        product_arn: product.to_string(),
        generator_id: format!("{GENERATOR}{}", f.check),
        account_id: account.to_string(),
        region: to.region.clone(),
        created_at: now,
        updated_at: now,
        severity: match f.severity {
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
        }
        .into(),
        title: clip(&title, 256),
        description: clip(&f.detail, 1024),
        types: vec![types.into()],
        resource_type: resource_type.into(),
        resource_id,
        remediation: clip(&f.remedy, 512),
        compliance: "FAILED".into(),
        record_state: "ACTIVE".into(),
    }
}

/// 8 bytes of SHA-256, in hex: stable across runs, as a finding's id must be.
fn short_hash(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// ASFF's length limits, cut on a character boundary.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}
