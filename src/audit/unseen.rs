//! Findings about what the audit could not see, so that it never passes it: a secret naming a
//! key IAM does not have, a secret it could not read, a report older than a rotation.

use super::checks::{Controls, Finding, KeyRef, Severity, finding};
use super::credential_report::UserRow;
use super::matching::UserKeys;
use super::secrets::Unreadable;

/// The user an unreadable secret is probably for: `adopt` names secrets `<prefix><user>`.
pub fn user_of<'a>(secret: &str, prefix: &str, rows: &'a [UserRow]) -> Option<&'a UserRow> {
    let user = secret.strip_prefix(prefix)?;
    rows.iter().find(|r| !r.is_root() && r.user == user)
}

/// The check a secret the audit cannot read raises.
pub const UNREADABLE_SECRET: &str = "unreadable-secret";

pub fn findings(
    rows: &[UserRow],
    looked: &[(String, UserKeys)],
    unreadable: &[Unreadable],
    prefix: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (user, keys) in looked {
        let Some(row) = rows.iter().find(|r| &r.user == user) else {
            continue;
        };
        for (key_id, managed) in &keys.missing {
            out.push(Finding {
                key: Some(KeyRef {
                    slot: None,
                    id: Some(key_id.clone()),
                }),
                detail: format!(
                    "secret {} names access key {key_id}, which user {user} does not have: consumers reading it fail",
                    managed.secret
                ),
                remedy: format!(
                    "iam-key-rotator-cli rotate --secret-id {} (makes a key the secret names)",
                    managed.secret
                ),
                ..finding(
                    row,
                    "secret-names-missing-key",
                    Severity::High,
                    Controls::default(),
                )
            });
        }
        if let Some(why) = &keys.stale {
            out.push(Finding {
                detail: why.clone(),
                remedy: "audit again once IAM has made a newer credential report (it makes one at most every 4 hours); until then this user's keys are not checked".into(),
                ..finding(row, "stale-report", Severity::Medium, Controls::default())
            });
        }
    }
    for secret in unreadable {
        let row = user_of(&secret.name, prefix, rows);
        let remedy = if secret.code == "DecryptionFailure" || secret.code.contains("AccessDenied") {
            format!(
                "let the audit's role kms:Decrypt the secret's KMS key through Secrets Manager (template: set KmsKeyArn), or fix the key's policy; then audit again: aws secretsmanager describe-secret --secret-id {} shows its KmsKeyId",
                secret.name
            )
        } else {
            format!(
                "find why AWS refuses to read it (aws secretsmanager get-secret-value --secret-id {}), then audit again",
                secret.name
            )
        };
        let user = row.map_or_else(|| "its user".to_string(), |r| format!("user {}", r.user));
        out.push(Finding {
            user: row.map(|r| r.user.clone()).unwrap_or_default(),
            arn: row.map(|r| r.arn.clone()).unwrap_or_default(),
            check: UNREADABLE_SECRET,
            severity: Severity::High,
            controls: Controls::default(),
            key: None,
            detail: format!(
                "secret {} could not be read ({}: {}): the audit cannot tell whether {user}'s keys are under rotation",
                secret.name, secret.code, secret.message
            ),
            remedy,
            secret: Some(secret.name.clone()),
        });
    }
    out
}
