//! Every metric the function publishes, by name, in one place (namespace `IamKeyRotator`, written as
//! CloudWatch embedded metric format by `main`). The template's alarms name these.

use std::time::Duration;

/// A rotation step failed; `ErrorType` is the error's kind.
pub fn step_failed(error_type: &'static str) {
    metrics::counter!("RotationStepFailed", "ErrorType" => error_type).increment(1);
}

/// How long testSecret waited for IAM to accept a new key.
pub fn test_secret_waited(waited: Duration) {
    metrics::histogram!("TestSecretWaitSeconds").record(waited.as_secs_f64());
}

/// What one sweep did to previous keys.
pub fn keys_retired(deactivated: u64, deleted: u64) {
    metrics::counter!("KeysDeactivated").increment(deactivated);
    metrics::counter!("KeysDeleted").increment(deleted);
}

/// How many findings of one kind a sweep raised; the metric is named after the kind.
pub fn sweep_findings(kind: &'static str, count: u64) {
    metrics::counter!(kind).increment(count);
}

/// One audit finding that fails a CIS control.
pub fn audit_finding(cis_control: &str) {
    metrics::counter!("AuditFindings", "Control" => format!("CIS {cis_control}")).increment(1);
}

/// How many high-severity findings an audit raised (the template alarms on any).
pub fn audit_high_severity(count: u64) {
    metrics::counter!("AuditHighSeverity").increment(count);
}

/// How many accounts of the organization an audit could not reach (the template alarms on any).
pub fn audit_accounts_unreachable(count: u64) {
    metrics::counter!("AuditAccountUnreachable").increment(count);
}

/// How many findings did not reach Security Hub: refused, or not written because it failed (the
/// template alarms on any).
pub fn security_hub_not_imported(count: u64) {
    metrics::counter!("SecurityHubNotImported").increment(count);
}

/// How many secrets a sweep could not finish (throttled, refused, unreachable): the template
/// alarms on any.
pub fn sweep_errors(count: u64) {
    metrics::counter!("SweepErrors").increment(count);
}
