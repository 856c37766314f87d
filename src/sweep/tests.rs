//! The sweep against in-memory fakes: the policy over a key's life, each finding from a scenario
//! that causes it, what it must never touch, and the sweep interleaved with a rotation.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use secrecy::ExposeSecret;
use serde_json::json;

use super::*;
use crate::config::{Config, RetirePolicy};
use crate::event::{RotationEvent, Step};
use crate::fakes::{FakeIam, FakeRotator, FakeSecrets, FakeSts, FakeVersion, Gate};
use crate::retirement::note::{self, Note};
use crate::services::KeyStatus::{self, Active, Inactive};
use crate::services::{IamKeys, KeyUsage};

const NAME: &str = "iam-keys/ci-bot";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:rotator";
const V0: &str = "00000000-0000-0000-0000-000000000000";
const V1: &str = "11111111-1111-1111-1111-111111111111";
const V2: &str = "22222222-2222-2222-2222-222222222222";

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

fn policy() -> RetirePolicy {
    RetirePolicy {
        deactivate_after: HOUR,
        quiet_for: HOUR,
        delete_after: Some(7 * DAY),
    }
}

/// A secret rotated once an hour ago under a grace policy: V1 (AWSCURRENT) holds the new key,
/// V0 (AWSPREVIOUS) the old one, still Active.
struct World {
    secrets: FakeSecrets,
    iam: FakeIam,
    rotator: FakeRotator,
    old_key: String,
    new_key: String,
    rotated: SystemTime,
}

impl World {
    async fn new() -> World {
        World::with_policy(policy()).await
    }

    async fn with_policy(retire: RetirePolicy) -> World {
        // These scenarios give each use as AWS shows it and decide on what is shown; the lag's
        // own scenario below sets one.
        World::with_lag(retire, Duration::ZERO).await
    }

    async fn with_lag(retire: RetirePolicy, last_use_lag: Duration) -> World {
        let iam = FakeIam::default();
        iam.add_user("ci-bot", "/rotated/");
        let old = iam.create_key("ci-bot").await.unwrap();
        let new = iam.create_key("ci-bot").await.unwrap();
        // Longer ago than AWS takes to report a key's use (ROTATOR_LAST_USE_LAG), so a rotation may
        // trust "no use seen" of the previous key.
        let rotated = SystemTime::now() - 5 * HOUR;
        let value = |key: &crate::secret::AccessKey| {
            json!({"UserName": "ci-bot", "AccessKeyId": key.id, "SecretAccessKey": key.secret.expose_secret()})
                .to_string()
        };
        let secrets = FakeSecrets::default();
        {
            let mut state = secrets.state();
            state.name = NAME.into();
            state.rotation_enabled = true;
            state.rotation_lambda_arn = Some(FUNCTION.into());
            state.last_rotated = Some(rotated);
            state.next_rotation = Some(rotated + 90 * DAY);
            for (id, label, key, created) in [
                (V0, "AWSPREVIOUS", &old, rotated - 90 * DAY),
                (V1, "AWSCURRENT", &new, rotated),
            ] {
                state.versions.push(FakeVersion {
                    id: id.into(),
                    labels: vec![label.into()],
                    value: Some(value(key)),
                    created,
                });
            }
        }
        let config = Config {
            user_path_prefix: "/rotated/".into(),
            secret_name_prefix: "iam-keys/".into(),
            retire,
            last_use_lag,
            test_first_delay: Duration::from_millis(1),
            test_max_delay: Duration::from_millis(2),
            ..Config::default()
        };
        let rotator = Rotator::new(
            secrets.clone(),
            iam.clone(),
            FakeSts::new(iam.clone()),
            config,
        );
        World {
            secrets,
            iam,
            rotator,
            old_key: old.id,
            new_key: new.id,
            rotated,
        }
    }

    async fn sweep_at(&self, now: SystemTime) -> Summary {
        self.sweep_with(&options(), now).await
    }

    async fn sweep_with(&self, options: &Options, now: SystemTime) -> Summary {
        sweep(&self.rotator, options, now).await.unwrap()
    }

