//! A secret's state at a glance: its versions and labels beside its user's keys.

use serde::Serialize;

use crate::dates::epoch_seconds;
use crate::engine::Rotator;
use crate::error::Result;
use crate::services::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, IamKeys, IamUsers, KeyStatus, SecretVersions, Services,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub secret_id: String,
    pub rotation_enabled: bool,
    /// The user AWSCURRENT names; `None` when its value is not a key secret.
    pub user: Option<String>,
    /// The account of that user, when the secret names another than its own (`AccountId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub versions: Vec<VersionRow>,
    pub keys: Vec<KeyRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRow {
    pub version_id: String,
    pub labels: Vec<String>,
    pub access_key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    pub access_key_id: String,
    pub status: KeyStatus,
    /// Seconds since the epoch.
    pub created: Option<u64>,
    pub last_used: Option<u64>,
    /// The labels of the versions that hold this key; empty when the secret does not know it.
    pub labels: Vec<String>,
}

/// Reads the secret's labelled versions and its user's keys. Changes nothing.
pub async fn status<X: Services>(rotator: &Rotator<X>, secret_id: &str) -> Result<Status> {
    let secrets = rotator.secrets();
    let info = secrets.describe(secret_id).await?;
    let mut versions = Vec::new();
    let mut current = None;
    for version in &info.versions {
        let parsed = rotator
            .read_key_secret(&info.arn, &version.id)
            .await?
            .secret;
        if version.has(AWSCURRENT) {
            current = parsed.clone();
        }
        let mut labels = version.labels.clone();
        labels.sort();
        versions.push(VersionRow {
            version_id: version.id.clone(),
            labels,
            access_key_id: parsed.and_then(|s| s.key_id().map(str::to_string)),
        });
    }
    // Current first, then previous, then the rest.
    versions.sort_by_key(|v| (label_rank(&v.labels), v.version_id.clone()));

    let mut keys = Vec::new();
    let user = current.as_ref().map(|c| c.user_name().to_string());
    if let (Some(current), Some(name)) = (&current, &user)
        && let iam = rotator.iam_for(&info.arn, current).await?
        && iam.user(name).await?.is_some()
    {
        for key in iam.list_keys(name).await? {
            let labels = versions
                .iter()
                .filter(|v| v.access_key_id.as_deref() == Some(key.id.as_str()))
                .flat_map(|v| v.labels.iter().cloned())
                .collect();
            keys.push(KeyRow {
                last_used: iam.last_used(&key.id).await?.map(|u| epoch_seconds(u.when)),
                access_key_id: key.id,
                status: key.status,
                created: key.created.map(epoch_seconds),
                labels,
            });
        }
        keys.sort_by_key(|k| (k.created, k.access_key_id.clone()));
    }

    Ok(Status {
        secret_id: secret_id.to_string(),
        rotation_enabled: info.rotation_enabled,
        user,
        account_id: current.and_then(|c| c.account_id().map(str::to_string)),
        versions,
        keys,
    })
}

fn label_rank(labels: &[String]) -> u8 {
    let has = |l: &str| labels.iter().any(|x| x == l);
    if has(AWSCURRENT) {
        0
    } else if has(AWSPENDING) {
        1
    } else if has(AWSPREVIOUS) {
        2
    } else {
        3
    }
}
