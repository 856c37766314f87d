//! People and other rotations acting around the engine: keys made by hand, keys switched back on,
//! keys deleted, secrets edited while a rotation is stuck, Secrets Manager's configuration test.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;
use crate::rotation::cli_driver;
use crate::services::KeyStatus::Expired;

const TOKEN_2: &str = "22222222-3333-4444-5555-666666666666";

fn days_ago(days: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(days * 86_400)
}

/// Backdates a key's creation, as if it had been made `days` ago.
fn made_days_ago(world: &World, key_id: &str, days: u64) {
    let mut state = world.iam.state();
    let key = state.keys.iter_mut().find(|k| k.info.id == key_id).unwrap();
    key.info.created = Some(days_ago(days));
}

#[tokio::test]
async fn a_key_made_by_hand_before_the_rotation_began_is_never_taken_for_a_crash_leftover() {
    let world = World::new().await;
    // The current version is a month old; a person made a key a week ago, for a system that
    // goes live tomorrow, and never used it yet. The rotation starts today.
    world.secrets.state().versions[0].created = days_ago(30);
    let by_hand = world.iam.create_key("ci-bot").await.unwrap();
    made_days_ago(&world, &by_hand.id, 7);

    let err = world.run(Step::CreateSecret).await.unwrap_err();

    assert_eq!(err.kind(), "KeyQuotaExceeded");
    assert!(err.to_string().contains(&by_hand.id), "{err}");
    assert!(world.keys().iter().any(|(id, _)| *id == by_hand.id));
    assert_eq!(world.secrets.labels_of(TOKEN), ["AWSPENDING"]);
}

#[tokio::test]
async fn a_key_switched_back_on_and_in_use_is_never_deleted_to_make_room() {
    let world = World::new().await;
    world.rotate().await.unwrap();
    // During an incident an operator switched the old key back on; a system signs with it.
    world.iam.set_status(&world.old_key, Active);
    world.iam.use_key(&world.old_key);
    world.start_rotation(TOKEN_2);
    let keys_before = world.keys();

    let err = world
        .run_token(Step::CreateSecret, TOKEN_2)
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "KeyQuotaExceeded");
    let message = err.to_string();
    for expected in [world.old_key.as_str(), "in use", "s3", "eu-west-1", "delay"] {
        assert!(
            message.contains(expected),
            "{expected:?} missing: {message}"
        );
    }
    assert_eq!(world.keys(), keys_before);
}

#[tokio::test]
async fn an_old_versions_key_unused_since_the_current_version_may_still_make_room() {
    let world = World::new().await;
    // Made a month ago, last used ten days ago, long before the current version was stored.
    world.iam.state().keys[0].info.created = Some(days_ago(30));
    world.iam.state().keys[0].last_used = Some(days_ago(10));
    world.rotate().await.unwrap();
    world.iam.set_status(&world.old_key, Active);
    // Stored long enough ago for AWS to have reported a use since (ROTATOR_LAST_USE_LAG).
    stored_hours_ago(&world, TOKEN, 5);
    world.start_rotation(TOKEN_2);

    world.run_token(Step::CreateSecret, TOKEN_2).await.unwrap();

    assert!(!world.keys().iter().any(|(id, _)| *id == world.old_key));
}

#[tokio::test]
async fn a_key_made_moments_ago_is_never_deleted_to_make_room_although_no_use_shows_yet() {
    let world = World::new().await;
    // The current version is old, so "no use since it was stored" looks conclusive...
    stored_hours_ago(&world, OLD_VERSION, 5);
    // ...but a rotation was called off moments ago, leaving its new key Active and held only by
    // its version (its key may have been handed out; AWS shows a use hours late).
    world.run(Step::CreateSecret).await.unwrap();
    world
        .secrets
        .state()
        .versions
        .iter_mut()
        .filter(|v| v.id == TOKEN)
        .for_each(|v| v.labels.clear());
    world.start_rotation(TOKEN_2);
    let keys_before = world.keys();

    let err = world
        .run_token(Step::CreateSecret, TOKEN_2)
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "KeyQuotaExceeded", "{err}");
    assert!(err.to_string().contains("was made at"), "{err}");
    assert_eq!(world.keys(), keys_before);
}

/// Backdates when a version was stored.
fn stored_hours_ago(world: &World, version: &str, hours: u64) {
    let mut state = world.secrets.state();
    let stored = state.versions.iter_mut().find(|v| v.id == version).unwrap();
    stored.created = SystemTime::now() - Duration::from_secs(hours * 3600);
}