    fn status_of(&self, key: &str) -> Option<KeyStatus> {
        self.iam
            .keys_of("ci-bot")
            .into_iter()
            .find(|(id, _)| id == key)
            .map(|(_, s)| s)
    }

    fn used_at(&self, key: &str, when: SystemTime) {
        let mut state = self.iam.state();
        let key = state.keys.iter_mut().find(|k| k.info.id == key).unwrap();
        key.last_used = Some(when);
    }

    fn calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.secrets.state().calls)
    }
}

fn options() -> Options {
    Options {
        function_arn: Some(FUNCTION.into()),
        ..Options::default()
    }
}

fn kinds(report: &Summary) -> Vec<FindingKind> {
    report.findings.iter().map(|f| f.kind).collect()
}

fn actions(report: &Summary) -> Vec<(&str, &str)> {
    report
        .actions
        .iter()
        .map(|a| (a.action.as_str(), a.key_id.as_str()))
        .collect()
}

#[tokio::test]
async fn in_its_grace_period_the_previous_key_stays_and_costs_no_call_beyond_the_listing() {
    let world = World::new().await;
    let report = world.sweep_at(world.rotated + HOUR / 2).await;
    assert!(
        report.actions.is_empty() && report.findings.is_empty(),
        "{report:?}"
    );
    assert_eq!(world.calls(), ["ListSecrets"]);
    assert_eq!(world.status_of(&world.old_key), Some(Active));
}

#[tokio::test]
async fn a_previous_key_still_in_use_is_kept_and_reported_every_time() {
    let world = World::new().await;
    let now = world.rotated + 3 * HOUR;
    world.used_at(&world.old_key, now - HOUR / 4);

    for _ in 0..2 {
        let report = world.sweep_at(now).await;
        assert_eq!(actions(&report), [("kept_in_use", world.old_key.as_str())]);
        assert_eq!(kinds(&report), [FindingKind::PreviousKeyInUse]);
        let used = report.actions[0].last_used.as_ref().unwrap();
        assert_eq!(used.service.as_deref(), Some("s3"));
        assert!(report.findings[0].detail.contains("eu-west-1"));
    }
    assert_eq!(world.status_of(&world.old_key), Some(Active));
}

#[tokio::test]
async fn a_quiet_time_shorter_than_aws_takes_to_show_a_use_never_switches_off_a_key_in_use() {
    // QuietFor 10 minutes, but AWS shows a use up to 4 hours late: a use shown an hour ago may
    // hide one made a minute ago, so only the time before the lag counts as quiet.
    let world = World::with_lag(
        RetirePolicy {
            quiet_for: HOUR / 6,
            ..policy()
        },
        4 * HOUR,
    )
    .await;
    let now = world.rotated + 2 * HOUR;
    world.used_at(&world.old_key, now - HOUR);

    let report = world.sweep_at(now).await;

    assert_eq!(actions(&report), [("kept_in_use", world.old_key.as_str())]);
    assert_eq!(world.status_of(&world.old_key), Some(Active));
    assert!(
        report.findings[0].detail.contains("4h 10m"),
        "{:?}",
        report.findings
    );
    // Still kept at the lag's end: the last 4 hours cannot show a use yet.
    let at_lag = now - HOUR + 4 * HOUR + Duration::from_secs(60);
    let report = world.sweep_at(at_lag).await;
    assert_eq!(actions(&report), [("kept_in_use", world.old_key.as_str())]);
    // Once no use has shown for the quiet time before the lag, it goes.
    let later = now - HOUR + 4 * HOUR + HOUR / 6 + Duration::from_secs(60);
    let report = world.sweep_at(later).await;
    assert_eq!(actions(&report), [("deactivated", world.old_key.as_str())]);
}

