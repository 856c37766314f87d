//! Rotating the key of a user in another account of the organization: the same four steps, reached
//! through the member account's role, and never the function's own account's user of that name.

use serde_json::json;

use super::*;
use crate::config::MemberAccountList;
use crate::fakes::{FakeAccounts, FakeOrgRotator};
use crate::services::{Clients, IamUsers, NotSetUp};

const MEMBER: &str = "111122223333";

/// `ci-bot` with one key in the member account, and a same-named `ci-bot` in the function's own
/// account, which no step may touch.
struct Org {
    secrets: FakeSecrets,
    own: FakeIam,
    member: FakeIam,
    accounts: FakeAccounts,
    rotator: FakeOrgRotator,
    old_key: String,
}

impl Org {
    async fn new(account_named: &str) -> Org {
        let own = FakeIam::default();
        own.add_user("ci-bot", "/rotated/");
        own.create_key("ci-bot").await.unwrap();
        let accounts = FakeAccounts::default();
        let member = accounts.add(MEMBER);
        member.add_user("ci-bot", "/rotated/");
        let old = member.create_key("ci-bot").await.unwrap();
        let value = json!({
            "UserName": "ci-bot",
            "AccountId": account_named,
            "AccessKeyId": old.id,
            "SecretAccessKey": secrecy::ExposeSecret::expose_secret(&old.secret),
        });
        let secrets = FakeSecrets::rotation_started(OLD_VERSION, value.to_string(), TOKEN);
        own.state().writes = 0;
        member.state().writes = 0;
        let sts = FakeSts {
            members: accounts.clone(),
            ..FakeSts::new(own.clone())
        };
        let rotator = Rotator::with_services(
            Clients {
                secrets: secrets.clone(),
                iam: own.clone(),
                keys: sts,
                parameters: NotSetUp,
                github: NotSetUp,
                accounts: accounts.clone(),
                organization: Default::default(),
                security_hub: Default::default(),
            },
            member_config(),
        );
        Org {
            secrets,
            own,
            member,
            accounts,
            rotator,
            old_key: old.id,
        }
    }

    async fn rotate(&self) -> Result<(), Error> {
        for step in Step::ALL {
            self.rotator.run(&event(step), far_deadline()).await?;
        }
        Ok(())
    }
}

/// The member role set, and the member account (and 444455556666, where no role is deployed)
/// allowed.
fn member_config() -> Config {
    let mut config = fast_config();
    config.members.role = Some("iam-key-rotator-member".into());
    config.members.accounts = MemberAccountList::Listed(vec![MEMBER.into(), "444455556666".into()]);
    config
}

#[tokio::test]
async fn a_member_accounts_user_is_rotated_there_and_the_same_name_here_is_untouched() {
    let org = Org::new(MEMBER).await;
    let own_keys = org.own.keys_of("ci-bot");

    org.rotate().await.unwrap();

    let current: Value =
        serde_json::from_str(&org.secrets.value_labelled("AWSCURRENT").unwrap()).unwrap();
    let new_key = current["AccessKeyId"].as_str().unwrap().to_string();
    assert_eq!(
        current["AccountId"], MEMBER,
        "the account stays in the secret"
    );
    assert_eq!(
        org.member.keys_of("ci-bot"),
        [(org.old_key.clone(), Inactive), (new_key, Active)]
    );
    assert_eq!(org.own.keys_of("ci-bot"), own_keys);
    assert_eq!(
        org.own.state().writes,
        0,
        "nothing written in the own account"
    );
    let sessions = org.accounts.sessions.lock().unwrap().clone();
    assert!(!sessions.is_empty());
    assert!(
        sessions.iter().all(|(a, s)| a == MEMBER && s == SECRET),
        "every session is for the member account, tagged with this secret: {sessions:?}"
    );
}

#[tokio::test]
async fn an_account_whose_role_does_not_trust_the_function_is_refused_and_nothing_is_made() {
    let org = Org::new("444455556666").await;

    let err = org.rotate().await.unwrap_err();

    assert!(
        matches!(&err, Error::AccountUnreachable { account, .. } if account == "444455556666"),
        "{err}"
    );
    assert!(err.to_string().contains("444455556666"), "{err}");
    assert_eq!(org.own.state().writes + org.member.state().writes, 0);
    assert_eq!(org.secrets.value_labelled("AWSPENDING"), None);
}

