//! The audit: every access key of the account against CIS AWS Foundations v3.0 (and Security
//! Hub), from IAM's credential report, with each key told as managed (held by a secret this tool
//! rotates) or not, and each finding's fix as one command. Thin entry points: the CLI's `audit` and
//! the Lambda's `{"Action": "audit"}`.

mod checks;
mod credential_report;
mod matching;
pub mod organization;
mod render;
mod render_org;
pub mod run;
mod secrets;
pub mod security_hub;
mod selection;
mod unseen;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

use crate::backoff::Backoff;
use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::services::{Iam, Services};

pub use checks::{Controls, Finding, KeyRef, KnownKey, Managed, Seen, Severity};
pub use credential_report::{UserRow, parse};
pub use render::{to_csv, to_html, to_text};
pub use render_org::{org_to_csv, org_to_html, org_to_text};

/// A user carrying this tag (any value) gets no audit finding: an accepted exception, such as a
/// break-glass user, that a team records on the user itself.
pub const EXEMPT_TAG: &str = "iam-key-rotator:exempt";

/// How long to wait for IAM to generate the report before giving up.
pub const REPORT_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// When AWS generated the credential report (it serves one up to four hours old).
    #[serde(serialize_with = "serialize_time")]
    pub generated_at: Option<SystemTime>,
    pub users: Vec<UserView>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub user: String,
    pub arn: String,
    pub keys: Vec<KeyView>,
    /// Why this user's row of the report is older than IAM or a secret: its ages are not shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_stale: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub slot: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub active: bool,
    pub age_days: Option<u64>,
    #[serde(serialize_with = "serialize_time")]
    pub last_used: Option<SystemTime>,
    /// The secret under rotation that holds it; `None`: unmanaged.
    pub managed: Option<Managed>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub users: usize,
    pub active_keys: usize,
    pub managed_keys: usize,
    pub unmanaged_keys: usize,
    /// Active keys the audit cannot tell managed or not (a stale report, an unreadable secret, two
    /// keys of a rotated user made in the same second).
    pub unverified_keys: usize,
    /// Secrets BatchGetSecretValue could not read: the audit is incomplete while there are any.
    pub unreadable_secrets: usize,
    pub by_severity: BTreeMap<&'static str, usize>,
    pub by_check: BTreeMap<&'static str, usize>,
    pub report_age_hours: Option<u64>,
    /// Users whose findings were left out: they carry [`EXEMPT_TAG`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exempt_users: Vec<String>,
}

impl Audit {
    /// Whether a finding at `severity` or above exists (for `--fail-on`).
    pub fn has_finding_at_or_above(&self, severity: Severity) -> bool {
        self.findings.iter().any(|f| f.severity <= severity)
    }

    /// Whether some secret could not be read, so that some keys may be told wrongly.
    pub fn is_incomplete(&self) -> bool {
        self.summary.unreadable_secrets > 0
    }
}

/// Audits the account: generates the credential report (progress told through `progress`),
/// reads the secrets under the configured prefix (20 values per call), and runs the checks.
pub async fn audit<X: Services>(
    rotator: &Rotator<X>,
    report_csv: Option<String>,
    now: SystemTime,
    progress: impl Fn(&str),
) -> Result<Audit> {
    let (generated_at, csv) = match report_csv {
        Some(csv) => (None, csv),
        None => {
            let report = fresh_report(rotator.own_iam(), &progress).await?;
            (report.generated, report.csv)
        }
    };
    let prefix = &rotator.config().secret_name_prefix;
    let held = secrets::read(rotator.secrets(), prefix).await?;
    let report = Report { generated_at, csv };
    audit_account(rotator, rotator.own_iam(), &held, report, now, &progress).await
}

/// A credential report's text and when AWS made it.
struct Report {
    generated_at: Option<SystemTime>,
    csv: String,
}

/// Audits one account, whose IAM is `iam` and whose users' secrets `held` tells, from `report`.
/// Users tagged [`EXEMPT_TAG`] get no finding.
async fn audit_account<X: Services, I: Iam>(
    rotator: &Rotator<X>,
    iam: &I,
    held: &secrets::SecretKeys,
    report: Report,
    now: SystemTime,
    progress: &impl Fn(&str),
) -> Result<Audit> {
    let Report { generated_at, csv } = report;
    let rows = credential_report::parse(&csv).map_err(Error::InvalidCredentialReport)?;
    progress(&format!("read the credential report: {} users", rows.len()));
    let prefix = &rotator.config().secret_name_prefix;
    let looked = matching::look_up(rotator.secrets(), iam, &rows, held, generated_at).await?;
    let mut seen = Seen {
        function_arn: held.function_arn.clone(),
        member_account: held.member.clone(),
        unreadable: held.unreadable.iter().map(|u| u.name.clone()).collect(),
        ..Seen::default()
    };
    for (user, keys) in &looked {
        seen.named_users.insert(user.clone());
        for (slot, id, managed) in &keys.slots {
            seen.known.insert(
                (user.clone(), *slot),
                KnownKey {
                    id: Some(id.clone()),
                    managed: managed.clone(),
                },
            );
        }
        if keys.stale.is_some() {
            seen.stale_users.insert(user.clone());
        }
    }
    for secret in &held.unreadable {
        if let Some(row) = unseen::user_of(&secret.name, prefix, &rows) {
            seen.unreadable_for
                .insert(row.user.clone(), secret.name.clone());
        }
    }
    let mut findings = checks::check_seen(&rows, &seen, now);
    let reported: &[secrets::Unreadable] = match held.reports_unreadable {
        true => &held.unreadable,
        false => &[],
    };
    findings.extend(unseen::findings(&rows, &looked, reported, prefix));
    let exempt = exempt_users(iam, &findings).await?;
    findings.retain(|f| !exempt.contains(&f.user));
    checks::sort(&mut findings);
    let stale = looked
        .into_iter()
        .filter_map(|(user, keys)| Some((user, keys.stale?)))
        .collect();
    let mut audit = assemble(rows, &seen, stale, findings, generated_at, now);
    audit.summary.exempt_users = exempt.into_iter().collect();
    Ok(audit)
}

