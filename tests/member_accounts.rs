//! Keys of users in other accounts of the organization, rotated by the Lambda binary through the
//! role member-role.yaml makes there. The test server checks each role's trust policy (who may
//! assume it, with which external id and session tags) as AWS does; moto alone does not.

mod support;

use std::sync::OnceLock;

use aws_sdk_iam::types::Tag;
use serde_json::{Value, json};
use support::{Moto, project_root, unique};

const FUNCTION_ROLE: &str = "arn:aws:iam::123456789012:role/rotation-function-role";
const EXTERNAL_ID: &str = "acme-rotation";

/// A server whose function is the built binary, set to reach member accounts through their role.
fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let log = std::env::temp_dir().join(format!(
            "iam-key-rotator-members-{}.log",
            std::process::id()
        ));
        Moto::start(&[
            "--function-binary",
            env!("CARGO_BIN_EXE_iam-key-rotator"),
            "--function-log",
            log.to_str().unwrap(),
            "--function-env",
            "ROTATOR_USER_PATH_PREFIX=/rotated/",
            "--function-env",
            "ROTATOR_USER_TAG=iam-key-rotator:secret",
            "--function-env",
            "ROTATOR_MEMBER_ROLE=iam-key-rotator-member",
            "--function-env",
            "ROTATOR_MEMBER_ACCOUNTS=*",
            "--function-env",
            &format!("ROTATOR_MEMBER_EXTERNAL_ID={EXTERNAL_ID}"),
        ])
    })
}

/// A new member account; `trusted` is the principal its member role trusts (None: no role).
fn member_account(trusted: Option<&str>, external_id: &str) -> String {
    member_account_with(trusted.map(|t| json!({"RotatorRoleArn": t, "ExternalId": external_id})))
}

