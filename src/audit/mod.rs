//! The audit: every access key of the account against CIS AWS Foundations v3.0 (and Security
//! Hub), from IAM's credential report, with each key told as managed (held by a secret this tool
//! rotates) or not, and each finding's fix as one command. Thin entry points: the CLI's `audit` and
//! the Lambda's `{"Action": "audit"}`.

mod checks;
mod render;
mod report;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use secrecy::ExposeSecret;
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::secret::KeySecret;
use crate::services::{AWSPREVIOUS, Iam, KeyChecker, SecretStore};
use crate::steps::Rotator;

pub use checks::{Controls, Finding, KeyRef, Managed, Severity};
pub use render::{to_csv, to_html, to_text};
pub use report::{UserRow, parse};

/// How long to wait for IAM to generate the report before giving up.
const REPORT_WAIT: Duration = Duration::from_secs(120);

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
    pub by_severity: BTreeMap<&'static str, usize>,
    pub by_check: BTreeMap<&'static str, usize>,
    pub report_age_hours: Option<u64>,
}

impl Audit {
    /// Whether a finding at `severity` or above exists (for `--fail-on`).
    pub fn has_finding_at_or_above(&self, severity: Severity) -> bool {
        self.findings.iter().any(|f| f.severity <= severity)
    }
}

/// Audits the account: generates the credential report (progress told through `progress`),
/// reads the secrets under the configured prefix (20 values per call), and runs the checks.
pub async fn audit<S: SecretStore, I: Iam, K: KeyChecker>(
    rotator: &Rotator<S, I, K>,
    report_csv: Option<String>,
    now: SystemTime,
    progress: impl Fn(&str),
) -> Result<Audit> {
    let (generated_at, csv) = match report_csv {
        Some(csv) => (None, csv),
        None => {
            let report = fresh_report(rotator.iam(), &progress).await?;
            (report.generated, report.csv)
        }
    };
    let rows = report::parse(&csv).map_err(Error::InvalidEvent)?;
    progress(&format!("read the credential report: {} users", rows.len()));
    let (known, function_arn) = managed_keys(rotator, &rows).await?;
    let findings = checks::check(&rows, &known, &function_arn, now);
    Ok(assemble(rows, known, findings, generated_at, now))
}

/// GenerateCredentialReport until it is ready (backing off, within [`REPORT_WAIT`]), then the report.
async fn fresh_report<I: Iam>(
    iam: &I,
    progress: &impl Fn(&str),
) -> Result<crate::services::CredentialReport> {
    let started = std::time::Instant::now();
    // IAM takes from a moment to a few seconds; asking again is free.
    let mut pause = Duration::from_millis(200);
    while !iam.generate_credential_report().await? {
        if started.elapsed() + pause > REPORT_WAIT {
            return Err(Error::Aws {
                operation: "GenerateCredentialReport",
                code: None,
                status: None,
                message: format!(
                    "IAM had not finished the credential report after {}s; run the audit again in a minute",
                    REPORT_WAIT.as_secs()
                ),
            });
        }
        progress(&format!(
            "IAM is generating the credential report ({}s)...",
            started.elapsed().as_secs()
        ));
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(8));
    }
    iam.credential_report().await
}

