//! In-memory Secrets Manager, IAM and STS for the steps' unit tests. Each is a cheap handle to shared
//! state, so a test keeps one to arrange and inspect while the rotator holds another.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::secret::AccessKey;
use crate::services::{
    CheckError, CredentialReport, Iam, IamUser, KeyChecker, KeyInfo, KeyStatus, KeyUsage, Schedule,
    SecretInfo, SecretStore, SecretSummary, SecretVersion, StoredValue,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Holds one rotator's calls at a chosen point, so a test can run another rotator meanwhile:
/// the `at`-th call made through handles sharing this gate waits until [`Gate::resume`].
#[derive(Default)]
pub struct Gate {
    calls: AtomicUsize,
    at: usize,
    reached: Notify,
    resume: Notify,
}

impl Gate {
    pub fn pause_at(at: usize) -> Arc<Gate> {
        Arc::new(Gate {
            at,
            ..Gate::default()
        })
    }

    /// Resolves once a call has reached the pause point.
    pub async fn reached(&self) {
        self.reached.notified().await
    }

    pub fn resume(&self) {
        self.resume.notify_one()
    }

    async fn pass(gate: &Option<Arc<Gate>>) {
        if let Some(gate) = gate {
            let n = gate.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n == gate.at {
                gate.reached.notify_one();
                gate.resume.notified().await;
            }
        }
    }
}

fn fail(operation: &'static str) -> Error {
    Error::Aws {
        operation,
        code: Some("InternalFailure".into()),
        status: Some(500),
        message: "injected by the test".into(),
    }
}

#[derive(Debug, Clone)]
pub struct FakeVersion {
    pub id: String,
    pub labels: Vec<String>,
    pub value: Option<String>,
    pub created: SystemTime,
}

#[derive(Debug, Default)]
pub struct SecretsState {
    pub rotation_enabled: bool,
    pub versions: Vec<FakeVersion>,
    /// PutSecretValue fails; with `put_lands_anyway` the value is stored all the same (a lost answer).
    pub fail_put: bool,
    pub put_lands_anyway: bool,
    pub writes: usize,
    pub tags: Vec<(String, String)>,
    /// Every call, by operation name, for tests that count reads.
    pub calls: Vec<&'static str>,
    /// What ListSecrets shows of the secret.
    pub name: String,
    pub rotation_lambda_arn: Option<String>,
    pub last_rotated: Option<SystemTime>,
    pub next_rotation: Option<SystemTime>,
    pub schedule: Option<Schedule>,
}

/// Shared state, and the gate of this handle (none for the test's own handle).
#[derive(Clone, Default)]
pub struct FakeSecrets(pub Arc<Mutex<SecretsState>>, Option<Arc<Gate>>);

impl FakeSecrets {
    /// A secret as RotateSecret leaves it: rotation on, `current` under AWSCURRENT in version
    /// `current_version`, and an empty AWSPENDING version under `token`.
    pub fn rotation_started(current_version: &str, current: String, token: &str) -> FakeSecrets {
        let secrets = FakeSecrets::default();
        {
            let mut state = secrets.state();
            state.rotation_enabled = true;
            for (id, label, value) in [
                (current_version, "AWSCURRENT", Some(current)),
                (token, "AWSPENDING", None),
            ] {
                state.versions.push(FakeVersion {
                    id: id.into(),
                    labels: vec![label.into()],
                    value,
                    created: SystemTime::now(),
                });
            }
        }
        secrets
    }

    pub fn state(&self) -> MutexGuard<'_, SecretsState> {
        lock(&self.0)
    }

    /// What DescribeSecret would answer now, without counting as a call.
    pub fn describe_now(&self) -> SecretInfo {
        let state = self.state();
        SecretInfo {
            arn: String::new(),
            rotation_enabled: state.rotation_enabled,
            versions: state
                .versions
                .iter()
                .filter(|v| !v.labels.is_empty())
                .map(|v| SecretVersion {
                    id: v.id.clone(),
                    labels: v.labels.clone(),
                    created: Some(v.created),
                })
                .collect(),
            tags: state.tags.clone(),
        }
    }

    /// Another handle on the same secret whose calls pass through `gate`.
    pub fn gated(&self, gate: &Arc<Gate>) -> FakeSecrets {
        FakeSecrets(self.0.clone(), Some(gate.clone()))
    }

    async fn enter(&self, operation: &'static str) {
        Gate::pass(&self.1).await;
        self.state().calls.push(operation);
    }

    pub fn value_labelled(&self, label: &str) -> Option<String> {
        let state = self.state();
        state
            .versions
            .iter()
            .find(|v| v.labels.iter().any(|l| l == label))
            .and_then(|v| v.value.clone())
    }

    pub fn labels_of(&self, id: &str) -> Vec<String> {
        let state = self.state();
        let mut labels = state
            .versions
            .iter()
            .find(|v| v.id == id)
            .map(|v| v.labels.clone())
            .unwrap_or_default();
        labels.sort();
        labels
    }
}

