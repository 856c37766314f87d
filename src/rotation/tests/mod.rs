//! The four steps against in-memory fakes: one scenario per test. `guards` holds the scenarios of
//! people and other rotations acting around the engine; `races` their interleavings.

mod accounts;
mod guards;
mod races;

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::config::Config;
use crate::error::Error;
use crate::event::{RotationEvent, Step};
use crate::fakes::{FakeIam, FakeRotator, FakeSecrets, FakeSts, FakeVersion};
use crate::rotation::{Contract, Rotator};
use crate::services::KeyStatus::{Active, Inactive};
use crate::services::{IamKeys, IamUser, KeyStatus};

const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ci-bot-AbCdEf";
const TOKEN: &str = "11111111-2222-3333-4444-555555555555";
const OLD_VERSION: &str = "00000000-0000-0000-0000-000000000000";

/// A user `ci-bot` under `/rotated/` with one active key, and a secret holding that key,
/// with rotation enabled and an empty AWSPENDING version under `TOKEN`, as RotateSecret leaves it.
struct World {
    secrets: FakeSecrets,
    iam: FakeIam,
    sts: FakeSts,
    rotator: FakeRotator,
    old_key: String,
}

impl World {
    async fn new() -> World {
        World::with_config(fast_config()).await
    }

    async fn with_config(config: Config) -> World {
        let iam = FakeIam::default();
        let sts = FakeSts::new(iam.clone());
        iam.add_user("ci-bot", "/rotated/");
        let old = iam.create_key("ci-bot").await.unwrap();
        let value = json!({
            "UserName": "ci-bot",
            "AccessKeyId": old.id,
            "SecretAccessKey": secrecy::ExposeSecret::expose_secret(&old.secret),
            "Team": "platform",
        });
        let secrets = FakeSecrets::rotation_started(OLD_VERSION, value.to_string(), TOKEN);
        iam.state().writes = 0;
        let rotator = Rotator::new(secrets.clone(), iam.clone(), sts.clone(), config);
        World {
            secrets,
            iam,
            sts,
            rotator,
            old_key: old.id,
        }
    }

    async fn run(&self, step: Step) -> Result<(), Error> {
        self.rotator.run(&event(step), far_deadline()).await
    }

    async fn rotate(&self) -> Result<(), Error> {
        for step in Step::ALL {
            self.run(step).await?;
        }
        Ok(())
    }

    fn keys(&self) -> Vec<(String, KeyStatus)> {
        self.iam.keys_of("ci-bot")
    }