#[tokio::test]
async fn a_previous_key_in_its_grace_period_is_never_deleted_to_make_room() {
    let world = World::with_config(Config {
        retire: crate::config::RetirePolicy {
            deactivate_after: Duration::from_secs(24 * 3600),
            ..Default::default()
        },
        ..fast_config()
    })
    .await;
    world.rotate().await.unwrap();
    // Someone rotates again an hour later (a schedule changed, a CloudFormation update): the
    // previous key is still Active in its grace period, and no use of it shows yet.
    stored_hours_ago(&world, TOKEN, 1);
    world.start_rotation(TOKEN_2);
    let keys_before = world.keys();

    let err = world
        .run_token(Step::CreateSecret, TOKEN_2)
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "KeyQuotaExceeded");
    let message = err.to_string();
    for expected in [
        world.old_key.as_str(),
        "grace period",
        "iam-key-rotator-cli retire --secret-id",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing: {message}"
        );
    }
    assert_eq!(world.keys(), keys_before);
}

#[tokio::test]
async fn no_use_seen_of_a_key_proves_nothing_until_aws_could_have_reported_it() {
    let world = World::new().await;
    world.rotate().await.unwrap();
    // Switched back on at once and used at once, but AWS shows that use only hours later: the
    // current version is minutes old, so "not used since it was stored" means nothing yet.
    world.iam.set_status(&world.old_key, Active);
    stored_hours_ago(&world, TOKEN, 1);
    world.start_rotation(TOKEN_2);
    let keys_before = world.keys();

    let err = world
        .run_token(Step::CreateSecret, TOKEN_2)
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "KeyQuotaExceeded");
    assert!(err.to_string().contains("ROTATOR_LAST_USE_LAG"), "{err}");
    assert_eq!(world.keys(), keys_before);
}

#[tokio::test]
async fn finish_refuses_a_pending_key_that_was_deleted_and_changes_nothing() {
    let world = World::new().await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        world.run(step).await.unwrap();
    }
    let new_key = world.keys()[1].0.clone();
    world.iam.delete_key("ci-bot", &new_key).await.unwrap();
    let writes = world.writes();

    let err = world.run(Step::FinishSecret).await.unwrap_err();

    assert_eq!(err.kind(), "PendingKeyUnusable");
    assert!(err.to_string().contains("Nothing was changed"), "{err}");
    assert_eq!(world.secrets.labels_of(OLD_VERSION), ["AWSCURRENT"]);
    assert_eq!(world.keys(), [(world.old_key.clone(), Active)]);
    assert_eq!(world.writes(), writes);
}

#[tokio::test]
async fn finish_refuses_a_pending_key_that_is_not_active() {
    for status in [Inactive, Expired] {
        let world = World::new().await;
        for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
            world.run(step).await.unwrap();
        }
        let new_key = world.keys()[1].0.clone();
        world.iam.set_status(&new_key, status);

        let err = world.run(Step::FinishSecret).await.unwrap_err();

        assert_eq!(err.kind(), "PendingKeyUnusable", "{status:?}");
        assert_eq!(world.secrets.labels_of(OLD_VERSION), ["AWSCURRENT"]);
        assert!(world.keys().contains(&(world.old_key.clone(), Active)));
    }
}

/// A stuck rotation; then an operator stores a value of their own as AWSCURRENT.
async fn stuck_then_operator_stores(world: &World, value: serde_json::Value, stored_in: Duration) {
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        world.run(step).await.unwrap();
    }
    let mut state = world.secrets.state();
    state.versions[0].labels = vec!["AWSPREVIOUS".into()];
    state.versions.push(FakeVersion {
        id: "33333333-3333-3333-3333-333333333333".into(),
        labels: vec!["AWSCURRENT".into()],
        value: Some(value.to_string()),
        created: SystemTime::now() + stored_in,
    });
}

#[tokio::test]
async fn a_stale_rotation_never_undoes_a_value_an_operator_stored_meanwhile() {
    let world = World::new().await;
    let mut operators = world.current();
    operators["Team"] = json!("payments");
    stuck_then_operator_stores(&world, operators.clone(), Duration::from_secs(60)).await;
    let writes = world.writes();

    let err = world.run(Step::FinishSecret).await.unwrap_err();

    assert_eq!(err.kind(), "StaleRotation");
    assert!(err.to_string().contains("cancel --secret-id"), "{err}");
    assert_eq!(world.current(), operators);
    assert_eq!(world.writes(), writes);
    assert!(world.keys().contains(&(world.old_key.clone(), Active)));
}

