//! Property tests of everything that comes from outside: random events and random secret values
//! never panic, are refused with a clear error, and never lead to an AWS write.
//!
//! `cargo test` runs 256 cases of each; `make fuzz` runs many more (PROPTEST_CASES).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::engine::Rotator;
use crate::event::{RotationEvent, Step};
use crate::fakes::{FakeIam, FakeRotator, FakeSecrets, FakeSts};
use crate::secret::KeySecret;
use crate::services::IamKeys;

const FIELDS: [&str; 8] = [
    "Step",
    "SecretId",
    "ClientRequestToken",
    "RotationToken",
    "UserName",
    "AccessKeyId",
    "SecretAccessKey",
    "Other",
];
const TOKEN: &str = "11111111-2222-3333-4444-555555555555";

/// JSON leaves biased towards what the parsers look for: step names, plausible ids, odd strings.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "createSecret",
            "set_secret",
            "testSecret",
            "finishSecret",
            "",
            " ",
            "ci-bot",
            TOKEN
        ])
        .prop_map(|s| json!(s)),
        ".{0,80}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS.to_vec()), inner), 0..8).prop_map(
                |pairs| {
                    Value::Object(
                        pairs
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect::<Map<_, _>>(),
                    )
                }
            ),
        ]
    })
}

/// Secret values: random JSON, or random text, sometimes holding a recognisable secret.
fn secret_text() -> impl Strategy<Value = String> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        ".{0,120}",
        ".{0,40}".prop_map(|s| format!(
            r#"{{"UserName": {s:?}, "SecretAccessKey": "SECRETSECRETSECRET", "AccessKeyId": 1}}"#
        )),
    ]
}

/// A world with one user, one key and a rotation under way, as in the step tests.
fn world(current_value: String) -> (FakeRotator, FakeSecrets, FakeIam) {
    let secrets =
        FakeSecrets::rotation_started("00000000-0000-0000-0000-000000000000", current_value, TOKEN);
    let iam = FakeIam::default();
    iam.add_user("ci-bot", "/rotated/");
    let config = Config {
        test_budget: Duration::from_millis(50),
        test_first_delay: Duration::from_millis(1),
        test_max_delay: Duration::from_millis(2),
        user_path_prefix: "/rotated/".into(),
        ..Config::default()
    };
    (
        Rotator::new(
            secrets.clone(),
            iam.clone(),
            FakeSts::new(iam.clone()),
            config,
        ),
        secrets,
        iam,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

proptest! {
    #[test]
    fn any_json_event_is_accepted_or_refused_clearly(event in json_value()) {
        match RotationEvent::from_json(&event) {
            Ok(parsed) => {
                prop_assert_eq!(event["Step"].as_str().and_then(Step::parse), Some(parsed.step));
                prop_assert!((32..=64).contains(&parsed.token.len()));
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), "InvalidEvent");
                prop_assert!(e.to_string().starts_with("invalid rotation event: "));
            }
        }
    }

    #[test]
    fn any_secret_value_is_read_or_refused_without_echoing_its_secret(text in secret_text()) {
        if let Err(reason) = KeySecret::parse(&text) {
            prop_assert!(!reason.is_empty());
            prop_assert!(!reason.contains("SECRETSECRETSECRET"), "{}", reason);
        }
    }

    #[test]
    fn a_bad_current_value_stops_create_before_any_write(text in secret_text()) {
        let (rotator, secrets, iam) = world(text.clone());
        let event = RotationEvent { step: Step::CreateSecret, secret_id: "s".into(), token: TOKEN.into(), rotation_token: None };
        let result = runtime().block_on(rotator.run(&event, Instant::now() + Duration::from_secs(5)));
        if let Err(e) = result {
            prop_assert!(["InvalidSecret", "UserNotFound"].contains(&e.kind()), "{}", e);
            prop_assert!(!e.to_string().contains("SECRETSECRETSECRET"));
            prop_assert_eq!(secrets.state().writes + iam.state().writes, 0);
        }
    }

    #[test]
    fn a_bad_event_reaches_no_aws_call(event in json_value()) {
        let (rotator, secrets, iam) = world(json!({"UserName": "ci-bot"}).to_string());
        if let Err(e) = RotationEvent::from_json(&event) {
            // The handler refuses it the same way, before the rotator sees it.
            let invocation = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
            let handled = runtime().block_on(crate::lambda::handle(&rotator, &crate::services::NotSetUp, invocation));
            prop_assert_eq!(handled.map_err(|h| h.kind()), Err(e.kind()));
            prop_assert_eq!(secrets.state().writes + iam.state().writes, 0);
            prop_assert!(runtime().block_on(iam.list_keys("ci-bot")).unwrap().is_empty());
        }
    }
}
