//! The organization-wide audit: every active account of the organization, its units walked to any
//! depth, each audited through its audit role (concurrently, within a bound), into one report in
//! which every finding names its account. Accounts it could not reach are listed with the reason,
//! never skipped in silence.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use futures::StreamExt;
use serde::Serialize;

use super::{Audit, Finding, Report, Summary, audit_account, fresh_report, secrets, unseen};
use crate::engine::Rotator;
use crate::error::Result;
use crate::services::{MemberAccounts, OrgAccount, OrgUnit, OrganizationTree, Services};

pub use super::selection::Selection;
use super::selection::why_left_out;

/// How many accounts are audited at once: each waits on IAM's report in its own account, and the
/// secrets they share are read once.
pub const CONCURRENT_ACCOUNTS: usize = 8;

#[derive(Debug, Clone)]
pub struct OrgOptions {
    /// The audit role's name in each member account (member-role.yaml's AuditRoleName).
    pub role: String,
    pub selection: Selection,
    /// Accounts not started by then are listed as not reached, for the next run.
    pub deadline: Option<Instant>,
    /// Go on from a run its deadline stopped: audit only the accounts whose ids sort after this.
    pub start_after: Option<String>,
}

/// One account's place in the organization.
#[derive(Debug, Clone, Serialize)]
pub struct AccountRef {
    pub account: String,
    pub account_name: String,
    /// The units from the root down to the account's own, by name.
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountAudit {
    #[serde(flatten)]
    pub account: AccountRef,
    pub audit: Audit,
}

/// An account the audit did not audit, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    #[serde(flatten)]
    pub account: AccountRef,
    pub reason: String,
}

