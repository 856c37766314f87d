//! The scheduled audit as the Lambda runs it: the event's request, the report, the run that goes
//! on when the deadline left accounts, the import into Security Hub, and the logs and metrics.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tracing::{error, info};

use super::{go_on_later, stop_starting};
use crate::audit::organization::{OrgAudit, OrgOptions, Selection};
use crate::audit::run::{Report, Request};
use crate::engine::Rotator;
use crate::error::Error;
use crate::event::AuditEvent;
use crate::services::{Functions, Services};

/// An organization's audit starts no account later than this before the invocation's deadline: an
/// account under way may wait [`crate::audit::REPORT_WAIT`] for its credential report, and the
/// findings then go to Security Hub.
pub const AUDIT_MARGIN: Duration = Duration::from_secs(crate::audit::REPORT_WAIT.as_secs() + 30);

/// An organization's audit starts no import into Security Hub later than this before the
/// invocation's deadline, so the run that goes on is still invoked.
pub const IMPORT_MARGIN: Duration = Duration::from_secs(5);

/// The scheduled audit, of this account or the organization: each finding a JSON log line
/// (with its account), counts per control as metrics (with `AuditHighSeverity` for the alarm),
/// each unreachable account an error line and `AuditAccountUnreachable`; the accounts its deadline
/// left, audited by the function invoked again to go on (or, failing that, counted as unreachable);
/// with `SecurityHub`, the findings imported there, each one that did not get in counted in
/// `SecurityHubNotImported`. Answers the summary.
pub(super) async fn audit<X: Services, F: Functions>(
    rotator: &Rotator<X>,
    functions: &F,
    function_arn: Option<&str>,
    event: AuditEvent,
    deadline: Instant,
) -> Result<Value, Error> {
    let request = audit_request(rotator, event.clone(), deadline)?;
    let progress = |line: &str| info!("{line}");
    let report = crate::audit::run::report(rotator, &request, SystemTime::now(), progress).await?;
    // The run that goes on is invoked first: the import may take what is left of this one.
    let continued = match &report {
        Report::Organization(org) => match audit_goes_on(&event, org) {
            Some(next) => go_on_later(functions, function_arn, &next, org.not_reached.len()).await,
            None => false,
        },
        Report::Account(_) => false,
    };
    let run =
        crate::audit::run::import_into_hub(rotator, report, &request, SystemTime::now(), progress)
            .await;
    let findings = run.findings();
    for (account, finding) in &findings {
        let controls = finding.controls.security_hub.unwrap_or_default();
        info!(
            audit_finding = %serde_json::to_string(finding).unwrap_or_default(),
            account = account.unwrap_or_default(),
            check = finding.check,
            severity = finding.severity.as_str(),
            user = %finding.user,
            cis = finding.controls.cis.unwrap_or_default(),
            security_hub = controls,
            "audit finding"
        );
        // Findings about this tool's coverage fail no control: counting them would inflate one.
        if let Some(cis) = finding.controls.cis {
            crate::metrics::audit_finding(cis);
        }
    }
    let mut incomplete = run.is_incomplete();
    if let Report::Organization(org) = &run.report {
        for skipped in &org.unreachable {
            error!(account = %skipped.account.account, account_name = %skipped.account.account_name, reason = %skipped.reason, "an account of the organization was not audited");
        }
        for skipped in &org.not_reached {
            match continued {
                true => info!(account = %skipped.account.account, "left for the run that goes on"),
                false => {
                    error!(account = %skipped.account.account, account_name = %skipped.account.account_name, reason = %skipped.reason, "an account of the organization was not audited")
                }
            }
        }
        let not_seen = org.unreachable.len() + if continued { 0 } else { org.not_reached.len() };
        crate::metrics::audit_accounts_unreachable(not_seen as u64);
        if continued {
            incomplete = org.could_not_see();
        }
    }
    if incomplete {
        // The lines above name each secret and account; this line is what a log alarm matches.
        error!(
            "the audit is incomplete: secrets could not be read (give the audit's role kms:Decrypt on their key, KmsKeyArn) or accounts could not be reached (deploy member-role.yaml with AuditPrincipalArn there)"
        );
    }
    if let Some(imported) = &run.security_hub {
        for (id, why) in &imported.refused {
            error!(finding = %id, reason = %why, "Security Hub refused a finding");
        }
        if let Some(failure) = &imported.failed {
            error!(error_type = failure.kind, error = %failure.message, not_written = imported.not_written, "Security Hub did not take the findings");
        }
        crate::metrics::security_hub_not_imported(imported.not_imported() as u64);
    }
    let high = findings
        .iter()
        .filter(|(_, f)| f.severity == crate::audit::Severity::High)
        .count();
    crate::metrics::audit_high_severity(high as u64);
    let summary = match &run.report {
        Report::Account(audit) => serde_json::to_value(&audit.summary),
        // With where a run that goes on starts, so the chain can be followed in the answers.
        Report::Organization(org) => serde_json::to_value(&org.summary).map(|mut summary| {
            if let (Some(fields), Some(next)) = (summary.as_object_mut(), &org.next) {
                fields.insert("next".into(), Value::String(next.clone()));
            }
            summary
        }),
    };
    Ok(summary.unwrap_or(Value::Null))
}

