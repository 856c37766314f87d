//! The command-line tool, run as a user would, against moto.

mod support;

use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{Value, json};
use support::{Bed, Moto, moto};

fn cli(args: &[&str]) -> Output {
    cli_with(&[], args)
}

/// The CLI with extra environment variables (the retirement policy, say).
fn cli_with(vars: &[(&str, &str)], args: &[&str]) -> Output {
    moto()
        .cli()
        .args(args)
        .envs(vars.iter().copied())
        .env("ROTATOR_USER_PATH_PREFIX", "/rotated/")
        .output()
        .expect("the CLI runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn rotate_runs_the_four_steps_and_reports_the_changes_as_json() {
    let bed = Bed::new().await;

    let out = cli(&[
        "rotate",
        "--secret-id",
        &bed.secret_name,
        "--output",
        "json",
    ]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let new_key = bed.value("AWSCURRENT").await["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let changes = report["changes"].as_array().unwrap();
    let change = |action: &str, key: &str| {
        changes
            .iter()
            .find(|c| c["action"] == action && c["key_id"] == key)
            .unwrap_or_else(|| panic!("no {action} {key} in {changes:?}"))
    };
    assert!(change("created", &new_key)["reason"].is_string());
    assert!(
        change("deactivated", &bed.first_key)["reason"]
            .as_str()
            .unwrap()
            .contains("previous key")
    );
    assert_eq!(bed.active_keys().await, [new_key]);
    assert_eq!(
        bed.version_of("AWSCURRENT").await.as_deref(),
        report["token"].as_str()
    );
    assert!(
        !text(&out.stdout).contains(&bed.first_secret),
        "the report never holds a secret"
    );
}

#[tokio::test]
async fn status_shows_keys_beside_the_versions_that_hold_them() {
    let bed = Bed::new().await;
    assert_eq!(
        cli(&["rotate", "--secret-id", &bed.secret_arn])
            .status
            .code(),
        Some(0)
    );

    let out = cli(&["status", "--secret-id", &bed.secret_arn]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let first_key_row = shown
        .lines()
        .find(|l| l.trim_start().starts_with(&bed.first_key))
        .expect("a row for the old key");
    assert!(
        first_key_row.contains("Inactive") && first_key_row.contains("AWSPREVIOUS"),
        "{shown}"
    );
    let new_key = bed.value("AWSCURRENT").await["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let new_key_row = shown
        .lines()
        .find(|l| l.trim_start().starts_with(&new_key))
        .expect("a row for the new key");
    assert!(
        new_key_row.contains("Active") && new_key_row.contains("AWSCURRENT"),
        "{shown}"
    );

    let json_out = cli(&["status", "--secret-id", &bed.secret_arn, "--output", "json"]);
    let status: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(status["user"], bed.user.as_str());
    assert_eq!(status["keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn step_runs_one_event_from_a_file_under_secrets_managers_contract() {
    let bed = Bed::new().await;
    let token = bed.start_rotation().await;
    let file = std::env::temp_dir().join(format!("{}.json", support::unique("event")));
    std::fs::write(
        &file,
        json!({"Step": "createSecret", "SecretId": bed.secret_arn, "ClientRequestToken": token})
            .to_string(),
    )
    .unwrap();

    let out = cli(&["step", "--event", file.to_str().unwrap()]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("createSecret done"));
    assert_eq!(bed.keys().await.len(), 2);
    assert!(bed.value("AWSPENDING").await["AccessKeyId"].is_string());
}

#[tokio::test]
async fn exit_codes_tell_a_script_what_went_wrong() {
    let bed = Bed::new().await;
    let bad_event = std::env::temp_dir().join(format!("{}.json", support::unique("bad-event")));
    std::fs::write(&bad_event, r#"{"Step": "deleteEverything"}"#).unwrap();

    let out = cli(&["step", "--event", bad_event.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).starts_with("error[InvalidEvent]: "),
        "{}",
        text(&out.stderr)
    );

    let out = cli(&[
        "rotate",
        "--secret-id",
        "no-such-secret",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3), "no such secret: fix the input");
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["type"], "AwsError");

    bed.sm
        .put_secret_value()
        .secret_id(&bed.secret_arn)
        .secret_string(r#"{"UserName": "admin"}"#)
        .send()
        .await
        .unwrap();
    bed.iam.create_user().user_name("admin").send().await.ok();
    let out = cli(&["rotate", "--secret-id", &bed.secret_arn]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("error[UserOutOfScope]"),
        "{}",
        text(&out.stderr)
    );

    let out = cli(&["rotate"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");

    let out = cli(&["rotate", "--output", "json"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let error: Value = serde_json::from_slice(&out.stdout).expect("JSON even for a usage error");
    assert_eq!(error["error"]["type"], "UsageError");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--secret-id")
    );
}

#[tokio::test]
async fn rotate_never_takes_over_a_rotation_secrets_manager_began_moments_ago() {
    let bed = Bed::new().await;
    let in_flight = bed.start_rotation().await;
    let before = bed.snapshot().await;

    let out = cli(&["rotate", "--secret-id", &bed.secret_arn, "--output", "json"]);

    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stdout));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["error"]["type"], "RotationInFlight");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&in_flight)
    );
    assert_eq!(bed.snapshot().await, before, "nothing was changed");
    assert_eq!(bed.unfinished_rotation().await, Some(in_flight));
}

#[tokio::test]
async fn rotate_finishes_a_rotation_left_unfinished_instead_of_refusing() {
    let bed = Bed::new().await;
    // Secrets Manager started a rotation that never ran: the next scheduled one would be refused.
    let stuck = bed.start_rotation().await;
    bed.began_long_ago(&stuck);

    let out = cli(&["rotate", "--secret-id", &bed.secret_arn, "--output", "json"]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["resumed"], stuck.as_str());
    assert_eq!(
        bed.version_of("AWSCURRENT").await.as_deref(),
        Some(stuck.as_str())
    );
    assert_eq!(bed.unfinished_rotation().await, None);
    bed.rotate().await;
}

#[tokio::test]
async fn rotate_restarts_a_rotation_whose_new_key_was_deleted() {
    let bed = Bed::new().await;
    let stuck = bed.start_rotation().await;
    bed.run_step(iam_key_rotator::Step::CreateSecret, &stuck)
        .await
        .unwrap();
    bed.began_long_ago(&stuck);
    let pending_key = bed.value("AWSPENDING").await["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    bed.iam
        .delete_access_key()
        .user_name(&bed.user)
        .access_key_id(&pending_key)
        .send()
        .await
        .unwrap();

    let out = cli(&["rotate", "--secret-id", &bed.secret_arn]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let current = bed.version_of("AWSCURRENT").await.unwrap();
    assert_ne!(current, stuck);
    assert_eq!(bed.unfinished_rotation().await, None);
    assert_eq!(bed.active_keys().await.len(), 1);
}

#[tokio::test]
async fn cancel_ends_a_stuck_rotation_and_deletes_its_unused_key() {
    let bed = Bed::new().await;
    let stuck = bed.start_rotation().await;
    bed.run_step(iam_key_rotator::Step::CreateSecret, &stuck)
        .await
        .unwrap();
    let pending_key = bed.value("AWSPENDING").await["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();

    let out = cli(&["cancel", "--secret-id", &bed.secret_arn, "--output", "json"]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["abandoned", "deleted"]);
    assert_eq!(report["changes"][1]["key_id"], pending_key.as_str());
    assert_eq!(bed.unfinished_rotation().await, None);
    assert_eq!(
        bed.keys().await,
        [(bed.first_key.clone(), "Active".to_string())]
    );
    // The next scheduled rotation starts and completes.
    bed.rotate().await;
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["rotate", "--help"],
        vec!["step", "--help"],
        vec!["status", "--help"],
        vec!["cancel", "--help"],
        vec!["sweep", "--help"],
        vec!["retire", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_iam-key-rotator-cli"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{args:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_iam-key-rotator-cli"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains("Exit codes:"));
}

#[tokio::test]
async fn sweep_retire_and_revoke_previous_from_the_command_line() {
    let grace = [
        ("ROTATOR_DEACTIVATE_AFTER", "1h"),
        ("ROTATOR_SECRET_NAME_PREFIX", "iam-keys/"),
    ];
    let bed = Bed::new().await;
    let out = cli_with(&grace, &["rotate", "--secret-id", &bed.secret_arn]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        bed.active_keys().await.len(),
        2,
        "the old key is in its grace period"
    );

    let out = cli_with(
        &grace,
        &[
            "sweep",
            "--secret-id",
            &bed.secret_name,
            "--dry-run",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["secrets"], 1);
    assert_eq!(
        report["actions"],
        json!([]),
        "nothing to do in the grace period"
    );
    assert_eq!(report["dry_run"], true);

    // The key leaked: retire it now, whatever the policy says.
    let out = cli_with(
        &grace,
        &[
            "retire",
            "--secret-id",
            &bed.secret_arn,
            "--delete",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let done: Vec<&str> = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(done, ["deactivated", "deleted"]);
    assert_eq!(bed.keys().await.len(), 1);

    // Rotate and retire at once.
    let current = bed.value("AWSCURRENT").await["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let out = cli_with(
        &grace,
        &[
            "rotate",
            "--secret-id",
            &bed.secret_arn,
            "--revoke-previous",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let keys = bed.keys().await;
    assert!(
        keys.contains(&(current, "Inactive".to_string())),
        "{keys:?}"
    );
}

/// A server whose rotation function is deployed with the template's grace period (24h).
fn deployed_with_grace() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(&["--function-env", "ROTATOR_DEACTIVATE_AFTER=24h"]))
}

/// Attaches the server's function to the bed's secret as `rotate-secret` does, leaving no
/// rotation in flight (the server runs no function here).
async fn rotated_by_the_function(bed: &Bed) {
    let token = bed.start_rotation().await;
    bed.take_pending_off(&token)
        .await
        .expect("UpdateSecretVersionStage");
}

#[tokio::test]
async fn rotate_acts_with_the_policy_of_the_function_that_rotates_the_secret() {
    let moto = deployed_with_grace();
    let bed = Bed::new_on(moto).await;
    rotated_by_the_function(&bed).await;

    let out = moto
        .cli()
        .args(["rotate", "--secret-id", &bed.secret_arn, "--output", "json"])
        .output()
        .expect("the CLI runs");

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let policy = &report["policies"][0];
    assert_eq!(policy["source"], "function", "{report}");
    assert_eq!(policy["function_arn"], moto.rotation_lambda_arn.as_str());
    assert_eq!(policy["deactivate_after"], "1day");
    assert_eq!(
        bed.active_keys().await.len(),
        2,
        "the deployed grace period keeps the old key Active for its consumers"
    );
    assert!(bed.active_keys().await.contains(&bed.first_key));
}

#[tokio::test]
async fn this_shells_settings_win_over_the_functions_and_the_cli_says_so() {
    let moto = deployed_with_grace();
    let bed = Bed::new_on(moto).await;
    rotated_by_the_function(&bed).await;

    let out = moto
        .cli()
        .args(["rotate", "--secret-id", &bed.secret_arn])
        .env("ROTATOR_DEACTIVATE_AFTER", "0")
        .output()
        .expect("the CLI runs");

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "Policy: the settings of {}",
            moto.rotation_lambda_arn
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("set here: ROTATOR_DEACTIVATE_AFTER"),
        "{stdout}"
    );
    assert!(!bed.active_keys().await.contains(&bed.first_key));
}

#[tokio::test]
async fn a_secret_no_function_rotates_keeps_the_clis_own_policy_and_says_so() {
    let bed = Bed::new().await;

    let out = cli(&["rotate", "--secret-id", &bed.secret_arn, "--output", "json"]);

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["policies"][0]["source"], "own", "{report}");
    assert_eq!(report["policies"][0]["deactivate_after"], "0s");
    let sweep = cli(&["sweep", "--dry-run", "--output", "json"]);
    let swept: Value = serde_json::from_slice(&sweep.stdout).unwrap();
    assert!(
        swept["covers"]
            .as_str()
            .unwrap()
            .starts_with("every secret of the account"),
        "{swept}"
    );
}

#[tokio::test]
async fn a_key_used_moments_ago_is_never_switched_off_although_aws_shows_the_use_late() {
    // The quiet time is 1 s, but AWS shows a use up to 30 s late here (ROTATOR_LAST_USE_LAG).
    let policy = [
        ("ROTATOR_DEACTIVATE_AFTER", "1s"),
        ("ROTATOR_QUIET_FOR", "1s"),
        ("ROTATOR_LAST_USE_LAG", "30s"),
        ("ROTATOR_SECRET_NAME_PREFIX", "iam-keys/"),
    ];
    let bed = Bed::new().await;
    rotated_by_the_function(&bed).await;
    let old = bed.first_key.clone();
    let out = cli_with(&policy, &["rotate", "--secret-id", &bed.secret_arn]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A consumer used the old key, and AWS shows that use (a second late) ...
    moto().control(json!({"op": "last_use_delay", "key_id": old, "seconds": 1}));
    bed.use_key(&old, &bed.first_secret).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let shown = bed
        .iam
        .get_access_key_last_used()
        .access_key_id(&old)
        .send()
        .await
        .unwrap();
    assert!(
        shown
            .access_key_last_used()
            .is_some_and(|u| u.last_used_date().is_some())
    );
    // ... then uses it again, which AWS does not show yet.
    moto().control(json!({"op": "last_use_delay", "key_id": old, "seconds": 60}));
    bed.use_key(&old, &bed.first_secret).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let out = cli_with(
        &policy,
        &["sweep", "--secret-id", &bed.secret_arn, "--output", "json"],
    );

    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["actions"][0]["action"], "kept_in_use", "{report}");
    assert!(bed.active_keys().await.contains(&old));
}