#[tokio::test]
async fn a_quiet_previous_key_is_deactivated_then_deleted_after_the_deletion_time() {
    let world = World::new().await;
    let now = world.rotated + 3 * HOUR;
    world.used_at(&world.old_key, now - 2 * HOUR);

    let report = world.sweep_at(now).await;
    assert_eq!(actions(&report), [("deactivated", world.old_key.as_str())]);
    assert_eq!(world.status_of(&world.old_key), Some(Inactive));
    assert_eq!(
        note::read(world.secrets.state().tags.first().map(|t| t.1.as_str()), V0),
        Some(Note::Deactivated(
            now - Duration::from_nanos(
                now.duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos() as u64
            )
        ))
    );

    // Until the deletion time, the note spares IAM any call.
    world.calls();
    let report = world.sweep_at(now + 6 * DAY).await;
    assert!(report.actions.is_empty(), "{report:?}");
    assert_eq!(world.calls(), ["ListSecrets"]);

    let report = world.sweep_at(now + 7 * DAY + HOUR).await;
    assert_eq!(actions(&report), [("deleted", world.old_key.as_str())]);
    assert_eq!(world.status_of(&world.old_key), None);
    // Done: later sweeps cost nothing.
    world.calls();
    assert!(world.sweep_at(now + 30 * DAY).await.actions.is_empty());
    assert_eq!(world.calls(), ["ListSecrets"]);
    assert_eq!(world.status_of(&world.new_key), Some(Active));
}

#[tokio::test]
async fn a_key_switched_back_on_after_the_sweep_deactivated_it_is_left_alone() {
    let world = World::new().await;
    let now = world.rotated + 3 * HOUR;
    world.sweep_at(now).await;
    world.iam.set_status(&world.old_key, Active);

    let report = world.sweep_at(now + 8 * DAY).await;

    assert_eq!(actions(&report), [("left_alone", world.old_key.as_str())]);
    assert_eq!(world.status_of(&world.old_key), Some(Active));
    assert!(world.sweep_at(now + 30 * DAY).await.actions.is_empty());
    assert_eq!(world.status_of(&world.old_key), Some(Active));
}

#[tokio::test]
async fn with_no_grace_period_the_inactive_previous_key_is_deleted_after_the_deletion_time() {
    let world = World::with_policy(RetirePolicy {
        deactivate_after: Duration::ZERO,
        ..policy()
    })
    .await;
    world.iam.set_status(&world.old_key, Inactive);
    assert!(
        world
            .sweep_at(world.rotated + 6 * DAY)
            .await
            .actions
            .is_empty()
    );
    let report = world.sweep_at(world.rotated + 7 * DAY + HOUR).await;
    assert_eq!(actions(&report), [("deleted", world.old_key.as_str())]);
}

#[tokio::test]
async fn with_deletion_never_the_inactive_previous_key_is_left_for_the_next_rotation() {
    let world = World::with_policy(RetirePolicy {
        delete_after: None,
        ..policy()
    })
    .await;
    world.sweep_at(world.rotated + 3 * HOUR).await;
    assert!(
        world
            .sweep_at(world.rotated + 365 * DAY)
            .await
            .actions
            .is_empty()
    );
    assert_eq!(world.status_of(&world.old_key), Some(Inactive));
}

#[tokio::test]
async fn a_dry_run_reports_and_changes_nothing() {
    let world = World::new().await;
    let report = world
        .sweep_with(
            &Options {
                dry_run: true,
                ..options()
            },
            world.rotated + 3 * HOUR,
        )
        .await;
    assert_eq!(actions(&report), [("deactivated", world.old_key.as_str())]);
    assert_eq!(world.status_of(&world.old_key), Some(Active));
    assert_eq!(world.secrets.state().writes, 0);
}

