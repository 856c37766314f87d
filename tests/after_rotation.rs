//! The previous key's life after a rotation, through the built Lambda binary as the template runs
//! it: Secrets Manager rotates, the schedule sends `{"Action": "sweep"}`. Durations are seconds
//! here (ROTATOR_DEACTIVATE_AFTER=2s, ROTATOR_QUIET_FOR=2s, ROTATOR_DELETE_AFTER=3s).

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Bed, Moto, project_root};

struct Bridged {
    moto: Moto,
    function_log: PathBuf,
}

fn bridged() -> &'static Bridged {
    static BRIDGED: OnceLock<Bridged> = OnceLock::new();
    BRIDGED.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("iam-key-rotator-after-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        let function_log = dir.join("function.log");
        let moto = Moto::start(&[
            "--function-binary",
            env!("CARGO_BIN_EXE_iam-key-rotator"),
            "--function-log",
            function_log.to_str().unwrap(),
            "--function-env",
            "AWS_LAMBDA_LOG_FORMAT=JSON",
            "--function-env",
            "ROTATOR_USER_PATH_PREFIX=/rotated/",
            "--function-env",
            "ROTATOR_SECRET_NAME_PREFIX=iam-keys/",
            "--function-env",
            "ROTATOR_DEACTIVATE_AFTER=2s",
            "--function-env",
            "ROTATOR_QUIET_FOR=2s",
            "--function-env",
            "ROTATOR_DELETE_AFTER=3s",
            // moto shows a key's use at once (no lag to add to the quiet time); the lag has its own tests.
            "--function-env",
            "ROTATOR_LAST_USE_LAG=0",
        ]);
        Bridged { moto, function_log }
    })
}

/// Invokes the function as the template's schedule does, through moto's Lambda API.
fn invoke(payload: Value) -> Value {
    let moto = &bridged().moto;
    let script = r#"
import json, sys, boto3
client = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
try:
    answer = client.invoke(FunctionName=sys.argv[2], Payload=sys.argv[3].encode())
    print(answer["Payload"].read().decode())
except client.exceptions.ClientError as e:  # the test server reports a failed invocation so
    print(json.dumps({"failed": str(e)}))
"#;
    let out = Command::new(project_root().join(".venv/bin/python"))
        .args(["-c", script, &moto.endpoint, &moto.rotation_lambda_arn])
        .arg(payload.to_string())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the function answers JSON")
}

fn sweep(bed: &Bed) -> Value {
    invoke(json!({"Action": "sweep", "SecretId": bed.secret_arn}))
}

fn actions(report: &Value) -> Vec<(String, String)> {
    report["actions"]
        .as_array()
        .unwrap_or_else(|| panic!("a sweep report: {report}"))
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["key_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_previous_key_lives_through_its_grace_period_its_use_and_its_deletion() {
    let bed = Bed::new_on(&bridged().moto).await;
    bed.rotate_secret(&uuid::Uuid::new_v4().to_string())
        .await
        .expect("RotateSecret");
    let old = bed.first_key.clone();
    let new = bed.value("AWSCURRENT").await["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        bed.active_keys().await.len(),
        2,
        "the old key stays Active for its grace period"
    );

    assert_eq!(
        actions(&sweep(&bed)),
        [],
        "in the grace period nothing happens"
    );

    // Past the grace period, a consumer still signs with the old key: it is kept, and reported.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    bed.use_key(&old, &bed.first_secret).await;
    let report = sweep(&bed);
    assert_eq!(actions(&report), [("kept_in_use".to_string(), old.clone())]);
    assert_eq!(report["findings"][0]["kind"], "PreviousKeyInUse");
    assert_eq!(report["actions"][0]["last_used"]["service"], "sts");
    assert!(bed.active_keys().await.contains(&old));

    // Quiet for longer than ROTATOR_QUIET_FOR: deactivated.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let report = sweep(&bed);
    assert_eq!(actions(&report), [("deactivated".to_string(), old.clone())]);
    assert_eq!(bed.active_keys().await, [new.as_str()]);

    // Inactive for longer than ROTATOR_DELETE_AFTER: deleted; the current key never touched.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let report = sweep(&bed);
    assert_eq!(actions(&report), [("deleted".to_string(), old.clone())]);
    assert_eq!(bed.keys().await, [(new.clone(), "Active".to_string())]);
    assert_eq!(actions(&sweep(&bed)), []);

    // Every metric line the function wrote is CloudWatch embedded metric format.
    let log = std::fs::read_to_string(&bridged().function_log).expect("the function's log");
    let emf: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.get("_aws").is_some())
        .collect();
    let mut names = Vec::new();
    for line in &emf {
        let aws = &line["_aws"];
        assert!(aws["Timestamp"].is_u64(), "{line}");
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "IamKeyRotator", "{line}");
        assert!(directive["Dimensions"].is_array(), "{line}");
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(
                line[name].is_number() || line[name].is_array(),
                "{name} has no value: {line}"
            );
            names.push(name.to_string());
        }
    }
    for expected in [
        "KeysDeactivated",
        "KeysDeleted",
        "PreviousKeyInUse",
        "TestSecretWaitSeconds",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} in {names:?}"
        );
    }
}