#[tokio::test]
async fn the_secrets_own_account_named_as_account_id_is_this_account() {
    let org = Org::new("123456789012").await;
    org.own.state().keys.clear();
    let old = org.own.create_key("ci-bot").await.unwrap();
    let value = json!({"UserName": "ci-bot", "AccountId": "123456789012", "AccessKeyId": old.id,
        "SecretAccessKey": secrecy::ExposeSecret::expose_secret(&old.secret)});
    org.secrets.state().versions[0].value = Some(value.to_string());

    org.rotate().await.unwrap();

    assert_eq!(org.own.keys_of("ci-bot").len(), 2);
    assert_eq!(org.member.state().writes, 0);
    assert!(org.accounts.sessions.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_pending_value_naming_another_account_is_refused_before_any_step_acts() {
    let org = Org::new(MEMBER).await;
    org.rotator
        .run(&event(Step::CreateSecret), far_deadline())
        .await
        .unwrap();
    // Someone rewrites the pending value to name the same user in the function's own account.
    org.secrets.edit_value(TOKEN, |value| {
        value
            .as_object_mut()
            .map(|fields| fields.remove("AccountId"));
    });
    let fresh = FakeOrgRotator::with_services(
        Clients {
            secrets: org.secrets.clone(),
            iam: org.own.clone(),
            keys: FakeSts::new(org.own.clone()),
            parameters: NotSetUp,
            github: NotSetUp,
            accounts: org.accounts.clone(),
            organization: Default::default(),
            security_hub: Default::default(),
        },
        member_config(),
    );
    let writes = org.own.state().writes + org.member.state().writes;

    for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
        let err = fresh.run(&event(step), far_deadline()).await.unwrap_err();
        assert!(matches!(err, Error::UserMismatch { .. }), "{step}: {err}");
        assert!(err.to_string().contains("account 111122223333"), "{err}");
    }
    assert_eq!(org.own.state().writes + org.member.state().writes, writes);
    assert_eq!(org.secrets.labels_of(OLD_VERSION), ["AWSCURRENT"]);
}

#[tokio::test]
async fn without_member_accounts_set_up_the_error_says_how_to_reach_one() {
    let world = World::new().await;
    world
        .secrets
        .edit_value(OLD_VERSION, |value| value["AccountId"] = json!(MEMBER));

    let err = world.run(Step::CreateSecret).await.unwrap_err();

    let message = err.to_string();
    assert_eq!(err.kind(), "AccountUnreachable");
    assert!(
        message.contains("member-role.yaml") && message.contains("MemberRoleName"),
        "{message}"
    );
    assert_eq!(world.writes(), 0);
}

#[tokio::test]
async fn credentials_of_another_account_never_act_on_its_user_of_the_same_name() {
    // The secret lives in 999999999999 and names no AccountId; the credentials in use reach
    // 123456789012's IAM, which has a ci-bot too.
    let world = World::new().await;
    let mut elsewhere = event(Step::CreateSecret);
    elsewhere.secret_id =
        "arn:aws:secretsmanager:us-east-1:999999999999:secret:ci-bot-AbCdEf".into();

    let err = world
        .rotator
        .run(&elsewhere, far_deadline())
        .await
        .unwrap_err();

    assert!(matches!(err, Error::AccountUnreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("credentials of account 999999999999"),
        "{err}"
    );
    assert_eq!(world.writes(), 0);
    assert_eq!(world.keys().len(), 1);
}

#[tokio::test]
async fn a_secret_naming_an_account_the_deployer_did_not_allow_is_refused_though_its_role_trusts_us()
 {
    // Whoever writes the secret points it at an account of their own, with the role deployed and
    // their user tagged with this secret's ARN.
    let org = Org::new("777777777777").await;
    let theirs = org.accounts.add("777777777777");
    theirs.add_user("ci-bot", "/rotated/");
    theirs
        .tag_user("ci-bot", "iam-key-rotator:secret", SECRET)
        .await
        .unwrap();

    let err = org.rotate().await.unwrap_err();

    assert!(err.to_string().contains("ROTATOR_MEMBER_ACCOUNTS"), "{err}");
    assert!(theirs.keys_of("ci-bot").is_empty(), "no key made there");
    assert_eq!(org.own.state().writes + org.member.state().writes, 0);
    assert!(
        org.accounts.sessions.lock().unwrap().is_empty(),
        "not even a session"
    );
}
