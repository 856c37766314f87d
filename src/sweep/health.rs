//! A secret's health, found in a deep look beside its previous key: a current key that is missing
//! or not Active (CurrentKeyBroken), and active keys of the user that no version knows (UnknownKey).

use super::{Finding, FindingKind, Summary};
use crate::engine::Rotator;
use crate::error::Result;
use crate::secret::KeySecret;
use crate::services::{
    AWSCURRENT, AWSPREVIOUS, KeyInfo, KeyStatus, SecretSummary, SecretVersions, Services,
};

/// CurrentKeyBroken: the key AWSCURRENT names is missing or not Active, so its consumers fail now.
pub fn health(secret: &SecretSummary, current: &KeySecret, keys: &[KeyInfo], report: &mut Summary) {
    let finding = |kind, detail: String| Finding {
        secret_id: secret.name.clone(),
        kind,
        detail,
    };
    if let Some(key_id) = current.key_id() {
        match keys.iter().find(|k| k.id == key_id) {
            Some(k) if k.status == KeyStatus::Active => {}
            Some(k) => report.findings.push(finding(
                FindingKind::CurrentKeyBroken,
                format!(
                    "AWSCURRENT's key {key_id} is {}: consumers cannot sign with it",
                    k.status.as_str()
                ),
            )),
            None => report.findings.push(finding(
                FindingKind::CurrentKeyBroken,
                format!(
                    "AWSCURRENT's key {key_id} no longer exists: consumers cannot sign with it"
                ),
            )),
        }
    }
}

/// UnknownKey: an active key of the user that neither AWSCURRENT, AWSPREVIOUS nor any older
/// version holds. Older versions are read only when such a key turns up.
pub async fn unknown_keys<X: Services>(
    rotator: &Rotator<X>,
    secret: &SecretSummary,
    keys: &[KeyInfo],
    current: &KeySecret,
    previous_key: Option<&str>,
    report: &mut Summary,
) -> Result<()> {
    let strangers: Vec<&KeyInfo> = keys
        .iter()
        .filter(|k| k.status == KeyStatus::Active)
        .filter(|k| Some(k.id.as_str()) != current.key_id() && Some(k.id.as_str()) != previous_key)
        .collect();
    if strangers.is_empty() {
        return Ok(());
    }
    let secrets = rotator.secrets();
    let mut held = Vec::new();
    for version in secrets.list_versions(&secret.arn).await? {
        if version.has(AWSCURRENT) || version.has(AWSPREVIOUS) {
            continue;
        }
        if let Some(value) = rotator
            .read_key_secret(&secret.arn, &version.id)
            .await?
            .secret
        {
            held.extend(value.key_id().map(str::to_string));
        }
    }
    for key in strangers.into_iter().filter(|k| !held.contains(&k.id)) {
        report.findings.push(Finding {
            secret_id: secret.name.clone(),
            kind: FindingKind::UnknownKey,
            detail: format!(
                "user {} holds the active key {} that no version of the secret knows (made by hand?)",
                current.user_name(),
                key.id
            ),
        });
    }
    Ok(())
}