#[tokio::test]
async fn a_listing_minutes_behind_deletes_nothing_early() {
    let moto = &bridged().moto;
    let bed = Bed::new_on(moto).await;
    bed.rotate_secret(&uuid::Uuid::new_v4().to_string())
        .await
        .expect("RotateSecret");
    let old = bed.first_key.clone();

    // Past the grace period and quiet; ListSecrets is then held as of that moment.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    moto.control(json!({"op": "listing_snapshot"}));
    let deactivated = sweep(&bed);
    assert_eq!(
        actions(&deactivated),
        [("deactivated".to_string(), old.clone())]
    );

    // Past DELETE_AFTER counted from the rotation, not from the deactivation. The listing still
    // shows no note of the deactivation: the key stays, whichever sweep runs.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let deep = invoke(json!({"Action": "sweep", "Deep": true}));
    moto.control(json!({"op": "listing_live"}));
    let early: Vec<_> = actions(&deep)
        .into_iter()
        .filter(|(_, key)| *key == old)
        .collect();
    assert_eq!(early, [], "{deep}");
    assert!(
        bed.keys()
            .await
            .contains(&(old.clone(), "Inactive".to_string()))
    );

    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(actions(&sweep(&bed)), [("deleted".to_string(), old)]);
}

#[tokio::test]
async fn a_malformed_sweep_event_is_refused_clearly() {
    let answer = invoke(json!({"Action": "sweep", "Secret": "typo"}));
    let failed = answer["failed"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"));
    assert!(
        failed.contains("InvalidEvent") && failed.contains("unknown field"),
        "{failed}"
    );
}

fn finding_kinds(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("a sweep report: {report}"))
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_sweep_finds_broken_unknown_and_unrotated_keys_and_nothing_on_a_healthy_secret() {
    let healthy = Bed::new_on(&bridged().moto).await;
    healthy
        .rotate_secret(&uuid::Uuid::new_v4().to_string())
        .await
        .expect("RotateSecret");
    assert_eq!(finding_kinds(&sweep(&healthy)), Vec::<String>::new());

    // Someone deleted the current key: consumers fail now.
    let broken = Bed::new_on(&bridged().moto).await;
    broken
        .rotate_secret(&uuid::Uuid::new_v4().to_string())
        .await
        .expect("RotateSecret");
    let current = broken.value("AWSCURRENT").await["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    broken
        .iam
        .delete_access_key()
        .user_name(&broken.user)
        .access_key_id(&current)
        .send()
        .await
        .unwrap();
    assert_eq!(finding_kinds(&sweep(&broken)), ["CurrentKeyBroken"]);

    // Someone made a key by hand beside the secret's.
    let stranger = Bed::new_on(&bridged().moto).await;
    stranger
        .rotate_secret(&uuid::Uuid::new_v4().to_string())
        .await
        .expect("RotateSecret");
    stranger
        .iam
        .delete_access_key()
        .user_name(&stranger.user)
        .access_key_id(&stranger.first_key)
        .send()
        .await
        .unwrap();
    let (made_by_hand, _) = stranger.add_key().await;
    let report = sweep(&stranger);
    assert_eq!(finding_kinds(&report), ["UnknownKey"]);
    assert!(
        report["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&made_by_hand)
    );
    assert!(
        stranger.active_keys().await.contains(&made_by_hand),
        "never touched"
    );

    // A secret under the prefix that nothing rotates.
    let unrotated = Bed::new_on(&bridged().moto).await;
    assert_eq!(finding_kinds(&sweep(&unrotated)), ["RotationDisabled"]);
}

#[tokio::test]
async fn the_scheduled_audit_answers_its_summary_and_logs_each_finding() {
    // A user whose key nothing rotates: an `unmanaged-key` finding.
    let bed = Bed::new_on(&bridged().moto).await;
    let by_hand = support::unique("by-hand");
    bed.iam
        .create_user()
        .user_name(&by_hand)
        .send()
        .await
        .unwrap();
    bed.iam
        .create_access_key()
        .user_name(&by_hand)
        .send()
        .await
        .unwrap();
    let summary = invoke(json!({"Action": "audit"}));
    assert!(summary["users"].as_u64().unwrap() >= 1, "{summary}");
    assert!(summary["by_check"].is_object(), "{summary}");
    let log = std::fs::read_to_string(&bridged().function_log).expect("the function's log");
    assert!(
        log.lines().any(|l| l.contains("audit finding")
            && l.contains(&by_hand)
            && l.contains("unmanaged-key")),
        "each finding is a JSON log line"
    );
}
