//! Secrets Manager's side of a rotation, for fault tests: it runs the four steps, retries the whole
//! rotation with the same token when a step fails, and after that a later rotation starts afresh.

use std::time::Instant;

use iam_key_rotator::services::Services;
use iam_key_rotator::{Rotator, Step};

use super::Bed;
use super::faults::Faults;

/// How a rotation under faults ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The first attempt succeeded: the SDK's retries absorbed the fault.
    Absorbed,
    /// Secrets Manager's retry with the same token succeeded (1-based retry number).
    RetriedWithSameToken(usize),
    /// Every retry failed; a later rotation with a new token succeeded.
    NewRotation,
}

/// Runs the steps in order with `token`; a crash fault drops the running step, as a Lambda
/// timeout kills the process.
pub async fn run_steps<X: Services>(
    bed: &Bed,
    rotator: &Rotator<X>,
    faults: &Faults,
    token: &str,
    deadline: Instant,
) -> Result<(), String> {
    for step in Step::ALL {
        let event = bed.event(step, token);
        tokio::select! {
            biased;
            _ = faults.crashed() => return Err(format!("{step}: the process died")),
            result = rotator.run(&event, deadline) => result.map_err(|e| format!("{step}: {e}"))?,
        }
    }
    Ok(())
}

/// A whole rotation the way Secrets Manager drives it: the first attempt and up to `retries` more
/// with the same token; then, if still failing, an operator cancels it and a new rotation runs.
pub async fn rotate<X: Services>(
    bed: &Bed,
    rotator: &Rotator<X>,
    faults: &Faults,
    retries: usize,
) -> (Outcome, String) {
    let deadline = super::far_deadline();
    let token = bed.start_rotation().await;
    let mut last_error = String::new();
    for attempt in 0..=retries {
        match run_steps(bed, rotator, faults, &token, deadline).await {
            Ok(()) if attempt == 0 => return (Outcome::Absorbed, token),
            Ok(()) => return (Outcome::RetriedWithSameToken(attempt), token),
            Err(e) => last_error = e,
        }
    }
    // Secrets Manager gave up; the next rotation needs the stuck one cancelled first.
    bed.take_pending_off(&token)
        .await
        .unwrap_or_else(|e| panic!("cancelling the stuck rotation after {last_error}: {e}"));
    faults.stop_failing();
    let token = bed.start_rotation().await;
    run_steps(bed, rotator, faults, &token, deadline)
        .await
        .unwrap_or_else(|e| panic!("a new rotation after {last_error}: {e}"));
    (Outcome::NewRotation, token)
}