    fn current(&self) -> Value {
        let text = self.secrets.value_labelled("AWSCURRENT").unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn writes(&self) -> usize {
        self.secrets.state().writes + self.iam.state().writes
    }

    /// What RotateSecret does for a later rotation: a new empty version under `token`, AWSPENDING
    /// moved onto it.
    fn start_rotation(&self, token: &str) {
        let mut state = self.secrets.state();
        for v in state.versions.iter_mut() {
            v.labels.retain(|l| l != "AWSPENDING");
        }
        state.versions.push(FakeVersion {
            id: token.into(),
            labels: vec!["AWSPENDING".into()],
            value: None,
            created: SystemTime::now(),
        });
    }

    /// Backdates the rotation under `token` (its version's creation) past the longest attempt:
    /// the attempt that began it is over; the rotation is stuck until a retry or someone finishes it.
    fn started_long_ago(&self, token: &str) {
        let mut state = self.secrets.state();
        let version = state.versions.iter_mut().find(|v| v.id == token).unwrap();
        version.created =
            SystemTime::now() - crate::rotation::LONGEST_ATTEMPT - Duration::from_secs(60);
    }

    async fn run_token(&self, step: Step, token: &str) -> Result<(), Error> {
        let mut event = event(step);
        event.token = token.into();
        self.rotator.run(&event, far_deadline()).await
    }

    fn value_of(&self, version: &str) -> Value {
        let state = self.secrets.state();
        let text = state
            .versions
            .iter()
            .find(|v| v.id == version)
            .and_then(|v| v.value.clone())
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

fn fast_config() -> Config {
    Config {
        test_budget: Duration::from_secs(5),
        test_first_delay: Duration::from_millis(1),
        test_max_delay: Duration::from_millis(4),
        user_path_prefix: "/rotated/".into(),
        ..Config::default()
    }
}

fn event(step: Step) -> RotationEvent {
    RotationEvent {
        step,
        secret_id: SECRET.into(),
        token: TOKEN.into(),
        rotation_token: None,
    }
}

fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn a_full_rotation_promotes_a_new_key_and_deactivates_the_old_one() {
    let world = World::new().await;
    world.rotate().await.unwrap();

    let current = world.current();
    let new_key = current["AccessKeyId"].as_str().unwrap().to_string();
    assert_ne!(new_key, world.old_key);
    assert_eq!(
        world.keys(),
        [(world.old_key.clone(), Inactive), (new_key, Active)]
    );
    assert_eq!(world.secrets.labels_of(TOKEN), ["AWSCURRENT", "AWSPENDING"]);
    assert_eq!(world.secrets.labels_of(OLD_VERSION), ["AWSPREVIOUS"]);
    assert_eq!(current["Team"], "platform", "extra fields survive");
}

#[tokio::test]
async fn every_step_run_twice_gives_the_same_end_state() {
    let world = World::new().await;
    for step in Step::ALL {
        world.run(step).await.unwrap();
        world.run(step).await.unwrap();
    }
    assert_eq!(world.keys().len(), 2);
    assert_eq!(world.keys().iter().filter(|(_, s)| *s == Active).count(), 1);
    assert_eq!(world.secrets.labels_of(TOKEN), ["AWSCURRENT", "AWSPENDING"]);
}

#[tokio::test]
async fn create_makes_room_by_deleting_an_inactive_key() {
    let world = World::new().await;
    let spare = world.iam.create_key("ci-bot").await.unwrap();
    world.iam.deactivate_key("ci-bot", &spare.id).await.unwrap();

    world.run(Step::CreateSecret).await.unwrap();

    let ids: Vec<String> = world.keys().into_iter().map(|(id, _)| id).collect();
    assert!(!ids.contains(&spare.id));
    assert!(ids.contains(&world.old_key));
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn an_active_key_the_secret_does_not_know_blocks_create_and_nothing_changes() {
    let world = World::new().await;
    let stranger = world.iam.create_key("ci-bot").await.unwrap();
    // Used, so it cannot be mistaken for a leftover of a crashed attempt.
    world.iam.state().keys[1].last_used = Some(SystemTime::now());
    let keys_before = world.keys();
    let writes_before = world.writes();

    let err = world.run(Step::CreateSecret).await.unwrap_err();

    assert_eq!(err.kind(), "KeyQuotaExceeded");
    assert!(err.to_string().contains(&stranger.id), "{err}");
    assert!(err.to_string().contains("deactivate it"), "{err}");
    assert_eq!(world.keys(), keys_before);
    assert_eq!(world.writes(), writes_before);
}

#[tokio::test]
async fn a_key_left_by_a_crash_before_storing_is_removed_on_the_retry() {
    let world = World::new().await;
    // The crashed attempt: CreateAccessKey succeeded, PutSecretValue never happened.
    let orphan = world.iam.create_key("ci-bot").await.unwrap();

    world.rotate().await.unwrap();

    let ids: Vec<String> = world.keys().into_iter().map(|(id, _)| id).collect();
    assert!(!ids.contains(&orphan.id), "{ids:?}");
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn a_failed_store_deletes_the_new_key_again() {
    let world = World::new().await;
    world.secrets.state().fail_put = true;

    let err = world.run(Step::CreateSecret).await.unwrap_err();

    assert_eq!(err.kind(), "AwsError");
    assert_eq!(world.keys(), [(world.old_key.clone(), Active)]);
    world.secrets.state().fail_put = false;
    world.rotate().await.unwrap();
    assert_eq!(world.keys().len(), 2);
}

#[tokio::test]
async fn a_store_that_landed_despite_an_error_keeps_its_key() {
    let world = World::new().await;
    {
        let mut state = world.secrets.state();
        state.fail_put = true;
        state.put_lands_anyway = true;
    }

    world.run(Step::CreateSecret).await.unwrap();

    let pending: Value =
        serde_json::from_str(&world.secrets.value_labelled("AWSPENDING").unwrap()).unwrap();
    let new_key = pending["AccessKeyId"].as_str().unwrap();
    assert!(
        world
            .keys()
            .iter()
            .any(|(id, s)| id == new_key && *s == Active)
    );
}

#[tokio::test]
async fn set_refuses_a_pending_key_that_was_deactivated() {
    let world = World::new().await;
    world.run(Step::CreateSecret).await.unwrap();
    let new_key = world.keys()[1].0.clone();
    world.iam.deactivate_key("ci-bot", &new_key).await.unwrap();

    let err = world.run(Step::SetSecret).await.unwrap_err();
    assert_eq!(err.kind(), "PendingKeyUnusable");
    assert!(err.to_string().contains("Inactive"), "{err}");
}

#[tokio::test]
async fn steps_after_create_need_its_value() {
    let world = World::new().await;
    for step in [Step::SetSecret, Step::FinishSecret] {
        let err = world.run(step).await.unwrap_err();
        assert_eq!(err.kind(), "PendingValueMissing", "{step}");
    }
    assert_eq!(world.secrets.labels_of(OLD_VERSION), ["AWSCURRENT"]);
}

#[tokio::test]
async fn test_waits_for_a_new_key_to_propagate() {
    let world = World::new().await;
    world.run(Step::CreateSecret).await.unwrap();
    *world.sts.refusals.lock().unwrap() = 3;

    world.run(Step::TestSecret).await.unwrap();
    assert_eq!(*world.sts.calls.lock().unwrap(), 4);
}

#[tokio::test]
async fn test_gives_up_within_its_budget_and_moves_no_label() {
    let mut config = fast_config();
    config.test_budget = Duration::from_millis(50);
    let world = World::with_config(config).await;
    world.run(Step::CreateSecret).await.unwrap();
    *world.sts.refusals.lock().unwrap() = u32::MAX;

    let started = Instant::now();
    let err = world.run(Step::TestSecret).await.unwrap_err();

    assert_eq!(err.kind(), "KeyNeverValid");
    assert!(err.to_string().contains("InvalidClientTokenId"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(world.secrets.labels_of(OLD_VERSION), ["AWSCURRENT"]);
    assert_eq!(world.secrets.labels_of(TOKEN), ["AWSPENDING"]);
}

#[tokio::test]
async fn test_never_runs_past_the_invocation_deadline() {
    let mut config = fast_config();
    config.test_budget = Duration::from_secs(600);
    let world = World::with_config(config).await;
    world.run(Step::CreateSecret).await.unwrap();
    *world.sts.refusals.lock().unwrap() = u32::MAX;

    let started = Instant::now();
    let deadline = started + Duration::from_millis(100);
    let err = world
        .rotator
        .run(&event(Step::TestSecret), deadline)
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "KeyNeverValid");
    assert!(Instant::now() <= deadline + Duration::from_millis(50));
}

#[tokio::test]
async fn test_refuses_a_key_that_signs_as_someone_else() {
    let world = World::new().await;
    world.run(Step::CreateSecret).await.unwrap();
    // The secret says ci-bot, but IAM now says the key's owner has another ARN.
    world.iam.state().users[0] = IamUser {
        name: "ci-bot".into(),
        arn: "arn:aws:iam::123456789012:user/rotated/ci-bot".into(),
        path: "/rotated/".into(),
        tags: Vec::new(),
    };
    world.iam.add_user("ci-bot-impostor", "/rotated/");
    let new_key = world.keys()[1].0.clone();
    world
        .iam
        .state()
        .keys
        .iter_mut()
        .find(|k| k.info.id == new_key)
        .unwrap()
        .user = "ci-bot-impostor".into();

    let err = world.run(Step::TestSecret).await.unwrap_err();
    assert_eq!(err.kind(), "WrongIdentity");
    assert!(err.to_string().contains("ci-bot-impostor"), "{err}");
}

#[tokio::test]
async fn finish_after_a_crash_between_its_two_writes_still_retires_the_old_key() {
    let world = World::new().await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        world.run(step).await.unwrap();
    }
    // The crashed finish moved AWSCURRENT, then died before deactivating the old key.
    {
        let mut state = world.secrets.state();
        state.versions[0].labels = vec!["AWSPREVIOUS".into()];
        state.versions[1].labels = vec!["AWSCURRENT".into(), "AWSPENDING".into()];
    }

    world.run(Step::FinishSecret).await.unwrap();

    assert!(world.keys().contains(&(world.old_key.clone(), Inactive)));
    assert_eq!(world.secrets.labels_of(TOKEN), ["AWSCURRENT", "AWSPENDING"]);
}

#[tokio::test]
async fn finish_again_after_success_changes_nothing() {
    let world = World::new().await;
    world.rotate().await.unwrap();
    let writes = world.writes();
    world.run(Step::FinishSecret).await.unwrap();
    assert_eq!(world.writes(), writes);
}

#[tokio::test]
async fn the_contract_is_checked_before_any_step() {
    let world = World::new().await;

    world.secrets.state().rotation_enabled = false;
    assert_eq!(
        world.run(Step::CreateSecret).await.unwrap_err().kind(),
        "RotationNotEnabled"
    );
    world.secrets.state().rotation_enabled = true;

    let mut stranger = event(Step::CreateSecret);
    stranger.token = "99999999-9999-9999-9999-999999999999".into();
    assert_eq!(
        world
            .rotator
            .run(&stranger, far_deadline())
            .await
            .unwrap_err()
            .kind(),
        "UnknownVersion"
    );

    let mut old = event(Step::SetSecret);
    world.secrets.state().versions.push(FakeVersion {
        id: "77777777-7777-7777-7777-777777777777".into(),
        labels: vec!["AWSPREVIOUS".into()],
        value: Some("{}".into()),
        created: SystemTime::now(),
    });
    old.token = "77777777-7777-7777-7777-777777777777".into();
    let err = world.rotator.run(&old, far_deadline()).await.unwrap_err();
    assert_eq!(err.kind(), "VersionNotPending");
    assert!(err.to_string().contains("AWSPREVIOUS"), "{err}");

    assert_eq!(world.writes(), 0);
    assert_eq!(world.keys().len(), 1);
}

#[tokio::test]
async fn a_step_on_a_version_already_current_does_nothing() {
    let world = World::new().await;
    world.rotate().await.unwrap();
    let writes = world.writes();
    for step in Step::ALL {
        world.run(step).await.unwrap();
    }
    assert_eq!(world.writes(), writes);
}

#[tokio::test]
async fn bad_secrets_are_refused_and_nothing_changes() {
    for (value, kind) in [
        ("not json".to_string(), "InvalidSecret"),
        (
            json!({"AccessKeyId": "AKIA1", "SecretAccessKey": "x"}).to_string(),
            "InvalidSecret",
        ),
        (json!({"UserName": "nobody"}).to_string(), "UserNotFound"),
    ] {
        let world = World::new().await;
        world.secrets.state().versions[0].value = Some(value.clone());
        let err = world.run(Step::CreateSecret).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{value}");
        assert_eq!(world.writes(), 0);
        assert_eq!(world.keys().len(), 1);
    }
}

#[tokio::test]
async fn a_user_outside_the_allowed_path_is_refused_before_any_write() {
    let world = World::new().await;
    world.iam.add_user("admin", "/");
    world.iam.create_key("admin").await.unwrap();
    world.iam.state().writes = 0;
    world.secrets.state().versions[0].value = Some(json!({"UserName": "admin"}).to_string());

    let err = world.run(Step::CreateSecret).await.unwrap_err();

    assert_eq!(err.kind(), "UserOutOfScope");
    assert_eq!(world.iam.keys_of("admin").len(), 1);
    assert_eq!(world.writes(), 0);
}

#[tokio::test]
async fn the_cli_may_start_a_rotation_on_a_token_secrets_manager_never_saw() {
    let world = World::new().await;
    world.secrets.state().versions.retain(|v| v.id != TOKEN);
    world.secrets.state().rotation_enabled = false;

    assert_eq!(
        world.run(Step::CreateSecret).await.unwrap_err().kind(),
        "RotationNotEnabled"
    );
    for step in Step::ALL {
        world
            .rotator
            .run_under(&event(step), far_deadline(), Contract::Cli)
            .await
            .unwrap();
    }
    assert_eq!(world.secrets.labels_of(TOKEN), ["AWSCURRENT", "AWSPENDING"]);
}

#[tokio::test]
async fn with_a_tag_required_only_a_user_tagged_with_this_secret_is_rotated() {
    let mut config = fast_config();
    config.user_tag = Some("iam-key-rotator:secret".into());
    let world = World::with_config(config).await;

    let err = world.run(Step::CreateSecret).await.unwrap_err();
    assert_eq!(err.kind(), "UserOutOfScope");
    assert!(err.to_string().contains("iam-key-rotator:secret"), "{err}");
    assert_eq!(world.writes(), 0);

    world.iam.state().users[0].tags = vec![(
        "iam-key-rotator:secret".into(),
        "arn:of:another:secret".into(),
    )];
    assert_eq!(
        world.run(Step::CreateSecret).await.unwrap_err().kind(),
        "UserOutOfScope"
    );

    world.iam.state().users[0].tags = vec![("iam-key-rotator:secret".into(), SECRET.into())];
    world.rotate().await.unwrap();
    assert_eq!(world.keys().len(), 2);
}

#[tokio::test]
async fn a_twin_key_from_a_lost_answer_is_removed_when_the_user_had_no_other_key() {
    let world = World::new().await;
    // The secret starts without a key, and its user has none.
    world.iam.state().keys.clear();
    world.secrets.state().versions[0].value =
        Some(json!({"UserName": "ci-bot", "Team": "platform"}).to_string());
    world.iam.state().twin_next_create = true;

    world.rotate().await.unwrap();

    let current = world.current();
    assert_eq!(
        world.keys(),
        [(current["AccessKeyId"].as_str().unwrap().to_string(), Active)]
    );
}
