//! Delivery against in-memory SSM and GitHub: one scenario per test, through the four steps, the
//! CLI's cancel and the sweep.

use std::time::{Duration, Instant, SystemTime};

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::config::{Config, DeliverySettings, RetirePolicy};
use crate::error::Error;
use crate::event::{RotationEvent, Step};
use crate::fakes::{
    FakeDeliveringRotator, FakeGitHub, FakeIam, FakeParameters, FakeSecrets, FakeSts,
};
use crate::services::KeyStatus::{Active, Inactive};
use crate::services::{Clients, GitHubScope, IamKeys};
use crate::sweep::{FindingKind, Options, sweep};

const SECRET: &str = "iam-keys/ci-bot";
const TOKEN: &str = "11111111-2222-3333-4444-555555555555";
const OLD_VERSION: &str = "00000000-0000-0000-0000-000000000000";
const HOUR: Duration = Duration::from_secs(3600);

fn repo() -> GitHubScope {
    GitHubScope::Repository {
        owner: "acme".into(),
        repo: "api".into(),
    }
}

fn prod() -> GitHubScope {
    GitHubScope::Environment {
        owner: "acme".into(),
        repo: "api".into(),
        environment: "prod".into(),
    }
}

fn org() -> GitHubScope {
    GitHubScope::Organization { org: "acme".into() }
}

fn every_kind() -> Value {
    json!([
        {"Type": "ssm", "Name": "/ci/deploy/aws"},
        {"Type": "github", "Repository": "acme/api"},
        {"Type": "github", "Repository": "acme/api", "Environment": "prod"},
        {"Type": "github", "Organization": "acme", "Visibility": "selected", "Repositories": ["api", "web"],
         "Names": {"AccessKeyId": "DEPLOY_KEY_ID", "SecretAccessKey": "DEPLOY_SECRET_KEY"}},
    ])
}

/// A user `ci-bot` with one active key, a secret holding it and listing `destinations`, and a
/// rotation just started by Secrets Manager, under a policy with no grace period.
struct World {
    secrets: FakeSecrets,
    iam: FakeIam,
    ssm: FakeParameters,
    github: FakeGitHub,
    rotator: FakeDeliveringRotator,
    old_key: String,
    old_secret: String,
}

impl World {
    async fn new(destinations: Value) -> World {
        let iam = FakeIam::default();
        iam.add_user("ci-bot", "/rotated/");
        let old = iam.create_key("ci-bot").await.unwrap();
        let value = json!({
            "UserName": "ci-bot",
            "AccessKeyId": old.id,
            "SecretAccessKey": old.secret.expose_secret(),
            "Destinations": destinations,
        });
        let secrets = FakeSecrets::rotation_started(OLD_VERSION, value.to_string(), TOKEN);
        {
            let mut state = secrets.state();
            state.name = SECRET.into();
            state.rotation_lambda_arn =
                Some("arn:aws:lambda:us-east-1:123456789012:function:rotator".into());
        }
        let (ssm, github) = (FakeParameters::default(), FakeGitHub::default());
        let config = Config {
            user_path_prefix: "/rotated/".into(),
            secret_name_prefix: "iam-keys/".into(),
            test_first_delay: Duration::from_millis(1),
            test_max_delay: Duration::from_millis(2),
            last_use_lag: Duration::ZERO,
            retire: RetirePolicy {
                deactivate_after: Duration::ZERO,
                quiet_for: HOUR,
                delete_after: Some(7 * 24 * HOUR),
            },
            delivery: DeliverySettings {
                ssm_prefix: Some("/ci/".into()),
                github_owners: vec!["acme".into()],
                github_credentials: Some("github/app".into()),
                ..DeliverySettings::default()
            },
            ..Config::default()
        };
        let rotator = crate::Rotator::with_services(
            Clients {
                secrets: secrets.clone(),
                iam: iam.clone(),
                keys: FakeSts::new(iam.clone()),
                parameters: ssm.clone(),
                github: github.clone(),
                accounts: crate::services::NotSetUp,
                organization: crate::services::NotSetUp,
                security_hub: crate::services::NotSetUp,
            },
            config,
        );
        World {
            secrets,
            iam,
            ssm,
            github,
            rotator,
            old_key: old.id,
            old_secret: old.secret.expose_secret().to_string(),
        }
    }