/// A new member account, its member role deployed with these parameters of member-role.yaml.
fn member_account_with(parameters: Option<Value>) -> String {
    let mut args = vec!["account".to_string(), unique("team")];
    if let Some(parameters) = parameters {
        args.push("--member-role".into());
        args.push(parameters.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    moto().organization(&args)["account_id"]
        .as_str()
        .expect("an account id")
        .to_string()
}

/// A user with one key in `account`, and a secret here naming it, bound to the user by its tag
/// unless `bound_to` names another secret.
struct MemberBed {
    account: String,
    iam: aws_sdk_iam::Client,
    sm: aws_sdk_secretsmanager::Client,
    user: String,
    secret_name: String,
    secret_arn: String,
    first_key: String,
}

impl MemberBed {
    async fn new(account: &str, path: &str, bound_to: Option<&str>) -> MemberBed {
        let moto = moto();
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config_in(account).await);
        let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
        let user = unique("deployer");
        let key = support::user_with_key(&iam, &user, path).await;
        let value = json!({"UserName": user, "AccountId": account, "AccessKeyId": key.access_key_id(),
            "SecretAccessKey": key.secret_access_key()});
        let secret_name = format!("iam-keys/{}", unique("member"));
        let secret_arn = sm
            .create_secret()
            .name(&secret_name)
            .secret_string(value.to_string())
            .send()
            .await
            .expect("CreateSecret")
            .arn()
            .expect("arn")
            .to_string();
        let tag = Tag::builder()
            .key("iam-key-rotator:secret")
            .value(bound_to.unwrap_or(&secret_arn))
            .build()
            .expect("a tag");
        iam.tag_user()
            .user_name(&user)
            .tags(tag)
            .send()
            .await
            .expect("TagUser");
        MemberBed {
            account: account.to_string(),
            iam,
            sm,
            user,
            secret_name,
            secret_arn,
            first_key: key.access_key_id().to_string(),
        }
    }

    async fn rotate(&self) -> Result<(), String> {
        self.sm
            .rotate_secret()
            .secret_id(&self.secret_arn)
            .rotation_lambda_arn(&moto().rotation_lambda_arn)
            .rotation_rules(
                aws_sdk_secretsmanager::types::RotationRulesType::builder()
                    .automatically_after_days(90)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    }

    async fn keys(&self) -> Vec<(String, String)> {
        support::keys_of(&self.iam, &self.user).await
    }

    async fn current(&self) -> Value {
        let out = self
            .sm
            .get_secret_value()
            .secret_id(&self.secret_arn)
            .send()
            .await
            .expect("GetSecretValue");
        serde_json::from_str(out.secret_string().expect("a string")).expect("JSON")
    }
}

/// The function's log lines about one secret or its user (moto names a secret by name, AWS by ARN).
fn log_of(bed: &MemberBed) -> String {
    let log = std::env::temp_dir().join(format!(
        "iam-key-rotator-members-{}.log",
        std::process::id()
    ));
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.contains(&bed.secret_name) || l.contains(&bed.secret_arn) || l.contains(&bed.user)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_member_accounts_key_is_rotated_there_through_its_role() {
    let account = member_account(Some(FUNCTION_ROLE), EXTERNAL_ID);
    let bed = MemberBed::new(&account, "/rotated/", None).await;

    bed.rotate().await.expect("RotateSecret");

    let current = bed.current().await;
    let new_key = current["AccessKeyId"]
        .as_str()
        .expect("a key id")
        .to_string();
    assert_ne!(new_key, bed.first_key);
    assert_eq!(current["AccountId"], account.as_str());
    let mut expected = vec![
        (bed.first_key.clone(), "Inactive".to_string()),
        (new_key.clone(), "Active".to_string()),
    ];
    expected.sort();
    assert_eq!(
        bed.keys().await,
        expected,
        "the old key is deactivated there too (ROTATOR_DEACTIVATE_AFTER is 0 here)"
    );

    // The new key signs as the member account's user.
    let config = moto()
        .sdk_config_as(
            &new_key,
            current["SecretAccessKey"].as_str().expect("a secret"),
        )
        .await;
    let me = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .expect("STS");
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:iam::{account}:user/rotated/{}", bed.user).as_str())
    );

    // No user of that name was made or touched in the function's own account.
    let own = aws_sdk_iam::Client::new(&moto().sdk_config().await);
    assert!(own.get_user().user_name(&bed.user).send().await.is_err());

    // Every session named this secret and gave the external id.
    let sessions = moto().sessions();
    let ours: Vec<&Value> = sessions
        .as_array()
        .expect("a list")
        .iter()
        .filter(|s| s["tags"]["iam-key-rotator-secret"] == bed.secret_arn.as_str())
        .collect();
    assert!(!ours.is_empty(), "{sessions}");
    for session in ours {
        assert_eq!(
            session["role"],
            format!("arn:aws:iam::{account}:role/iam-key-rotator-member")
        );
        assert_eq!(session["external_id"], EXTERNAL_ID);
    }
}

#[tokio::test]
async fn an_account_whose_role_does_not_trust_the_function_is_refused_and_nothing_changes() {
    for (why, account) in [
        ("no member role", member_account(None, "")),
        (
            "trusts another role",
            member_account(
                Some("arn:aws:iam::123456789012:role/someone-else"),
                EXTERNAL_ID,
            ),
        ),
        (
            "asks another external id",
            member_account(Some(FUNCTION_ROLE), "another-id"),
        ),
    ] {
        let bed = MemberBed::new(&account, "/rotated/", None).await;

        assert!(
            bed.rotate().await.is_err(),
            "{why}: RotateSecret reports the failed step"
        );

        assert_eq!(
            bed.keys().await,
            [(bed.first_key.clone(), "Active".to_string())],
            "{why}"
        );
        assert_eq!(
            bed.current().await["AccessKeyId"],
            bed.first_key.as_str(),
            "{why}"
        );
        let log = log_of(&bed);
        assert!(
            log.contains("AccountUnreachable") && log.contains(&bed.account),
            "{why}: {log}"
        );
        assert!(
            log.contains("member-role.yaml"),
            "{why}: the error says what to do: {log}"
        );
    }
}

#[tokio::test]
async fn the_scope_rule_holds_in_a_member_account() {
    let account = member_account(Some(FUNCTION_ROLE), EXTERNAL_ID);
    let other_secret =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-keys/someone-else-AbCdEf";
    for (why, path, bound_to) in [
        ("a user outside the path", "/", None),
        (
            "a user bound to another secret",
            "/rotated/",
            Some(other_secret),
        ),
    ] {
        let bed = MemberBed::new(&account, path, bound_to).await;

        assert!(bed.rotate().await.is_err(), "{why}");

        assert_eq!(
            bed.keys().await,
            [(bed.first_key.clone(), "Active".to_string())],
            "{why}"
        );
        let log = log_of(&bed);
        assert!(log.contains("UserOutOfScope"), "{why}: {log}");
    }
    assert!(project_root().join("member-role.yaml").exists());
}

/// A role of the central account that people run the CLI as (its name), and a session of it.
async fn operator_session() -> (String, aws_sdk_sts::types::Credentials) {
    let config = moto().sdk_config().await;
    let name = unique("key-operators");
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]});
    let arn = aws_sdk_iam::Client::new(&config)
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("CreateRole")
        .role()
        .expect("a role")
        .arn()
        .to_string();
    let session = aws_sdk_sts::Client::new(&config)
        .assume_role()
        .role_arn(&arn)
        .role_session_name("alice")
        .send()
        .await
        .expect("AssumeRole of the operator role");
    (name, session.credentials().expect("credentials").clone())
}

