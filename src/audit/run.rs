//! One audit run as the CLI and the Lambda ask for it: this account or the whole organization,
//! and, when asked, the findings imported into Security Hub.

use std::time::{Instant, SystemTime};

use serde::Serialize;

use super::organization::{OrgAudit, OrgOptions, audit_organization};
use super::security_hub::{Destination, Imported, Judged, import};
use super::{Audit, Finding, audit};
use crate::accounts::partition_of_region;
use crate::engine::Rotator;
use crate::error::{Error, Result};
use crate::services::{OrganizationTree, Services};

#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Audit every account of the organization, so; `None`: this account only.
    pub organization: Option<OrgOptions>,
    /// Import the findings into Security Hub in this region (the audit's own).
    pub security_hub: Option<String>,
    /// A saved credential report instead of a fresh one (this account only).
    pub report_csv: Option<String>,
    /// Start no import into Security Hub after this (the Lambda's deadline, less a margin).
    pub import_deadline: Option<Instant>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Report {
    Account(Box<Audit>),
    Organization(Box<OrgAudit>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    #[serde(flatten)]
    pub report: Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<Imported>,
}

impl Run {
    /// Whether something could not be read or reached, so that some keys may be told wrongly.
    pub fn is_incomplete(&self) -> bool {
        match &self.report {
            Report::Account(audit) => audit.is_incomplete(),
            Report::Organization(org) => org.is_incomplete(),
        }
    }

    /// Every finding, with the account it was found in (`None`: this account).
    pub fn findings(&self) -> Vec<(Option<&str>, &Finding)> {
        match &self.report {
            Report::Account(audit) => audit.findings.iter().map(|f| (None, f)).collect(),
            Report::Organization(org) => org
                .findings
                .iter()
                .map(|f| (Some(f.account.as_str()), &f.finding))
                .collect(),
        }
    }
}

/// Runs the audit `request` asks for, and imports its findings into Security Hub when it asks.
pub async fn run<X: Services>(
    rotator: &Rotator<X>,
    request: Request,
    now: SystemTime,
    progress: impl Fn(&str) + Sync,
) -> Result<Run> {
    let report = report(rotator, &request, now, &progress).await?;
    Ok(import_into_hub(rotator, report, &request, now, &progress).await)
}

/// The report `request` asks for: this account's, or the organization's.
pub async fn report<X: Services>(
    rotator: &Rotator<X>,
    request: &Request,
    now: SystemTime,
    progress: impl Fn(&str) + Sync,
) -> Result<Report> {
    Ok(match &request.organization {
        Some(options) => {
            if request.report_csv.is_some() {
                return Err(Error::InvalidConfig(
                    "a saved credential report is one account's: audit the organization without --report-file".into(),
                ));
            }
            Report::Organization(Box::new(
                audit_organization(rotator, options, now, &progress).await?,
            ))
        }
        None => Report::Account(Box::new(
            audit(rotator, request.report_csv.clone(), now, &progress).await?,
        )),
    })
}

/// The run of `report`: its findings imported into Security Hub first, when `request` asks for it.
pub async fn import_into_hub<X: Services>(
    rotator: &Rotator<X>,
    report: Report,
    request: &Request,
    now: SystemTime,
    progress: impl Fn(&str),
) -> Run {
    let Some(region) = request.security_hub.clone() else {
        return Run {
            report,
            security_hub: None,
        };
    };
    let imported = import_findings(rotator, &report, region, now, request.import_deadline).await;
    match &imported.failed {
        Some(failure) => progress(&format!("Security Hub: {}", failure.message)),
        None => progress(&format!(
            "Security Hub: {} findings imported, {} resolved, {} refused",
            imported.imported,
            imported.resolved,
            imported.refused.len()
        )),
    }
    Run {
        report,
        security_hub: Some(imported),
    }
}

/// The report's findings into Security Hub in `region`, under the caller's own product.
async fn import_findings<X: Services>(
    rotator: &Rotator<X>,
    report: &Report,
    region: String,
    now: SystemTime,
    deadline: Option<Instant>,
) -> Imported {
    let mut to = Destination {
        partition: partition_of_region(&region).to_string(),
        region,
        account: String::new(),
    };
    let (findings, judged): (Vec<(String, &Finding)>, Judged) = match report {
        Report::Account(audit) => {
            to.account = match rotator.organization().caller_account().await {
                Ok(own) => own,
                Err(e) => return Imported::failed(&e, &to, audit.findings.len()),
            };
            (
                audit
                    .findings
                    .iter()
                    .map(|f| (to.account.clone(), f))
                    .collect(),
                Judged::accounts([to.account.clone()]),
            )
        }
        Report::Organization(org) => {
            to.account = org.audited_from.clone();
            let audited = org.accounts.iter().map(|a| a.account.account.clone());
            (
                org.findings
                    .iter()
                    .map(|f| (f.account.clone(), &f.finding))
                    .collect(),
                // The secrets were read whichever accounts were audited: their findings stand.
                Judged {
                    secrets_of: Some(org.audited_from.clone()),
                    ..Judged::accounts(audited)
                },
            )
        }
    };
    import(
        rotator.security_hub(),
        &to,
        &findings,
        &judged,
        now,
        deadline,
    )
    .await
}
