//! Delivery against moto's SSM and the GitHub stand-in (tests/support/github_api.py), which holds
//! its own key pairs and opens every sealed box it receives: full rotations to each kind of
//! destination, GitHub's rate limits and lost answers, failures and retries, refusals, cancel,
//! the sweep's DeliveryStale, and no secret anywhere outside a sealed box.

mod support;

use std::time::SystemTime;

use iam_key_rotator::config::Config;
use iam_key_rotator::delivery::DELIVERED_TAG;
use iam_key_rotator::sweep::{self, FindingKind, Options};
use iam_key_rotator::{Step, wiring};
use serde_json::{Value, json};
use support::{Bed, far_deadline, unique};

/// A bed whose secret delivers to a parameter under its own SSM prefix and to a repository of its
/// own (so tests share one server), with the function's settings allowing exactly those.
struct Delivering {
    bed: Bed,
    prefix: String,
    repo: String,
    config: Config,
}

enum Credentials {
    Token,
    App,
}

impl Delivering {
    async fn new(destinations: impl FnOnce(&str, &str) -> Value) -> Delivering {
        Delivering::with_credentials(Credentials::Token, destinations).await
    }

    async fn with_credentials(
        credentials: Credentials,
        destinations: impl FnOnce(&str, &str) -> Value,
    ) -> Delivering {
        let prefix = format!("/ci/{}/", unique("t"));
        let repo = unique("api");
        let listed = destinations(&prefix, &repo);
        let bed = Bed::with_value(|user, key_id, secret| {
            json!({"UserName": user, "AccessKeyId": key_id, "SecretAccessKey": secret, "Destinations": listed})
        })
        .await;
        let credentials = bed
            .github_credentials(matches!(credentials, Credentials::App))
            .await;
        let config = bed.delivering_config(&prefix, &credentials);
        Delivering {
            bed,
            prefix,
            repo,
            config,
        }
    }

    fn rotator(&self) -> wiring::AwsRotator {
        wiring::rotator(&self.bed.sdk, self.config.clone())
    }

    async fn rotate(&self) -> Result<String, iam_key_rotator::Error> {
        let token = self.bed.start_rotation().await;
        self.bed.run_steps(&self.rotator(), &token).await?;
        Ok(token)
    }

    async fn parameter(&self, name: &str) -> Option<(Value, i64, String)> {
        let out = aws_sdk_ssm::Client::new(&self.bed.sdk)
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .ok()?;
        let parameter = out.parameter()?;
        Some((
            serde_json::from_str(parameter.value()?).ok()?,
            parameter.version(),
            parameter.r#type()?.as_str().to_string(),
        ))
    }

    /// The GitHub secrets of `scope` ("repo:acme/REPO", "env:acme/REPO:ENV", "org:acme"), as
    /// the stand-in opened them.
    fn github_secrets(&self, scope: &str) -> Value {
        self.bed.moto.github_state()["secrets"][scope].clone()
    }

