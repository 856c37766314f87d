//! The sweep's promises to the people around it: an adopted key is retired only once quiet, an
//! operator who switched a key back on is never undone, and no deletion comes early, whatever the
//! listing shows or however many sweeps run at once.

use super::*;

/// An adopted secret: AWSCURRENT holds only the id of the key its consumers use (no secret part),
/// then its first rotation runs under a policy that deactivates previous keys at rotation.
async fn adopted_and_rotated() -> (World, String, SystemTime) {
    let world = World::with_policy(RetirePolicy {
        deactivate_after: Duration::ZERO,
        ..policy()
    })
    .await;
    world
        .iam
        .delete_key("ci-bot", &world.old_key)
        .await
        .unwrap();
    {
        let mut state = world.secrets.state();
        state.versions.retain(|v| v.id == V1);
        state.versions[0].value =
            Some(json!({"UserName": "ci-bot", "AccessKeyId": world.new_key}).to_string());
    }
    start_rotation(&world);
    rotate(&world.rotator).await.unwrap();
    let adopted = world.new_key.clone();
    (world, adopted, SystemTime::now())
}

#[tokio::test]
async fn an_adopted_key_stays_active_after_its_first_rotation_and_is_retired_only_once_quiet() {
    let (world, adopted, rotated) = adopted_and_rotated().await;
    assert_eq!(
        world.status_of(&adopted),
        Some(Active),
        "finishSecret must not cut off consumers that cannot have moved yet"
    );

    // Not used since the adoption, but not quiet for QUIET_FOR since then either.
    let report = world.sweep_at(rotated + HOUR / 2).await;
    assert!(report.actions.is_empty(), "{report:?}");
    assert_eq!(world.status_of(&adopted), Some(Active));

    // In use: kept, and the hourly sweep names who uses it.
    let used = rotated + HOUR / 2;
    world.used_at(&adopted, used);
    let report = world.sweep_at(used + HOUR / 2).await;
    assert_eq!(actions(&report), [("kept_in_use", adopted.as_str())]);
    assert_eq!(kinds(&report), [FindingKind::PreviousKeyInUse]);
    assert!(report.findings[0].detail.contains("s3"), "{report:?}");
    assert!(
        report.findings[0].detail.contains("eu-west-1"),
        "{report:?}"
    );
    assert_eq!(world.status_of(&adopted), Some(Active));

    // Quiet for QUIET_FOR: the hourly sweep retires it, then deletes it after DELETE_AFTER.
    let quiet = used + HOUR + Duration::from_secs(60);
    let report = world.sweep_at(quiet).await;
    assert_eq!(actions(&report), [("deactivated", adopted.as_str())]);
    assert!(world.sweep_at(quiet + 6 * DAY).await.actions.is_empty());
    assert_eq!(world.status_of(&adopted), Some(Inactive));
    let report = world.sweep_at(quiet + 7 * DAY + HOUR).await;
    assert_eq!(actions(&report), [("deleted", adopted.as_str())]);
}

#[tokio::test]
async fn an_adopted_key_waits_out_the_quiet_time_from_its_adoption_whatever_the_grace_period() {
    let world = World::with_policy(RetirePolicy {
        quiet_for: 2 * HOUR,
        ..policy()
    })
    .await;
    let adopted = world.old_key.clone();
    world.secrets.state().versions[0].value =
        Some(json!({"UserName": "ci-bot", "AccessKeyId": adopted}).to_string());
    // Never used, and past the grace period: an ordinary previous key would go now.
    let report = world.sweep_at(world.rotated + HOUR + HOUR / 2).await;
    assert!(report.actions.is_empty(), "{report:?}");
    assert_eq!(world.status_of(&adopted), Some(Active));
    let report = world.sweep_at(world.rotated + 2 * HOUR + HOUR / 2).await;
    assert_eq!(actions(&report), [("deactivated", adopted.as_str())]);
}

fn deep() -> Options {
    Options {
        deep: true,
        ..options()
    }
}

fn one(dry_run: bool) -> Options {
    Options {
        secret_id: Some(NAME.into()),
        dry_run,
        ..options()
    }
}

