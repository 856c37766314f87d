//! What the audit cannot see is never a pass: a secret naming a key IAM does not have, a secret
//! BatchGetSecretValue cannot read, a credential report older than a rotation. (Part of the `audit`
//! test binary; the test server imitates AWS for each, see its `audit_control`.)

use std::time::Duration;

use serde_json::{Value, json};

use super::{Account, audit_json, cli, moto, set};

fn findings<'a>(audit: &'a Value, user: &str, check: &str) -> Vec<&'a Value> {
    audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["user"] == user && f["check"] == check)
        .collect()
}

fn view<'a>(audit: &'a Value, user: &str) -> &'a Value {
    audit["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == user)
        .unwrap()
}

#[tokio::test]
async fn a_key_that_only_a_stale_secret_names_is_its_own_finding_and_not_managed() {
    let account = Account::new().await;
    // The secret holds the first key; the first key is gone, the second is what the user has.
    let (user, ids) = account
        .user("half-rotated", &[(20, Some(1)), (3, Some(1))], true)
        .await;
    account
        .iam
        .delete_access_key()
        .user_name(&user)
        .access_key_id(&ids[0])
        .send()
        .await
        .unwrap();

    let audit = audit_json(&[]);
    assert_eq!(
        account.checks(&audit),
        set(&[
            ("half-rotated", "secret-names-missing-key"),
            ("half-rotated", "unmanaged-key"),
        ])
    );
    let missing = findings(&audit, &user, "secret-names-missing-key")[0];
    assert_eq!(missing["key"]["id"], ids[0].as_str());
    assert!(
        missing["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("iam-keys/{user}")),
        "{missing}"
    );
    assert!(
        missing["remedy"]
            .as_str()
            .unwrap()
            .contains("rotate --secret-id"),
        "{missing}"
    );
    let unmanaged = findings(&audit, &user, "unmanaged-key")[0];
    assert_eq!(unmanaged["key"]["id"], ids[1].as_str());
    let keys = &view(&audit, &user)["keys"];
    assert_eq!(keys[0]["id"], ids[1].as_str());
    assert_eq!(keys[0]["managed"], Value::Null);
    assert_eq!(keys[0]["age_days"], 3);
}

#[tokio::test]
async fn an_unreadable_secret_is_named_in_every_format_and_fails_the_run() {
    let account = Account::new().await;
    let (user, _) = account.user("sealed", &[(10, Some(1))], true).await;
    let secret = format!("iam-keys/{user}");
    moto()
        .control(json!({"op": "unreadable_secret", "secret": secret, "code": "DecryptionFailure"}));

    let out = cli(&["audit", "--output", "json"]);
    let audit: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        account.checks(&audit),
        set(&[("sealed", "unreadable-secret")]),
        "its user's key is not called unmanaged"
    );
    let unreadable = findings(&audit, &user, "unreadable-secret")[0];
    let detail = unreadable["detail"].as_str().unwrap();
    assert!(
        detail.contains(&secret) && detail.contains("DecryptionFailure"),
        "{detail}"
    );
    assert!(
        !unreadable["remedy"].as_str().unwrap().contains("adopt"),
        "{unreadable}"
    );
    assert!(audit["summary"]["unreadable_secrets"].as_u64().unwrap() >= 1);

    for format in ["text", "csv", "html"] {
        let out = cli(&["audit", "--output", format]);
        assert_eq!(out.status.code(), Some(7), "{format}");
        let page = String::from_utf8(out.stdout).unwrap();
        assert!(
            page.contains(&secret) && page.contains("DecryptionFailure"),
            "{format}: {page}"
        );
    }
    moto().control(json!({"op": "unreadable_secret", "secret": secret, "code": null}));
    assert_eq!(cli(&["audit"]).status.code(), Some(0));
}

#[tokio::test]
async fn a_report_older_than_a_rotation_is_flagged_instead_of_showing_the_old_keys_age() {
    let account = Account::new().await;
    let (user, ids) = account.user("rotated", &[(100, Some(1))], true).await;
    moto().control(json!({"op": "stale_report", "on": true}));
    // AWS dates to the second: the rotation must come in a later second than the report.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // A rotation after the report: a new key in the secret, the old one deleted.
    let new = account
        .iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let new = new.access_key().unwrap();
    account
        .sm
        .put_secret_value()
        .secret_id(format!("iam-keys/{user}"))
        .secret_string(json!({"UserName": user, "AccessKeyId": new.access_key_id(), "SecretAccessKey": new.secret_access_key()}).to_string())
        .send()
        .await
        .unwrap();
    account
        .iam
        .delete_access_key()
        .user_name(&user)
        .access_key_id(&ids[0])
        .send()
        .await
        .unwrap();

    let audit = audit_json(&[]);
    let text = String::from_utf8(cli(&["audit"]).stdout).unwrap();
    moto().control(json!({"op": "stale_report", "on": false}));

    assert_eq!(
        account.checks(&audit),
        set(&[("rotated", "stale-report")]),
        "no finding from the old key's age"
    );
    let stale = findings(&audit, &user, "stale-report")[0];
    let detail = stale["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("report generated at ")
            && detail.contains(&format!(", before secret iam-keys/{user} rotated at "))
            && detail.ends_with(": its key ages are stale"),
        "{detail}"
    );
    assert!(text.contains(detail), "{text}");
    for key in view(&audit, &user)["keys"].as_array().unwrap() {
        assert_ne!(
            key["age_days"], 100,
            "the old key's age is not shown: {key}"
        );
    }
}
