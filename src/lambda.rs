//! The Lambda handler: turns an invocation into a rotation step, a sweep or an audit, and the result into Lambda's.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::{error, info};

use crate::audit::organization::{OrgAudit, OrgOptions, Selection};
use crate::audit::run::{Report, Request};
use crate::engine::Rotator;
use crate::error::Error;
use crate::event::{AuditEvent, Invocation};
use crate::services::{Functions, Services};
use crate::sweep;

/// Time kept back from the invocation's deadline to report a failure before Lambda kills us.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// Handles one invocation: a rotation step answers `null`, a sweep its report (invoking the
/// function again, through `functions`, to go on where its deadline stopped it), an audit its
/// summary. Errors reach Lambda with their kind as `errorType`; a failed step also counts in the
/// metric `RotationStepFailed`.
pub async fn handle<X: Services, F: Functions>(
    rotator: &Rotator<X>,
    functions: &F,
    invocation: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let deadline = deadline_from(
        invocation.context.deadline,
        SystemTime::now(),
        Instant::now(),
    );
    let parsed = Invocation::from_json(&invocation.payload);
    // The failure's log line names the secret, so that a search for it finds why its step failed.
    let secret = match &parsed {
        Ok(Invocation::Rotation(event)) => Some(event.secret_id.clone()),
        _ => None,
    };
    let function_arn =
        Some(invocation.context.invoked_function_arn.clone()).filter(|arn| !arn.is_empty());
    let result = match parsed {
        Ok(Invocation::Rotation(event)) => {
            let result = rotator.run(&event, deadline).await;
            if let Err(e) = &result {
                crate::metrics::step_failed(e.kind());
            }
            result.map(|()| Value::Null)
        }
        Ok(Invocation::Sweep(event)) => {
            let options = sweep::Options {
                secret_id: event.secret_id,
                dry_run: event.dry_run,
                deep: event.deep,
                function_arn: function_arn.clone(),
                only: None,
                deadline: Some(stop_starting(deadline, SWEEP_MARGIN)),
                start_after: event.start_after,
            };
            match sweep::sweep(rotator, &options, SystemTime::now()).await {
                Ok(report) => {
                    if let Some(next) = sweep_goes_on(&options, &report) {
                        go_on_later(functions, function_arn.as_deref(), &next, report.left).await;
                    }
                    Ok(serde_json::to_value(report).unwrap_or(Value::Null))
                }
                Err(e) => Err(e),
            }
        }
        Ok(Invocation::Audit(event)) => {
            audit(rotator, functions, function_arn.as_deref(), event, deadline).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        error!(secret = secret.as_deref().unwrap_or("-"), error_type = e.kind(), error = %e, request_id = %invocation.context.request_id, "invocation failed");
    }
    result
}

/// The scheduled audit, of this account or the organization: each finding a JSON log line
/// (with its account), counts per control as metrics (with `AuditHighSeverity` for the alarm),
/// each unreachable account an error line and `AuditAccountUnreachable`; the accounts its deadline
/// left, audited by the function invoked again to go on (or, failing that, counted as unreachable);
/// with `SecurityHub`, the findings imported there, each one that did not get in counted in
/// `SecurityHubNotImported`. Answers the summary.
async fn audit<X: Services, F: Functions>(
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

/// A sweep starts no secret later than this before the invocation's deadline: a secret under way
/// may wait out throttling, within the SDK's 30-second operation timeout.
pub const SWEEP_MARGIN: Duration = Duration::from_secs(35);

/// An organization's audit starts no account later than this before the invocation's deadline: an
/// account under way may wait [`crate::audit::REPORT_WAIT`] for its credential report, and the
/// findings then go to Security Hub.
pub const AUDIT_MARGIN: Duration = Duration::from_secs(crate::audit::REPORT_WAIT.as_secs() + 30);

/// An organization's audit starts no import into Security Hub later than this before the
/// invocation's deadline, so the run that goes on is still invoked.
pub const IMPORT_MARGIN: Duration = Duration::from_secs(5);

/// When to stop starting work: `margin` before `deadline`, or a third of the time left if that is
/// more (a short timeout still makes progress).
fn stop_starting(deadline: Instant, margin: Duration) -> Instant {
    let now = Instant::now();
    let left = deadline.saturating_duration_since(now);
    now + left.saturating_sub(margin).max(left / 3)
}

/// The event that goes on with a sweep its deadline stopped, if it left secrets.
fn sweep_goes_on(options: &sweep::Options, report: &sweep::Summary) -> Option<Value> {
    let next = report.next.as_ref()?;
    Some(serde_json::json!({
        "Action": "sweep", "Deep": options.deep, "DryRun": options.dry_run, "StartAfter": next,
    }))
}

/// The event that goes on with an organization's audit its deadline stopped, if it left accounts:
/// the same audit, from where this one stopped.
fn audit_goes_on(event: &AuditEvent, org: &OrgAudit) -> Option<Value> {
    let next = org.next.clone()?;
    let event = AuditEvent {
        start_after: Some(next),
        ..event.clone()
    };
    serde_json::to_value(event).ok()
}

/// Invokes the function again with `event`, so a chain of runs gets through work one run's
/// deadline cannot. Whether it could: a failure is logged, and the next scheduled run starts over.
async fn go_on_later<F: Functions>(
    functions: &F,
    function_arn: Option<&str>,
    event: &Value,
    left: usize,
) -> bool {
    let Some(arn) = function_arn else {
        return false;
    };
    match functions.invoke_later(arn, event).await {
        Ok(()) => {
            info!(event = %event, left, "invoked the function again to go on");
            true
        }
        Err(e) => {
            error!(error = %e, event = %event, left, "could not invoke the function again to go on; the next scheduled run starts over");
            false
        }
    }
}

/// The instant to finish by, from Lambda's deadline in milliseconds since the epoch.
/// Without a deadline (0, as in local runs) the test budget alone limits the step.
pub fn deadline_from(deadline_ms: u64, now: SystemTime, now_instant: Instant) -> Instant {
    const NO_DEADLINE: Duration = Duration::from_secs(15 * 60);
    if deadline_ms == 0 {
        return now_instant + NO_DEADLINE;
    }
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    now_instant + left.saturating_sub(DEADLINE_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_keeps_a_margin_before_lambdas() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let start = Instant::now();
        let deadline = deadline_from(1_700_000_000_000 + 30_000, now, start);
        assert_eq!(deadline - start, Duration::from_secs(28));
    }

    /// Lambda, recording what the function invoked later.
    #[derive(Default)]
    struct Invoked(std::sync::Mutex<Vec<(String, Value)>>);

    impl Functions for Invoked {
        async fn environment(&self, _: &str) -> Result<Vec<(String, String)>, Error> {
            Ok(Vec::new())
        }

        async fn invoke_later(&self, arn: &str, payload: &Value) -> Result<(), Error> {
            if let Ok(mut calls) = self.0.lock() {
                calls.push((arn.to_string(), payload.clone()));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_sweep_its_deadline_stopped_invokes_the_function_again_to_go_on() {
        let functions = Invoked::default();
        let options = sweep::Options {
            deep: true,
            ..sweep::Options::default()
        };
        let mut report = sweep::Summary::default();
        assert_eq!(
            sweep_goes_on(&options, &report),
            None,
            "finished: nothing to go on with"
        );

        report.next = Some("iam-keys/db-06".into());
        report.left = 13;
        let next = sweep_goes_on(&options, &report).unwrap();
        assert!(go_on_later(&functions, Some("arn:fn"), &next, report.left).await);
        let calls = functions.0.lock().unwrap().clone();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "arn:fn");
        let event = Invocation::from_json(&calls[0].1).unwrap();
        let Invocation::Sweep(event) = event else {
            panic!("{:?}", calls[0].1)
        };
        assert_eq!(event.start_after.as_deref(), Some("iam-keys/db-06"));
        assert!(event.deep);
    }

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

    #[tokio::test]
    async fn without_a_function_to_invoke_nothing_goes_on() {
        let functions = Invoked::default();
        let event = serde_json::json!({"Action": "sweep"});
        assert!(!go_on_later(&functions, None, &event, 3).await);
        assert!(functions.0.lock().unwrap().is_empty());
    }

    #[test]
    fn work_stops_starting_well_before_the_deadline() {
        for margin in [SWEEP_MARGIN, AUDIT_MARGIN] {
            let deadline = Instant::now() + margin * 3;
            let stop = stop_starting(deadline, margin);
            assert!(deadline - stop >= margin);
            // A short timeout still leaves a third of it to make progress.
            let short = Instant::now() + Duration::from_secs(30);
            assert!(stop_starting(short, margin) > Instant::now() + Duration::from_secs(9));
        }
        // An account started may wait out its report, and then the import, before Lambda's end.
        assert!(AUDIT_MARGIN > crate::audit::REPORT_WAIT);
    }

    #[test]
    fn a_deadline_already_passed_leaves_no_time() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let start = Instant::now();
        assert_eq!(deadline_from(1_700_000_000_000 - 5_000, now, start), start);
    }
}
