//! An SSM destination: one `SecureString` parameter holding the key as
//! `{"AccessKeyId": ..., "SecretAccessKey": ...}`, compared before it is written so that a retry
//! writes nothing already there.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{Expected, Holds};
use crate::error::Result;
use crate::secret::{ACCESS_KEY_ID, AccessKey, SECRET_ACCESS_KEY};
use crate::services::ParameterStore;

/// Writes `key` into the parameter unless it holds it already; whether it wrote.
pub async fn deliver<P: ParameterStore>(
    parameters: &P,
    name: &str,
    kms_key_id: Option<&str>,
    key: &AccessKey,
) -> Result<bool> {
    let expected = Expected {
        key_id: &key.id,
        secret: Some(&key.secret),
    };
    if let Some(held) = parameters.get(name).await?
        && compare(&held, &expected).is_ok()
    {
        return Ok(false);
    }
    let value = SecretString::from(
        json!({ACCESS_KEY_ID: key.id, SECRET_ACCESS_KEY: key.secret.expose_secret()}).to_string(),
    );
    parameters.put(name, &value, kms_key_id).await?;
    Ok(true)
}

/// What the parameter holds, read back decrypted.
pub async fn holds<P: ParameterStore>(
    parameters: &P,
    name: &str,
    expected: &Expected<'_>,
) -> Holds {
    match parameters.get(name).await {
        Err(e) => Holds::Unreadable(e.to_string()),
        Ok(None) => Holds::Missing("the parameter does not exist".into()),
        Ok(Some(held)) => match compare(&held, expected) {
            Ok(()) => Holds::Key,
            Err(why) => Holds::Other(why),
        },
    }
}

/// Whether `held` is the expected key; the error says what it holds instead, never a secret part.
fn compare(held: &SecretString, expected: &Expected<'_>) -> Result<(), String> {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(held.expose_secret()) else {
        return Err(format!(
            "it does not hold the JSON {{\"{ACCESS_KEY_ID}\", \"{SECRET_ACCESS_KEY}\"}} this function writes"
        ));
    };
    let id = fields.get(ACCESS_KEY_ID).and_then(Value::as_str);
    if id != Some(expected.key_id) {
        return Err(match id {
            Some(other) => format!("it holds the key {other}, not {}", expected.key_id),
            None => format!("it holds no {ACCESS_KEY_ID}"),
        });
    }
    if let Some(secret) = expected.secret
        && fields.get(SECRET_ACCESS_KEY).and_then(Value::as_str) != Some(secret.expose_secret())
    {
        return Err(format!(
            "it holds the key id {} with another secret part",
            expected.key_id
        ));
    }
    Ok(())
}