#[tokio::test]
async fn a_stale_rotation_is_refused_even_when_the_operators_value_looks_the_same() {
    let world = World::new().await;
    // The operator put the same fields back, later than this rotation's key was made.
    let operators = world.current();
    stuck_then_operator_stores(&world, operators, Duration::from_secs(60)).await;

    let err = world.run(Step::FinishSecret).await.unwrap_err();

    assert_eq!(err.kind(), "StaleRotation");
    assert!(world.keys().contains(&(world.old_key.clone(), Active)));
}

#[tokio::test]
async fn configuration_test_without_a_pending_value_passes_and_changes_nothing() {
    let world = World::new().await;

    world.run(Step::TestSecret).await.unwrap();

    assert_eq!(world.writes(), 0);
    assert_eq!(*world.sts.calls.lock().unwrap(), 0);
    assert_eq!(world.keys(), [(world.old_key.clone(), Active)]);
}

#[tokio::test]
async fn configuration_test_with_a_copy_of_the_current_value_passes_and_changes_nothing() {
    let world = World::new().await;
    let copy = world.secrets.value_labelled("AWSCURRENT");
    world.secrets.state().versions[1].value = copy;

    world.run(Step::TestSecret).await.unwrap();

    assert_eq!(world.writes(), 0);
}

#[tokio::test]
async fn configuration_test_still_refuses_a_user_out_of_scope() {
    let world = World::new().await;
    world.iam.add_user("admin", "/");
    world.secrets.state().versions[0].value = Some(json!({"UserName": "admin"}).to_string());

    let err = world.run(Step::TestSecret).await.unwrap_err();

    assert_eq!(err.kind(), "UserOutOfScope");
}

#[tokio::test]
async fn an_expired_key_may_make_room_but_a_key_of_unknown_status_never_goes() {
    let world = World::new().await;
    let expired = world.iam.create_key("ci-bot").await.unwrap();
    world.iam.set_status(&expired.id, Expired);
    world.iam.use_key(&expired.id);
    world.rotate().await.unwrap();
    assert!(!world.keys().iter().any(|(id, _)| *id == expired.id));

    let world = World::new().await;
    let odd = world.iam.create_key("ci-bot").await.unwrap();
    world.iam.set_status(&odd.id, KeyStatus::Unknown);
    let err = world.run(Step::CreateSecret).await.unwrap_err();
    assert_eq!(err.kind(), "KeyQuotaExceeded");
    assert!(err.to_string().contains("status"), "{err}");
}

#[tokio::test]
async fn a_clean_rotation_reads_each_version_once() {
    let world = World::new().await;
    world.rotate().await.unwrap();
    let calls = world.secrets.state().calls.clone();
    let count = |op: &str| calls.iter().filter(|c| **c == op).count();
    // The token's empty version and AWSCURRENT, each once; the stored value is known from then on.
    assert_eq!(count("GetSecretValue"), 2, "{calls:?}");
    assert_eq!(count("DescribeSecret"), 4, "{calls:?}");
    assert_eq!(count("UpdateSecretVersionStage"), 1, "{calls:?}");
}

#[tokio::test]
async fn set_abandons_a_rotation_whose_pending_key_vanished_so_the_next_can_start() {
    let world = World::new().await;
    world.run(Step::CreateSecret).await.unwrap();
    let new_key = world.keys()[1].0.clone();
    world.iam.delete_key("ci-bot", &new_key).await.unwrap();

    let err = world.run(Step::SetSecret).await.unwrap_err();

    assert_eq!(err.kind(), "PendingKeyUnusable");
    assert!(err.to_string().contains("abandoned"), "{err}");
    assert!(world.secrets.labels_of(TOKEN).is_empty());
    world.start_rotation(TOKEN_2);
    for step in Step::ALL {
        world.run_token(step, TOKEN_2).await.unwrap();
    }
    assert_eq!(
        world.secrets.labels_of(TOKEN_2),
        ["AWSCURRENT", "AWSPENDING"]
    );
}

