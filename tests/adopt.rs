//! `adopt` from each starting state, run twice, against moto whose rotation function is the built
//! Lambda binary, checking users by tag (ROTATOR_USER_TAG) as the template does by default.

mod support;

use std::process::Output;
use std::sync::OnceLock;

use serde_json::Value;
use support::{Moto, unique};

const TAG: &str = "iam-key-rotator:secret";
/// The secret holding the GitHub stand-in's token, which the function reads to deliver there.
const GITHUB_CREDENTIALS: &str = "github/adopt-credentials";

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start)
}

/// A server whose function is the built binary, set as these tests' deployment.
fn start() -> Moto {
    Moto::start(&[
        "--function-binary",
        env!("CARGO_BIN_EXE_iam-key-rotator"),
        "--function-env",
        "ROTATOR_USER_PATH_PREFIX=/rotated/",
        "--function-env",
        &format!("ROTATOR_USER_TAG={TAG}"),
        "--function-env",
        "ROTATOR_SSM_PREFIX=/ci/",
        "--function-env",
        "ROTATOR_GITHUB_OWNERS=acme",
        "--function-env",
        &format!("ROTATOR_GITHUB_CREDENTIALS={GITHUB_CREDENTIALS}"),
    ])
}

fn adopt(user: &str, extra: &[&str]) -> Output {
    adopt_on(moto(), user, extra)
}

fn adopt_on(moto: &Moto, user: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "adopt",
        "--user",
        user,
        "--function-arn",
        &moto.rotation_lambda_arn,
        "--output",
        "json",
    ];
    args.extend(extra);
    moto.cli()
        .args(&args)
        .env("ROTATOR_USER_PATH_PREFIX", "/rotated/")
        .env("ROTATOR_USER_TAG", TAG)
        .env("ROTATOR_SECRET_NAME_PREFIX", "iam-keys/")
        .output()
        .expect("the CLI runs")
}

/// `sweep --secret-id` through the CLI, with the policy in seconds: previous keys are deactivated
/// at rotation, and quiet after 3 seconds without use.
fn sweep(user: &str) -> Value {
    let out = moto()
        .cli()
        .args(["sweep", "--secret-id", &format!("iam-keys/{user}")])
        .args(["--output", "json"])
        .env("ROTATOR_USER_PATH_PREFIX", "/rotated/")
        .env("ROTATOR_USER_TAG", TAG)
        .env("ROTATOR_SECRET_NAME_PREFIX", "iam-keys/")
        .env("ROTATOR_DEACTIVATE_AFTER", "0")
        .env("ROTATOR_QUIET_FOR", "3s")
        // moto shows a key's use at once (no lag to add to the quiet time); the lag has its own tests.
        .env("ROTATOR_LAST_USE_LAG", "0")
        .env("ROTATOR_DELETE_AFTER", "1h")
        .output()
        .expect("the CLI runs");
    report(&out)
}

