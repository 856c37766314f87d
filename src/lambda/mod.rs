//! The Lambda handler: turns an invocation into a rotation step, a sweep or an audit, and the result into Lambda's.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::{error, info};

mod audit;

use crate::engine::Rotator;
use crate::error::Error;
use crate::event::Invocation;
use crate::services::{Functions, Services};
use crate::sweep;
#[cfg(test)]
use audit::AUDIT_MARGIN;
use audit::audit;

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

/// A sweep starts no secret later than this before the invocation's deadline: a secret under way
/// may wait out throttling, within the SDK's 30-second operation timeout.
pub const SWEEP_MARGIN: Duration = Duration::from_secs(35);

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