/// The audit an event asks for, the deployment's settings filling in what it leaves out.
fn audit_request<X: Services>(
    rotator: &Rotator<X>,
    event: AuditEvent,
    deadline: Instant,
) -> Result<Request, Error> {
    let security_hub = match (event.security_hub, &rotator.config().region) {
        (false, _) => None,
        (true, Some(region)) => Some(region.clone()),
        (true, None) => {
            return Err(Error::InvalidConfig(
                "SecurityHub needs the region to import into: set AWS_REGION".into(),
            ));
        }
    };
    let organization = event.organization.then(|| OrgOptions {
        role: event
            .role
            .unwrap_or_else(|| rotator.config().members.audit_role.clone()),
        selection: Selection {
            include_accounts: event.include_accounts,
            exclude_accounts: event.exclude_accounts,
            include_units: event.include_units,
            exclude_units: event.exclude_units,
        },
        deadline: Some(stop_starting(deadline, AUDIT_MARGIN)),
        start_after: event.start_after,
    });
    Ok(Request {
        organization,
        security_hub,
        report_csv: None,
        // Time left after the import to invoke the run that goes on.
        import_deadline: Some(deadline.checked_sub(IMPORT_MARGIN).unwrap_or(deadline)),
    })
}

/// The event that goes on with an organization's audit its deadline stopped, if it left accounts:
/// the same audit, from where this one stopped.
pub(super) fn audit_goes_on(event: &AuditEvent, org: &OrgAudit) -> Option<Value> {
    let next = org.next.clone()?;
    let event = AuditEvent {
        start_after: Some(next),
        ..event.clone()
    };
    serde_json::to_value(event).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Invocation;

    #[test]
    fn an_organizations_audit_its_deadline_stopped_goes_on_as_the_same_audit_from_where_it_stopped()
    {
        let event = AuditEvent {
            action: "audit".into(),
            organization: true,
            security_hub: true,
            exclude_units: vec!["ou-abcd-11111111".into()],
            ..AuditEvent::default()
        };
        let mut org = OrgAudit {
            audited_from: "111111111111".into(),
            accounts: Vec::new(),
            unreachable: Vec::new(),
            excluded: Vec::new(),
            not_reached: Vec::new(),
            next: None,
            findings: Vec::new(),
            summary: Default::default(),
        };
        assert_eq!(audit_goes_on(&event, &org), None);

        org.next = Some("222222222222".into());
        let next = audit_goes_on(&event, &org).unwrap();
        let Ok(Invocation::Audit(again)) = Invocation::from_json(&next) else {
            panic!("{next}")
        };
        assert_eq!(
            again,
            AuditEvent {
                start_after: Some("222222222222".into()),
                ..event
            }
        );
    }
}
