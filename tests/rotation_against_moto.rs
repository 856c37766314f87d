//! The rotation engine against moto's IAM, STS and Secrets Manager, one scenario per test.

mod support;

use iam_key_rotator::{Step, lambda};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use support::{Bed, far_deadline};

/// The end state every completed rotation must reach: the new key current and active, the old
/// one previous and inactive, no pending label left, and no other key.
async fn assert_rotated(bed: &Bed, token: &str, old_key: &str) {
    let current = bed.value("AWSCURRENT").await;
    let new_key = current["AccessKeyId"]
        .as_str()
        .expect("a key id")
        .to_string();
    assert_ne!(new_key, old_key);
    let mut expected = vec![
        (new_key.clone(), "Active".to_string()),
        (old_key.to_string(), "Inactive".to_string()),
    ];
    expected.sort();
    assert_eq!(bed.keys().await, expected);
    assert_eq!(bed.value("AWSPREVIOUS").await["AccessKeyId"], old_key);
    assert_eq!(bed.version_of("AWSCURRENT").await.as_deref(), Some(token));
    assert_eq!(bed.unfinished_rotation().await, None);
}

#[tokio::test]
async fn a_full_rotation_replaces_the_key_and_deactivates_the_old_one() {
    let bed = Bed::new().await;
    let token = bed.rotate().await;
    assert_rotated(&bed, &token, &bed.first_key).await;
}

#[tokio::test]
async fn three_rotations_in_a_row_never_hold_more_than_two_keys() {
    let bed = Bed::new().await;
    let rotator = bed.rotator();
    let mut old_key = bed.first_key.clone();
    for _ in 0..3 {
        let token = bed.start_rotation().await;
        for step in Step::ALL {
            rotator
                .run(&bed.event(step, &token), far_deadline())
                .await
                .expect("step succeeds");
            assert!(
                bed.keys().await.len() <= 2,
                "after {step}: {:?}",
                bed.keys().await
            );
        }
        assert_rotated(&bed, &token, &old_key).await;
        assert_eq!(bed.active_keys().await.len(), 1);
        old_key = bed.value("AWSCURRENT").await["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_string();
    }
}

#[tokio::test]
async fn every_step_run_twice_ends_the_same() {
    let bed = Bed::new().await;
    let rotator = bed.rotator();
    let token = bed.start_rotation().await;
    for step in Step::ALL {
        rotator
            .run(&bed.event(step, &token), far_deadline())
            .await
            .expect("first run");
        rotator
            .run(&bed.event(step, &token), far_deadline())
            .await
            .expect("second run");
    }
    assert_rotated(&bed, &token, &bed.first_key).await;
}

#[tokio::test]
async fn a_key_switched_back_on_and_used_is_kept_although_aws_does_not_show_the_use_yet() {
    let bed = Bed::new().await;
    bed.rotate().await;
    // During an incident an operator switches the old key back on, and a consumer signs with it
    // at once; AWS will show that use only an hour from now.
    bed.moto
        .control(json!({"op": "last_use_delay", "key_id": bed.first_key, "seconds": 3600}));
    bed.iam
        .update_access_key()
        .user_name(&bed.user)
        .access_key_id(&bed.first_key)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .unwrap();
    bed.use_key(&bed.first_key, &bed.first_secret).await;
    let keys_before = bed.keys().await;
    let token = bed.start_rotation().await;

    let err = bed.run_step(Step::CreateSecret, &token).await.unwrap_err();

    assert_eq!(err.kind(), "KeyQuotaExceeded", "{err}");
    assert!(err.to_string().contains(&bed.first_key), "{err}");
    assert_eq!(
        bed.keys().await,
        keys_before,
        "the key in use is still there"
    );
}

#[tokio::test]
async fn an_inactive_second_key_is_deleted_to_make_room() {
    let bed = Bed::new().await;
    let (spare, _) = bed.add_key().await;
    bed.iam
        .update_access_key()
        .user_name(&bed.user)
        .access_key_id(&spare)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();

    let token = bed.rotate().await;

    assert!(!bed.keys().await.iter().any(|(id, _)| *id == spare));
    assert_rotated(&bed, &token, &bed.first_key).await;
}

#[tokio::test]
async fn two_active_keys_the_secret_does_not_hold_stop_create_and_nothing_changes() {
    // The secret names a key that no longer exists; the user has two other keys in use.
    let bed = Bed::with_value(|user, _, _| json!({"UserName": user, "AccessKeyId": "AKIAGONEGONEGONEGONE", "SecretAccessKey": "gone"})).await;
    let (second, second_secret) = bed.add_key().await;
    // Both keys are in use, so neither can pass for a leftover of a crashed rotation.
    bed.use_key(&bed.first_key, &bed.first_secret).await;
    bed.use_key(&second, &second_secret).await;
    let token = bed.start_rotation().await;
    let before = bed.snapshot().await;

    let err = bed.run_step(Step::CreateSecret, &token).await.unwrap_err();

    assert_eq!(err.kind(), "KeyQuotaExceeded");
    let message = err.to_string();
    assert!(
        message.contains(&bed.first_key) && message.contains(&second),
        "{message}"
    );
    assert!(message.contains("deactivate it"), "{message}");
    assert_eq!(bed.snapshot().await, before);
}

#[tokio::test]
async fn fields_beside_the_key_survive_rotation() {
    let bed = Bed::with_value(|user, id, secret| {
        json!({"Owner": "platform-team", "UserName": user, "AccessKeyId": id, "SecretAccessKey": secret,
               "Region": "eu-west-1", "Consumers": ["ci", "backup"], "Notes": {"ticket": "OPS-42"}})
    })
    .await;

    bed.rotate().await;

    let current = bed.value("AWSCURRENT").await;
    let fields: Vec<&str> = current
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "Owner",
            "UserName",
            "AccessKeyId",
            "SecretAccessKey",
            "Region",
            "Consumers",
            "Notes"
        ]
    );
    assert_eq!(current["Owner"], "platform-team");
    assert_eq!(current["Consumers"], json!(["ci", "backup"]));
    assert_eq!(current["Notes"], json!({"ticket": "OPS-42"}));
}