/// `iam-key-rotator-cli rotate` on the bed's secret, run as the operator's session with the
/// deployment's member settings; its exit code and what it printed.
fn cli_rotate_as(operator: &aws_sdk_sts::types::Credentials, bed: &MemberBed) -> (i32, String) {
    let out = moto()
        .cli()
        .env("AWS_ACCESS_KEY_ID", operator.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", operator.secret_access_key())
        .env("AWS_SESSION_TOKEN", operator.session_token())
        .env("ROTATOR_USER_PATH_PREFIX", "/rotated/")
        .env("ROTATOR_USER_TAG", "iam-key-rotator:secret")
        .env("ROTATOR_MEMBER_ROLE", "iam-key-rotator-member")
        .env("ROTATOR_MEMBER_ACCOUNTS", "*")
        .env("ROTATOR_MEMBER_EXTERNAL_ID", EXTERNAL_ID)
        .args(["rotate", "--secret-id", &bed.secret_name])
        .output()
        .expect("the CLI runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn an_operator_rotates_a_member_accounts_key_from_the_cli_only_as_the_role_its_member_role_trusts()
 {
    let (operator_role, operator) = operator_session().await;

    // A member role that trusts only the function: the operator's CLI is refused, nothing changes.
    let account = member_account(Some(FUNCTION_ROLE), EXTERNAL_ID);
    let bed = MemberBed::new(&account, "/rotated/", None).await;
    let (code, stderr) = cli_rotate_as(&operator, &bed);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("AccountUnreachable") && stderr.contains("OperatorRoleName"),
        "the error says how an operator gets in: {stderr}"
    );
    assert_eq!(
        bed.keys().await,
        [(bed.first_key.clone(), "Active".to_string())]
    );

    // One deployed with OperatorRoleName: the same command rotates the key there.
    let account = member_account_with(Some(json!({"RotatorRoleArn": FUNCTION_ROLE,
        "ExternalId": EXTERNAL_ID, "OperatorRoleName": operator_role})));
    let bed = MemberBed::new(&account, "/rotated/", None).await;
    let (code, stderr) = cli_rotate_as(&operator, &bed);
    assert_eq!(code, 0, "{stderr}");
    let current = bed.current().await;
    assert_ne!(current["AccessKeyId"], bed.first_key.as_str(), "{stderr}");
    let keys = bed.keys().await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.contains(&(
            current["AccessKeyId"]
                .as_str()
                .expect("a key id")
                .to_string(),
            "Active".to_string()
        ))
    );
    // Its sessions named the secret, as the function's do, so the user binding held.
    let sessions = moto().sessions();
    assert!(
        sessions
            .as_array()
            .expect("a list")
            .iter()
            .any(
                |s| s["role"] == format!("arn:aws:iam::{account}:role/iam-key-rotator-member")
                    && s["tags"]["iam-key-rotator-secret"] == bed.secret_arn.as_str()
            ),
        "{sessions}"
    );
}

#[tokio::test]
async fn adopt_brings_a_member_accounts_user_under_rotation_there_and_keeps_its_key_active() {
    let account = member_account(Some(FUNCTION_ROLE), EXTERNAL_ID);
    let iam = aws_sdk_iam::Client::new(&moto().sdk_config_in(&account).await);
    let user = unique("legacy");
    let adopted = support::user_with_key(&iam, &user, "/rotated/")
        .await
        .access_key_id()
        .to_string();

    // The CLI acts in the member account through the role Organizations made there.
    let out = moto()
        .cli()
        .args(["adopt", "--user", &user, "--account", &account])
        .args(["--function-arn", &moto().rotation_lambda_arn])
        .output()
        .expect("the CLI runs");
    let printed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{printed}");

    // The secret names the account, and is named by it: the same user name elsewhere is another.
    let sm = aws_sdk_secretsmanager::Client::new(&moto().sdk_config().await);
    let name = format!("iam-keys/{account}/{user}");
    let current: Value = serde_json::from_str(
        sm.get_secret_value()
            .secret_id(&name)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .expect("the secret adopt made")
            .secret_string()
            .expect("a string"),
    )
    .expect("JSON");
    assert_eq!(current["AccountId"], account.as_str());
    // The first rotation ran there, through the member role; the adopted key stays Active until
    // nothing uses it (the sweep's quiet rule).
    let new_key = current["AccessKeyId"].as_str().expect("a key").to_string();
    assert_ne!(new_key, adopted, "{printed}");
    let keys = support::keys_of(&iam, &user).await;
    let mut expected = vec![
        (adopted, "Active".to_string()),
        (new_key, "Active".to_string()),
    ];
    expected.sort();
    assert_eq!(keys, expected);

    // A role adopt cannot assume there is refused, and nothing is made.
    let other = unique("other");
    iam.create_user()
        .user_name(&other)
        .path("/rotated/")
        .send()
        .await
        .expect("CreateUser");
    let out = moto()
        .cli()
        .args(["adopt", "--user", &other, "--account", &account])
        .args(["--account-role", "no-such-role"])
        .args(["--function-arn", &moto().rotation_lambda_arn])
        .output()
        .expect("the CLI runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("--account-role"), "{stderr}");
    assert!(
        sm.describe_secret()
            .secret_id(format!("iam-keys/{account}/{other}"))
            .send()
            .await
            .is_err()
    );
}
