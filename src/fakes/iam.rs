//! IAM in memory: users, their keys (quota included), last use, the credential report.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use secrecy::SecretString;

use super::{Gate, fail, lock};
use crate::error::{Error, Result};
use crate::secret::AccessKey;
use crate::services::{
    CredentialReport, CredentialReports, IamKeys, IamUser, IamUsers, KeyInfo, KeyStatus, KeyUsage,
};

#[derive(Debug, Clone)]
pub struct FakeKey {
    pub user: String,
    pub info: KeyInfo,
    pub secret: String,
    pub last_used: Option<SystemTime>,
}

#[derive(Debug, Default)]
pub struct IamState {
    pub users: Vec<IamUser>,
    /// The next CreateAccessKey makes two keys and answers with the second, as the SDK's retry of
    /// a call whose first answer was lost does.
    pub twin_next_create: bool,
    pub keys: Vec<FakeKey>,
    pub made: usize,
    pub writes: usize,
    /// What GetCredentialReport answers.
    pub report: Option<String>,
    /// The account, when not the function's own (see [`FakeIam::member`]).
    pub account: Option<String>,
}

#[derive(Clone, Default)]
pub struct FakeIam(pub Arc<Mutex<IamState>>, Option<Arc<Gate>>);

impl FakeIam {
    pub fn state(&self) -> MutexGuard<'_, IamState> {
        lock(&self.0)
    }

    /// Another handle on the same account whose calls pass through `gate`.
    pub fn gated(&self, gate: &Arc<Gate>) -> FakeIam {
        FakeIam(self.0.clone(), Some(gate.clone()))
    }

    /// Marks the key as used now, as a consumer signing a request with it would.
    pub fn use_key(&self, key_id: &str) {
        if let Some(key) = self.state().keys.iter_mut().find(|k| k.info.id == key_id) {
            key.last_used = Some(SystemTime::now());
        }
    }

    pub fn set_status(&self, key_id: &str, status: KeyStatus) {
        if let Some(key) = self.state().keys.iter_mut().find(|k| k.info.id == key_id) {
            key.info.status = status;
        }
    }

    /// IAM of another account: its users' ARNs name it, and its key ids differ from the
    /// function's own account's.
    pub fn member(account: &str) -> FakeIam {
        let iam = FakeIam::default();
        iam.state().account = Some(account.to_string());
        iam
    }

    pub fn add_user(&self, name: &str, path: &str) {
        let account = self.state().account.clone();
        let account = account.as_deref().unwrap_or("123456789012");
        self.state().users.push(IamUser {
            name: name.into(),
            arn: format!("arn:aws:iam::{account}:user{path}{name}"),
            path: path.into(),
            tags: Vec::new(),
        });
    }

    /// Makes a key as IAM does, quota included.
    pub fn make_key(&self, user: &str) -> Result<AccessKey> {
        let mut state = self.state();
        if state.keys.iter().filter(|k| k.user == user).count() >= 2 {
            return Err(Error::Aws {
                operation: "CreateAccessKey",
                code: Some("LimitExceeded".into()),
                status: Some(409),
                message: "Cannot exceed quota for AccessKeysPerUser: 2".into(),
            });
        }
        state.made += 1;
        state.writes += 1;
        let id = match &state.account {
            Some(account) => format!(
                "AKIAMEMBER{}X{:04}",
                &account[account.len() - 4..],
                state.made
            ),
            None => format!("AKIAFAKE{:04}", state.made),
        };
        let secret = format!("fake-secret-{:04}-xxxxxxxxxxxxxxxxxxxxxxxxxx", state.made);
        state.keys.push(FakeKey {
            user: user.into(),
            info: KeyInfo {
                id: id.clone(),
                status: KeyStatus::Active,
                created: Some(SystemTime::now()),
            },
            secret: secret.clone(),
            last_used: None,
        });
        Ok(AccessKey {
            id,
            secret: SecretString::from(secret),
        })
    }

    /// Writes the credential report IAM would generate now from the users and keys (for the
    /// audit's tests: users made long ago, no password).
    pub fn refresh_report(&self) {
        let date = |t: Option<SystemTime>| match t {
            Some(t) => humantime::format_rfc3339_seconds(t).to_string(),
            None => "N/A".to_string(),
        };
        let long_ago = SystemTime::now() - std::time::Duration::from_secs(400 * 86_400);
        let mut csv = String::from(
            "user,arn,user_creation_time,password_enabled,password_last_used,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date\n",
        );
        let mut state = self.state();
        for user in &state.users {
            let keys: Vec<&FakeKey> = state.keys.iter().filter(|k| k.user == user.name).collect();
            let slot = |i: usize| match keys.get(i) {
                Some(k) => format!(
                    "{},{},{}",
                    k.info.status == KeyStatus::Active,
                    date(k.info.created),
                    date(k.last_used)
                ),
                None => "false,N/A,N/A".to_string(),
            };
            csv.push_str(&format!(
                "{},{},{},false,N/A,false,{},{}\n",
                user.name,
                user.arn,
                date(Some(long_ago)),
                slot(0),
                slot(1)
            ));
        }
        state.report = Some(csv);
    }

    /// The user's keys as `(id, status)`, oldest first.
    pub fn keys_of(&self, user: &str) -> Vec<(String, KeyStatus)> {
        self.state()
            .keys
            .iter()
            .filter(|k| k.user == user)
            .map(|k| (k.info.id.clone(), k.info.status))
            .collect()
    }
}

