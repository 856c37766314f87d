//! A GitHub destination: two Actions secrets (the key's id and its secret part), each sealed to
//! the scope's public key before it leaves, and confirmed by when GitHub says it was written.

use std::collections::HashMap;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crypto_box::aead::OsRng;
use secrecy::ExposeSecret;

use super::destination::{SecretNames, Visibility};
use super::record::Record;
use super::{Expected, Holds};
use crate::error::{Error, Result};
use crate::secret::AccessKey;
use crate::services::{GitHubScope, GitHubSecrets, OrgAccess, PublicKey, SealedSecret};

/// What one invocation already read from GitHub: each scope's public key, each repository's id.
#[derive(Default)]
pub struct Lookups {
    public_keys: HashMap<GitHubScope, PublicKey>,
    repository_ids: HashMap<(String, String), u64>,
}

impl Lookups {
    async fn public_key<G: GitHubSecrets>(
        &mut self,
        github: &G,
        scope: &GitHubScope,
    ) -> Result<PublicKey> {
        if let Some(key) = self.public_keys.get(scope) {
            return Ok(key.clone());
        }
        let key = github.public_key(scope).await?;
        self.public_keys.insert(scope.clone(), key.clone());
        Ok(key)
    }

    async fn access<G: GitHubSecrets>(
        &mut self,
        github: &G,
        scope: &GitHubScope,
        visibility: Option<&Visibility>,
    ) -> Result<Option<OrgAccess>> {
        Ok(match visibility {
            None => None,
            Some(Visibility::Private) => Some(OrgAccess::Private),
            Some(Visibility::Selected(repos)) => {
                let org = scope.owner().to_string();
                let mut ids = Vec::new();
                for repo in repos {
                    let at = (org.clone(), repo.clone());
                    let id = match self.repository_ids.get(&at) {
                        Some(id) => *id,
                        None => {
                            let id = github.repository_id(&org, repo).await?;
                            self.repository_ids.insert(at, id);
                            id
                        }
                    };
                    ids.push(id);
                }
                Some(OrgAccess::Selected(ids))
            }
        })
    }
}

/// Writes both secrets. GitHub's PUT is idempotent, so a retry rewrites them with the same key.
/// Returns GitHub's times of the writes, as far as it told them.
pub async fn deliver<G: GitHubSecrets>(
    github: &G,
    lookups: &mut Lookups,
    scope: &GitHubScope,
    visibility: Option<&Visibility>,
    names: &SecretNames,
    key: &AccessKey,
) -> Result<Vec<SystemTime>> {
    let access = lookups.access(github, scope, visibility).await?;
    let mut written = Vec::new();
    let values = [
        (&names.key_id, key.id.as_bytes()),
        (&names.secret_key, key.secret.expose_secret().as_bytes()),
    ];
    for (name, value) in values {
        let public = lookups.public_key(github, scope).await?;
        let at = match github
            .put_secret(scope, name, &seal(&public, value, access.clone())?)
            .await
        {
            // GitHub replaced the scope's key pair since it was read: read it again, once.
            Err(Error::GitHub {
                status: Some(422), ..
            }) => {
                lookups.public_keys.remove(scope);
                let public = lookups.public_key(github, scope).await?;
                github
                    .put_secret(scope, name, &seal(&public, value, access.clone())?)
                    .await?
            }
            other => other?,
        };
        written.extend(at);
    }
    Ok(written)
}

/// Whether both secrets were written by the recorded delivery of the expected key (GitHub gives
/// no value back, only when each secret was last written).
pub async fn holds<G: GitHubSecrets>(
    github: &G,
    scope: &GitHubScope,
    names: &SecretNames,
    record: Option<&Record>,
    expected: &Expected<'_>,
) -> Holds {
    let Some(record) = record.filter(|r| r.key_id == expected.key_id) else {
        return Holds::Other(match record {
            Some(r) => format!(
                "the last delivery recorded on the secret was of key {}, not {}",
                r.key_id, expected.key_id
            ),
            None => format!(
                "no delivery of key {} is recorded on the secret",
                expected.key_id
            ),
        });
    };
    for name in [&names.key_id, &names.secret_key] {
        match github.updated_at(scope, name).await {
            Err(e) => return Holds::Unreadable(e.to_string()),
            // GitHub answers 404 too when the token can no longer see the scope: ask it apart.
            Ok(None) => {
                return match github.public_key(scope).await {
                    Ok(_) => Holds::Missing(format!("the secret {name} does not exist")),
                    Err(e) => Holds::Unreadable(format!(
                        "{scope} cannot be reached with the function's GitHub credentials: {e}"
                    )),
                };
            }
            Ok(Some(at)) if !record.covers(at) => {
                return Holds::Other(format!(
                    "the secret {name} was written at {}, not by this function's delivery of key {} ({}): someone wrote it since, or the delivery did not take",
                    humantime::format_rfc3339_seconds(at),
                    record.key_id,
                    record.window()
                ));
            }
            Ok(Some(_)) => {}
        }
    }
    Holds::Key
}

/// Seals `value` to the scope's public key (a libsodium sealed box): only GitHub can open it.
fn seal(public: &PublicKey, value: &[u8], access: Option<OrgAccess>) -> Result<SealedSecret> {
    let failed = |message: &str| Error::GitHub {
        operation: "seal a secret",
        status: None,
        message: message.to_string(),
    };
    let key = crypto_box::PublicKey::from_slice(&public.key)
        .map_err(|_| failed("the scope's public key is not 32 bytes"))?;
    let sealed = key
        .seal(&mut OsRng, value)
        .map_err(|_| failed("sealing failed"))?;
    Ok(SealedSecret {
        encrypted_value: STANDARD.encode(sealed),
        key_id: public.key_id.clone(),
        access,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_the_scopes_secret_key() {
        let secret_key = crypto_box::SecretKey::generate(&mut OsRng);
        let public = PublicKey {
            key_id: "568250167242549743".into(),
            key: secret_key.public_key().as_bytes().to_vec(),
        };
        let sealed = seal(&public, b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None).unwrap();
        assert_eq!(sealed.key_id, public.key_id);
        let bytes = STANDARD.decode(&sealed.encrypted_value).unwrap();
        assert!(!sealed.encrypted_value.contains("wJalrXUtnFEMI"));
        assert_eq!(
            secret_key.unseal(&bytes).unwrap(),
            b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        );
        let other = crypto_box::SecretKey::generate(&mut OsRng);
        assert!(other.unseal(&bytes).is_err());
    }
}