    /// The requests the stand-in logged for this test's repository.
    fn github_requests(&self) -> Vec<Value> {
        let state = self.bed.moto.github_state();
        state["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["path"].as_str().unwrap_or_default().contains(&self.repo))
            .cloned()
            .collect()
    }

    /// Someone writes the first key back into the parameter `name` by hand.
    async fn put_the_first_key_back(&self, name: &str) {
        let first =
            json!({"AccessKeyId": self.bed.first_key, "SecretAccessKey": self.bed.first_secret});
        aws_sdk_ssm::Client::new(&self.bed.sdk)
            .put_parameter()
            .name(name)
            .value(first.to_string())
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("PutParameter");
    }

    /// The CLI's `command` on this secret, in JSON, with this test's delivery settings in the shell.
    fn cli(&self, command: &str) -> std::process::Output {
        let delivery = &self.config.delivery;
        self.bed
            .moto
            .cli()
            .args([
                command,
                "--secret-id",
                &self.bed.secret_arn,
                "--output",
                "json",
            ])
            .env("ROTATOR_SSM_PREFIX", &self.prefix)
            .env("ROTATOR_GITHUB_OWNERS", "acme")
            .env(
                "ROTATOR_GITHUB_CREDENTIALS",
                delivery.github_credentials.as_deref().unwrap_or_default(),
            )
            .env("ROTATOR_GITHUB_API_URL", &self.bed.moto.github.url)
            .env("ROTATOR_USER_PATH_PREFIX", "/rotated/")
            .output()
            .expect("the CLI runs")
    }

    fn fault(&self, method: &str, kind: &str, times: u32) {
        self.bed.moto.control(json!({
            "op": "github_fault", "method": method, "path_contains": self.repo,
            "kind": kind, "times": times, "retry_after": 1,
        }));
    }

    async fn sweep(&self) -> sweep::Summary {
        let options = Options {
            secret_id: Some(self.bed.secret_arn.clone()),
            deep: true,
            ..Options::default()
        };
        let config = Config {
            secret_name_prefix: "iam-keys/".into(),
            ..self.config.clone()
        };
        sweep::sweep(
            &wiring::rotator(&self.bed.sdk, config),
            &options,
            SystemTime::now(),
        )
        .await
        .expect("sweep")
    }
}

fn ssm_and_repo(prefix: &str, repo: &str) -> Value {
    json!([
        {"Type": "ssm", "Name": format!("{prefix}deploy/aws")},
        {"Type": "github", "Repository": format!("acme/{repo}")},
    ])
}

#[tokio::test]
async fn a_rotation_delivers_the_new_key_to_ssm_and_to_a_repository_and_an_environment() {
    let world = Delivering::new(|prefix, repo| {
        json!([
            {"Type": "ssm", "Name": format!("{prefix}deploy/aws")},
            {"Type": "github", "Repository": format!("acme/{repo}")},
            {"Type": "github", "Repository": format!("acme/{repo}"), "Environment": "prod eu"},
        ])
    })
    .await;
    world.rotate().await.expect("rotation succeeds");

    let current = world.bed.value("AWSCURRENT").await;
    let (id, secret) = (&current["AccessKeyId"], &current["SecretAccessKey"]);
    assert_ne!(id, &json!(world.bed.first_key));
    let (parameter, version, kind) = world
        .parameter(&format!("{}deploy/aws", world.prefix))
        .await
        .expect("the parameter");
    assert_eq!(
        parameter,
        json!({"AccessKeyId": id, "SecretAccessKey": secret})
    );
    assert_eq!((version, kind.as_str()), (1, "SecureString"));
    for scope in [
        format!("repo:acme/{}", world.repo),
        format!("env:acme/{}:prod eu", world.repo),
    ] {
        let secrets = world.github_secrets(&scope);
        assert_eq!(&secrets["AWS_ACCESS_KEY_ID"]["value"], id, "{scope}");
        assert_eq!(
            &secrets["AWS_SECRET_ACCESS_KEY"]["value"], secret,
            "{scope}"
        );
    }
    // Per GitHub scope: one public key read, one PUT per secret, one read back by testSecret.
    let requests = world.github_requests();
    let count = |method: &str, tail: &str| {
        requests
            .iter()
            .filter(|r| r["method"] == method && r["path"].as_str().unwrap().ends_with(tail))
            .count()
    };
    assert_eq!(count("GET", "/public-key"), 2, "{requests:#?}");
    assert_eq!(count("PUT", "_KEY_ID") + count("PUT", "_ACCESS_KEY"), 4);
    assert_eq!(count("GET", "_KEY_ID") + count("GET", "_ACCESS_KEY"), 4);
    // The old key stays Active for the sweep: the destinations' consumers move as they read them.
    assert!(world.bed.active_keys().await.contains(&world.bed.first_key));
}

#[tokio::test]
async fn a_github_app_mints_its_installation_token_and_delivers_to_an_organization() {
    let world = Delivering::with_credentials(Credentials::App, |_, repo| {
        json!([{"Type": "github", "Organization": "acme", "Visibility": "selected", "Repositories": [repo],
                "Names": {"AccessKeyId": format!("KEY_ID_{}", repo.replace('-', "_")),
                          "SecretAccessKey": format!("SECRET_{}", repo.replace('-', "_"))}}])
    })
    .await;
    world.rotate().await.expect("rotation succeeds");

    let current = world.bed.value("AWSCURRENT").await;
    let name = world.repo.replace('-', "_").to_uppercase();
    let secrets = world.github_secrets("org:acme");
    assert_eq!(
        secrets[format!("KEY_ID_{name}")]["value"],
        current["AccessKeyId"]
    );
    assert_eq!(
        secrets[format!("SECRET_{name}")]["value"],
        current["SecretAccessKey"]
    );
    assert_eq!(secrets[format!("SECRET_{name}")]["visibility"], "selected");
    let state = world.bed.moto.github_state();
    assert!(state["tokens_minted"].as_u64().unwrap() >= 1);
    let kinds: Vec<&str> = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["authorization"].as_str())
        .collect();
    assert!(
        kinds.contains(&"bearer-jwt") && kinds.contains(&"installation-token"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn githubs_rate_limits_and_a_lost_answer_are_waited_out() {
    let world = Delivering::new(ssm_and_repo).await;
    world.fault("PUT", "throttle_429", 1);
    world.fault("PUT", "throttle_403", 1);
    world.fault("PUT", "lose_answer", 1);
    world.rotate().await.expect("rotation succeeds");

    let current = world.bed.value("AWSCURRENT").await;
    let secrets = world.github_secrets(&format!("repo:acme/{}", world.repo));
    assert_eq!(
        secrets["AWS_SECRET_ACCESS_KEY"]["value"],
        current["SecretAccessKey"]
    );
    let statuses: Vec<u64> = world
        .github_requests()
        .iter()
        .filter(|r| r["method"] == "PUT")
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert!(
        statuses.contains(&429) && statuses.contains(&403),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_destination_that_keeps_failing_fails_the_rotation_and_the_retry_finishes_it() {
    let world = Delivering::new(ssm_and_repo).await;
    // Every attempt of the client's first PUT fails (it tries 4 times).
    world.fault("PUT", "fail", 4);
    let token = world.bed.start_rotation().await;
    let rotator = world.rotator();
    rotator
        .run(&world.bed.event(Step::CreateSecret, &token), far_deadline())
        .await
        .unwrap();
    let err = rotator
        .run(&world.bed.event(Step::SetSecret, &token), far_deadline())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "DeliveryFailed", "{err}");
    assert!(
        err.to_string()
            .contains(&format!("github:acme/{}", world.repo)),
        "{err}"
    );
    // The parameter, first in the list, holds the pending key already: a key that works.
    let pending = world.bed.value("AWSPENDING").await;
    let name = format!("{}deploy/aws", world.prefix);
    let (held, version, _) = world.parameter(&name).await.expect("the parameter");
    assert_eq!(held["AccessKeyId"], pending["AccessKeyId"]);
    assert_eq!(
        world.bed.value("AWSCURRENT").await["AccessKeyId"],
        json!(world.bed.first_key)
    );

    // GitHub is back; Secrets Manager retries the rotation with the same token.
    world
        .bed
        .run_steps(&rotator, &token)
        .await
        .expect("the retry finishes");
    assert_eq!(
        world.bed.value("AWSCURRENT").await["AccessKeyId"],
        pending["AccessKeyId"]
    );
    let (_, again, _) = world.parameter(&name).await.expect("the parameter");
    assert_eq!(again, version, "the retry wrote the parameter again");
}

#[tokio::test]
async fn a_destination_outside_the_functions_limits_is_refused_and_nothing_is_made() {
    for destinations in [
        json!([{"Type": "ssm", "Name": "/prod/db/aws"}]),
        json!([{"Type": "github", "Repository": "mallory/exfiltrate"}]),
    ] {
        let world = Delivering::new(|_, _| destinations).await;
        let before = world.bed.snapshot().await;
        let err = world.rotate().await.unwrap_err();
        assert_eq!(err.kind(), "InvalidDestination", "{err}");
        assert_eq!(world.bed.keys().await, before.0);
        assert!(world.parameter("/prod/db/aws").await.is_none());
        assert!(world.bed.moto.github_state()["secrets"]["repo:mallory/exfiltrate"].is_null());
    }
}

#[tokio::test]
async fn the_sweep_reports_a_parameter_or_github_secret_changed_by_hand_and_keeps_the_old_key() {
    let world = Delivering::new(ssm_and_repo).await;
    world.rotate().await.expect("rotation succeeds");
    let summary = world.sweep().await;
    assert_eq!(stale(&summary), Vec::<String>::new());
    assert_eq!(summary.deliveries.len(), 2, "{:?}", summary.deliveries);

    // Someone puts the old key back into the parameter, and deletes one GitHub secret.
    let name = format!("{}deploy/aws", world.prefix);
    world.put_the_first_key_back(&name).await;
    world.bed.moto.control(json!({
        "op": "github_delete", "scope": format!("repo:acme/{}", world.repo), "name": "AWS_ACCESS_KEY_ID",
    }));
    let summary = world.sweep().await;
    let stale = stale(&summary);
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert!(
        stale
            .iter()
            .any(|d| d.contains(&name) && d.contains(&world.bed.first_key)),
        "{stale:?}"
    );
    assert!(stale.iter().all(|d| !d.contains(&world.bed.first_secret)));
    assert!(world.bed.active_keys().await.contains(&world.bed.first_key));
}

#[tokio::test]
async fn a_github_secret_overwritten_after_the_delivery_is_told_from_the_delivery_itself() {
    let world = Delivering::new(ssm_and_repo).await;
    world.rotate().await.expect("rotation succeeds");
    // The delivery was hours ago; someone has written the secret in GitHub's settings since.
    let current = world.bed.value("AWSCURRENT").await;
    let hours_ago = iam_key_rotator::dates::epoch_seconds(SystemTime::now()) - 3 * 3600;
    world
        .bed
        .sm
        .tag_resource()
        .secret_id(&world.bed.secret_arn)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(DELIVERED_TAG)
                .value(format!(
                    "{} {hours_ago} {hours_ago}",
                    current["AccessKeyId"].as_str().unwrap()
                ))
                .build(),
        )
        .send()
        .await
        .expect("TagResource");
    world.bed.moto.control(json!({
        "op": "github_overwrite", "scope": format!("repo:acme/{}", world.repo),
        "name": "AWS_SECRET_ACCESS_KEY", "value": "by hand",
    }));
    let summary = world.sweep().await;
    let stale = stale(&summary);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(stale[0].contains("someone wrote it since"), "{}", stale[0]);
}

#[tokio::test]
async fn cancel_gives_the_destinations_back_the_current_key_and_keeps_the_new_one() {
    let world = Delivering::new(ssm_and_repo).await;
    let token = world.bed.start_rotation().await;
    let rotator = world.rotator();
    for step in [Step::CreateSecret, Step::SetSecret] {
        rotator
            .run(&world.bed.event(step, &token), far_deadline())
            .await
            .unwrap();
    }
    let pending = world.bed.value("AWSPENDING").await;

    let out = world.cli("cancel");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("given_back"), "{printed}");
    assert!(
        !printed.contains(&world.bed.first_secret)
            && !printed.contains(pending["SecretAccessKey"].as_str().unwrap())
    );

    let (held, _, _) = world
        .parameter(&format!("{}deploy/aws", world.prefix))
        .await
        .unwrap();
    assert_eq!(held["AccessKeyId"], json!(world.bed.first_key));
    let secrets = world.github_secrets(&format!("repo:acme/{}", world.repo));
    assert_eq!(
        secrets["AWS_SECRET_ACCESS_KEY"]["value"],
        json!(world.bed.first_secret)
    );
    // A consumer may have read the delivered key already: it stays Active, and named.
    let pending_id = pending["AccessKeyId"].as_str().unwrap().to_string();
    assert!(world.bed.active_keys().await.contains(&pending_id));
    assert!(printed.contains("stays Active"), "{printed}");
}

#[tokio::test]
async fn no_secret_access_key_reaches_github_outside_a_sealed_box() {
    let world = Delivering::new(ssm_and_repo).await;
    world.fault("PUT", "fail", 1);
    world.rotate().await.expect("rotation succeeds");
    let current = world.bed.value("AWSCURRENT").await;
    let requests = world.github_requests();
    assert!(!requests.is_empty());
    let logged = serde_json::to_string(&requests).unwrap();
    for secret in [
        current["SecretAccessKey"].as_str().unwrap(),
        &world.bed.first_secret,
    ] {
        assert!(
            !logged.contains(secret),
            "a secret access key travelled in the clear"
        );
    }
    assert!(
        !logged.contains(&world.bed.moto.github.token),
        "the token was logged"
    );
}

#[tokio::test]
async fn deliver_puts_the_current_key_back_where_someone_overwrote_it() {
    let world = Delivering::new(ssm_and_repo).await;
    world.rotate().await.expect("rotation succeeds");
    let current = world.bed.value("AWSCURRENT").await;
    let name = format!("{}deploy/aws", world.prefix);
    world.put_the_first_key_back(&name).await;
    let out = world.cli("deliver");
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&printed).expect("JSON");
    let holds: Vec<&str> = report["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["holds"].as_str().unwrap())
        .collect();
    assert_eq!(holds, ["key", "key"], "{report}");
    let (held, _, _) = world.parameter(&name).await.unwrap();
    assert_eq!(held["AccessKeyId"], current["AccessKeyId"]);
    assert!(!printed.contains(current["SecretAccessKey"].as_str().unwrap()));
    let summary = world.sweep().await;
    assert_eq!(stale(&summary), Vec::<String>::new());
}

/// The details of the sweep's DeliveryStale findings.
fn stale(summary: &sweep::Summary) -> Vec<String> {
    summary
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DeliveryStale)
        .map(|f| f.detail.clone())
        .collect()
}