#[tokio::test]
async fn a_key_switched_back_on_is_left_alone_by_every_sweep_until_the_next_rotation() {
    let kinds_of_sweep = [
        ("hourly", options()),
        ("deep", deep()),
        ("one secret", one(false)),
        ("dry run", one(true)),
    ];
    for (first, first_options) in &kinds_of_sweep {
        let world = World::new().await;
        let now = world.rotated + 3 * HOUR;
        world.sweep_at(now).await;
        assert_eq!(world.status_of(&world.old_key), Some(Inactive));
        world.iam.set_status(&world.old_key, Active);

        world.sweep_with(first_options, now + HOUR).await;
        for (later, later_options) in &kinds_of_sweep {
            for at in [now + 2 * HOUR, now + 8 * DAY, now + 30 * DAY] {
                let report = world.sweep_with(later_options, at).await;
                let touched: Vec<_> = actions(&report)
                    .into_iter()
                    .filter(|(action, _)| *action != "left_alone")
                    .collect();
                assert!(
                    touched.is_empty(),
                    "a {later} sweep after a {first} one: {report:?}"
                );
                assert_eq!(
                    world.status_of(&world.old_key),
                    Some(Active),
                    "a {later} sweep after a {first} one"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_note_in_a_tag_never_shortens_the_wait_before_a_deletion() {
    let world = World::new().await;
    world.iam.set_status(&world.old_key, Inactive);
    // A note claiming the key was deactivated long ago (forged, or left by a bug).
    world.secrets.state().tags.push((
        NOTE_TAG.into(),
        note::write(
            V0,
            Note::Deactivated(SystemTime::UNIX_EPOCH + Duration::from_secs(1)),
        ),
    ));
    for options in [options(), deep()] {
        let report = world.sweep_with(&options, world.rotated + DAY).await;
        assert!(report.actions.is_empty(), "{report:?}");
    }
    assert_eq!(world.status_of(&world.old_key), Some(Inactive));

    // Used after the rotation: the wait counts from that use.
    world.used_at(&world.old_key, world.rotated + 2 * DAY);
    let report = world.sweep_at(world.rotated + 8 * DAY).await;
    assert!(report.actions.is_empty(), "{report:?}");
    let report = world.sweep_at(world.rotated + 9 * DAY + HOUR).await;
    assert_eq!(actions(&report), [("deleted", world.old_key.as_str())]);
}

/// A previous key last used a day after its rotation, deactivated by the sweep a week later, when
/// the deletion time counted from that use is over already: `deactivated` is when.
async fn deactivated_a_week_after_its_last_use() -> (World, SystemTime) {
    let world = World::new().await;
    world.used_at(&world.old_key, world.rotated + DAY);
    let deactivated = world.rotated + 8 * DAY + HOUR;
    (world, deactivated)
}

#[tokio::test]
async fn a_listing_minutes_behind_deletes_nothing_early() {
    let (world, deactivated) = deactivated_a_week_after_its_last_use().await;
    world.secrets.freeze_listing();
    let report = world.sweep_at(deactivated).await;
    assert_eq!(actions(&report), [("deactivated", world.old_key.as_str())]);

    // The listing still shows the secret as it was before: no note yet.
    for options in [options(), deep(), one(false)] {
        let report = world.sweep_with(&options, deactivated + HOUR).await;
        assert!(report.actions.is_empty(), "{report:?}");
        assert_eq!(world.status_of(&world.old_key), Some(Inactive));
    }
    world.secrets.thaw_listing();
    let report = world.sweep_at(deactivated + 7 * DAY + HOUR).await;
    assert_eq!(actions(&report), [("deleted", world.old_key.as_str())]);
}

#[tokio::test]
async fn two_sweeps_at_once_delete_nothing_early() {
    let mut explored = 0;
    for pause_at in 1.. {
        let (world, deactivated) = deactivated_a_week_after_its_last_use().await;
        let gate = Gate::pause_at(pause_at);
        let gated = Arc::new(Rotator::new(
            world.secrets.gated(&gate),
            world.iam.gated(&gate),
            FakeSts::new(world.iam.clone()),
            world.rotator.config().clone(),
        ));
        let mut paused =
            tokio::spawn(async move { sweep(&gated, &deep(), deactivated).await.map(|_| ()) });
        tokio::select! {
            _ = gate.reached() => {}
            _ = &mut paused => break,
        }
        world.sweep_at(deactivated).await;
        gate.resume();
        let _ = paused.await;
        assert_eq!(
            world.status_of(&world.old_key),
            Some(Inactive),
            "a sweep paused at call {pause_at} while another ran"
        );
        explored += 1;
    }
    assert!(explored >= 4, "only {explored} call points explored");
}

#[tokio::test]
async fn a_key_is_deleted_only_if_iam_shows_it_inactive_right_before() {
    let mut explored = 0;
    for pause_at in 1.. {
        let world = World::new().await;
        world.sweep_at(world.rotated + 3 * HOUR).await;
        let due = world.rotated + 3 * HOUR + 7 * DAY + HOUR;
        let gate = Gate::pause_at(pause_at);
        let gated = Arc::new(Rotator::new(
            world.secrets.gated(&gate),
            world.iam.gated(&gate),
            FakeSts::new(world.iam.clone()),
            world.rotator.config().clone(),
        ));
        let mut paused = tokio::spawn(async move { sweep(&gated, &options(), due).await });
        tokio::select! {
            _ = gate.reached() => {}
            _ = &mut paused => break,
        }
        // An operator switches the key back on while the sweep is under way.
        world.iam.set_status(&world.old_key, Active);
        gate.resume();
        let report = paused.await.unwrap().unwrap();
        let deleted = report
            .actions
            .iter()
            .any(|a| a.action.as_str() == "deleted");
        // Only a pause at the DeleteAccessKey call itself comes too late; the note's TagResource
        // is the one call after it.
        if pause_at + 1 < gate.calls() {
            assert!(!deleted, "paused at call {pause_at} of {}", gate.calls());
            assert_eq!(world.status_of(&world.old_key), Some(Active));
        }
        explored += 1;
    }
    assert!(explored >= 4, "only {explored} call points explored");
}

#[tokio::test]
async fn a_secret_moved_to_another_function_is_not_swept_by_this_ones_policy() {
    let world = World::new().await;
    // The old key has been quiet past its grace period: this function's policy deactivates it.
    let now = world.rotated + 3 * HOUR;
    // Minutes ago someone attached another function (another deployment, another policy); the
    // listing does not show it yet.
    world.secrets.freeze_listing();
    world.secrets.state().rotation_lambda_arn =
        Some("arn:aws:lambda:us-east-1:123456789012:function:another-deployment".into());

    let report = world.sweep_with(&options(), now).await;

    assert!(report.actions.is_empty(), "{report:?}");
    assert_eq!(world.status_of(&world.old_key), Some(Active));
    // Once the listing catches up, the secret is another function's: reported, never swept.
    world.secrets.thaw_listing();
    let report = world.sweep_with(&options(), now).await;
    assert!(report.actions.is_empty(), "{report:?}");
    assert_eq!(world.status_of(&world.old_key), Some(Active));
}