    async fn run(&self, step: Step) -> Result<(), Error> {
        let event = RotationEvent {
            step,
            secret_id: SECRET.into(),
            token: TOKEN.into(),
            rotation_token: None,
        };
        self.rotator
            .run(&event, Instant::now() + Duration::from_secs(60))
            .await
    }

    async fn rotate(&self) -> Result<(), Error> {
        for step in Step::ALL {
            self.run(step).await?;
        }
        Ok(())
    }

    fn pending_key_id(&self) -> String {
        let pending = self.value("AWSPENDING");
        pending["AccessKeyId"].as_str().unwrap().to_string()
    }

    /// `iam-key-rotator-cli cancel`, as the CLI runs it.
    async fn cancel(&self) -> Vec<crate::change::Change> {
        crate::rotation::cli_driver::cancel(&self.rotator, SECRET)
            .await
            .unwrap()
    }

    /// Someone stores `value` under the rotation's token, before createSecret does.
    fn write_pending(&self, value: Value) {
        self.secrets.set_value(TOKEN, value.to_string());
    }

    fn value(&self, label: &str) -> Value {
        serde_json::from_str(&self.secrets.value_labelled(label).unwrap()).unwrap()
    }

    fn status(&self, key: &str) -> Option<crate::services::KeyStatus> {
        self.iam
            .keys_of("ci-bot")
            .into_iter()
            .find(|(id, _)| id == key)
            .map(|(_, s)| s)
    }