impl IamUsers for FakeIam {
    async fn user(&self, name: &str) -> Result<Option<IamUser>> {
        Gate::pass(&self.1).await;
        Ok(self.state().users.iter().find(|u| u.name == name).cloned())
    }

    async fn create_user(&self, name: &str, path: &str) -> Result<IamUser> {
        Gate::pass(&self.1).await;
        self.add_user(name, path);
        self.state().writes += 1;
        Ok(self.state().users.last().cloned().expect("just added"))
    }

    async fn tag_user(&self, name: &str, key: &str, value: &str) -> Result<()> {
        Gate::pass(&self.1).await;
        let mut state = self.state();
        state.writes += 1;
        let user = state
            .users
            .iter_mut()
            .find(|u| u.name == name)
            .ok_or_else(|| fail("TagUser"))?;
        user.tags.retain(|(k, _)| k != key);
        user.tags.push((key.into(), value.into()));
        Ok(())
    }

    async fn users_tagged(&self, key: &str) -> Result<Vec<String>> {
        Gate::pass(&self.1).await;
        Ok(self
            .state()
            .users
            .iter()
            .filter(|u| u.tags.iter().any(|(k, _)| k == key))
            .map(|u| u.name.clone())
            .collect())
    }
}

impl IamKeys for FakeIam {
    async fn list_keys(&self, user: &str) -> Result<Vec<KeyInfo>> {
        Gate::pass(&self.1).await;
        Ok(self
            .state()
            .keys
            .iter()
            .filter(|k| k.user == user)
            .map(|k| k.info.clone())
            .collect())
    }

    async fn create_key(&self, user: &str) -> Result<AccessKey> {
        Gate::pass(&self.1).await;
        if std::mem::take(&mut self.state().twin_next_create) {
            self.make_key(user)?;
        }
        self.make_key(user)
    }

    async fn deactivate_key(&self, user: &str, key_id: &str) -> Result<()> {
        Gate::pass(&self.1).await;
        let mut state = self.state();
        state.writes += 1;
        let key = state
            .keys
            .iter_mut()
            .find(|k| k.user == user && k.info.id == key_id)
            .ok_or_else(|| fail("UpdateAccessKey"))?;
        key.info.status = KeyStatus::Inactive;
        Ok(())
    }

    async fn delete_key(&self, user: &str, key_id: &str) -> Result<()> {
        Gate::pass(&self.1).await;
        let mut state = self.state();
        state.writes += 1;
        state
            .keys
            .retain(|k| !(k.user == user && k.info.id == key_id));
        Ok(())
    }

    async fn last_used(&self, key_id: &str) -> Result<Option<KeyUsage>> {
        Gate::pass(&self.1).await;
        Ok(self
            .state()
            .keys
            .iter()
            .find(|k| k.info.id == key_id)
            .and_then(|k| k.last_used)
            .map(|when| KeyUsage {
                when,
                service: Some("s3".into()),
                region: Some("eu-west-1".into()),
            }))
    }
}

impl CredentialReports for FakeIam {
    async fn generate_credential_report(&self) -> Result<bool> {
        Ok(true)
    }

    async fn credential_report(&self) -> Result<CredentialReport> {
        Ok(CredentialReport {
            generated: Some(SystemTime::now()),
            csv: self.state().report.clone().unwrap_or_default(),
        })
    }
}
