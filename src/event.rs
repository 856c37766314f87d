//! The rotation event Secrets Manager sends, and its validation before any AWS call.

use std::fmt;

use serde_json::Value;

use crate::error::{Error, Result};

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
        let fields = event.as_object().ok_or_else(|| {
            Error::InvalidEvent(format!("expected a JSON object, got {}", kind_of(event)))
        })?;

        let step_name = required_string(fields, "Step")?;
        let step = Step::parse(step_name).ok_or_else(|| {
            Error::InvalidEvent(format!(
                "unknown Step {step_name:?}; expected createSecret, setSecret, testSecret or finishSecret"
            ))
        })?;
        let secret_id = required_string(fields, "SecretId")?;
        if secret_id.len() > 2048 {
            return Err(Error::InvalidEvent(
                "SecretId is longer than 2048 characters".into(),
            ));
        }
        let token = required_string(fields, "ClientRequestToken")?;
        // Secrets Manager's version ids are 32 to 64 characters.
        if !(32..=64).contains(&token.len()) {
            return Err(Error::InvalidEvent(format!(
                "ClientRequestToken must be 32 to 64 characters long, got {}",
                token.len()
            )));
        }
        let rotation_token = match fields.get("RotationToken") {
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

fn required_string<'a>(fields: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a str> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(Error::InvalidEvent(format!("{name} is empty"))),
        Some(other) => Err(Error::InvalidEvent(format!(
            "{name} must be a string, got {}",
            kind_of(other)
        ))),
        None => Err(Error::InvalidEvent(format!("{name} is missing"))),
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
    fn malformed_events_are_refused_with_what_is_wrong() {
        let cases = [
            (json!([1, 2]), "JSON object"),
            (
                json!({"SecretId": "s", "ClientRequestToken": TOKEN}),
                "Step is missing",
            ),
            (
                json!({"Step": "rotate", "SecretId": "s", "ClientRequestToken": TOKEN}),
                "unknown Step \"rotate\"",
            ),
            (
                json!({"Step": 3, "SecretId": "s", "ClientRequestToken": TOKEN}),
                "Step must be a string",
            ),
            (
                json!({"Step": "setSecret", "ClientRequestToken": TOKEN}),
                "SecretId is missing",
            ),
            (
                json!({"Step": "setSecret", "SecretId": " ", "ClientRequestToken": TOKEN}),
                "SecretId is empty",
            ),
            (
                json!({"Step": "setSecret", "SecretId": "s"}),
                "ClientRequestToken is missing",
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
