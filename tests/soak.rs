//! Soak: 200 full rotations (10 secrets, 20 rotations each) with 10% of all AWS requests failing at
//! random, seeded and reproducible (SOAK_SEED=n). Invariants are checked after every request.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use iam_key_rotator::wiring;
use support::faults::Faults;
use support::invariants::Invariants;
use support::secrets_manager::rotate;
use support::{Bed, moto, test_config};

const SECRETS: usize = 10;
const ROTATIONS_EACH: usize = 20;
const FAULT_RATE: f64 = 0.10;

#[tokio::test]
async fn two_hundred_rotations_under_random_faults_break_no_invariant() {
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261122);
    let faults = Faults::default();
    let rotator = wiring::rotator(&moto().sdk_config_with_faults(&faults).await, test_config());
    let mut outcomes = BTreeMap::new();
    let mut checks = 0;

    for secret in 0..SECRETS {
        let bed = Bed::with_value(|user, id, key| {
            serde_json::json!({"UserName": user, "AccessKeyId": id, "SecretAccessKey": key, "Soak": secret})
        })
        .await;
        let invariants = Arc::new(Invariants::new(bed).await);
        let watcher = invariants.clone();
        faults.after_each(Arc::new(move || {
            let watcher = watcher.clone();
            Box::pin(async move { watcher.check_during("after a call").await })
        }));
        for rotation in 0..ROTATIONS_EACH {
            faults.fail_at_random(
                seed + (secret * ROTATIONS_EACH + rotation) as u64,
                FAULT_RATE,
            );
            let (outcome, _) = rotate(&invariants.bed, &rotator, &faults, 3).await;
            faults.stop_failing();
            invariants.check_completed("after a rotation").await;
            *outcomes.entry(outcome).or_insert(0) += 1;
        }
        let violations = invariants.violations();
        assert!(
            violations.is_empty(),
            "seed {seed}, secret {secret}: {violations:#?}"
        );
        checks += *invariants.checks.lock().unwrap();
    }

    let injected = faults.injected();
    let mut by_kind = BTreeMap::new();
    for (_, _, kind) in &injected {
        *by_kind.entry(format!("{kind:?}")).or_insert(0) += 1;
    }
    let report = format!(
        "soak: seed {seed}, {} rotations, {} faults injected {by_kind:?}, outcomes {outcomes:?}, {checks} invariant checks, 0 violations\n",
        SECRETS * ROTATIONS_EACH,
        injected.len()
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fault-matrix");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("soak.txt"), &report).unwrap();
    print!("{report}");
    assert!(
        injected.len() >= 200,
        "a 10% rate over 200 rotations injects hundreds of faults"
    );
}
