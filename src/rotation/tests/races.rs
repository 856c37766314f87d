//! Two attempts at once, interleaved at every call: a retry overlapping a slow attempt of the same
//! rotation, and the CLI rotating beside a scheduled rotation. Either may fail; neither may leave
//! AWSCURRENT on a dead key, delete the other's new key, or leave the secret stuck.

use std::sync::Arc;

use super::*;
use crate::fakes::Gate;
use crate::rotation::cli_driver;

const TOKEN_2: &str = "22222222-3333-4444-5555-666666666666";
const TOKEN_3: &str = "33333333-4444-5555-6666-777777777777";

/// A second rotator on the same accounts, as another Lambda process would be, whose calls stop
/// at the gate.
fn gated_rotator(world: &World, gate: &Arc<Gate>) -> Arc<FakeRotator> {
    Arc::new(Rotator::new(
        world.secrets.gated(gate),
        world.iam.gated(gate),
        world.sts.clone(),
        fast_config(),
    ))
}

async fn steps(rotator: &FakeRotator, token: &str) -> Result<(), Error> {
    for step in Step::ALL {
        let mut event = event(step);
        event.token = token.into();
        rotator.run(&event, far_deadline()).await?;
    }
    Ok(())
}

/// Runs `attempt` (through `gate`) until its call number `pause_at`, then `meanwhile` to its end,
/// then the rest of `attempt`. Returns false when `attempt` finished before reaching that call.
async fn interleave(
    gate: &Arc<Gate>,
    attempt: impl std::future::Future<Output = Result<(), Error>> + Send + 'static,
    meanwhile: impl std::future::Future<Output = ()>,
) -> bool {
    let mut attempt = tokio::spawn(attempt);
    tokio::select! {
        _ = gate.reached() => {}
        _ = &mut attempt => return false,
    }
    meanwhile.await;
    gate.resume();
    let _ = attempt.await;
    true
}

/// What must hold once the attempts are over and Secrets Manager has retried as it does.
fn assert_healthy(world: &World, moment: &str) {
    let keys = world.keys();
    assert!(keys.len() <= 2, "{moment}: {keys:?}");
    let current = world.current();
    let current_key = current["AccessKeyId"].as_str().unwrap().to_string();
    assert!(
        keys.contains(&(current_key.clone(), Active)),
        "{moment}: AWSCURRENT holds {current_key}, keys {keys:?}"
    );
    let info = world.secrets.describe_now();
    if let Some(pending) = info.unfinished_rotation() {
        let value = world.value_of(&pending.id);
        let key = value["AccessKeyId"].as_str().unwrap_or_default();
        assert!(
            keys.iter().any(|(id, _)| id == key),
            "{moment}: AWSPENDING on {} holds {key}, which is gone",
            pending.id
        );
    }
}

/// Secrets Manager's side after a failed attempt: retries with the same token, up to 3 times, while
/// the token is still pending; then the next scheduled rotation must be able to run.
async fn settle(world: &World, token: &str) {
    for _ in 0..3 {
        let info = world.secrets.describe_now();
        if info.unfinished_rotation().map(|v| v.id.as_str()) != Some(token) {
            break;
        }
        if steps(&world.rotator, token).await.is_ok() {
            break;
        }
    }
}

async fn next_rotation_completes(world: &World, moment: &str) {
    let info = world.secrets.describe_now();
    assert!(
        info.unfinished_rotation().is_none(),
        "{moment}: a rotation is left unfinished: {:?}",
        info.versions
    );
    world.start_rotation(TOKEN_3);
    steps(&world.rotator, TOKEN_3)
        .await
        .unwrap_or_else(|e| panic!("{moment}: the next rotation fails: {e}"));
    assert_healthy(world, moment);
}

#[tokio::test]
async fn a_retry_overlapping_a_slow_attempt_of_the_same_rotation_never_breaks_the_secret() {
    for pause_at in 1.. {
        let world = World::new().await;
        let gate = Gate::pause_at(pause_at);
        let slow = gated_rotator(&world, &gate);
        let reached = interleave(&gate, async move { steps(&slow, TOKEN).await }, async {
            let _ = steps(&world.rotator, TOKEN).await;
        })
        .await;
        if !reached {
            assert!(pause_at > 10, "the attempt made only {pause_at} calls");
            break;
        }
        let moment = format!("slow attempt paused at call {pause_at}");
        assert_healthy(&world, &moment);
        settle(&world, TOKEN).await;
        assert_healthy(&world, &moment);
        next_rotation_completes(&world, &moment).await;
    }
}

