//! IAM's propagation delay: real IAM refuses a new key for seconds after creating it; moto does
//! not, so the fault injector makes STS refuse new keys for a while.

mod support;

use std::time::{Duration, Instant};

use iam_key_rotator::{Config, Step, wiring};
use support::faults::Faults;
use support::{Bed, moto};

fn config(budget: Duration) -> Config {
    Config {
        test_budget: budget,
        test_first_delay: Duration::from_millis(100),
        test_max_delay: Duration::from_millis(400),
        user_path_prefix: "/rotated/".into(),
        ..Config::default()
    }
}

/// Starts a rotation and runs createSecret and setSecret; returns the token.
async fn create_and_set(bed: &Bed, rotator: &wiring::AwsRotator) -> String {
    let token = bed.start_rotation().await;
    for step in [Step::CreateSecret, Step::SetSecret] {
        rotator
            .run(&bed.event(step, &token), support::far_deadline())
            .await
            .unwrap();
    }
    token
}

#[tokio::test]
async fn a_delay_inside_the_budget_is_waited_out() {
    let bed = Bed::new().await;
    let faults = Faults::default();
    faults.propagation_delay(Some(Duration::from_secs(2)));
    let rotator = wiring::rotator(
        &moto().sdk_config_with_faults(&faults).await,
        config(Duration::from_secs(8)),
    );
    let token = bed.start_rotation().await;

    let started = Instant::now();
    bed.run_steps(&rotator, &token)
        .await
        .expect("the rotation waits for the key");

    assert!(started.elapsed() >= Duration::from_secs(2), "it did wait");
    assert_eq!(
        bed.version_of("AWSCURRENT").await.as_deref(),
        Some(token.as_str())
    );
    assert_eq!(bed.active_keys().await.len(), 1);
}

#[tokio::test]
async fn a_delay_beyond_the_budget_fails_cleanly_and_the_retry_finishes_with_the_same_key() {
    let bed = Bed::new().await;
    let faults = Faults::default();
    faults.propagation_delay(Some(Duration::from_secs(3600)));
    let rotator = wiring::rotator(
        &moto().sdk_config_with_faults(&faults).await,
        config(Duration::from_secs(1)),
    );
    let token = create_and_set(&bed, &rotator).await;
    let pending_key = bed.value("AWSPENDING").await["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();

    let started = Instant::now();
    let err = rotator
        .run(
            &bed.event(Step::TestSecret, &token),
            support::far_deadline(),
        )
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "KeyNeverValid");
    assert!(
        err.to_string().contains("InvalidClientTokenId") && err.to_string().contains(&pending_key),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the budget bounds the wait"
    );
    let current_version = bed.version_of("AWSCURRENT").await.unwrap();
    assert_ne!(current_version, token, "no label moved");
    assert_eq!(
        bed.value("AWSCURRENT").await["AccessKeyId"],
        bed.first_key.as_str()
    );
    assert_eq!(
        bed.version_of("AWSPENDING").await.as_deref(),
        Some(token.as_str())
    );
    assert!(
        bed.active_keys().await.contains(&pending_key),
        "the pending key stays for the retry"
    );

    // IAM catches up; Secrets Manager's retry with the same token finishes with the same key.
    faults.propagation_delay(None);
    bed.run_steps(&rotator, &token)
        .await
        .expect("the retry finishes");
    assert_eq!(
        bed.value("AWSCURRENT").await["AccessKeyId"],
        pending_key.as_str()
    );
    assert_eq!(bed.keys().await.len(), 2);
}

#[tokio::test]
async fn the_wait_never_runs_past_the_invocations_deadline() {
    let bed = Bed::new().await;
    let faults = Faults::default();
    faults.propagation_delay(Some(Duration::from_secs(3600)));
    let rotator = wiring::rotator(
        &moto().sdk_config_with_faults(&faults).await,
        config(Duration::from_secs(600)),
    );
    let token = create_and_set(&bed, &rotator).await;

    let deadline = Instant::now() + Duration::from_millis(1500);
    let err = rotator
        .run(&bed.event(Step::TestSecret, &token), deadline)
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "KeyNeverValid");
    assert!(
        Instant::now() <= deadline + Duration::from_millis(250),
        "returned after the deadline"
    );
}
