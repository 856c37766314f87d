//! Secrets Manager in memory: one secret's versions, labels, tags and listing.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};

use super::{Gate, fail, lock};
use crate::error::{Error, Result};
use crate::services::{
    CurrentValue, CurrentValues, Schedule, SecretCatalog, SecretInfo, SecretSummary, SecretTags,
    SecretVersion, SecretVersions, StoredValue, UnreadableSecret,
};

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
    /// BatchGetSecretValue answers an `Errors` entry (code, message) for the secret instead of its value.
    pub unreadable: Option<(String, String)>,
    /// What ListSecrets answers while set: the secret as it was a moment ago, as AWS's listing
    /// may lag by minutes.
    pub listing_snapshot: Option<SecretSummary>,
    /// What GetResourcePolicy answers.
    pub resource_policy: Option<String>,
    /// Other secrets ListSecrets shows beside this one (no values: the listing alone).
    pub more_listed: Vec<SecretSummary>,
}

impl SecretsState {
    /// The secret as ListSecrets shows it now.
    fn summary(&self) -> SecretSummary {
        SecretSummary {
            arn: self.name.clone(),
            name: self.name.clone(),
            rotation_enabled: self.rotation_enabled,
            rotation_lambda_arn: self.rotation_lambda_arn.clone(),
            last_rotated: self.last_rotated,
            next_rotation: self.next_rotation,
            versions: self.labelled_versions(),
            tags: self.tags.clone(),
        }
    }

    /// The versions that carry a label, as DescribeSecret and ListSecrets show them (no dates).
    fn labelled_versions(&self) -> Vec<SecretVersion> {
        self.versions
            .iter()
            .filter(|v| !v.labels.is_empty())
            .map(|v| SecretVersion {
                id: v.id.clone(),
                labels: v.labels.clone(),
                created: None,
            })
            .collect()
    }
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
            rotation_lambda_arn: state.rotation_lambda_arn.clone(),
            versions: state.labelled_versions(),
            tags: state.tags.clone(),
        }
    }

    /// From now on ListSecrets answers with the secret as it is now, until [`Self::thaw_listing`].
    pub fn freeze_listing(&self) {
        let mut state = self.state();
        state.listing_snapshot = Some(state.summary());
    }

    pub fn thaw_listing(&self) {
        self.state().listing_snapshot = None;
    }

    /// Another handle on the same secret whose calls pass through `gate`.
    pub fn gated(&self, gate: &Arc<Gate>) -> FakeSecrets {
        FakeSecrets(self.0.clone(), Some(gate.clone()))
    }

    async fn enter(&self, operation: &'static str) {
        Gate::pass(&self.1).await;
        self.state().calls.push(operation);
    }

    /// Stores `text` as version `id`'s value, as someone who may write the secret could.
    pub fn set_value(&self, id: &str, text: impl Into<String>) {
        let mut state = self.state();
        let version = state.versions.iter_mut().find(|v| v.id == id);
        version.expect("a version the test made").value = Some(text.into());
    }

    /// Rewrites version `id`'s JSON value with `edit`, as someone editing the secret by hand.
    pub fn edit_value(&self, id: &str, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut state = self.state();
        let version = state.versions.iter_mut().find(|v| v.id == id);
        let version = version.expect("a version the test made");
        let mut value: serde_json::Value =
            serde_json::from_str(version.value.as_deref().unwrap_or("{}")).unwrap_or_default();
        edit(&mut value);
        version.value = Some(value.to_string());
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

impl SecretVersions for FakeSecrets {
    async fn describe(&self, secret_id: &str) -> Result<SecretInfo> {
        self.enter("DescribeSecret").await;
        let state = self.state();
        Ok(SecretInfo {
            arn: secret_id.to_string(),
            rotation_enabled: state.rotation_enabled,
            rotation_lambda_arn: state.rotation_lambda_arn.clone(),
            versions: state.labelled_versions(),
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
}

impl SecretTags for FakeSecrets {
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
}

impl SecretCatalog for FakeSecrets {
    /// The one fake secret, named `name`, with `last_rotated` and `next_rotation` from the state.
    async fn list_secrets(&self, name_prefix: &str) -> Result<Vec<SecretSummary>> {
        self.enter("ListSecrets").await;
        let state = self.state();
        if !state.name.starts_with(name_prefix) {
            return Ok(Vec::new());
        }
        let mut listed = vec![
            state
                .listing_snapshot
                .clone()
                .unwrap_or_else(|| state.summary()),
        ];
        listed.extend(state.more_listed.iter().cloned());
        Ok(listed)
    }

    async fn current_values(&self, name_prefix: &str) -> Result<CurrentValues> {
        self.enter("BatchGetSecretValue").await;
        let state = self.state();
        if !state.name.starts_with(name_prefix) {
            return Ok(CurrentValues::default());
        }
        if let Some((code, message)) = &state.unreadable {
            return Ok(CurrentValues {
                values: Vec::new(),
                unreadable: vec![UnreadableSecret {
                    secret_id: state.name.clone(),
                    code: code.clone(),
                    message: message.clone(),
                }],
            });
        }
        let values = state
            .versions
            .iter()
            .filter(|v| v.labels.iter().any(|l| l == "AWSCURRENT"))
            .filter_map(|v| {
                Some(CurrentValue {
                    arn: state.name.clone(),
                    name: state.name.clone(),
                    created: Some(v.created),
                    text: SecretString::from(v.value.clone()?),
                })
            })
            .collect();
        Ok(CurrentValues {
            values,
            unreadable: Vec::new(),
        })
    }

    async fn create_secret(
        &self,
        name: &str,
        value: &SecretString,
        tags: &[(&str, &str)],
    ) -> Result<String> {
        self.enter("CreateSecret").await;
        let mut state = self.state();
        state.writes += 1;
        state.name = name.into();
        state.tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        state.versions.push(FakeVersion {
            id: "00000000-1111-2222-3333-444444444444".into(),
            labels: vec!["AWSCURRENT".into()],
            value: Some(value.expose_secret().to_string()),
            created: SystemTime::now(),
        });
        Ok(name.into())
    }

    async fn resource_policy(&self, _secret_id: &str) -> Result<Option<String>> {
        self.enter("GetResourcePolicy").await;
        Ok(self.state().resource_policy.clone())
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
