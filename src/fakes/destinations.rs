//! SSM Parameter Store and GitHub's Actions secrets in memory. The GitHub fake holds a key pair per
//! scope and opens every sealed box it receives, as GitHub does, so a test reads what was delivered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crypto_box::aead::OsRng;
use secrecy::{ExposeSecret, SecretString};

use super::{fail, lock};
use crate::error::{Error, Result};
use crate::services::{
    GitHubScope, GitHubSecrets, OrgAccess, ParameterStore, PublicKey, SealedSecret,
};

#[derive(Default)]
pub struct ParametersState {
    /// Name to (value, KMS key).
    pub values: HashMap<String, (String, Option<String>)>,
    pub gets: usize,
    pub puts: usize,
    /// The next this many PutParameter calls fail.
    pub fail_puts: usize,
}

#[derive(Clone, Default)]
pub struct FakeParameters(Arc<Mutex<ParametersState>>);

impl FakeParameters {
    pub fn state(&self) -> MutexGuard<'_, ParametersState> {
        lock(&self.0)
    }

    /// The parameter's value, parsed.
    pub fn value(&self, name: &str) -> Option<serde_json::Value> {
        let state = self.state();
        let (text, _) = state.values.get(name)?;
        serde_json::from_str(text).ok()
    }

    /// Someone writes the parameter by hand.
    pub fn overwrite(&self, name: &str, value: serde_json::Value) {
        self.state()
            .values
            .insert(name.to_string(), (value.to_string(), None));
    }
}

impl ParameterStore for FakeParameters {
    async fn get(&self, name: &str) -> Result<Option<SecretString>> {
        let mut state = self.state();
        state.gets += 1;
        Ok(state
            .values
            .get(name)
            .map(|(v, _)| SecretString::from(v.as_str())))
    }

    async fn put(&self, name: &str, value: &SecretString, kms_key_id: Option<&str>) -> Result<()> {
        let mut state = self.state();
        state.puts += 1;
        if state.fail_puts > 0 {
            state.fail_puts -= 1;
            return Err(fail("PutParameter"));
        }
        state.values.insert(
            name.to_string(),
            (
                value.expose_secret().to_string(),
                kms_key_id.map(str::to_string),
            ),
        );
        Ok(())
    }
}

/// A secret GitHub holds: the opened value, and when it was written.
#[derive(Debug, Clone)]
pub struct HeldSecret {
    pub value: String,
    pub updated: SystemTime,
    pub access: Option<OrgAccess>,
}

#[derive(Default)]
pub struct GitHubState {
    keys: HashMap<GitHubScope, (String, crypto_box::SecretKey)>,
    pub secrets: HashMap<(GitHubScope, String), HeldSecret>,
    pub public_key_reads: usize,
    pub puts: usize,
    pub reads: usize,
    /// The next this many PUTs fail with a 500.
    pub fail_puts: usize,
}

#[derive(Clone, Default)]
pub struct FakeGitHub(Arc<Mutex<GitHubState>>);

impl FakeGitHub {
    pub fn state(&self) -> MutexGuard<'_, GitHubState> {
        lock(&self.0)
    }

    pub fn value(&self, scope: &GitHubScope, name: &str) -> Option<String> {
        self.state()
            .secrets
            .get(&(scope.clone(), name.to_string()))
            .map(|s| s.value.clone())
    }

    /// Someone writes the secret by hand, `later` after now.
    pub fn overwrite(&self, scope: &GitHubScope, name: &str, value: &str, later: Duration) {
        self.state().secrets.insert(
            (scope.clone(), name.to_string()),
            HeldSecret {
                value: value.to_string(),
                updated: SystemTime::now() + later,
                access: None,
            },
        );
    }
}

fn refused(status: u16, message: &str) -> Error {
    Error::GitHub {
        operation: "fake",
        status: Some(status),
        message: message.to_string(),
    }
}

impl GitHubSecrets for FakeGitHub {
    async fn public_key(&self, scope: &GitHubScope) -> Result<PublicKey> {
        let mut state = self.state();
        state.public_key_reads += 1;
        let n = state.keys.len();
        let (key_id, secret) = state.keys.entry(scope.clone()).or_insert_with(|| {
            (
                format!("key-{n}"),
                crypto_box::SecretKey::generate(&mut OsRng),
            )
        });
        Ok(PublicKey {
            key_id: key_id.clone(),
            key: secret.public_key().as_bytes().to_vec(),
        })
    }

    async fn repository_id(&self, _owner: &str, repo: &str) -> Result<u64> {
        Ok(repo.bytes().map(u64::from).sum())
    }

    async fn put_secret(
        &self,
        scope: &GitHubScope,
        name: &str,
        sealed: &SealedSecret,
    ) -> Result<Option<SystemTime>> {
        let mut state = self.state();
        state.puts += 1;
        if state.fail_puts > 0 {
            state.fail_puts -= 1;
            return Err(refused(500, "Server Error"));
        }
        let Some((key_id, secret)) = state.keys.get(scope) else {
            return Err(refused(422, "no public key was read for this scope"));
        };
        if *key_id != sealed.key_id {
            return Err(refused(422, "key_id is not the scope's"));
        }
        let bytes = STANDARD
            .decode(&sealed.encrypted_value)
            .map_err(|_| refused(422, "not base64"))?;
        let opened = secret
            .unseal(&bytes)
            .map_err(|_| refused(422, "the box does not open"))?;
        let value = String::from_utf8(opened).map_err(|_| refused(422, "not text"))?;
        state.secrets.insert(
            (scope.clone(), name.to_string()),
            HeldSecret {
                value,
                updated: SystemTime::now(),
                access: sealed.access.clone(),
            },
        );
        Ok(Some(SystemTime::now()))
    }

    async fn updated_at(&self, scope: &GitHubScope, name: &str) -> Result<Option<SystemTime>> {
        let mut state = self.state();
        state.reads += 1;
        Ok(state
            .secrets
            .get(&(scope.clone(), name.to_string()))
            .map(|s| s.updated))
    }
}