#[tokio::test]
async fn a_cli_rotation_that_fails_half_way_is_cancelled_and_leaves_nothing_stuck() {
    let mut config = fast_config();
    config.test_budget = Duration::from_millis(30);
    let world = World::with_config(config).await;
    world.secrets.state().versions.retain(|v| v.id != TOKEN);
    *world.sts.refusals.lock().unwrap() = u32::MAX;

    let err = cli_driver::rotate(&world.rotator, SECRET, far_deadline())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "KeyNeverValid");
    assert!(world.secrets.describe_now().unfinished_rotation().is_none());
    assert!(world.secrets.state().tags.is_empty());
    // The new key was never used, so it is gone; the current key is untouched.
    assert_eq!(world.keys(), [(world.old_key.clone(), Active)]);
    assert_eq!(world.secrets.labels_of(OLD_VERSION), ["AWSCURRENT"]);
}

#[tokio::test]
async fn a_cli_rotation_never_takes_over_one_secrets_manager_may_still_be_running() {
    let world = World::new().await;
    // Secrets Manager began this rotation moments ago; its attempt may still be under way.
    world.run(Step::CreateSecret).await.unwrap();
    let before = (world.keys(), world.secrets.describe_now().versions);
    let writes = world.writes();

    let err = cli_driver::rotate(&world.rotator, SECRET, far_deadline())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "RotationInFlight");
    assert_eq!(
        err.remedy(),
        crate::error::Remedy::Retry,
        "exit 5: run again later"
    );
    assert!(err.to_string().contains(TOKEN), "{err}");
    assert_eq!(world.writes(), writes, "nothing was changed");
    assert_eq!(
        (world.keys(), world.secrets.describe_now().versions),
        before
    );

    // Once no attempt of it can still be running, the CLI takes it over and finishes it.
    world.started_long_ago(TOKEN);
    let rotation = cli_driver::rotate(&world.rotator, SECRET, far_deadline())
        .await
        .unwrap();
    assert_eq!(rotation.resumed.as_deref(), Some(TOKEN));
}

#[tokio::test]
async fn a_cli_rotation_resumes_one_left_unfinished_and_finishes_it() {
    let world = World::new().await;
    world.run(Step::CreateSecret).await.unwrap();
    world.started_long_ago(TOKEN);
    let pending_key = world.value_of(TOKEN)["AccessKeyId"].clone();

    let rotation = cli_driver::rotate(&world.rotator, SECRET, far_deadline())
        .await
        .unwrap();

    assert_eq!(rotation.resumed.as_deref(), Some(TOKEN));
    assert_eq!(world.current()["AccessKeyId"], pending_key);
    assert_eq!(world.secrets.labels_of(TOKEN), ["AWSCURRENT"]);
}

#[tokio::test]
async fn a_cli_rotation_restarts_one_that_cannot_finish() {
    let world = World::new().await;
    world.run(Step::CreateSecret).await.unwrap();
    world.started_long_ago(TOKEN);
    let pending_key = world.value_of(TOKEN)["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    world.iam.delete_key("ci-bot", &pending_key).await.unwrap();

    let rotation = cli_driver::rotate(&world.rotator, SECRET, far_deadline())
        .await
        .unwrap();

    assert_eq!(rotation.resumed.as_deref(), Some(TOKEN));
    assert_ne!(rotation.token, TOKEN);
    assert_eq!(world.secrets.labels_of(&rotation.token), ["AWSCURRENT"]);
    assert!(world.secrets.describe_now().unfinished_rotation().is_none());
}

#[tokio::test]
async fn a_cli_run_after_a_crash_between_making_and_storing_its_key_removes_that_key() {
    let world = World::new().await;
    world.secrets.state().versions.retain(|v| v.id != TOKEN);
    // The crashed run noted its rotation on the secret, made a key, and died.
    let noted = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    world.secrets.state().tags = vec![(
        crate::rotation::CLI_ROTATION_TAG.into(),
        format!("{TOKEN} {noted}"),
    )];
    let orphan = world.iam.create_key("ci-bot").await.unwrap();

    let rotation = cli_driver::rotate(&world.rotator, SECRET, far_deadline())
        .await
        .unwrap();

    assert_eq!(rotation.token, TOKEN);
    assert!(!world.keys().iter().any(|(id, _)| *id == orphan.id));
    assert!(world.secrets.state().tags.is_empty());
}

#[tokio::test]
async fn cancel_deletes_the_pending_key_only_when_it_was_never_used() {
    for used in [false, true] {
        let world = World::new().await;
        world.run(Step::CreateSecret).await.unwrap();
        let pending_key = world.value_of(TOKEN)["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_string();
        if used {
            world.iam.use_key(&pending_key);
        }

        let changes = cli_driver::cancel(&world.rotator, SECRET).await.unwrap();

        assert!(world.secrets.labels_of(TOKEN).is_empty());
        let still_there = world.keys().iter().any(|(id, _)| *id == pending_key);
        assert_eq!(still_there, used);
        let actions: Vec<&str> = changes.iter().map(|c| c.action.as_str()).collect();
        let expected = if used { "kept" } else { "deleted" };
        assert_eq!(actions, ["abandoned", expected]);
        assert!(world.keys().contains(&(world.old_key.clone(), Active)));
    }
}

/// A pending version written by hand under the token, naming another user (its own key included),
/// as someone who may write this secret could store one.
fn forge_pending_for(world: &World, user: &str, key_id: &str) {
    let forged = json!({"UserName": user, "AccessKeyId": key_id, "SecretAccessKey": "forged", "Team": "platform"});
    world.secrets.set_value(TOKEN, forged.to_string());
}

/// A rotator as a fresh process has it: it knows no value yet.
fn fresh_rotator(world: &World, config: Config) -> FakeRotator {
    Rotator::new(
        world.secrets.clone(),
        world.iam.clone(),
        world.sts.clone(),
        config,
    )
}

#[tokio::test]
async fn no_step_acts_on_a_pending_version_that_names_another_user() {
    let world = World::new().await;
    world.iam.add_user("victim", "/rotated/");
    let victims_key = world.iam.create_key("victim").await.unwrap();
    forge_pending_for(&world, "victim", &victims_key.id);
    let writes_before = world.writes();

    for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
        let err = fresh_rotator(&world, fast_config())
            .run(&event(step), far_deadline())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "UserMismatch", "{step}: {err}");
        assert!(err.to_string().contains("victim"), "{err}");
    }

    assert_eq!(world.writes(), writes_before, "nothing changed");
    assert_eq!(world.iam.keys_of("victim"), [(victims_key.id, Active)]);
    assert_eq!(world.secrets.labels_of(OLD_VERSION), ["AWSCURRENT"]);
}

