//! The secret's format: the IAM user, its access key, and whatever else the owner keeps beside them.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

pub const USER_NAME: &str = "UserName";
/// The AWS account of the user, when it is not the account the secret lives in.
pub const ACCOUNT_ID: &str = "AccountId";
pub const ACCESS_KEY_ID: &str = "AccessKeyId";
pub const SECRET_ACCESS_KEY: &str = "SecretAccessKey";
pub const SMTP_USERNAME: &str = "SmtpUsername";
pub const SMTP_PASSWORD: &str = "SmtpPassword";

/// The fields a rotation rewrites; every other field is the owner's and is kept as it is.
const KEY_FIELDS: [&str; 4] = [
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    SMTP_USERNAME,
    SMTP_PASSWORD,
];

/// An access key as the secret stores it. The secret half is redacted from `Debug`.
#[derive(Clone)]
pub struct AccessKey {
    pub id: String,
    pub secret: SecretString,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// One version's value: `{"UserName", "AccessKeyId", "SecretAccessKey", ...}`.
///
/// Fields other than those three are kept as they are, in their order, so a rotation never
/// loses what the owner stored. A secret may hold only `UserName`: its first rotation makes the key.
/// It may also hold an `AccessKeyId` without its `SecretAccessKey` (a key brought under rotation
/// by `adopt`, whose secret part IAM never shows again): that key is then the current one.
#[derive(Clone)]
pub struct KeySecret {
    fields: Map<String, Value>,
    user_name: String,
    /// `AccountId` as stored: `None` means the secret's own account.
    account_id: Option<String>,
    key: Option<AccessKey>,
    /// The key's id, also when the secret part is not stored.
    key_id: Option<String>,
}

impl KeySecret {
    /// Parses a version's value. The error says what is wrong, never what the value holds.
    pub fn parse(text: &str) -> Result<KeySecret, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("it is not JSON (line {}, column {})", e.line(), e.column()))?;
        let Value::Object(fields) = value else {
            return Err("it is JSON but not an object".to_string());
        };

        let user_name = match fields.get(USER_NAME) {
            Some(Value::String(name)) if looks_like_secret_key(name) => {
                // Never echo it: a value this shape is most likely the secret key in the wrong field.
                return Err(format!(
                    "{USER_NAME} looks like a secret access key (40 characters of base64), not a user name: are the fields swapped?"
                ));
            }
            Some(Value::String(name)) if is_iam_user_name(name) => name.clone(),
            Some(Value::String(_)) => {
                return Err(format!(
                    "{USER_NAME} is not an IAM user name (1 to 64 of letters, digits and +=,.@_-)"
                ));
            }
            Some(_) => return Err(format!("{USER_NAME} is not a string")),
            None => return Err(format!("it has no {USER_NAME}")),
        };

        let account_id = match fields.get(ACCOUNT_ID) {
            None => None,
            Some(Value::String(id)) if crate::accounts::is_account_id(id) => Some(id.clone()),
            Some(_) => {
                return Err(format!(
                    "{ACCOUNT_ID} is not an AWS account id (a string of 12 digits, like \"111122223333\")"
                ));
            }
        };

