//! Every AWS call of a rotation, failed every way AWS calls fail, with Secrets Manager's retries
//! after it: the invariants hold after every single call, and the rotation always completes.
//!
//! Each test covers one kind of fault at every call point and writes its row of the matrix to
//! target/fault-matrix/<kind>.txt; `make test` prints the matrix.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use iam_key_rotator::wiring;
use support::faults::{FaultKind, Faults};
use support::invariants::Invariants;
use support::secrets_manager::{Outcome, rotate};
use support::{Bed, moto, test_config};

/// A user with a secret, as the matrix starts from: the secret holds the user's key, or (`with_key`
/// false) only the user's name, the user having no key yet.
async fn new_bed(with_key: bool) -> Bed {
    let bed = Bed::with_value(|user, id, secret| {
        serde_json::json!({"UserName": user, "AccessKeyId": id, "SecretAccessKey": secret, "Team": "payments"})
    })
    .await;
    if !with_key {
        bed.iam
            .delete_access_key()
            .user_name(&bed.user)
            .access_key_id(&bed.first_key)
            .send()
            .await
            .unwrap();
        let value = serde_json::json!({"UserName": bed.user, "Team": "payments"}).to_string();
        bed.sm
            .put_secret_value()
            .secret_id(&bed.secret_arn)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    bed
}

/// Requests in a clean rotation, counted through the injector with nothing failing.
async fn requests_in_a_rotation(with_key: bool) -> usize {
    let faults = Faults::default();
    let bed = new_bed(with_key).await;
    let rotator = wiring::rotator(&moto().sdk_config_with_faults(&faults).await, test_config());
    faults.fail(usize::MAX, 0, FaultKind::Throttling);
    let (outcome, _) = rotate(&bed, &rotator, &faults, 0).await;
    assert_eq!(outcome, Outcome::Absorbed);
    faults.requests()
}

/// Fails the requests of every call point in turn, three in a row so that the fault outlasts the
/// SDK's own retries and reaches the rotation.
async fn matrix_row(kind: FaultKind) {
    matrix_row_of(kind, 3, true).await
}

/// One row of the matrix: `in_a_row` requests fail from each call point on; the secret starts
/// holding its user's key, or (`with_key` false) only the user's name, the user having no key.
async fn matrix_row_of(kind: FaultKind, in_a_row: usize, with_key: bool) {
    let calls = requests_in_a_rotation(with_key).await;
    let mut outcomes = BTreeMap::new();
    let mut checks = 0;
    for call in 1..=calls {
        let bed = new_bed(with_key).await;
        let invariants = Arc::new(Invariants::new(bed).await);
        let faults = Faults::default();
        let rotator = wiring::rotator(&moto().sdk_config_with_faults(&faults).await, test_config());
        let watcher = invariants.clone();
        faults.after_each(Arc::new(move || {
            let watcher = watcher.clone();
            Box::pin(async move { watcher.check_during("after a call").await })
        }));

        faults.fail(call, in_a_row, kind);
        let (outcome, token) = rotate(&invariants.bed, &rotator, &faults, 3).await;
        invariants.check_completed("after the rotation").await;
        let bed = &invariants.bed;
        assert_eq!(
            bed.version_of("AWSCURRENT").await.as_deref(),
            Some(token.as_str()),
            "{kind:?} at call {call}"
        );
        assert_eq!(
            bed.unfinished_rotation().await,
            None,
            "{kind:?} at call {call}"
        );
        // The old key stays, inactive, for a grace period; a secret that had none ends with one.
        let expected_keys = if with_key { 2 } else { 1 };
        assert_eq!(
            bed.keys().await.len(),
            expected_keys,
            "{kind:?} at call {call}"
        );

        let violations = invariants.violations();
        assert!(
            violations.is_empty(),
            "{kind:?} at call {call}: {violations:#?}\nfaults: {:?}",
            faults.injected()
        );
        assert!(
            !faults.injected().is_empty(),
            "{kind:?} at call {call}: nothing was injected"
        );
        *outcomes.entry(outcome).or_insert(0) += 1;
        checks += *invariants.checks.lock().unwrap();
    }
    let name = match (with_key, in_a_row) {
        (true, 3) => format!("{kind:?}"),
        _ => format!(
            "{kind:?} x{in_a_row}{}",
            if with_key { "" } else { ", no key yet" }
        ),
    };
    let row = format!(
        "{name:<32} {calls:>3} call points  {}  ({checks} invariant checks, no violation)\n",
        outcomes
            .iter()
            .map(|(o, n)| format!("{o:?}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fault-matrix");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{}.txt", name.replace([' ', ','], ""))),
        &row,
    )
    .unwrap();
    print!("{row}");
}

#[tokio::test]
async fn throttling_at_every_call() {
    matrix_row(FaultKind::Throttling).await;
}

#[tokio::test]
async fn server_errors_at_every_call() {
    matrix_row(FaultKind::ServerError).await;
}

#[tokio::test]
async fn connection_failures_at_every_call() {
    matrix_row(FaultKind::ConnectionFailure).await;
}

#[tokio::test]
async fn timeouts_at_every_call() {
    matrix_row(FaultKind::Timeout).await;
}

#[tokio::test]
async fn lost_responses_at_every_call() {
    matrix_row(FaultKind::LostResponse).await;
}

#[tokio::test]
async fn the_process_dying_before_every_call() {
    matrix_row(FaultKind::CrashBefore).await;
}

#[tokio::test]
async fn the_process_dying_after_every_call() {
    matrix_row(FaultKind::CrashAfter).await;
}

#[tokio::test]
async fn a_single_lost_response_at_every_call_for_a_secret_without_a_key() {
    // One lost answer, retried by the SDK: with no other key, IAM's quota cannot stop the retry of
    // CreateAccessKey from making a second key.
    matrix_row_of(FaultKind::LostResponse, 1, false).await;
}