impl SecretStore for FakeSecrets {
    async fn describe(&self, secret_id: &str) -> Result<SecretInfo> {
        self.enter("DescribeSecret").await;
        let state = self.state();
        Ok(SecretInfo {
            arn: secret_id.to_string(),
            rotation_enabled: state.rotation_enabled,
            versions: state
                .versions
                .iter()
                .filter(|v| !v.labels.is_empty())
                .map(|v| SecretVersion {
                    id: v.id.clone(),
                    labels: v.labels.clone(),
                    created: None,
                })
                .collect(),
            tags: state.tags.clone(),
        })
    }

    async fn list_versions(&self, _secret_id: &str) -> Result<Vec<SecretVersion>> {
        self.enter("ListSecretVersionIds").await;
        Ok(self
            .state()
            .versions
            .iter()
            .map(|v| SecretVersion {
                id: v.id.clone(),
                labels: v.labels.clone(),
                created: Some(v.created),
            })
            .collect())
    }

    async fn value(
        &self,
        _secret_id: &str,
        version_id: Option<&str>,
        label: Option<&str>,
    ) -> Result<Option<StoredValue>> {
        self.enter("GetSecretValue").await;
        let state = self.state();
        let found = state.versions.iter().find(|v| {
            version_id.is_none_or(|id| v.id == id)
                && label.is_none_or(|l| v.labels.iter().any(|x| x == l))
        });
        Ok(found.and_then(|v| {
            Some(StoredValue {
                version_id: v.id.clone(),
                created: Some(v.created),
                text: SecretString::from(v.value.clone()?),
            })
        }))
    }

    async fn put_pending(
        &self,
        _secret_id: &str,
        token: &str,
        value: &SecretString,
        _rt: Option<&str>,
    ) -> Result<()> {
        self.enter("PutSecretValue").await;
        let mut state = self.state();
        if state.fail_put && !state.put_lands_anyway {
            return Err(fail("PutSecretValue"));
        }
        // As AWS: a version's value never changes once stored.
        let value_text = value.expose_secret();
        if let Some(existing) = state
            .versions
            .iter()
            .find(|v| v.id == token)
            .and_then(|v| v.value.as_deref())
        {
            return if existing == value_text {
                Ok(())
            } else {
                Err(Error::Aws {
                    operation: "PutSecretValue",
                    code: Some("ResourceExistsException".into()),
                    status: Some(400),
                    message: "a version with this token already holds another value".into(),
                })
            };
        }
        state.writes += 1;
        for v in state.versions.iter_mut() {
            v.labels.retain(|l| l != "AWSPENDING");
        }
        let value = Some(value.expose_secret().to_string());
        match state.versions.iter_mut().find(|v| v.id == token) {
            Some(v) => {
                v.value = value;
                v.labels.push("AWSPENDING".into());
            }
            None => state.versions.push(FakeVersion {
                id: token.into(),
                labels: vec!["AWSPENDING".into()],
                value,
                created: SystemTime::now(),
            }),
        }
        if state.fail_put {
            return Err(fail("PutSecretValue"));
        }
        Ok(())
    }