/// A finding with the account it was found in.
#[derive(Debug, Clone, Serialize)]
pub struct OrgFinding {
    pub account: String,
    pub account_name: String,
    #[serde(flatten)]
    pub finding: Finding,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrgAudit {
    /// The account the audit ran from (its own credentials).
    pub audited_from: String,
    pub accounts: Vec<AccountAudit>,
    /// Accounts that could not be audited (no audit role, access denied, no report): the report
    /// is incomplete while there are any.
    pub unreachable: Vec<Skipped>,
    /// Accounts left out by the selection, or not active.
    pub excluded: Vec<Skipped>,
    /// Accounts the run had no time left for: a run from `next` audits them.
    pub not_reached: Vec<Skipped>,
    /// Where a run that goes on should start (its `start_after`): set when the deadline left
    /// accounts and this run audited some, so a chain of runs always gets further.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    pub findings: Vec<OrgFinding>,
    pub summary: OrgSummary,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OrgSummary {
    pub accounts: usize,
    pub users: usize,
    pub active_keys: usize,
    pub managed_keys: usize,
    pub unmanaged_keys: usize,
    pub unverified_keys: usize,
    pub unreachable_accounts: usize,
    /// Accounts the run's deadline left, for the run that goes on.
    pub not_reached_accounts: usize,
    /// Secrets under the prefix the audit could not read: any key may be theirs.
    pub unreadable_secrets: usize,
    pub by_severity: BTreeMap<&'static str, usize>,
    pub by_check: BTreeMap<&'static str, usize>,
}

impl OrgAudit {
    /// Whether some account could not be audited, or some secret read.
    pub fn is_incomplete(&self) -> bool {
        self.could_not_see() || !self.not_reached.is_empty()
    }

    /// Whether some account could not be reached, or some secret read: more time would not help.
    pub fn could_not_see(&self) -> bool {
        !self.unreachable.is_empty()
            || self.summary.unreadable_secrets > 0
            || self.accounts.iter().any(|a| a.audit.is_incomplete())
    }
}

/// Audits every selected account the organization lists; the caller's own account
/// through the function's own IAM, the others through `options.role`.
pub async fn audit_organization<X: Services>(
    rotator: &Rotator<X>,
    options: &OrgOptions,
    now: SystemTime,
    progress: impl Fn(&str) + Sync,
) -> Result<OrgAudit> {
    options.selection.check()?;
    let org = rotator.organization();
    let own = org.caller_account().await?;
    let tree = walk(org).await?;
    progress(&format!("the organization has {} accounts", tree.len()));
    let held = secrets::read(rotator.secrets(), &rotator.config().secret_name_prefix).await?;

    let mut excluded = Vec::new();
    let mut chosen = Vec::new();
    for (account, units) in tree {
        let place = AccountRef {
            account: account.id.clone(),
            account_name: account.name.clone(),
            units: units.iter().map(|u| u.name.clone()).collect(),
        };
        match why_left_out(&options.selection, &account, &units) {
            Some(reason) => excluded.push(Skipped {
                account: place,
                reason,
            }),
            None => chosen.push(place),
        }
    }
    // The tree comes sorted by id, which is the order a chain of runs goes in.
    if let Some(after) = &options.start_after {
        chosen.retain(|place| place.account.as_str() > after.as_str());
    }
    let order: Vec<String> = chosen.iter().map(|p| p.account.clone()).collect();

    let progress = &progress;
    let held = &held;
    let own = own.as_str();
    let outcomes: Vec<(AccountRef, Outcome)> = futures::stream::iter(chosen)
        .map(|place| async move {
            if options.deadline.is_some_and(|d| Instant::now() >= d) {
                return (place, Outcome::NotReached);
            }
            let outcome = match audit_one(rotator, options, own, held, &place.account, now).await {
                Ok(audit) => Outcome::Audited(Box::new(audit)),
                Err(reason) => Outcome::Unreachable(reason),
            };
            progress(&format!(
                "audited account {} ({})",
                place.account, place.account_name
            ));
            (place, outcome)
        })
        .buffer_unordered(CONCURRENT_ACCOUNTS)
        .collect()
        .await;

    let mut report = OrgAudit {
        audited_from: own.to_string(),
        accounts: Vec::new(),
        unreachable: Vec::new(),
        excluded,
        not_reached: Vec::new(),
        next: None,
        findings: Vec::new(),
        summary: OrgSummary::default(),
    };
    for (account, outcome) in outcomes {
        match outcome {
            Outcome::Audited(audit) => report.accounts.push(AccountAudit {
                account,
                audit: *audit,
            }),
            Outcome::Unreachable(reason) => report.unreachable.push(Skipped { account, reason }),
            Outcome::NotReached => report.not_reached.push(Skipped {
                account,
                reason: "the run's deadline came first; the next run audits it".into(),
            }),
        }
    }
    let by_id = |a: &AccountAudit| a.account.account.clone();
    report.accounts.sort_by_key(by_id);
    report
        .unreachable
        .sort_by(|a, b| a.account.account.cmp(&b.account.account));
    report
        .not_reached
        .sort_by(|a, b| a.account.account.cmp(&b.account.account));
    let left: Vec<&str> = report
        .not_reached
        .iter()
        .map(|s| s.account.account.as_str())
        .collect();
    report.next = continuation(&order, &left);
    report.summary = summarize(&report.accounts, report.unreachable.len());
    report.summary.not_reached_accounts = report.not_reached.len();
    report.summary.unreadable_secrets = held.unreadable.len();
    report.findings = report
        .accounts
        .iter()
        .flat_map(|a| {
            a.audit.findings.iter().map(|f| OrgFinding {
                account: a.account.account.clone(),
                account_name: a.account.account_name.clone(),
                finding: f.clone(),
            })
        })
        .collect();
    // The secrets live in the caller's account, whose audit reports the unreadable ones; when the
    // selection or the deadline left it out, the report says so all the same.
    if !report.accounts.iter().any(|a| a.account.account == own) {
        let prefix = &rotator.config().secret_name_prefix;
        for finding in unseen::findings(&[], &[], &held.unreadable, prefix) {
            report.findings.push(OrgFinding {
                account: own.to_string(),
                account_name: String::new(),
                finding,
            });
        }
    }
    Ok(report)
}

/// Where the next run starts when the accounts in `left` were not reached: after the last account
/// of `order` (this run's, sorted) before the first one left. None when nothing is left, or when
/// not even the first account was reached, so a chain never runs in place.
fn continuation(order: &[String], left: &[&str]) -> Option<String> {
    let first_left = order.iter().position(|a| left.contains(&a.as_str()))?;
    first_left.checked_sub(1).map(|last| order[last].clone())
}

enum Outcome {
    Audited(Box<Audit>),
    Unreachable(String),
    NotReached,
}

/// One account's audit, or why it could not be done, as a person reads it.
async fn audit_one<X: Services>(
    rotator: &Rotator<X>,
    options: &OrgOptions,
    own: &str,
    held: &secrets::SecretKeys,
    account: &str,
    now: SystemTime,
) -> std::result::Result<Audit, String> {
    let quiet = |_: &str| {};
    if account == own {
        let iam = rotator.own_iam();
        let report = fresh_report(iam, &quiet).await.map_err(|e| e.to_string())?;
        let report = Report {
            generated_at: report.generated,
            csv: report.csv,
        };
        return audit_account(rotator, iam, held, report, now, &quiet)
            .await
            .map_err(|e| e.to_string());
    }
    let iam = rotator
        .services()
        .accounts()
        .role_iam(account, &options.role)
        .await
        .map_err(|e| {
            format!(
                "could not assume the audit role {} there ({e}); deploy member-role.yaml with AuditPrincipalArn to this account",
                options.role
            )
        })?;
    let report = fresh_report(&iam, &quiet)
        .await
        .map_err(|e| format!("no credential report: {e}"))?;
    let report = Report {
        generated_at: report.generated,
        csv: report.csv,
    };
    audit_account(rotator, &iam, &held.of_member(account), report, now, &quiet)
        .await
        .map_err(|e| e.to_string())
}

/// Every account of the organization with the units above it, root first, walked breadth-first.
async fn walk<O: OrganizationTree>(org: &O) -> Result<Vec<(OrgAccount, Vec<OrgUnit>)>> {
    let mut found = Vec::new();
    let mut queue: Vec<Vec<OrgUnit>> = org.roots().await?.into_iter().map(|r| vec![r]).collect();
    while let Some(path) = queue.pop() {
        let unit = path.last().map(|u| u.id.clone()).unwrap_or_default();
        for account in org.accounts_in(&unit).await? {
            found.push((account, path.clone()));
        }
        for child in org.child_units(&unit).await? {
            let mut below = path.clone();
            below.push(child);
            queue.push(below);
        }
    }
    found.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    Ok(found)
}

fn summarize(accounts: &[AccountAudit], unreachable: usize) -> OrgSummary {
    let mut total = OrgSummary {
        accounts: accounts.len(),
        unreachable_accounts: unreachable,
        ..OrgSummary::default()
    };
    for a in accounts {
        let s: &Summary = &a.audit.summary;
        total.users += s.users;
        total.active_keys += s.active_keys;
        total.managed_keys += s.managed_keys;
        total.unmanaged_keys += s.unmanaged_keys;
        total.unverified_keys += s.unverified_keys;
        for (k, v) in &s.by_severity {
            *total.by_severity.entry(k).or_default() += v;
        }
        for (k, v) in &s.by_check {
            *total.by_check.entry(k).or_default() += v;
        }
    }
    total
}
