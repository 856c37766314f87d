//! The command-line tool, run as a user would, against moto.

mod support;

use std::process::{Command, Output};

use serde_json::{Value, json};
use support::{Bed, moto};

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
async fn rotate_finishes_a_rotation_left_unfinished_instead_of_refusing() {
    let bed = Bed::new().await;
    // Secrets Manager started a rotation that never ran: the next scheduled one would be refused.
    let stuck = bed.start_rotation().await;

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