    /// Whether every destination of `every_kind` holds this key (id and secret part).
    fn delivered(&self, id: &str, secret: &str) -> bool {
        let ssm = self.ssm.value("/ci/deploy/aws");
        let ssm_holds = ssm.as_ref().is_some_and(|v| {
            v["AccessKeyId"] == json!(id) && v["SecretAccessKey"] == json!(secret)
        });
        let github_holds = [
            (repo(), "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
            (prod(), "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
            (org(), "DEPLOY_KEY_ID", "DEPLOY_SECRET_KEY"),
        ]
        .iter()
        .all(|(scope, id_name, secret_name)| {
            self.github.value(scope, id_name).as_deref() == Some(id)
                && self.github.value(scope, secret_name).as_deref() == Some(secret)
        });
        ssm_holds && github_holds
    }

    fn new_key(&self) -> (String, String) {
        let pending = self.value("AWSCURRENT");
        (
            pending["AccessKeyId"].as_str().unwrap().to_string(),
            pending["SecretAccessKey"].as_str().unwrap().to_string(),
        )
    }

    async fn sweep_at(&self, now: SystemTime) -> crate::sweep::Summary {
        let options = Options {
            deep: true,
            ..Options::default()
        };
        sweep(&self.rotator, &options, now).await.unwrap()
    }
}

#[tokio::test]
async fn a_rotation_delivers_the_new_key_to_every_kind_of_destination_and_keeps_the_old_one_for_the_sweep()
 {
    let world = World::new(every_kind()).await;
    world.rotate().await.unwrap();

    let (id, secret) = world.new_key();
    assert_ne!(id, world.old_key);
    assert!(world.delivered(&id, &secret));
    // The organization secret reaches the two repositories it names, by their ids.
    let state = world.github.state();
    let held = &state.secrets[&(org(), "DEPLOY_KEY_ID".to_string())];
    assert!(
        matches!(&held.access, Some(crate::services::OrgAccess::Selected(ids)) if ids.len() == 2)
    );
    // One public key per scope in the invocation, one PUT per secret.
    assert_eq!(state.public_key_reads, 3);
    assert_eq!(state.puts, 6);
    drop(state);
    // The destinations' consumers move to the new key as they next read it: the old key stays
    // Active although the policy has no grace period, for the sweep's quiet rule.
    assert_eq!(world.status(&world.old_key), Some(Active));
}

#[tokio::test]
async fn a_destination_outside_the_deployers_limits_is_refused_before_any_key_is_made() {
    for destination in [
        json!({"Type": "ssm", "Name": "/prod/db/aws"}),
        json!({"Type": "github", "Repository": "mallory/exfil"}),
        json!({"Type": "sqs", "Queue": "q"}),
    ] {
        let world = World::new(json!([destination])).await;
        let err = world.run(Step::CreateSecret).await.unwrap_err();
        assert_eq!(err.kind(), "InvalidDestination", "{err}");
        assert_eq!(world.iam.keys_of("ci-bot").len(), 1, "a key was made");
        assert!(world.secrets.value_labelled("AWSPENDING").is_none());
        assert_eq!(world.ssm.state().puts + world.github.state().puts, 0);
    }
}

#[tokio::test]
async fn a_retry_after_a_destination_failed_finishes_the_rest_and_rewrites_nothing_already_there() {
    let world = World::new(every_kind()).await;
    world.run(Step::CreateSecret).await.unwrap();
    // SSM takes the key; GitHub fails on the first secret.
    world.github.state().fail_puts = 1;
    let err = world.run(Step::SetSecret).await.unwrap_err();
    assert_eq!(err.kind(), "DeliveryFailed", "{err}");
    assert!(err.to_string().contains("github:acme/api"), "{err}");
    assert_eq!(world.ssm.state().puts, 1);

    // Secrets Manager retries the whole rotation with the same token.
    world.rotate().await.unwrap();
    let (id, secret) = world.new_key();
    assert!(world.delivered(&id, &secret));
    assert_eq!(world.ssm.state().puts, 1, "the parameter was written again");

    // And the other way round: SSM fails first, GitHub is never reached.
    let world = World::new(every_kind()).await;
    world.run(Step::CreateSecret).await.unwrap();
    world.ssm.state().fail_puts = 1;
    let err = world.run(Step::SetSecret).await.unwrap_err();
    assert!(err.to_string().contains("ssm:/ci/deploy/aws"), "{err}");
    assert_eq!(world.github.state().puts, 0);
    world.rotate().await.unwrap();
    let (id, secret) = world.new_key();
    assert!(world.delivered(&id, &secret));
}

#[tokio::test]
async fn a_destination_that_does_not_hold_the_pending_key_fails_the_test_and_nothing_is_promoted() {
    let world = World::new(every_kind()).await;
    world.run(Step::CreateSecret).await.unwrap();
    world.run(Step::SetSecret).await.unwrap();
    world.ssm.overwrite(
        "/ci/deploy/aws",
        json!({"AccessKeyId": world.old_key, "SecretAccessKey": world.old_secret}),
    );
    let err = world.run(Step::TestSecret).await.unwrap_err();
    assert_eq!(err.kind(), "DeliveryUnconfirmed", "{err}");
    assert!(err.to_string().contains("ssm:/ci/deploy/aws"), "{err}");
    assert_eq!(
        world.value("AWSCURRENT")["AccessKeyId"],
        json!(world.old_key)
    );

    // A GitHub secret written by someone else after the delivery fails it the same way.
    world
        .rotate()
        .await
        .unwrap_or_else(|e| panic!("the retry delivers again: {e}"));
    let world = World::new(every_kind()).await;
    world.run(Step::CreateSecret).await.unwrap();
    world.run(Step::SetSecret).await.unwrap();
    world
        .github
        .overwrite(&prod(), "AWS_SECRET_ACCESS_KEY", "by hand", 10 * HOUR);
    let err = world.run(Step::TestSecret).await.unwrap_err();
    assert!(err.to_string().contains("github:acme/api:prod"), "{err}");
    assert!(err.to_string().contains("someone wrote it since"), "{err}");
}

#[tokio::test]
async fn an_abandoned_rotation_gives_the_destinations_back_the_current_key() {
    let world = World::new(every_kind()).await;
    world.run(Step::CreateSecret).await.unwrap();
    world.run(Step::SetSecret).await.unwrap();
    let (pending_id, _) = {
        let v = world.value("AWSPENDING");
        (v["AccessKeyId"].as_str().unwrap().to_string(), ())
    };
    // Someone deletes the pending key before the rotation finishes; Secrets Manager retries.
    world.iam.delete_key("ci-bot", &pending_id).await.unwrap();
    let err = world.run(Step::SetSecret).await.unwrap_err();
    assert_eq!(err.kind(), "PendingKeyUnusable", "{err}");
    assert!(world.delivered(&world.old_key, &world.old_secret));
}

#[tokio::test]
async fn a_cancelled_rotation_gives_the_destinations_back_the_current_key_and_keeps_its_own() {
    let world = World::new(every_kind()).await;
    world.run(Step::CreateSecret).await.unwrap();
    world.run(Step::SetSecret).await.unwrap();
    let pending_id = world.pending_key_id();
    let changes = world.cancel().await;
    assert!(world.delivered(&world.old_key, &world.old_secret));
    // A consumer may have read the cancelled rotation's key from a destination already, and AWS
    // shows its use hours late: it stays Active, for the next rotation to retire once unused.
    assert_eq!(world.status(&pending_id), Some(Active), "{changes:?}");
    assert!(
        changes
            .iter()
            .any(|c| c.action == crate::change::ChangeKind::GivenBack)
    );
    assert_eq!(world.status(&world.old_key), Some(Active));
}

#[tokio::test]
async fn a_current_key_that_no_longer_works_is_never_given_back() {
    let world = World::new(every_kind()).await;
    world.run(Step::CreateSecret).await.unwrap();
    world.run(Step::SetSecret).await.unwrap();
    let pending = world.value("AWSPENDING");
    let (pending_id, pending_secret) = (
        pending["AccessKeyId"].as_str().unwrap().to_string(),
        pending["SecretAccessKey"].as_str().unwrap().to_string(),
    );
    // The current key leaked and a responder switched it off; then the rotation is called off.
    world
        .iam
        .deactivate_key("ci-bot", &world.old_key)
        .await
        .unwrap();
    let changes = world.cancel().await;
    assert!(world.delivered(&pending_id, &pending_secret), "{changes:?}");
    assert_eq!(world.status(&pending_id), Some(Active));
    assert!(
        changes
            .iter()
            .any(|c| c.reason.contains("would cut every consumer off")),
        "{changes:?}"
    );
}

#[tokio::test]
async fn a_pending_value_written_by_hand_is_delivered_nowhere() {
    // The current key with a secret part of someone's choosing.
    let world = World::new(every_kind()).await;
    world.write_pending(json!({"UserName": "ci-bot", "AccessKeyId": world.old_key,
        "SecretAccessKey": "chosen-by-hand", "Destinations": every_kind()}));
    let err = world.run(Step::SetSecret).await.unwrap_err();
    assert_eq!(err.kind(), "StaleRotation", "{err}");
    assert_eq!(world.ssm.state().puts + world.github.state().puts, 0);

    // A key made by hand, but Destinations other than AWSCURRENT's; and a key's id with a secret
    // part that does not sign. (Values never change once stored: each is written as the
    // pending version's value from the start, as someone with PutSecretValue could.)
    let world = World::new(every_kind()).await;
    let by_hand = world.iam.create_key("ci-bot").await.unwrap();
    world.write_pending(json!({"UserName": "ci-bot", "AccessKeyId": by_hand.id,
        "SecretAccessKey": by_hand.secret.expose_secret(),
        "Destinations": [{"Type": "github", "Repository": "acme/api", "Names": {"SecretAccessKey": "NPM_TOKEN"}}]}));
    let err = world.run(Step::SetSecret).await.unwrap_err();
    assert!(
        err.to_string().contains("no destination was written"),
        "{err}"
    );
    assert_eq!(world.github.state().puts, 0);

    let world = World::new(every_kind()).await;
    let by_hand = world.iam.create_key("ci-bot").await.unwrap();
    world.write_pending(json!({"UserName": "ci-bot", "AccessKeyId": by_hand.id,
        "SecretAccessKey": "not-the-key-iam-made", "Destinations": every_kind()}));
    let err = world
        .rotator
        .run(
            &RotationEvent {
                step: Step::SetSecret,
                secret_id: SECRET.into(),
                token: TOKEN.into(),
                rotation_token: None,
            },
            Instant::now() + Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "KeyNeverValid", "{err}");
    assert_eq!(world.ssm.state().puts + world.github.state().puts, 0);
}

#[tokio::test]
async fn a_parameter_that_holds_something_else_is_never_overwritten() {
    let world = World::new(json!([{"Type": "ssm", "Name": "/ci/db/password"}])).await;
    world.ssm.overwrite("/ci/db/password", json!("hunter2"));
    world.run(Step::CreateSecret).await.unwrap();
    let err = world.run(Step::SetSecret).await.unwrap_err();
    assert_eq!(err.kind(), "DeliveryFailed", "{err}");
    assert!(err.to_string().contains("not overwritten"), "{err}");
    assert!(!err.to_string().contains("hunter2"));
    assert_eq!(world.ssm.value("/ci/db/password"), Some(json!("hunter2")));
}

#[tokio::test]
async fn finish_keeps_the_old_key_for_the_sweep_even_once_the_deployer_narrowed_the_limits() {
    let world = World::new(every_kind()).await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        world.run(step).await.unwrap();
    }
    let mut narrowed = world.rotator.config().clone();
    narrowed.delivery = DeliverySettings::default();
    let finisher = crate::Rotator::with_services(
        Clients {
            secrets: world.secrets.clone(),
            iam: world.iam.clone(),
            keys: FakeSts::new(world.iam.clone()),
            parameters: world.ssm.clone(),
            github: world.github.clone(),
            accounts: crate::services::NotSetUp,
            organization: crate::services::NotSetUp,
            security_hub: crate::services::NotSetUp,
        },
        narrowed,
    );
    let event = RotationEvent {
        step: Step::FinishSecret,
        secret_id: SECRET.into(),
        token: TOKEN.into(),
        rotation_token: None,
    };
    finisher
        .run(&event, Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();
    assert_ne!(
        world.value("AWSCURRENT")["AccessKeyId"],
        json!(world.old_key)
    );
    assert_eq!(world.status(&world.old_key), Some(Active));
}

#[tokio::test]
async fn a_sweep_that_overlaps_a_rotation_raises_no_stale_delivery() {
    let world = World::new(every_kind()).await;
    world.rotate().await.unwrap();
    world.secrets.state().last_rotated = Some(SystemTime::now());
    // The listing is taken; then the next rotation delivers a newer key than it shows.
    world.secrets.freeze_listing();
    let next = "22222222-3333-4444-5555-666666666666";
    world
        .secrets
        .state()
        .versions
        .push(crate::fakes::FakeVersion {
            id: next.into(),
            labels: vec!["AWSPENDING".into()],
            value: None,
            created: SystemTime::now(),
        });
    {
        let mut state = world.secrets.state();
        for v in state.versions.iter_mut().filter(|v| v.id == TOKEN) {
            v.labels.retain(|l| l != "AWSPENDING");
        }
    }
    for step in [Step::CreateSecret, Step::SetSecret] {
        let event = RotationEvent {
            step,
            secret_id: SECRET.into(),
            token: next.into(),
            rotation_token: None,
        };
        world
            .rotator
            .run(&event, Instant::now() + Duration::from_secs(60))
            .await
            .unwrap();
    }
    let report = world.sweep_at(SystemTime::now() + 2 * HOUR).await;
    assert_eq!(stale(&report), Vec::<String>::new());
}

#[tokio::test]
async fn a_cancelled_rotation_of_an_adopted_key_keeps_its_key_which_the_destinations_may_hold() {
    let world = World::new(every_kind()).await;
    // The current value names the key without its secret part, as `adopt` stores it.
    world.secrets.edit_value(OLD_VERSION, |value| {
        value
            .as_object_mut()
            .map(|fields| fields.remove("SecretAccessKey"));
    });
    world.run(Step::CreateSecret).await.unwrap();
    world.run(Step::SetSecret).await.unwrap();
    let pending_id = world.pending_key_id();
    let changes = world.cancel().await;
    assert_eq!(world.status(&pending_id), Some(Active), "{changes:?}");
    assert!(
        changes
            .iter()
            .any(|c| c.reason.contains("a destination may hold")),
        "{changes:?}"
    );
}

#[tokio::test]
async fn the_sweep_retires_the_old_key_only_once_every_destination_holds_the_new_one_and_it_is_quiet()
 {
    let world = World::new(every_kind()).await;
    world.rotate().await.unwrap();
    let (id, secret) = world.new_key();
    world.secrets.state().last_rotated = Some(SystemTime::now());

    // Someone points the SSM parameter back at the old key.
    world.ssm.overwrite(
        "/ci/deploy/aws",
        json!({"AccessKeyId": world.old_key, "SecretAccessKey": world.old_secret}),
    );
    let later = SystemTime::now() + 2 * HOUR;
    let report = world.sweep_at(later).await;
    let found = stale(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("ssm:/ci/deploy/aws"), "{}", found[0]);
    assert!(!found[0].contains(&world.old_secret));
    assert_eq!(
        world.status(&world.old_key),
        Some(Active),
        "retired while a destination holds it"
    );
    assert_eq!(report.deliveries.len(), 4, "{:?}", report.deliveries);

    // Put right: every destination holds the new key, the old one has been quiet: it goes.
    world.ssm.overwrite(
        "/ci/deploy/aws",
        json!({"AccessKeyId": id, "SecretAccessKey": secret}),
    );
    let report = world.sweep_at(later).await;
    assert_eq!(stale(&report), Vec::<String>::new());
    assert_eq!(
        world.status(&world.old_key),
        Some(Inactive),
        "{:?}",
        report.actions
    );
}

#[tokio::test]
async fn the_sweep_never_retires_the_old_key_before_it_has_been_quiet_since_the_rotation() {
    let world = World::new(every_kind()).await;
    world.rotate().await.unwrap();
    world.secrets.state().last_rotated = Some(SystemTime::now());
    // No use of the old key shows, but the destinations' consumers may still hold it.
    let report = world.sweep_at(SystemTime::now() + HOUR / 2).await;
    assert_eq!(
        world.status(&world.old_key),
        Some(Active),
        "{:?}",
        report.actions
    );
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[tokio::test]
async fn a_github_secret_overwritten_or_deleted_by_hand_is_a_stale_delivery() {
    let world = World::new(every_kind()).await;
    world.rotate().await.unwrap();
    world
        .github
        .overwrite(&repo(), "AWS_ACCESS_KEY_ID", "AKIABYHAND", 3 * HOUR);
    world
        .github
        .state()
        .secrets
        .remove(&(org(), "DEPLOY_SECRET_KEY".to_string()));
    let report = world.sweep_at(SystemTime::now() + 4 * HOUR).await;
    let details = stale(&report);
    assert_eq!(details.len(), 2, "{details:?}");
    assert!(
        details
            .iter()
            .any(|d| d.contains("github:acme/api ") && d.contains("someone wrote it since")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("github-org:acme") && d.contains("does not exist")),
        "{details:?}"
    );
}

/// The details of the sweep's DeliveryStale findings.
fn stale(summary: &crate::sweep::Summary) -> Vec<String> {
    summary
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DeliveryStale)
        .map(|f| f.detail.clone())
        .collect()
}

#[tokio::test]
async fn the_old_key_waits_out_awss_reporting_lag_on_top_of_the_quiet_time() {
    let world = World::new(every_kind()).await;
    world.rotate().await.unwrap();
    world.secrets.state().last_rotated = Some(SystemTime::now());
    // AWS shows a key's use up to 4 hours late: two hours after the rotation, "no use seen" of
    // the old key proves nothing, although the quiet time (1h) has passed.
    let mut config = world.rotator.config().clone();
    config.last_use_lag = 4 * HOUR;
    let lagging = crate::Rotator::with_services(
        Clients {
            secrets: world.secrets.clone(),
            iam: world.iam.clone(),
            keys: FakeSts::new(world.iam.clone()),
            parameters: world.ssm.clone(),
            github: world.github.clone(),
            accounts: crate::services::NotSetUp,
            organization: crate::services::NotSetUp,
            security_hub: crate::services::NotSetUp,
        },
        config,
    );
    let options = Options {
        deep: true,
        ..Options::default()
    };
    sweep(&lagging, &options, SystemTime::now() + 2 * HOUR)
        .await
        .unwrap();
    assert_eq!(world.status(&world.old_key), Some(Active));
    sweep(&lagging, &options, SystemTime::now() + 6 * HOUR)
        .await
        .unwrap();
    assert_eq!(world.status(&world.old_key), Some(Inactive));
}
