//! GitHub's credentials, read from the Secrets Manager secret `ROTATOR_GITHUB_CREDENTIALS` names
//! (never from the environment): a fine-grained token, or a GitHub App's key from which an
//! installation token is minted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// What the credentials secret holds.
#[derive(Clone)]
pub enum Credentials {
    /// `{"Token": "github_pat_..."}`: a fine-grained token with "Secrets: write".
    Token(SecretString),
    /// `{"AppId", "InstallationId", "PrivateKey"}`: a GitHub App installed on one account; or
    /// with `"InstallationIds": {"acme": 123, "acme-labs": 456}`, on each of several (GitHub
    /// installs an App per account, and each installation's token reaches that account only).
    App {
        app_id: String,
        installations: Installations,
        private_key: SecretString,
    },
}

/// Which installation of the App serves which account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Installations {
    /// One installation, for every owner.
    One(u64),
    /// One per owner, by the owner's name in lower case.
    PerOwner(Vec<(String, u64)>),
}

impl Installations {
    pub fn for_owner(&self, secret: &str, owner: &str) -> Result<u64> {
        match self {
            Installations::One(id) => Ok(*id),
            Installations::PerOwner(ids) => ids
                .iter()
                .find(|(o, _)| o.eq_ignore_ascii_case(owner))
                .map(|(_, id)| *id)
                .ok_or_else(|| {
                    Error::InvalidConfig(format!(
                        "the GitHub credentials secret {secret} (ROTATOR_GITHUB_CREDENTIALS) names no installation of the App on {owner} in InstallationIds: install the App there and add its id"
                    ))
                }),
        }
    }
}

fn invalid(secret: &str, reason: &str) -> Error {
    Error::InvalidConfig(format!(
        "the GitHub credentials secret {secret} (ROTATOR_GITHUB_CREDENTIALS) {reason}: store {{\"Token\": \"github_pat_...\"}} or {{\"AppId\": 123, \"InstallationId\": 456, \"PrivateKey\": \"-----BEGIN RSA PRIVATE KEY-----...\"}}"
    ))
}

impl Credentials {
    /// Reads the secret's value. The error names the secret, never what it holds.
    pub fn parse(secret: &str, text: &SecretString) -> Result<Credentials> {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text.expose_secret()) else {
            return Err(invalid(secret, "is not a JSON object"));
        };
        if let Some(token) = fields.get("Token") {
            return match token.as_str() {
                Some(t) if !t.trim().is_empty() => {
                    Ok(Credentials::Token(SecretString::from(t.trim())))
                }
                _ => Err(invalid(
                    secret,
                    "has a Token that is not a non-empty string",
                )),
            };
        }
        let number = |name: &str| match fields.get(name) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let per_owner = match fields.get("InstallationIds") {
            None => None,
            Some(Value::Object(ids)) => {
                let mut pairs = Vec::new();
                for (owner, id) in ids {
                    match id.as_u64() {
                        Some(id) => pairs.push((owner.to_ascii_lowercase(), id)),
                        None => {
                            return Err(invalid(
                                secret,
                                "has an InstallationIds entry that is not a number",
                            ));
                        }
                    }
                }
                Some(Installations::PerOwner(pairs))
            }
            Some(_) => {
                return Err(invalid(
                    secret,
                    "has InstallationIds that is not an object of owner to id",
                ));
            }
        };
        let installations = per_owner.or_else(|| number("InstallationId").map(Installations::One));
        match (
            number("AppId"),
            installations,
            fields.get("PrivateKey").and_then(Value::as_str),
        ) {
            (Some(app_id), Some(installations), Some(key)) if key.contains("PRIVATE KEY") => {
                Ok(Credentials::App {
                    app_id: app_id.to_string(),
                    installations,
                    private_key: SecretString::from(key),
                })
            }
            _ => Err(invalid(
                secret,
                "holds neither a Token nor a GitHub App's AppId, InstallationId and PrivateKey (PEM)",
            )),
        }
    }
}

#[derive(Serialize)]
struct Claims {
    iat: u64,
    exp: u64,
    iss: String,
}

/// The JSON Web Token a GitHub App authenticates with, valid for nine minutes (GitHub allows ten)
/// and dated a minute back for clock drift, as GitHub advises.
pub fn app_jwt(app_id: &str, private_key: &SecretString, now: SystemTime) -> Result<SecretString> {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let claims = Claims {
        iat: now.saturating_sub(60),
        exp: now + Duration::from_secs(9 * 60).as_secs(),
        iss: app_id.to_string(),
    };
    let key = EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes()).map_err(|_| {
        Error::InvalidConfig(
            "the GitHub App's PrivateKey in the credentials secret is not an RSA private key in PEM; store the .pem file GitHub gave you".into(),
        )
    })?;
    let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
        .map_err(|e| Error::InvalidConfig(format!("could not sign the GitHub App's token: {e}")))?;
    Ok(SecretString::from(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_of_credentials_are_read_and_nothing_else() {
        let token = Credentials::parse("gh", &SecretString::from(r#"{"Token": "github_pat_x"}"#));
        assert!(matches!(token, Ok(Credentials::Token(_))));
        let app = Credentials::parse(
            "gh",
            &SecretString::from(
                r#"{"AppId": "12", "InstallationId": 34, "PrivateKey": "-----BEGIN RSA PRIVATE KEY-----\nx"}"#,
            ),
        );
        assert!(matches!(
            app,
            Ok(Credentials::App {
                installations: Installations::One(34),
                ..
            })
        ));
        let several = Credentials::parse(
            "gh",
            &SecretString::from(
                r#"{"AppId": 12, "InstallationIds": {"Acme": 34, "acme-labs": 56}, "PrivateKey": "-----BEGIN RSA PRIVATE KEY-----\nx"}"#,
            ),
        );
        let Ok(Credentials::App { installations, .. }) = several else {
            panic!("refused");
        };
        assert_eq!(installations.for_owner("gh", "ACME").unwrap(), 34);
        assert_eq!(installations.for_owner("gh", "acme-labs").unwrap(), 56);
        let err = installations.for_owner("gh", "mallory").unwrap_err();
        assert!(
            err.to_string()
                .contains("no installation of the App on mallory"),
            "{err}"
        );
        for bad in [
            r#"{"token": "x"}"#,
            r#"{"Token": ""}"#,
            "github_pat_plain",
            r#"{"AppId": 1}"#,
        ] {
            let Err(err) = Credentials::parse("gh", &SecretString::from(bad)) else {
                panic!("accepted {bad}");
            };
            assert!(
                err.to_string().contains("ROTATOR_GITHUB_CREDENTIALS"),
                "{err}"
            );
            assert!(!err.to_string().contains("github_pat_plain"), "{err}");
        }
    }
}