/// The users with findings who carry [`EXEMPT_TAG`]: one look at the account's users and tags
/// (the report carries no tags), only when there are findings. The root row is never exempt.
async fn exempt_users<I: Iam>(iam: &I, findings: &[Finding]) -> Result<BTreeSet<String>> {
    if findings.iter().all(|f| f.user == credential_report::ROOT) {
        return Ok(BTreeSet::new());
    }
    let tagged = iam.users_tagged(EXEMPT_TAG).await?;
    Ok(findings
        .iter()
        .filter(|f| tagged.contains(&f.user))
        .map(|f| f.user.clone())
        .collect())
}

/// GenerateCredentialReport until it is ready (backing off, within [`REPORT_WAIT`]), then the report.
async fn fresh_report<I: Iam>(
    iam: &I,
    progress: &impl Fn(&str),
) -> Result<crate::services::CredentialReport> {
    let started = std::time::Instant::now();
    // IAM takes from a moment to a few seconds; asking again is free.
    let mut backoff = Backoff::new(
        Duration::from_millis(200),
        Duration::from_secs(8),
        started + REPORT_WAIT,
    );
    while !iam.generate_credential_report().await? {
        let Some(pause) = backoff.next_pause() else {
            return Err(Error::Aws {
                operation: "GenerateCredentialReport",
                code: None,
                status: None,
                message: format!(
                    "IAM had not finished the credential report after {}s; run the audit again in a minute",
                    REPORT_WAIT.as_secs()
                ),
            });
        };
        progress(&format!(
            "IAM is generating the credential report ({}s)...",
            started.elapsed().as_secs()
        ));
        tokio::time::sleep(pause).await;
    }
    iam.credential_report().await
}

fn assemble(
    rows: Vec<UserRow>,
    seen: &Seen,
    mut stale: std::collections::HashMap<String, String>,
    findings: Vec<Finding>,
    generated_at: Option<SystemTime>,
    now: SystemTime,
) -> Audit {
    let mut summary = Summary {
        users: rows.iter().filter(|r| !r.is_root()).count(),
        unreadable_secrets: seen.unreadable.len(),
        report_age_hours: generated_at
            .map(|g| now.duration_since(g).unwrap_or_default().as_secs() / 3600),
        ..Summary::default()
    };
    for f in &findings {
        *summary.by_severity.entry(f.severity.as_str()).or_default() += 1;
        *summary.by_check.entry(f.check).or_default() += 1;
    }
    let users = rows
        .into_iter()
        .map(|row| {
            let report_stale = stale.remove(&row.user);
            let unverified = report_stale.is_some() || seen.unreadable_for.contains_key(&row.user);
            let keys = row
                .keys
                .iter()
                .filter(|k| k.last_rotated.is_some())
                .map(|k| {
                    let KnownKey { id, managed } = seen
                        .known
                        .get(&(row.user.clone(), k.slot))
                        .cloned()
                        .unwrap_or_default();
                    if k.active {
                        summary.active_keys += 1;
                        let untold = seen.untold(&row.user, id.as_deref());
                        if (unverified || untold) && managed.is_none() {
                            summary.unverified_keys += 1;
                        } else if managed.is_some() {
                            summary.managed_keys += 1;
                        } else {
                            summary.unmanaged_keys += 1;
                        }
                    }
                    KeyView {
                        slot: k.slot,
                        id,
                        active: k.active,
                        // A stale row's date may be another key's: no age rather than a wrong one.
                        age_days: k
                            .last_rotated
                            .filter(|_| report_stale.is_none())
                            .map(|t| checks::days_since(t, now)),
                        last_used: k.last_used,
                        managed,
                    }
                })
                .collect();
            UserView {
                user: row.user,
                arn: row.arn,
                keys,
                report_stale,
            }
        })
        .collect();
    Audit {
        generated_at,
        users,
        findings,
        summary,
    }
}

fn serialize_time<S: Serializer>(
    time: &Option<SystemTime>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match time {
        Some(t) => s.serialize_str(&humantime::format_rfc3339_seconds(*t).to_string()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod org_tests;
