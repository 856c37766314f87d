//! An SSM destination: one `SecureString` parameter holding the key as
//! `{"AccessKeyId": ..., "SecretAccessKey": ...}`, compared before it is written so that a retry
//! writes nothing already there.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::{Expected, Holds};
use crate::error::{Error, Result};
use crate::secret::{ACCESS_KEY_ID, AccessKey, SECRET_ACCESS_KEY, is_access_key_id};
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
    if let Some(held) = parameters.get(name).await? {
        if compare(&held, &expected).is_ok() {
            return Ok(false);
        }
        // A parameter that holds anything but an access key is someone else's: never overwritten.
        if !holds_an_access_key(&held) {
            return Err(Error::DeliveryFailed {
                destination: format!("ssm:{name}"),
                reason: format!(
                    "the parameter holds something else than the {{\"{ACCESS_KEY_ID}\", \"{SECRET_ACCESS_KEY}\"}} this function writes, so it is not overwritten"
                ),
                retry: false,
            });
        }
    }
    let value = SecretString::from(
        json!({ACCESS_KEY_ID: key.id, SECRET_ACCESS_KEY: key.secret.expose_secret()}).to_string(),
    );
    parameters.put(name, &value, kms_key_id).await?;
    Ok(true)
}

/// Whether `held` is the JSON an access key is delivered as (any key's).
fn holds_an_access_key(held: &SecretString) -> bool {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(held.expose_secret()) else {
        return false;
    };
    fields
        .get(ACCESS_KEY_ID)
        .and_then(Value::as_str)
        .is_some_and(is_access_key_id)
        && fields.get(SECRET_ACCESS_KEY).is_some_and(Value::is_string)
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
            // Never echo a value that is not shaped like a key id: it may be a secret part.
            Some(other) if is_access_key_id(other) => {
                format!("it holds the key {other}, not {}", expected.key_id)
            }
            Some(_) => format!("it holds another key than {}", expected.key_id),
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