/// Which slot of which user holds a key a secret under the prefix holds, and that secret.
/// Returns also the rotation function most secrets use, for the remedies.
async fn managed_keys<S: SecretStore, I: Iam, K: KeyChecker>(
    rotator: &Rotator<S, I, K>,
    rows: &[UserRow],
) -> Result<(checks::KnownKeys, String)> {
    let secrets = rotator.secrets();
    let prefix = &rotator.config().secret_name_prefix;
    let summaries = secrets.list_secrets(prefix).await?;
    let by_arn: HashMap<&str, &crate::services::SecretSummary> =
        summaries.iter().map(|s| (s.arn.as_str(), s)).collect();
    let mut functions: HashMap<&str, usize> = HashMap::new();
    for s in &summaries {
        if let Some(f) = s.rotation_lambda_arn.as_deref().filter(|f| !f.is_empty()) {
            *functions.entry(f).or_default() += 1;
        }
    }
    let function_arn = functions
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(f, _)| f.to_string())
        .unwrap_or_else(|| "FUNCTION_ARN".to_string());

    let mut held: HashMap<String, Vec<(String, Managed)>> = HashMap::new();
    for (arn, value) in secrets.current_values(prefix).await? {
        let Ok(secret) = KeySecret::parse(value.expose_secret()) else {
            continue;
        };
        let summary = by_arn.get(arn.as_str());
        let managed = Managed {
            secret: summary.map_or(arn.clone(), |s| s.name.clone()),
            rotation_enabled: summary.is_some_and(|s| s.rotation_enabled),
            last_rotated: summary.and_then(|s| s.last_rotated),
            next_rotation: summary.and_then(|s| s.next_rotation),
        };
        if let Some(id) = secret.key_id() {
            held.entry(secret.user_name().to_string())
                .or_default()
                .push((id.to_string(), managed.clone()));
        }
        // The previous key, in its grace period, is under rotation too.
        let two_active = rows
            .iter()
            .any(|r| r.user == secret.user_name() && r.keys.iter().all(|k| k.active));
        if two_active
            && let Some(previous) = secrets
                .value(&arn, None, Some(AWSPREVIOUS))
                .await
                .ok()
                .flatten()
            && let Ok(previous) = KeySecret::parse(previous.text.expose_secret())
            && let Some(id) = previous
                .key_id()
                .filter(|_| previous.user_name() == secret.user_name())
        {
            held.entry(secret.user_name().to_string())
                .or_default()
                .push((id.to_string(), managed));
        }
    }

    let mut known = checks::KnownKeys::new();
    for row in rows.iter().filter(|r| held.contains_key(&r.user)) {
        let keys = &held[&row.user];
        let active: Vec<u8> = row
            .keys
            .iter()
            .filter(|k| k.active)
            .map(|k| k.slot)
            .collect();
        if let ([slot], [(id, managed)]) = (active.as_slice(), keys.as_slice()) {
            known.insert(
                (row.user.clone(), *slot),
                (Some(id.clone()), Some(managed.clone())),
            );
            continue;
        }
        // Several keys: match them to their slots by creation time (one IAM call for this user).
        for key in rotator.iam().list_keys(&row.user).await? {
            let Some(slot) = row.keys.iter().find(|s| {
                matches!((s.last_rotated, key.created), (Some(a), Some(b))
                    if a.max(b).duration_since(a.min(b)).unwrap_or_default() < Duration::from_secs(2))
            }) else {
                continue;
            };
            let managed = keys
                .iter()
                .find(|(id, _)| *id == key.id)
                .map(|(_, m)| m.clone());
            known.insert((row.user.clone(), slot.slot), (Some(key.id), managed));
        }
    }
    Ok((known, function_arn))
}

fn assemble(
    rows: Vec<UserRow>,
    known: checks::KnownKeys,
    findings: Vec<Finding>,
    generated_at: Option<SystemTime>,
    now: SystemTime,
) -> Audit {
    let mut summary = Summary {
        users: rows.iter().filter(|r| !r.is_root()).count(),
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
            let keys = row
                .keys
                .iter()
                .filter(|k| k.last_rotated.is_some())
                .map(|k| {
                    let (id, managed) = known
                        .get(&(row.user.clone(), k.slot))
                        .cloned()
                        .unwrap_or((None, None));
                    if k.active {
                        summary.active_keys += 1;
                        if managed.is_some() {
                            summary.managed_keys += 1;
                        } else {
                            summary.unmanaged_keys += 1;
                        }
                    }
                    KeyView {
                        slot: k.slot,
                        id,
                        active: k.active,
                        age_days: k.last_rotated.map(|t| checks::days_since(t, now)),
                        last_used: k.last_used,
                        managed,
                    }
                })
                .collect();
            UserView {
                user: row.user,
                arn: row.arn,
                keys,
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