#[tokio::test]
async fn the_cli_rotating_beside_a_scheduled_rotation_never_breaks_the_secret() {
    // A rotation begun moments ago (the CLI refuses it) and one stuck for longer than an attempt
    // can run (the CLI takes it over while Secrets Manager's retry runs).
    for long_ago in [false, true] {
        the_cli_rotating_beside_a_scheduled_rotation(long_ago).await;
    }
}

async fn the_cli_rotating_beside_a_scheduled_rotation(long_ago: bool) {
    for pause_at in 1.. {
        let world = World::new().await;
        if long_ago {
            world.started_long_ago(TOKEN);
        }
        let gate = Gate::pause_at(pause_at);
        let scheduled = gated_rotator(&world, &gate);
        let reached = interleave(
            &gate,
            async move { steps(&scheduled, TOKEN).await },
            async {
                let _ = cli_driver::rotate(&world.rotator, SECRET, far_deadline()).await;
            },
        )
        .await;
        if !reached {
            assert!(pause_at > 10, "the attempt made only {pause_at} calls");
            break;
        }
        let moment =
            format!("scheduled rotation (begun long ago: {long_ago}) paused at call {pause_at}");
        assert_healthy(&world, &moment);
        settle(&world, TOKEN).await;
        assert_healthy(&world, &moment);
        next_rotation_completes(&world, &moment).await;
    }
}

#[tokio::test]
async fn another_rotations_new_key_is_never_deleted_to_make_room() {
    let world = World::new().await;
    world.secrets.state().versions.retain(|v| v.id != TOKEN);
    // The CLI reads the secret (no rotation in progress) and is paused; meanwhile Secrets Manager
    // starts a rotation whose createSecret stores its new key.
    let gate = Gate::pause_at(3);
    let cli = gated_rotator(&world, &gate);
    let cli_result = Arc::new(std::sync::Mutex::new(None));
    let result = cli_result.clone();
    interleave(
        &gate,
        async move {
            let outcome = cli_driver::rotate(&cli, SECRET, far_deadline())
                .await
                .map(|_| ());
            *result.lock().unwrap() = Some(outcome.as_ref().map_err(|e| e.kind()).copied());
            outcome
        },
        async {
            world.start_rotation(TOKEN_2);
            world.run_token(Step::CreateSecret, TOKEN_2).await.unwrap();
        },
    )
    .await;

    let scheduled_key = world.value_of(TOKEN_2)["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        world.keys().iter().any(|(id, _)| *id == scheduled_key),
        "the scheduled rotation's key was deleted"
    );
    assert_eq!(
        *cli_result.lock().unwrap(),
        Some(Err("KeyQuotaExceeded")),
        "the CLI must give way"
    );
    for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
        world.run_token(step, TOKEN_2).await.unwrap();
    }
    assert_eq!(world.current()["AccessKeyId"], scheduled_key.as_str());
}

#[tokio::test]
async fn cancel_never_deletes_a_key_that_secrets_manager_promoted_meanwhile() {
    let mut explored = 0;
    for pause_at in 1.. {
        let world = World::new().await;
        for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
            world.run(step).await.unwrap();
        }
        let gate = Gate::pause_at(pause_at);
        let cancelling = gated_rotator(&world, &gate);
        let cancel = async move { cli_driver::cancel(&cancelling, SECRET).await.map(|_| ()) };
        // Secrets Manager's own finishSecret lands while the operator's cancel is under way.
        let finish = async {
            let _ = world.run(Step::FinishSecret).await;
        };
        if !interleave(&gate, cancel, finish).await {
            break;
        }
        explored += 1;
        let current = world.current();
        let current_key = current["AccessKeyId"].as_str().unwrap().to_string();
        assert!(
            world.keys().contains(&(current_key.clone(), Active)),
            "cancel paused at call {pause_at}: AWSCURRENT holds {current_key}, keys {:?}",
            world.keys()
        );
    }
    assert!(explored >= 3, "only {explored} call points explored");
}