#[tokio::test]
async fn finish_refuses_a_user_no_longer_bound_to_the_secret_and_changes_nothing() {
    let world = World::new().await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        world.run(step).await.unwrap();
    }
    // The user's binding tag now names another secret (or was never this one's).
    let bound = Config {
        user_tag: Some("iam-key-rotator:secret".into()),
        ..fast_config()
    };
    let writes_before = world.writes();

    let err = fresh_rotator(&world, bound)
        .run(&event(Step::FinishSecret), far_deadline())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "UserOutOfScope", "{err}");
    assert_eq!(world.writes(), writes_before, "nothing changed");
    assert_eq!(world.secrets.labels_of(OLD_VERSION), ["AWSCURRENT"]);
    assert!(world.keys().contains(&(world.old_key.clone(), Active)));
}

#[tokio::test]
async fn cancel_never_deletes_the_key_of_another_user_a_hand_written_pending_version_names() {
    let world = World::new().await;
    // No tag binding here (fast_config): only the pending version tells whose key it is.
    world.iam.add_user("victim", "/rotated/");
    let victims_key = world.iam.create_key("victim").await.unwrap();
    forge_pending_for(&world, "victim", &victims_key.id);

    let changes = cli_driver::cancel(&world.rotator, SECRET).await.unwrap();

    assert_eq!(
        world.iam.keys_of("victim"),
        [(victims_key.id.clone(), Active)]
    );
    assert!(
        world.secrets.labels_of(TOKEN).is_empty(),
        "cancelled all the same"
    );
    let kept = changes
        .iter()
        .find(|c| c.key_id.as_deref() == Some(victims_key.id.as_str()))
        .expect("the key left alone is named");
    assert_eq!(kept.action.as_str(), "kept");
    assert!(kept.reason.contains("victim"), "{}", kept.reason);
    assert!(world.keys().contains(&(world.old_key.clone(), Active)));
}

#[tokio::test]
async fn cancel_never_deletes_a_pending_key_it_cannot_compare_with_the_secrets_user() {
    let world = World::new().await;
    world.run(Step::CreateSecret).await.unwrap();
    let pending_key = world.value_of(TOKEN)["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    // Someone stored a value under AWSCURRENT that is no key secret at all.
    world.secrets.set_value(OLD_VERSION, "not a key secret");

    let changes = cli_driver::cancel(&world.rotator, SECRET).await.unwrap();

    assert!(world.keys().iter().any(|(id, _)| *id == pending_key));
    let kept = changes
        .iter()
        .find(|c| c.key_id.as_deref() == Some(pending_key.as_str()))
        .expect("the key left alone is named");
    assert_eq!(kept.action.as_str(), "kept");
}
