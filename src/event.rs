//! The events the function takes, and their validation before any AWS call: Secrets Manager's
//! rotation event, and `{"Action": "sweep"}` from the schedule.

use std::fmt;

use aws_lambda_events::event::secretsmanager::SecretsManagerSecretRotationEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// One invocation of the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Rotation(RotationEvent),
    Sweep(SweepEvent),
    /// `{"Action": "audit"}`: the scheduled credential audit.
    Audit(AuditEvent),
}

/// `{"Action": "audit", "Organization": true, "SecurityHub": true, "Role": "...",
/// "IncludeAccounts": [...], "ExcludeAccounts": [...], "IncludeUnits": [...], "ExcludeUnits": [...],
/// "StartAfter": "..."}`; all but Action optional. The function writes one too, to go on with an
/// organization's audit its deadline stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AuditEvent {
    pub action: String,
    #[serde(default)]
    pub organization: bool,
    #[serde(default)]
    pub security_hub: bool,
    /// The audit role in each member account; default `ROTATOR_AUDIT_ROLE`.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub include_accounts: Vec<String>,
    #[serde(default)]
    pub exclude_accounts: Vec<String>,
    #[serde(default)]
    pub include_units: Vec<String>,
    #[serde(default)]
    pub exclude_units: Vec<String>,
    /// Audit only the accounts whose ids sort after this one (a run going on from another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
}

/// `{"Action": "sweep", "SecretId": "...", "Deep": true, "DryRun": true, "StartAfter": "..."}`;
/// all but Action optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SweepEvent {
    pub action: String,
    #[serde(default)]
    pub secret_id: Option<String>,
    #[serde(default)]
    pub deep: bool,
    #[serde(default)]
    pub dry_run: bool,
    /// The continuation of a sweep that stopped at its deadline: the secret name to start after.
    #[serde(default)]
    pub start_after: Option<String>,
}

impl Invocation {
    /// An event with an `Action` is one of ours; anything else must be a rotation event.
    pub fn from_json(event: &Value) -> Result<Invocation> {
        let Some(action) = event.get("Action") else {
            return RotationEvent::from_json(event).map(Invocation::Rotation);
        };
        if action == "audit" {
            return serde_json::from_value(event.clone())
                .map(Invocation::Audit)
                .map_err(|e| {
                    Error::InvalidEvent(format!(
                        "an audit event is {{\"Action\": \"audit\", \"Organization\"?: true, \"SecurityHub\"?: true, \"Role\"?: \"...\", \"IncludeAccounts\"?: [...], \"ExcludeAccounts\"?: [...], \"IncludeUnits\"?: [...], \"ExcludeUnits\"?: [...]}}: {e}"
                    ))
                });
        }
        if action != "sweep" {
            return Err(Error::InvalidEvent(format!(
                "unknown Action {action}; the function takes {{\"Action\": \"sweep\"}}, {{\"Action\": \"audit\"}} or Secrets Manager's rotation events"
            )));
        }
        serde_json::from_value(event.clone())
            .map(Invocation::Sweep)
            .map_err(|e| {
                Error::InvalidEvent(format!(
                    "a sweep event is {{\"Action\": \"sweep\", \"SecretId\"?: \"...\", \"Deep\"?: true, \"DryRun\"?: true, \"StartAfter\"?: \"...\"}}: {e}"
                ))
            })
    }
}

/// The four steps of Secrets Manager's rotation contract, in the order it calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    CreateSecret,
    SetSecret,
    TestSecret,
    FinishSecret,
}

impl Step {
    pub const ALL: [Step; 4] = [
        Step::CreateSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::FinishSecret,
    ];

    /// The name Secrets Manager sends.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }

    /// Accepts the names Secrets Manager sends and the snake_case ones AWS's guide prints.
    pub fn parse(name: &str) -> Option<Step> {
        match name {
            "createSecret" | "create_secret" => Some(Step::CreateSecret),
            "setSecret" | "set_secret" => Some(Step::SetSecret),
            "testSecret" | "test_secret" => Some(Step::TestSecret),
            "finishSecret" | "finish_secret" => Some(Step::FinishSecret),
            _ => None,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One invocation of the rotation function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationEvent {
    pub step: Step,
    /// The secret's ARN or name.
    pub secret_id: String,
    /// The id of the version this rotation creates; the same for every step and every retry.
    pub token: String,
    /// Present for rotations through an assumed role; passed back to PutSecretValue.
    pub rotation_token: Option<String>,
}

impl RotationEvent {
    /// Checks the event's shape. Nothing about AWS is looked at here.
    pub fn from_json(event: &Value) -> Result<RotationEvent> {
        if !event.is_object() {
            return Err(Error::InvalidEvent(format!(
                "expected a JSON object, got {}",
                kind_of(event)
            )));
        }
        let parsed: SecretsManagerSecretRotationEvent = serde_json::from_value(event.clone())
            .map_err(|e| Error::InvalidEvent(e.to_string()))?;

        let step = Step::parse(&parsed.step).ok_or_else(|| {
            Error::InvalidEvent(format!(
                "unknown Step {:?}; expected createSecret, setSecret, testSecret or finishSecret",
                parsed.step
            ))
        })?;
        let secret_id = non_empty("SecretId", &parsed.secret_id)?;
        if secret_id.len() > 2048 {
            return Err(Error::InvalidEvent(
                "SecretId is longer than 2048 characters".into(),
            ));
        }
        let token = non_empty("ClientRequestToken", &parsed.client_request_token)?;
        // Secrets Manager's version ids are 32 to 64 characters.
        if !(32..=64).contains(&token.len()) {
            return Err(Error::InvalidEvent(format!(
                "ClientRequestToken must be 32 to 64 characters long, got {}",
                token.len()
            )));
        }
        // The crate keeps fields it does not know, RotationToken among them.
        let rotation_token = match parsed.other.get("RotationToken") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if !t.is_empty() => Some(t.clone()),
            Some(other) => {
                return Err(Error::InvalidEvent(format!(
                    "RotationToken must be a non-empty string, got {}",
                    kind_of(other)
                )));
            }
        };

        Ok(RotationEvent {
            step,
            secret_id: secret_id.to_string(),
            token: token.to_string(),
            rotation_token,
        })
    }
}

fn non_empty<'a>(name: &str, value: &'a str) -> Result<&'a str> {
    if value.trim().is_empty() {
        Err(Error::InvalidEvent(format!("{name} is empty")))
    } else {
        Ok(value)
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TOKEN: &str = "c2f6a1a4-5d0b-4c36-9a43-0e7f1d3c9b21";

    #[test]
    fn a_secrets_manager_event_is_accepted() {
        let event = RotationEvent::from_json(&json!({
            "Step": "createSecret",
            "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ci-key-AbCdEf",
            "ClientRequestToken": TOKEN,
        }))
        .unwrap();
        assert_eq!(event.step, Step::CreateSecret);
        assert_eq!(event.token, TOKEN);
        assert_eq!(event.rotation_token, None);
    }

    #[test]
    fn both_spellings_of_every_step_are_accepted() {
        for (camel, snake, step) in [
            ("createSecret", "create_secret", Step::CreateSecret),
            ("setSecret", "set_secret", Step::SetSecret),
            ("testSecret", "test_secret", Step::TestSecret),
            ("finishSecret", "finish_secret", Step::FinishSecret),
        ] {
            assert_eq!(Step::parse(camel), Some(step));
            assert_eq!(Step::parse(snake), Some(step));
            assert_eq!(step.as_str(), camel);
        }
    }

    #[test]
    fn the_rotation_token_is_kept() {
        let event = RotationEvent::from_json(&json!({
            "Step": "finishSecret", "SecretId": "s", "ClientRequestToken": TOKEN, "RotationToken": "rt-1",
        }))
        .unwrap();
        assert_eq!(event.rotation_token.as_deref(), Some("rt-1"));
    }

    #[test]
    fn a_sweep_event_is_told_from_a_rotation_event() {
        assert_eq!(
            Invocation::from_json(&json!({"Action": "sweep"})).unwrap(),
            Invocation::Sweep(SweepEvent {
                action: "sweep".into(),
                ..SweepEvent::default()
            })
        );
        let Invocation::Sweep(one) = Invocation::from_json(
            &json!({"Action": "sweep", "SecretId": "iam-keys/a", "Deep": true}),
        )
        .unwrap() else {
            panic!("a sweep");
        };
        assert_eq!(one.secret_id.as_deref(), Some("iam-keys/a"));
        assert!(one.deep);
        for (event, expected) in [
            (json!({"Action": "rotate"}), "unknown Action"),
            (json!({"Action": "sweep", "Secret": "x"}), "unknown field"),
        ] {
            let err = Invocation::from_json(&event).unwrap_err();
            assert_eq!(err.kind(), "InvalidEvent");
            assert!(err.to_string().contains(expected), "{err}");
        }
        assert!(matches!(
            Invocation::from_json(
                &json!({"Step": "createSecret", "SecretId": "s", "ClientRequestToken": TOKEN})
            ),
            Ok(Invocation::Rotation(_))
        ));
    }

    #[test]
    fn malformed_events_are_refused_with_what_is_wrong() {
        let cases = [
            (json!([1, 2]), "JSON object"),
            (
                json!({"SecretId": "s", "ClientRequestToken": TOKEN}),
                "missing field `Step`",
            ),
            (
                json!({"Step": "rotate", "SecretId": "s", "ClientRequestToken": TOKEN}),
                "unknown Step \"rotate\"",
            ),
            (
                json!({"Step": 3, "SecretId": "s", "ClientRequestToken": TOKEN}),
                "expected a string",
            ),
            (
                json!({"Step": "setSecret", "ClientRequestToken": TOKEN}),
                "missing field `SecretId`",
            ),
            (
                json!({"Step": "setSecret", "SecretId": " ", "ClientRequestToken": TOKEN}),
                "SecretId is empty",
            ),
            (
                json!({"Step": "setSecret", "SecretId": "s"}),
                "missing field `ClientRequestToken`",
            ),
            (
                json!({"Step": "setSecret", "SecretId": "s", "ClientRequestToken": "short"}),
                "32 to 64",
            ),
            (
                json!({"Step": "setSecret", "SecretId": "s", "ClientRequestToken": TOKEN, "RotationToken": 7}),
                "RotationToken",
            ),
        ];
        for (event, expected) in cases {
            let err = RotationEvent::from_json(&event).unwrap_err();
            assert_eq!(err.kind(), "InvalidEvent");
            assert!(err.to_string().contains(expected), "{event}: {err}");
        }
    }
}