    async fn move_label(
        &self,
        _secret_id: &str,
        label: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<()> {
        self.enter("UpdateSecretVersionStage").await;
        let mut state = self.state();
        state.writes += 1;
        if let Some(from) = from {
            if let Some(v) = state.versions.iter_mut().find(|v| v.id == from) {
                v.labels.retain(|l| l != label);
                if label == "AWSCURRENT" {
                    v.labels.push("AWSPREVIOUS".into());
                }
            }
            if label == "AWSCURRENT" {
                for v in state.versions.iter_mut().filter(|v| v.id != from) {
                    v.labels.retain(|l| l != "AWSPREVIOUS");
                }
            }
        }
        if let Some(to) = to {
            let v = state
                .versions
                .iter_mut()
                .find(|v| v.id == to)
                .ok_or_else(|| fail("UpdateSecretVersionStage"))?;
            v.labels.push(label.into());
        }
        Ok(())
    }

    async fn tag(&self, _secret_id: &str, key: &str, value: &str) -> Result<()> {
        self.enter("TagResource").await;
        let mut state = self.state();
        state.writes += 1;
        state.tags.retain(|(k, _)| k != key);
        state.tags.push((key.into(), value.into()));
        Ok(())
    }

    async fn untag(&self, _secret_id: &str, key: &str) -> Result<()> {
        self.enter("UntagResource").await;
        let mut state = self.state();
        state.writes += 1;
        state.tags.retain(|(k, _)| k != key);
        Ok(())
    }

    /// The one fake secret, named `name`, with `last_rotated` and `next_rotation` from the state.
    async fn list_secrets(&self, name_prefix: &str) -> Result<Vec<SecretSummary>> {
        self.enter("ListSecrets").await;
        let state = self.state();
        if !state.name.starts_with(name_prefix) {
            return Ok(Vec::new());
        }
        Ok(vec![SecretSummary {
            arn: state.name.clone(),
            name: state.name.clone(),
            rotation_enabled: state.rotation_enabled,
            rotation_lambda_arn: state.rotation_lambda_arn.clone(),
            last_rotated: state.last_rotated,
            next_rotation: state.next_rotation,
            versions: state
                .versions
                .iter()
                .filter(|v| !v.labels.is_empty())
                .map(|v| SecretVersion {
                    id: v.id.clone(),
                    labels: v.labels.clone(),
                    created: None,
                })
                .collect(),
            tags: state.tags.clone(),
        }])
    }

    async fn current_values(&self, name_prefix: &str) -> Result<Vec<(String, SecretString)>> {
        self.enter("BatchGetSecretValue").await;
        let state = self.state();
        if !state.name.starts_with(name_prefix) {
            return Ok(Vec::new());
        }
        Ok(state
            .versions
            .iter()
            .filter(|v| v.labels.iter().any(|l| l == "AWSCURRENT"))
            .filter_map(|v| Some((state.name.clone(), SecretString::from(v.value.clone()?))))
            .collect())
    }

    async fn create_secret(&self, name: &str, value: &SecretString) -> Result<String> {
        self.enter("CreateSecret").await;
        let mut state = self.state();
        state.writes += 1;
        state.name = name.into();
        state.versions.push(FakeVersion {
            id: "00000000-1111-2222-3333-444444444444".into(),
            labels: vec!["AWSCURRENT".into()],
            value: Some(value.expose_secret().to_string()),
            created: SystemTime::now(),
        });
        Ok(name.into())
    }

    async fn attach_rotation(
        &self,
        _secret_id: &str,
        function_arn: &str,
        schedule: &Schedule,
    ) -> Result<()> {
        self.enter("RotateSecret").await;
        let mut state = self.state();
        state.writes += 1;
        state.rotation_enabled = true;
        state.rotation_lambda_arn = Some(function_arn.into());
        state.schedule = Some(schedule.clone());
        Ok(())
    }
}

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

    pub fn add_user(&self, name: &str, path: &str) {
        self.state().users.push(IamUser {
            name: name.into(),
            arn: format!("arn:aws:iam::123456789012:user{path}{name}"),
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
        let id = format!("AKIAFAKE{:04}", state.made);
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

impl Iam for FakeIam {
    async fn user(&self, name: &str) -> Result<Option<IamUser>> {
        Gate::pass(&self.1).await;
        Ok(self.state().users.iter().find(|u| u.name == name).cloned())
    }

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

/// STS: answers with the owner's ARN, after refusing each key `refusals` times as IAM does at first.
#[derive(Clone)]
pub struct FakeSts {
    pub iam: FakeIam,
    pub refusals: Arc<Mutex<u32>>,
    pub calls: Arc<Mutex<u32>>,
}

impl FakeSts {
    pub fn new(iam: FakeIam) -> Self {
        FakeSts {
            iam,
            refusals: Arc::default(),
            calls: Arc::default(),
        }
    }
}

impl KeyChecker for FakeSts {
    async fn caller_arn(&self, key: &AccessKey) -> Result<String, CheckError> {
        *lock(&self.calls) += 1;
        {
            let mut refusals = lock(&self.refusals);
            if *refusals > 0 {
                *refusals -= 1;
                return Err(CheckError::NotYetValid {
                    code: "InvalidClientTokenId".into(),
                });
            }
        }
        let state = self.iam.state();
        let owner = state
            .keys
            .iter()
            .find(|k| k.info.id == key.id && k.secret == key.secret.expose_secret())
            .map(|k| k.user.clone())
            .ok_or(CheckError::NotYetValid {
                code: "InvalidClientTokenId".into(),
            })?;
        let user = state
            .users
            .iter()
            .find(|u| u.name == owner)
            .ok_or(CheckError::NotYetValid {
                code: "InvalidClientTokenId".into(),
            })?;
        Ok(user.arn.clone())
    }
}