fn report(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

struct Account {
    iam: aws_sdk_iam::Client,
    sm: aws_sdk_secretsmanager::Client,
}

impl Account {
    async fn new() -> Account {
        let sdk = moto().sdk_config().await;
        Account {
            iam: aws_sdk_iam::Client::new(&sdk),
            sm: aws_sdk_secretsmanager::Client::new(&sdk),
        }
    }

    async fn user_with_keys(&self, active: usize, inactive: usize) -> (String, Vec<String>) {
        let (user, keys) = self.user_with_secret_keys(active, inactive).await;
        (user, keys.into_iter().map(|(id, _)| id).collect())
    }

    /// A user with keys, as (id, secret part), the active ones first.
    async fn user_with_secret_keys(
        &self,
        active: usize,
        inactive: usize,
    ) -> (String, Vec<(String, String)>) {
        let user = unique("adoptee");
        self.iam
            .create_user()
            .user_name(&user)
            .path("/rotated/")
            .send()
            .await
            .unwrap();
        let mut ids = Vec::new();
        for n in 0..active + inactive {
            let key = self
                .iam
                .create_access_key()
                .user_name(&user)
                .send()
                .await
                .unwrap();
            let id = key.access_key().unwrap().access_key_id().to_string();
            let secret = key.access_key().unwrap().secret_access_key().to_string();
            if n >= active {
                self.iam
                    .update_access_key()
                    .user_name(&user)
                    .access_key_id(&id)
                    .status(aws_sdk_iam::types::StatusType::Inactive)
                    .send()
                    .await
                    .unwrap();
            }
            ids.push((id, secret));
        }
        (user, ids)
    }

    async fn keys(&self, user: &str) -> Vec<(String, String)> {
        support::keys_of(&self.iam, user).await
    }

    async fn current(&self, user: &str) -> Value {
        let out = self
            .sm
            .get_secret_value()
            .secret_id(format!("iam-keys/{user}"))
            .version_stage("AWSCURRENT")
            .send()
            .await
            .unwrap();
        serde_json::from_str(out.secret_string().unwrap()).unwrap()
    }

    /// After an adoption: the secret's current key is new, Active, and the user is tagged for it.
    async fn assert_under_rotation(&self, user: &str) -> String {
        let current = self.current(user).await;
        assert_eq!(current["UserName"], user);
        let key = current["AccessKeyId"]
            .as_str()
            .expect("the first rotation made a key")
            .to_string();
        assert!(current["SecretAccessKey"].is_string());
        assert!(
            self.keys(user)
                .await
                .contains(&(key.clone(), "Active".to_string()))
        );
        let tags = self.iam.get_user().user_name(user).send().await.unwrap();
        let arn = self
            .sm
            .describe_secret()
            .secret_id(format!("iam-keys/{user}"))
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string();
        assert!(
            tags.user()
                .unwrap()
                .tags()
                .iter()
                .any(|t| t.key() == TAG && t.value() == arn),
            "the user is bound to its secret"
        );
        key
    }

    /// A second run changes nothing.
    async fn assert_second_run_is_a_no_op(&self, user: &str, extra: &[&str]) {
        let keys = self.keys(user).await;
        let current = self.current(user).await;
        let again = report(&adopt(user, extra));
        assert_eq!(again["plan"], serde_json::json!([]), "{again}");
        assert_eq!(self.keys(user).await, keys);
        assert_eq!(self.current(user).await, current);
    }
}

#[tokio::test]
async fn a_user_that_does_not_exist_is_made_with_create_only() {
    let account = Account::new().await;
    let user = unique("newcomer");
    let out = adopt(&user, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--create"));

    let done = report(&adopt(&user, &["--create"]));
    let actions: Vec<&str> = done["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create_user",
            "create_secret",
            "tag_user",
            "attach_rotation"
        ]
    );
    account.assert_under_rotation(&user).await;
    account
        .assert_second_run_is_a_no_op(&user, &["--create"])
        .await;
}

#[tokio::test]
async fn a_user_without_a_key_gets_its_first_one_from_the_rotation() {
    let account = Account::new().await;
    let (user, _) = account.user_with_keys(0, 0).await;
    report(&adopt(&user, &[]));
    account.assert_under_rotation(&user).await;
    assert_eq!(account.keys(&user).await.len(), 1);
    account.assert_second_run_is_a_no_op(&user, &[]).await;
}

#[tokio::test]
async fn a_users_one_key_becomes_the_previous_key_retired_by_the_policy() {
    let account = Account::new().await;
    let (user, keys) = account.user_with_secret_keys(1, 0).await;
    let (adopted, adopted_secret) = keys[0].clone();
    let dry = report(&adopt(&user, &["--dry-run"]));
    assert_eq!(dry["done"], false);
    assert!(
        !account.has_secret(&user).await,
        "a dry run changes nothing"
    );

    let done = report(&adopt(&user, &[]));
    let consumers = done["consumers"].as_str().expect("what consumers must do");
    assert!(consumers.contains(&adopted), "{consumers}");
    assert!(consumers.contains("Active"), "{consumers}");
    let new = account.assert_under_rotation(&user).await;
    assert_ne!(new, adopted);
    // The function runs with the default policy here (previous keys deactivated at rotation),
    // yet the adopted key stays Active: its consumers read it from their own settings.
    assert!(
        account
            .keys(&user)
            .await
            .contains(&(adopted.clone(), "Active".to_string()))
    );
    account.assert_second_run_is_a_no_op(&user, &[]).await;

    // Still used: kept, and the sweep names who uses it.
    let sdk = moto().sdk_config_as(&adopted, &adopted_secret).await;
    aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .expect("the adopted key still signs");
    let kept = sweep(&user);
    assert_eq!(kept["findings"][0]["kind"], "PreviousKeyInUse", "{kept}");
    assert_eq!(kept["actions"][0]["last_used"]["service"], "sts", "{kept}");
    assert!(
        account
            .keys(&user)
            .await
            .contains(&(adopted.clone(), "Active".to_string()))
    );

    // Quiet for QUIET_FOR: retired by the sweep.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let retired = sweep(&user);
    assert_eq!(retired["actions"][0]["action"], "deactivated", "{retired}");
    assert!(
        account
            .keys(&user)
            .await
            .contains(&(adopted, "Inactive".to_string()))
    );
}

#[tokio::test]
async fn two_active_keys_are_refused_with_or_without_key_id_and_nothing_changes() {
    let account = Account::new().await;
    let (user, ids) = account.user_with_keys(2, 0).await;
    for extra in [vec![], vec!["--key-id", ids[0].as_str()]] {
        let out = adopt(&user, &extra);
        assert_eq!(out.status.code(), Some(3), "{extra:?}");
        let error: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(error["error"]["type"], "CannotAdopt");
        let message = error["error"]["message"].as_str().unwrap();
        let expected = if extra.is_empty() {
            "--key-id"
        } else {
            "no room"
        };
        assert!(message.contains(expected), "{message}");
    }
    assert!(
        account
            .sm
            .describe_secret()
            .secret_id(format!("iam-keys/{user}"))
            .send()
            .await
            .is_err()
    );
    assert_eq!(account.keys(&user).await.len(), 2);
}

#[tokio::test]
async fn with_key_id_a_user_with_an_inactive_second_key_is_adopted() {
    let account = Account::new().await;
    let (user, ids) = account.user_with_keys(1, 1).await;
    let extra = ["--key-id", ids[0].as_str()];
    report(&adopt(&user, &extra));
    let new = account.assert_under_rotation(&user).await;
    // The inactive key made room; the adopted one is the previous key now, still Active.
    let keys = account.keys(&user).await;
    assert!(!keys.iter().any(|(id, _)| *id == ids[1]), "{keys:?}");
    assert!(keys.contains(&(ids[0].clone(), "Active".to_string())));
    assert!(keys.contains(&(new, "Active".to_string())));
    account.assert_second_run_is_a_no_op(&user, &extra).await;
}

impl Account {
    async fn secret_made_by_someone_else(&self, name: &str, user: &str) -> String {
        self.sm
            .create_secret()
            .name(name)
            .secret_string(serde_json::json!({"UserName": user}).to_string())
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string()
    }

    async fn binding(&self, user: &str) -> Option<String> {
        let out = self.iam.get_user().user_name(user).send().await.unwrap();
        out.user()
            .unwrap()
            .tags()
            .iter()
            .find(|t| t.key() == TAG)
            .map(|t| t.value().to_string())
    }

    async fn rotation_on(&self, name: &str) -> bool {
        let out = self
            .sm
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .unwrap();
        out.rotation_enabled().unwrap_or(false)
    }
}

fn refusal(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let error: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(error["error"]["type"], "CannotAdopt", "{error}");
    error["error"]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_secret_adopt_did_not_make_is_reused_only_when_the_operator_says_so() {
    let account = Account::new().await;
    let (user, _) = account.user_with_keys(1, 0).await;
    let name = format!("iam-keys/{user}");
    let arn = account.secret_made_by_someone_else(&name, &user).await;
    account
        .sm
        .put_resource_policy()
        .secret_id(&arn)
        .resource_policy(
            serde_json::json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();

    let message = refusal(&adopt(&user, &[]));
    assert!(message.contains("--reuse-secret"), "{message}");
    assert!(message.contains(&arn), "{message}");
    assert_eq!(account.binding(&user).await, None, "nothing changed");
    assert!(!account.rotation_on(&name).await, "nothing changed");

    let done = report(&adopt(&user, &["--reuse-secret"]));
    assert_eq!(done["reused"]["arn"], arn.as_str(), "{done}");
    assert!(done["reused"]["tags"].is_array(), "{done}");
    let policy = done["reused"]["policy"].as_str().unwrap();
    assert!(policy.contains("210987654321"), "{policy}");
    account.assert_under_rotation(&user).await;
    // Bound now: the user's tag names the secret, so a second run trusts it.
    account.assert_second_run_is_a_no_op(&user, &[]).await;
}

#[tokio::test]
async fn a_users_binding_to_another_existing_secret_is_never_moved() {
    let account = Account::new().await;
    let (user, _) = account.user_with_keys(1, 0).await;
    let other = account
        .secret_made_by_someone_else(&format!("elsewhere/{user}"), &user)
        .await;
    account
        .iam
        .tag_user()
        .user_name(&user)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key(TAG)
                .value(&other)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for extra in [vec![], vec!["--reuse-secret"]] {
        let message = refusal(&adopt(&user, &extra));
        assert!(message.contains(&other), "{extra:?}: {message}");
    }
    assert_eq!(
        account.binding(&user).await.as_deref(),
        Some(other.as_str())
    );
    assert!(!account.has_secret(&user).await, "no secret made");
}

impl Account {
    /// Whether adopt's secret for `user` exists.
    async fn has_secret(&self, user: &str) -> bool {
        self.sm
            .describe_secret()
            .secret_id(format!("iam-keys/{user}"))
            .send()
            .await
            .is_ok()
    }

    /// The secret the function reads GitHub's credentials from, made once.
    async fn github_credentials(&self) {
        let token = serde_json::json!({"Token": moto().github.token}).to_string();
        let _ = self
            .sm
            .create_secret()
            .name(GITHUB_CREDENTIALS)
            .secret_string(token)
            .send()
            .await;
    }

    async fn parameter(&self, name: &str) -> Option<Value> {
        let sdk = moto().sdk_config().await;
        let out = aws_sdk_ssm::Client::new(&sdk)
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .ok()?;
        serde_json::from_str(out.parameter()?.value()?).ok()
    }
}

#[tokio::test]
async fn with_deliver_to_the_first_rotation_puts_the_new_key_where_the_adopted_keys_consumers_read_it()
 {
    let account = Account::new().await;
    account.github_credentials().await;
    let (user, keys) = account.user_with_keys(1, 0).await;
    let parameter = format!("/ci/{user}/aws");
    let ssm = format!("ssm:{parameter}");
    let github = format!("github:acme/{user}");
    let done = report(&adopt(
        &user,
        &["--deliver-to", &ssm, "--deliver-to", &github],
    ));
    let consumers = done["consumers"].as_str().expect("what consumers must do");
    assert!(
        consumers.contains(&ssm) && consumers.contains("delivers"),
        "{consumers}"
    );

    let new = account.assert_under_rotation(&user).await;
    let current = account.current(&user).await;
    assert_eq!(
        account.parameter(&parameter).await,
        Some(
            serde_json::json!({"AccessKeyId": new, "SecretAccessKey": current["SecretAccessKey"]})
        )
    );
    let held = &moto().github_state()["secrets"][format!("repo:acme/{}", user.to_lowercase())];
    assert_eq!(held["AWS_ACCESS_KEY_ID"]["value"], serde_json::json!(new));
    assert_eq!(
        held["AWS_SECRET_ACCESS_KEY"]["value"],
        current["SecretAccessKey"]
    );
    // The adopted key retires by the quiet rule, as without destinations.
    assert!(
        account
            .keys(&user)
            .await
            .contains(&(keys[0].clone(), "Active".to_string()))
    );
    account.assert_second_run_is_a_no_op(&user, &[]).await;
}

#[tokio::test]
async fn a_deliver_to_outside_the_functions_limits_is_refused_and_nothing_changes() {
    let account = Account::new().await;
    let (user, _) = account.user_with_keys(1, 0).await;
    for destination in ["ssm:/prod/db/aws", "github:mallory/exfiltrate", "s3:bucket"] {
        let out = adopt(&user, &["--deliver-to", destination]);
        let reason = refusal(&out);
        assert!(reason.contains("--deliver-to"), "{reason}");
        assert!(!account.has_secret(&user).await, "a secret was made");
        assert_eq!(account.binding(&user).await, None);
    }
}

#[tokio::test]
async fn a_second_run_while_list_secrets_lags_still_finds_the_secret_the_first_made() {
    // A server of its own: the listing is frozen for every caller while the test runs.
    let moto = start();
    let iam = aws_sdk_iam::Client::new(&moto.sdk_config().await);
    let user = unique("adoptee");
    let first_key = support::user_with_key(&iam, &user, "/rotated/")
        .await
        .access_key_id()
        .to_string();
    // AWS's ListSecrets "might not reflect changes from the last five minutes".
    moto.control(serde_json::json!({"op": "listing_snapshot"}));

    let first = adopt_on(&moto, &user, &[]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let again = adopt_on(&moto, &user, &[]);

    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    let again: Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(again["plan"], serde_json::json!([]), "{again}");
    assert!(
        support::keys_of(&iam, &user)
            .await
            .contains(&(first_key, "Active".to_string()))
    );
}