#[tokio::test]
async fn a_healthy_secret_raises_no_finding_even_looked_at_in_depth() {
    let world = World::new().await;
    world.iam.set_status(&world.old_key, Inactive);
    let report = world
        .sweep_with(
            &Options {
                deep: true,
                ..options()
            },
            world.rotated + HOUR,
        )
        .await;
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[tokio::test]
async fn each_finding_comes_from_the_scenario_that_causes_it() {
    let deep = Options {
        deep: true,
        ..options()
    };
    let now = SystemTime::now();

    let world = World::new().await;
    world.secrets.state().next_rotation = Some(now - 2 * DAY);
    assert_eq!(
        kinds(&world.sweep_at(now).await),
        [FindingKind::RotationOverdue]
    );

    let world = World::new().await;
    world.secrets.state().rotation_enabled = false;
    assert_eq!(
        kinds(&world.sweep_at(now).await),
        [FindingKind::RotationDisabled]
    );

    let world = World::new().await;
    world.secrets.state().rotation_lambda_arn = Some(format!("{FUNCTION}-other"));
    let report = world.sweep_at(now).await;
    assert_eq!(kinds(&report), [FindingKind::RotationDisabled]);
    assert!(report.findings[0].detail.contains("another function"));

    let world = World::new().await;
    world.secrets.state().versions.push(FakeVersion {
        id: V2.into(),
        labels: vec!["AWSPENDING".into()],
        value: None,
        created: now - 2 * HOUR,
    });
    assert_eq!(
        kinds(&world.sweep_at(now).await),
        [FindingKind::RotationStuck]
    );

    let world = World::new().await;
    world
        .iam
        .delete_key("ci-bot", &world.new_key)
        .await
        .unwrap();
    assert_eq!(
        kinds(&world.sweep_with(&deep, world.rotated + HOUR / 2).await),
        [FindingKind::CurrentKeyBroken]
    );

    let world = World::new().await;
    world
        .iam
        .delete_key("ci-bot", &world.old_key)
        .await
        .unwrap();
    let stranger = world.iam.create_key("ci-bot").await.unwrap();
    let report = world.sweep_with(&deep, world.rotated + HOUR / 2).await;
    assert_eq!(kinds(&report), [FindingKind::UnknownKey]);
    assert!(report.findings[0].detail.contains(&stranger.id));
    assert_eq!(world.status_of(&stranger.id), Some(Active), "never touched");
}

#[tokio::test]
async fn the_sweep_never_touches_a_secret_mid_rotation() {
    let world = World::new().await;
    world.secrets.state().versions.push(FakeVersion {
        id: V2.into(),
        labels: vec!["AWSPENDING".into()],
        value: None,
        created: SystemTime::now(),
    });
    let report = world
        .sweep_with(
            &Options {
                deep: true,
                ..options()
            },
            world.rotated + 30 * DAY,
        )
        .await;
    assert!(report.actions.is_empty(), "{report:?}");
    assert_eq!(world.status_of(&world.old_key), Some(Active));
}

#[tokio::test]
async fn the_sweep_never_touches_the_current_key_even_when_the_previous_version_holds_it() {
    let world = World::new().await;
    let current = world.secrets.state().versions[1].value.clone();
    world.secrets.state().versions[0].value = current;
    let report = world.sweep_at(world.rotated + 30 * DAY).await;
    assert!(report.actions.is_empty(), "{report:?}");
    assert_eq!(world.status_of(&world.new_key), Some(Active));
}

#[tokio::test]
async fn retire_deactivates_and_deletes_the_previous_key_now_whatever_the_policy() {
    let world = World::new().await;
    world.used_at(&world.old_key, SystemTime::now());
    let done = retire(&world.rotator, NAME, true).await.unwrap();
    let done: Vec<&str> = done.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(done, ["deactivated", "deleted"]);
    assert_eq!(world.status_of(&world.old_key), None);
    assert_eq!(world.status_of(&world.new_key), Some(Active));
}

#[test]
fn the_policy_decides_by_time_and_use() {
    let p = policy();
    let rotated = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let used = |ago: Duration, now: SystemTime| KeyUsage {
        when: now - ago,
        service: None,
        region: None,
    };
    let now = rotated + 2 * HOUR;
    assert_eq!(
        decide(Some(Active), None, rotated, None, &p, rotated + HOUR / 2),
        Decision::Wait
    );
    assert!(matches!(
        decide(
            Some(Active),
            Some(&used(HOUR / 2, now)),
            rotated,
            None,
            &p,
            now
        ),
        Decision::KeptInUse(_)
    ));
    assert_eq!(
        decide(
            Some(Active),
            Some(&used(2 * HOUR, now)),
            rotated,
            None,
            &p,
            now
        ),
        Decision::Deactivate
    );
    let deactivated = Some(Note::Deactivated(now));
    assert_eq!(
        decide(
            Some(Inactive),
            None,
            rotated,
            deactivated,
            &p,
            now + 6 * DAY
        ),
        Decision::Wait
    );
    assert_eq!(
        decide(
            Some(Inactive),
            None,
            rotated,
            deactivated,
            &p,
            now + 7 * DAY
        ),
        Decision::Delete
    );
    // Used after it was deactivated (a consumer still tried it): the wait starts again from then.
    assert_eq!(
        decide(
            Some(Inactive),
            Some(&used(DAY, now + 7 * DAY)),
            rotated,
            deactivated,
            &p,
            now + 7 * DAY
        ),
        Decision::Wait
    );
    assert_eq!(
        decide(
            Some(KeyStatus::Expired),
            None,
            rotated,
            None,
            &p,
            rotated + 8 * DAY
        ),
        Decision::Delete
    );
    assert_eq!(
        decide(None, None, rotated, None, &p, now),
        Decision::Finished
    );
    assert!(matches!(
        decide(Some(Active), None, rotated, deactivated, &p, now),
        Decision::LeftAlone(_)
    ));
}

/// A rotation of the same secret (new token V2) through its four steps.
async fn rotate(rotator: &FakeRotator) -> Result<(), crate::Error> {
    for step in Step::ALL {
        let event = RotationEvent {
            step,
            secret_id: NAME.into(),
            token: V2.into(),
            rotation_token: None,
        };
        rotator
            .run(&event, Instant::now() + Duration::from_secs(60))
            .await?;
    }
    Ok(())
}

fn start_rotation(world: &World) {
    world.secrets.state().versions.push(FakeVersion {
        id: V2.into(),
        labels: vec!["AWSPENDING".into()],
        value: None,
        created: SystemTime::now(),
    });
}

/// What the fault matrix checks: AWSCURRENT's key exists and is Active, at most 2 keys, and no
/// rotation left unfinished.
fn assert_invariants(world: &World, moment: &str) {
    let keys = world.iam.keys_of("ci-bot");
    assert!(keys.len() <= 2, "{moment}: {keys:?}");
    let current: serde_json::Value =
        serde_json::from_str(&world.secrets.value_labelled("AWSCURRENT").unwrap()).unwrap();
    let key = current["AccessKeyId"].as_str().unwrap();
    assert!(
        keys.contains(&(key.to_string(), Active)),
        "{moment}: AWSCURRENT holds {key}; keys {keys:?}"
    );
    assert!(
        world.secrets.describe_now().unfinished_rotation().is_none(),
        "{moment}: a rotation is left unfinished"
    );
}

#[tokio::test]
async fn a_sweep_and_a_rotation_interleaved_at_every_call_keep_every_invariant() {
    let now = SystemTime::now() + 3 * HOUR;
    // The sweep paused at each of its calls while a rotation runs, then the other way round.
    for sweep_first in [true, false] {
        let mut explored = 0;
        for pause_at in 1.. {
            let world = World::new().await;
            if !sweep_first {
                start_rotation(&world);
            }
            // The rotation runs with the grace policy too, from a second handle.
            let gate = Gate::pause_at(pause_at);
            let gated = Arc::new(Rotator::new(
                world.secrets.gated(&gate),
                world.iam.gated(&gate),
                FakeSts::new(world.iam.clone()),
                world.rotator.config().clone(),
            ));
            let mut paused = if sweep_first {
                tokio::spawn(async move { sweep(&gated, &options(), now).await.map(|_| ()) })
            } else {
                tokio::spawn(async move { rotate(&gated).await })
            };
            tokio::select! {
                _ = gate.reached() => {}
                _ = &mut paused => break,
            }
            if sweep_first {
                start_rotation(&world);
                rotate(&world.rotator).await.unwrap();
            } else {
                let _ = world.sweep_at(now).await;
            }
            gate.resume();
            let _ = paused.await;
            if !sweep_first {
                // Secrets Manager retries a failed rotation with the same token.
                let _ = rotate(&world.rotator).await;
            }
            let moment = format!(
                "{} paused at call {pause_at}",
                if sweep_first { "sweep" } else { "rotation" }
            );
            assert_invariants(&world, &moment);
            explored += 1;
            let _ = world.sweep_at(now + 30 * DAY).await;
            assert_invariants(&world, &format!("{moment}, then a later sweep"));
        }
        assert!(explored >= 5, "only {explored} call points explored");
    }
}

mod deadline;
mod safety;
