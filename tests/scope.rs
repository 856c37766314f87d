//! Scope: writing someone else's user name into a secret must never get the writer that user's key.

mod support;

use aws_sdk_iam::types::Tag;
use iam_key_rotator::{Config, Step, wiring};
use support::{Bed, far_deadline, test_config};

const TAG: &str = "iam-key-rotator:secret";

fn tag_required() -> Config {
    Config {
        user_tag: Some(TAG.to_string()),
        ..test_config()
    }
}

async fn tag_user(bed: &Bed, user: &str, secret_arn: &str) {
    bed.iam
        .tag_user()
        .user_name(user)
        .tags(Tag::builder().key(TAG).value(secret_arn).build().unwrap())
        .send()
        .await
        .expect("TagUser");
}

#[tokio::test]
async fn a_user_tagged_with_its_secret_is_rotated() {
    let bed = Bed::new().await;
    tag_user(&bed, &bed.user, &bed.secret_arn).await;
    let token = bed.start_rotation().await;

    bed.run_steps(&wiring::rotator(&bed.sdk, tag_required()), &token)
        .await
        .expect("rotation");

    assert_eq!(
        bed.version_of("AWSCURRENT").await.as_deref(),
        Some(token.as_str())
    );
}

#[tokio::test]
async fn a_secret_pointed_at_another_users_name_gets_nothing() {
    // The victim's own secret and tag are in order.
    let victim = Bed::new().await;
    tag_user(&victim, &victim.user, &victim.secret_arn).await;
    let victim_keys = victim.keys().await;
    // The attacker can write their own secret, and writes the victim's name into it.
    let attacker = Bed::new().await;
    attacker
        .sm
        .put_secret_value()
        .secret_id(&attacker.secret_arn)
        .secret_string(serde_json::json!({"UserName": victim.user}).to_string())
        .send()
        .await
        .unwrap();
    let token = attacker.start_rotation().await;

    let err = wiring::rotator(&attacker.sdk, tag_required())
        .run(&attacker.event(Step::CreateSecret, &token), far_deadline())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), "UserOutOfScope");
    assert!(
        err.to_string().contains(&victim.user) && err.to_string().contains(TAG),
        "{err}"
    );
    assert_eq!(
        victim.keys().await,
        victim_keys,
        "the victim's keys are untouched"
    );
    assert_eq!(
        attacker.try_value("AWSPENDING").await,
        None,
        "the attacker's secret got no key"
    );
}