#[tokio::test]
async fn bad_events_are_refused_before_any_aws_call() {
    let bed = Bed::new().await;
    let token = bed.start_rotation().await;
    let before = bed.snapshot().await;
    let rotator = bed.rotator();
    let events = [
        json!("createSecret"),
        json!({"Step": "createSecret", "SecretId": bed.secret_arn}),
        json!({"Step": "rotateEverything", "SecretId": bed.secret_arn, "ClientRequestToken": token}),
        json!({"Step": "createSecret", "SecretId": 42, "ClientRequestToken": token}),
        json!({"Step": "createSecret", "SecretId": bed.secret_arn, "ClientRequestToken": "tiny"}),
    ];
    for payload in events {
        let err = lambda::handle(
            &rotator,
            &iam_key_rotator::services::NotSetUp,
            LambdaEvent::new(payload.clone(), Context::default()),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), "InvalidEvent", "{payload}");
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "InvalidEvent");
    }
    assert_eq!(bed.snapshot().await, before);
}

#[tokio::test]
async fn a_token_that_is_not_a_pending_version_is_refused() {
    let bed = Bed::new().await;
    bed.start_rotation().await;
    let before = bed.snapshot().await;
    let rotator = bed.rotator();

    let stranger = uuid::Uuid::new_v4().to_string();
    let err = rotator
        .run(&bed.event(Step::CreateSecret, &stranger), far_deadline())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "UnknownVersion");

    let current_version = bed.version_of("AWSCURRENT").await.unwrap();
    // AWSCURRENT's own version: nothing to do, and nothing is done.
    rotator
        .run(
            &bed.event(Step::CreateSecret, &current_version),
            far_deadline(),
        )
        .await
        .unwrap();
    assert_eq!(bed.snapshot().await, before);
}

#[tokio::test]
async fn a_secret_without_rotation_enabled_is_refused() {
    let bed = Bed::new().await;
    let before = bed.snapshot().await;
    let version = bed.version_of("AWSCURRENT").await.unwrap();
    let err = bed
        .run_step(Step::CreateSecret, &version)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "RotationNotEnabled");
    assert!(err.to_string().contains("rotate-secret"), "{err}");
    assert_eq!(bed.snapshot().await, before);
}

#[tokio::test]
async fn bad_secrets_are_refused_and_nothing_changes() {
    type SecretFor = fn(&str) -> String;
    let cases: [(SecretFor, &str, &str); 3] = [
        (
            |_| "UserName=ci-bot".to_string(),
            "InvalidSecret",
            "not JSON",
        ),
        (
            |_| json!({"AccessKeyId": "AKIA1"}).to_string(),
            "InvalidSecret",
            "no UserName",
        ),
        (
            |_| json!({"UserName": "no-such-user"}).to_string(),
            "UserNotFound",
            "no-such-user",
        ),
    ];
    for (value, kind, says) in cases {
        let bed = Bed::new().await;
        bed.sm
            .put_secret_value()
            .secret_id(&bed.secret_arn)
            .secret_string(value(&bed.user))
            .send()
            .await
            .unwrap();
        let token = bed.start_rotation().await;
        let keys_before = bed.keys().await;
        let labels_before = bed.labels().await;

        let err = bed.run_step(Step::CreateSecret, &token).await.unwrap_err();

        assert_eq!(err.kind(), kind);
        assert!(err.to_string().contains(says), "{err}");
        assert_eq!(bed.keys().await, keys_before);
        assert_eq!(bed.labels().await, labels_before);
    }
}
