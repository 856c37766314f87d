//! The Lambda handler: turns an invocation into a rotation step, a sweep or an audit, and the result into Lambda's.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::{error, info};

use crate::engine::Rotator;
use crate::error::Error;
use crate::event::Invocation;
use crate::services::Services;
use crate::sweep;

/// Time kept back from the invocation's deadline to report a failure before Lambda kills us.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// Handles one invocation: a rotation step answers `null`, a sweep its report, an audit its
/// summary. Errors reach Lambda with their kind as `errorType`; a failed step also counts in the
/// metric `RotationStepFailed`.
pub async fn handle<X: Services>(
    rotator: &Rotator<X>,
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
                function_arn: Some(invocation.context.invoked_function_arn.clone())
                    .filter(|arn| !arn.is_empty()),
                only: None,
            };
            sweep::sweep(rotator, &options, SystemTime::now())
                .await
                .map(|report| serde_json::to_value(report).unwrap_or(Value::Null))
        }
        Ok(Invocation::Audit) => audit(rotator).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        error!(secret = secret.as_deref().unwrap_or("-"), error_type = e.kind(), error = %e, request_id = %invocation.context.request_id, "invocation failed");
    }
    result
}

/// The scheduled audit: each finding a JSON log line, counts per control as metrics (with
/// `AuditHighSeverity` for the alarm); answers the summary.
async fn audit<X: Services>(rotator: &Rotator<X>) -> Result<Value, Error> {
    let audit =
        crate::audit::audit(rotator, None, SystemTime::now(), |line| info!("{line}")).await?;
    for finding in &audit.findings {
        let controls = finding.controls.security_hub.unwrap_or_default();
        info!(
            audit_finding = %serde_json::to_string(finding).unwrap_or_default(),
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
    if audit.is_incomplete() {
        // The findings above name each secret; this line is what a log alarm can match on.
        error!(
            unreadable_secrets = audit.summary.unreadable_secrets,
            "the audit is incomplete: secrets could not be read; give the audit's role kms:Decrypt on their key (KmsKeyArn)"
        );
    }
    let high = audit
        .findings
        .iter()
        .filter(|f| f.severity == crate::audit::Severity::High)
        .count();
    crate::metrics::audit_high_severity(high as u64);
    Ok(serde_json::to_value(&audit.summary).unwrap_or(Value::Null))
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

    #[test]
    fn a_deadline_already_passed_leaves_no_time() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let start = Instant::now();
        assert_eq!(deadline_from(1_700_000_000_000 - 5_000, now, start), start);
    }
}
