//! The function signing as a principal that holds exactly template.yaml's policy (read from the
//! template, not copied), with moto checking every request's signature and permissions.

mod support;

use std::sync::OnceLock;

use iam_key_rotator::{Config, Step, wiring};
use serde_json::json;
use support::{Bed, Moto, far_deadline, test_config};

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(&["--enforce-auth", "--template-parameter", "SsmPrefix=/ci/"]))
}

async fn function_rotator(config: Config) -> wiring::AwsRotator {
    let (id, secret) = moto().function.clone().expect("the function's key");
    wiring::rotator(&moto().sdk_config_as(&id, &secret).await, config)
}

#[tokio::test]
async fn a_full_rotation_needs_nothing_beyond_the_templates_policy() {
    let bed = Bed::new_on(moto()).await;
    // A key left by a crashed attempt, so the first rotation also cleans up (GetAccessKeyLastUsed,
    // DeleteAccessKey); the second finds the first's key in AWSPREVIOUS (ListSecretVersionIds).
    bed.add_key().await;
    let rotator = function_rotator(test_config()).await;

    for _ in 0..2 {
        let token = bed.start_rotation().await;
        bed.run_steps(&rotator, &token)
            .await
            .expect("rotation under least privilege");
        assert_eq!(
            bed.version_of("AWSCURRENT").await.as_deref(),
            Some(token.as_str())
        );
        let current = bed.value("AWSCURRENT").await;
        assert_eq!(
            bed.active_keys().await,
            [current["AccessKeyId"].as_str().unwrap().to_string()]
        );
        assert_eq!(bed.keys().await.len(), 2);
    }
    assert!(
        !bed.keys().await.iter().any(|(id, _)| *id == bed.first_key),
        "the oldest key is gone"
    );
}

#[tokio::test]
async fn iam_refuses_a_user_outside_the_path_and_nothing_changes() {
    // An administrator outside /rotated/, named in a secret the function may rotate.
    let bed = Bed::new_on(moto()).await;
    let admin = support::unique("payroll-admin");
    bed.iam
        .create_user()
        .user_name(&admin)
        .send()
        .await
        .unwrap();
    bed.iam
        .create_access_key()
        .user_name(&admin)
        .send()
        .await
        .unwrap();
    bed.sm
        .put_secret_value()
        .secret_id(&bed.secret_arn)
        .secret_string(json!({"UserName": admin}).to_string())
        .send()
        .await
        .unwrap();
    let token = bed.start_rotation().await;
    let admin_keys = bed
        .iam
        .list_access_keys()
        .user_name(&admin)
        .send()
        .await
        .unwrap();
    let labels = bed.labels().await;

    // The function's own path check is off here, so that IAM is the one to refuse.
    let open = Config {
        user_path_prefix: "/".into(),
        ..test_config()
    };
    let err = function_rotator(open)
        .await
        .run(&bed.event(Step::CreateSecret, &token), far_deadline())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "AwsError");
    assert!(
        err.to_string().contains("AccessDenied") && err.to_string().contains("GetUser"),
        "{err}"
    );
    let after = bed
        .iam
        .list_access_keys()
        .user_name(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.access_key_metadata(),
        admin_keys.access_key_metadata()
    );
    assert_eq!(bed.labels().await, labels);
}

#[tokio::test]
async fn a_secret_outside_the_prefix_is_out_of_reach() {
    let bed = Bed::new_on(moto()).await;
    let other = bed
        .sm
        .create_secret()
        .name(support::unique("other-team/key"))
        .secret_string(json!({"UserName": bed.user}).to_string())
        .send()
        .await
        .unwrap();
    let event = iam_key_rotator::RotationEvent {
        step: Step::CreateSecret,
        secret_id: other.arn().unwrap().to_string(),
        token: uuid::Uuid::new_v4().to_string(),
        rotation_token: None,
    };

    let err = function_rotator(test_config())
        .await
        .run(&event, far_deadline())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "AwsError");
    assert!(
        err.to_string().contains("AccessDenied") && err.to_string().contains("DescribeSecret"),
        "{err}"
    );
    assert_eq!(bed.keys().await.len(), 1);
}

/// A secret delivering to the SSM parameter `name`, and the function's settings allowing `prefix`.
async fn delivering_to(name: &str, prefix: &str) -> (Bed, Config) {
    let bed = Bed::with_value_on(moto(), |user, key_id, secret| {
        json!({"UserName": user, "AccessKeyId": key_id, "SecretAccessKey": secret,
               "Destinations": [{"Type": "ssm", "Name": name}]})
    })
    .await;
    let mut config = test_config();
    config.delivery.ssm_prefix = Some(prefix.to_string());
    (bed, config)
}

#[tokio::test]
async fn delivery_to_ssm_needs_nothing_beyond_the_templates_policy_and_iam_refuses_outside_the_prefix()
 {
    // The server holds the function to the template's policy read with SsmPrefix=/ci/.
    let name = format!("/ci/{}/aws", support::unique("lp"));
    let (bed, config) = delivering_to(&name, "/ci/").await;
    let token = bed.start_rotation().await;
    bed.run_steps(&function_rotator(config).await, &token)
        .await
        .expect("delivery under least privilege");
    assert_eq!(
        bed.version_of("AWSCURRENT").await.as_deref(),
        Some(token.as_str())
    );

    // A function configured wider than its policy: IAM is the second fence, and nothing moves.
    let name = format!("/ops/{}/aws", support::unique("lp"));
    let (bed, config) = delivering_to(&name, "/ops/").await;
    let before = bed.version_of("AWSCURRENT").await;
    let token = bed.start_rotation().await;
    let err = bed
        .run_steps(&function_rotator(config).await, &token)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "DeliveryFailed", "{err}");
    assert!(err.to_string().contains("AccessDenied"), "{err}");
    assert_eq!(bed.version_of("AWSCURRENT").await, before);
}
