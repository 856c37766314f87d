//! Rotation started the way Secrets Manager starts it: RotateSecret creates the pending version and
//! invokes the function once per step, and the built Lambda binary answers through the Lambda
//! Runtime API. This proves the deployed artifact, not just the library.

mod support;

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Value, json};
use support::{Bed, Moto};

struct Bridged {
    moto: Moto,
    function_log: PathBuf,
    invocations: PathBuf,
}

/// A moto server whose Lambda function is the `iam-key-rotator` binary that cargo built for this test.
fn bridged() -> &'static Bridged {
    static BRIDGED: OnceLock<Bridged> = OnceLock::new();
    BRIDGED.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("iam-key-rotator-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        let function_log = dir.join("function.log");
        let invocations = dir.join("invocations.jsonl");
        let moto = Moto::start(&[
            "--function-binary",
            env!("CARGO_BIN_EXE_iam-key-rotator"),
            "--function-log",
            function_log.to_str().unwrap(),
            "--invocations",
            invocations.to_str().unwrap(),
            "--function-env",
            "AWS_LAMBDA_LOG_FORMAT=JSON",
            "--function-env",
            "ROTATOR_USER_PATH_PREFIX=/rotated/",
        ]);
        Bridged {
            moto,
            function_log,
            invocations,
        }
    })
}

fn moto() -> &'static Moto {
    &bridged().moto
}

/// The function's invocations for one secret, in order.
fn invocations_of(secret_arn: &str, secret_name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(&bridged().invocations).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|call| call["secret_id"] == secret_arn || call["secret_id"] == secret_name)
        .collect()
}

#[tokio::test]
async fn rotate_secret_runs_the_four_steps_through_the_lambda_binary() {
    let bed = Bed::with_value_on(moto(), |user, id, secret| {
        json!({"UserName": user, "AccessKeyId": id, "SecretAccessKey": secret, "Team": "payments"})
    })
    .await;

    bed.rotate_secret(&uuid::Uuid::new_v4().to_string())
        .await
        .expect("RotateSecret");

    let calls = invocations_of(&bed.secret_arn, &bed.secret_name);
    let steps: Vec<&str> = calls.iter().map(|c| c["step"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        ["createSecret", "setSecret", "testSecret", "finishSecret"]
    );
    assert!(
        calls.iter().all(|c| c["outcome"] == "response"),
        "{calls:?}"
    );
    let token = calls[0]["token"].as_str().unwrap();
    assert!(
        calls.iter().all(|c| c["token"] == token),
        "one token for every step"
    );

    let current = bed.value("AWSCURRENT").await;
    let new_key = current["AccessKeyId"].as_str().unwrap().to_string();
    let mut expected = vec![
        (bed.first_key.clone(), "Inactive".to_string()),
        (new_key.clone(), "Active".to_string()),
    ];
    expected.sort();
    assert_eq!(bed.keys().await, expected);
    assert_eq!(current["Team"], "payments");
    assert_eq!(bed.version_of("AWSCURRENT").await.as_deref(), Some(token));
    assert_eq!(
        bed.value("AWSPREVIOUS").await["AccessKeyId"],
        bed.first_key.as_str()
    );
    assert_eq!(bed.unfinished_rotation().await, None);

    // The function logged as JSON, with its steps, and never a secret access key.
    let log = std::fs::read_to_string(&bridged().function_log).expect("the function's log");
    assert!(
        log.lines()
            .any(|l| l.contains(&new_key) && l.contains("\"step\":\"createSecret\"")),
        "{log}"
    );
    assert!(!log.contains(current["SecretAccessKey"].as_str().unwrap()));
    assert!(!log.contains(&bed.first_secret));
}

#[tokio::test]
async fn a_failing_step_reaches_secrets_manager_with_its_error_type_and_changes_nothing() {
    // The secret points at a user outside the function's path: createSecret must refuse.
    let bed = Bed::with_value_on(moto(), |_, _, _| json!({"UserName": "outsider"})).await;
    bed.iam
        .create_user()
        .user_name("outsider")
        .send()
        .await
        .ok();
    let keys_before = bed.keys().await;

    let result = bed.rotate_secret(&uuid::Uuid::new_v4().to_string()).await;

    assert!(result.is_err(), "RotateSecret reports the failed step");
    let calls = invocations_of(&bed.secret_arn, &bed.secret_name);
    assert_eq!(
        calls.len(),
        1,
        "Secrets Manager stops at the failed step: {calls:?}"
    );
    assert_eq!(calls[0]["step"], "createSecret");
    assert_eq!(calls[0]["outcome"], "error");
    assert_eq!(calls[0]["errorType"], "UserOutOfScope");
    assert!(
        calls[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("outsider")
    );
    assert_eq!(bed.keys().await, keys_before);
    let outsider_keys = bed
        .iam
        .list_access_keys()
        .user_name("outsider")
        .send()
        .await
        .unwrap();
    assert!(outsider_keys.access_key_metadata().is_empty());
}

#[tokio::test]
async fn secrets_managers_configuration_test_passes_and_changes_nothing() {
    let bed = Bed::new_on(moto()).await;
    let before = bed.snapshot().await;

    // `rotate-secret --no-rotate-immediately`: only testSecret runs, on a pending version that
    // holds no value, which Secrets Manager removes afterwards.
    let result = bed
        .sm
        .rotate_secret()
        .secret_id(&bed.secret_arn)
        .rotation_lambda_arn(&bed.moto.rotation_lambda_arn)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(90)
                .build(),
        )
        .rotate_immediately(false)
        .send()
        .await;

    assert!(result.is_ok(), "{result:?}");
    let calls = invocations_of(&bed.secret_arn, &bed.secret_name);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["step"], "testSecret");
    assert_eq!(calls[0]["outcome"], "response", "{calls:?}");
    assert_eq!(bed.snapshot().await, before);
    // The schedule is on, and the first scheduled rotation runs.
    bed.start_rotation().await;
}