        let key = match (fields.get(ACCESS_KEY_ID), fields.get(SECRET_ACCESS_KEY)) {
            (None, None) => None,
            (Some(Value::String(id)), _) if !id.is_empty() && !is_access_key_id(id) => {
                return Err(format!(
                    "{ACCESS_KEY_ID} is not an access key id (capital letters and digits, like AKIA...): are the fields swapped?"
                ));
            }
            (Some(Value::String(id)), Some(Value::String(secret)))
                if !id.is_empty() && !secret.is_empty() =>
            {
                Some(AccessKey {
                    id: id.clone(),
                    secret: SecretString::from(secret.as_str()),
                })
            }
            (Some(Value::String(id)), None) if !id.is_empty() => None,
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{ACCESS_KEY_ID} and {SECRET_ACCESS_KEY} must be non-empty strings"
                ));
            }
            (Some(_), None) => return Err(format!("{ACCESS_KEY_ID} must be a non-empty string")),
            (None, Some(_)) => {
                return Err(format!(
                    "it has a {SECRET_ACCESS_KEY} without its {ACCESS_KEY_ID}; store both, or the id alone"
                ));
            }
        };
        let key_id = match fields.get(ACCESS_KEY_ID) {
            Some(Value::String(id)) => Some(id.clone()),
            _ => None,
        };

        Ok(KeySecret {
            fields,
            user_name,
            account_id,
            key,
            key_id,
        })
    }

    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    /// The account of the user, when the secret names one (`AccountId`); `None` means the account
    /// the secret lives in. Which IAM that is, is `accounts`' rule.
    pub fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    pub fn key(&self) -> Option<&AccessKey> {
        self.key.as_ref()
    }

    /// Whether this value names a key without its secret part: what `adopt` stores, since IAM never
    /// shows a key's secret again. Its consumers read it from their own settings, not the secret.
    pub fn is_adopted_key(&self) -> bool {
        self.key_id.is_some() && self.key.is_none()
    }

    /// Another field the owner keeps beside the key (`Destinations`, say), as stored.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The key's id, whether or not its secret part is stored.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The same secret holding `key` instead; every other field is unchanged.
    pub fn with_key(&self, key: AccessKey) -> KeySecret {
        let mut fields = self.fields.clone();
        // SMTP credentials derive from the old key: they would no longer work.
        fields.shift_remove(SMTP_USERNAME);
        fields.shift_remove(SMTP_PASSWORD);
        fields.insert(ACCESS_KEY_ID.to_string(), Value::String(key.id.clone()));
        fields.insert(
            SECRET_ACCESS_KEY.to_string(),
            Value::String(key.secret.expose_secret().to_string()),
        );
        KeySecret {
            fields,
            user_name: self.user_name.clone(),
            account_id: self.account_id.clone(),
            key_id: Some(key.id.clone()),
            key: Some(key),
        }
    }

    /// The same secret also holding the SES SMTP credentials of its key for `region`.
    pub fn with_smtp_credentials(mut self, region: &str) -> KeySecret {
        if let Some(key) = &self.key {
            let password = crate::smtp::smtp_password(&key.secret, region);
            self.fields
                .insert(SMTP_USERNAME.to_string(), Value::String(key.id.clone()));
            self.fields.insert(
                SMTP_PASSWORD.to_string(),
                Value::String(password.expose_secret().to_string()),
            );
        }
        self
    }

    /// Whether the two values agree on everything but the key and what is derived from it
    /// (user and every other field).
    pub fn same_beside_key(&self, other: &KeySecret) -> bool {
        let beside_key = |fields: &Map<String, Value>| {
            let mut fields = fields.clone();
            for field in KEY_FIELDS {
                fields.remove(field);
            }
            fields
        };
        beside_key(&self.fields) == beside_key(&other.fields)
    }

    /// The JSON to store; it holds the secret access key, so it is wrapped as a secret too.
    pub fn to_json(&self) -> SecretString {
        SecretString::from(Value::Object(self.fields.clone()).to_string())
    }
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySecret")
            .field("user_name", &self.user_name)
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.key_id())
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// IAM's rule for user names: 1 to 64 of `[A-Za-z0-9+=,.@_-]`.
fn is_iam_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// IAM's key ids are capital letters and digits (`AKIA...`); a secret access key never is.
pub(crate) fn is_access_key_id(id: &str) -> bool {
    id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A secret access key's shape: 40 characters of base64 mixing cases and digits. No sensible
/// user name looks like this, and naming the value in an error would print the key.
fn looks_like_secret_key(value: &str) -> bool {
    value.len() == 40
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
        && value.chars().any(|c| c.is_ascii_lowercase())
        && value.chars().any(|c| c.is_ascii_uppercase())
        && value.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn a_full_secret_is_read() {
        let secret = KeySecret::parse(&format!(
            r#"{{"UserName": "ci-bot", "AccessKeyId": "AKIAOLD", "SecretAccessKey": "{SECRET}"}}"#
        ))
        .unwrap();
        assert_eq!(secret.user_name(), "ci-bot");
        assert_eq!(secret.key_id(), Some("AKIAOLD"));
        assert_eq!(secret.key().unwrap().secret.expose_secret(), SECRET);
    }

    #[test]
    fn a_key_id_without_its_secret_part_is_the_current_key_but_no_signing_key() {
        let secret =
            KeySecret::parse(r#"{"UserName": "ci-bot", "AccessKeyId": "AKIAADOPTED"}"#).unwrap();
        assert_eq!(secret.key_id(), Some("AKIAADOPTED"));
        assert!(secret.key().is_none());
    }

    #[test]
    fn a_user_in_another_account_is_named_by_its_account_id() {
        let secret =
            KeySecret::parse(r#"{"UserName": "ci-bot", "AccountId": "111122223333"}"#).unwrap();
        assert_eq!(secret.account_id(), Some("111122223333"));
        let rotated = secret.with_key(AccessKey {
            id: "AKIANEW".into(),
            secret: SecretString::from(SECRET),
        });
        assert_eq!(rotated.account_id(), Some("111122223333"));
        assert!(rotated.same_beside_key(&secret));
        let own = KeySecret::parse(r#"{"UserName": "ci-bot"}"#).unwrap();
        assert_eq!(own.account_id(), None);
    }

    #[test]
    fn a_secret_with_only_a_user_name_is_read_without_a_key() {
        let secret = KeySecret::parse(r#"{"UserName": "ci-bot"}"#).unwrap();
        assert!(secret.key().is_none());
    }

    #[test]
    fn a_new_key_replaces_the_old_and_keeps_every_other_field_in_order() {
        let secret = KeySecret::parse(
            r#"{"Owner": "platform", "UserName": "ci-bot", "AccessKeyId": "AKIAOLD", "SecretAccessKey": "old", "Region": "eu-west-1", "Notes": {"ticket": 42}}"#,
        )
        .unwrap();
        let rotated = secret.with_key(AccessKey {
            id: "AKIANEW".into(),
            secret: SecretString::from(SECRET),
        });
        assert_eq!(
            rotated.to_json().expose_secret(),
            format!(
                r#"{{"Owner":"platform","UserName":"ci-bot","AccessKeyId":"AKIANEW","SecretAccessKey":"{SECRET}","Region":"eu-west-1","Notes":{{"ticket":42}}}}"#
            )
        );
    }

    #[test]
    fn swapped_fields_are_refused_without_naming_the_secret_key() {
        let no_slash = "wJalrXUtnFEMI2K7MDENG9bPxRfiCYEXAMPLEKEY";
        for (user, id, key) in [
            (SECRET, "AKIAOLD", "AKIAOLD"),
            (no_slash, "AKIAOLD", "AKIAOLD"),
            ("ci-bot", SECRET, "AKIAOLD"),
            ("ci-bot", no_slash, "AKIAOLD"),
        ] {
            let text = format!(
                r#"{{"UserName": "{user}", "AccessKeyId": "{id}", "SecretAccessKey": "{key}"}}"#
            );
            let reason = KeySecret::parse(&text).err().unwrap_or_default();
            assert!(!reason.is_empty(), "accepted {user} / {id}");
            assert!(
                !reason.contains(SECRET) && !reason.contains(no_slash),
                "{reason}"
            );
            assert!(
                reason.contains("swapped") || reason.contains("not an"),
                "{reason}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret_access_key() {
        let secret = KeySecret::parse(&format!(
            r#"{{"UserName": "ci-bot", "AccessKeyId": "AKIAOLD", "SecretAccessKey": "{SECRET}"}}"#
        ))
        .unwrap();
        let shown = format!("{secret:?} {:?}", secret.key());
        assert!(shown.contains("AKIAOLD"));
        assert!(!shown.contains(SECRET), "{shown}");
    }

    #[test]
    fn malformed_secrets_are_refused_without_echoing_their_content() {
        let cases = [
            (
                format!("UserName=ci-bot;SecretAccessKey={SECRET}"),
                "not JSON",
            ),
            (format!(r#"["{SECRET}"]"#), "not an object"),
            (
                format!(r#"{{"AccessKeyId": "AKIA1", "SecretAccessKey": "{SECRET}"}}"#),
                "no UserName",
            ),
            (
                r#"{"UserName": 12}"#.to_string(),
                "UserName is not a string",
            ),
            (
                r#"{"UserName": "bad name/with slash"}"#.to_string(),
                "not an IAM user name",
            ),
            (r#"{"UserName": ""}"#.to_string(), "not an IAM user name"),
            (
                r#"{"UserName": "u", "AccountId": 111122223333}"#.to_string(),
                "not an AWS account id",
            ),
            (
                r#"{"UserName": "u", "AccountId": "1111-2222-3333"}"#.to_string(),
                "not an AWS account id",
            ),
            (
                format!(r#"{{"UserName": "u", "SecretAccessKey": "{SECRET}"}}"#),
                "without its AccessKeyId",
            ),
            (
                format!(r#"{{"UserName": "u", "AccessKeyId": 5, "SecretAccessKey": "{SECRET}"}}"#),
                "non-empty strings",
            ),
        ];
        for (text, expected) in cases {
            let reason = KeySecret::parse(&text).unwrap_err();
            assert!(reason.contains(expected), "{text}: {reason}");
            assert!(!reason.contains(SECRET), "{reason}");
        }
    }
}
