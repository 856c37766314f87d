//! Whether adopt may trust an existing secret: that it exists, and who else its resource policy
//! lets read it, said for the operator who vouches for it.

use crate::error::{Error, Result};
use crate::services::{SecretInfo, SecretStore};

/// Whether a secret exists under this ARN or name (a binding to a deleted one may be replaced).
pub(super) async fn secret_exists<S: SecretStore>(secrets: &S, id: &str) -> Result<bool> {
    Ok(described(secrets, id).await?.is_some())
}

/// The secret named exactly `name`, read with DescribeSecret: ListSecrets may be minutes behind,
/// and a second adopt run must find the secret the first one made.
pub(super) async fn secret_named<S: SecretStore>(
    secrets: &S,
    name: &str,
) -> Result<Option<SecretInfo>> {
    Ok(described(secrets, name)
        .await?
        .filter(|s| names_exactly(&s.arn, name)))
}

/// Whether `arn` is the secret named `name` (its ARN ends in the name, "-" and six characters):
/// AWS may take a name ending in "-" and six characters for a partial ARN of another secret.
fn names_exactly(arn: &str, name: &str) -> bool {
    arn.rsplit_once(":secret:")
        .and_then(|(_, rest)| rest.strip_prefix(name)?.strip_prefix('-'))
        .is_some_and(|suffix| suffix.len() == 6)
}

async fn described<S: SecretStore>(secrets: &S, id: &str) -> Result<Option<SecretInfo>> {
    match secrets.describe(id).await {
        Ok(info) => Ok(Some(info)),
        Err(Error::Aws {
            code: Some(code), ..
        }) if code == "ResourceNotFoundException" => Ok(None),
        Err(e) => Err(e),
    }
}

/// Who else a resource policy lets read the secret, in a line for the operator.
pub(super) fn describe_policy(policy: Option<&str>) -> String {
    let Some(policy) = policy else {
        return "no resource policy: only principals of this account whose own IAM policies allow it can read it".to_string();
    };
    let Ok(document) = serde_json::from_str::<serde_json::Value>(policy) else {
        return "a resource policy that is not JSON; read it before trusting the secret"
            .to_string();
    };
    let statements = match &document["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    let reads = |action: &serde_json::Value| {
        let grants = |a: &str| {
            let a = a.to_ascii_lowercase();
            a == "*" || a == "secretsmanager:*" || a == "secretsmanager:getsecretvalue"
        };
        match action {
            serde_json::Value::String(a) => grants(a),
            serde_json::Value::Array(list) => list.iter().filter_map(|a| a.as_str()).any(grants),
            _ => false,
        }
    };
    let readers: Vec<String> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow" && reads(&s["Action"]))
        .map(|s| s["Principal"].to_string())
        .collect();
    if readers.is_empty() {
        "a resource policy that lets no one else read it (no Allow of GetSecretValue)".to_string()
    } else {
        format!(
            "its resource policy lets others read it: {}",
            readers.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_found_by_its_exact_name_only() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-keys/ci-bot-AbCdEf";
        assert!(names_exactly(arn, "iam-keys/ci-bot"));
        // A shorter name, or a longer one AWS answered with another secret, is not this one.
        assert!(!names_exactly(arn, "iam-keys/ci"));
        let other =
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-keys/ci-bot-abcdef-XyZ123";
        assert!(!names_exactly(other, "iam-keys/ci-bot"));
        assert!(!names_exactly("iam-keys/ci-bot", "iam-keys/ci-bot"));
    }

    #[test]
    fn a_resource_policy_is_told_by_who_it_lets_read() {
        assert!(describe_policy(None).starts_with("no resource policy"));
        let open = r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": ["secretsmanager:GetSecretValue"], "Resource": "*"}]}"#;
        assert!(describe_policy(Some(open)).contains("210987654321"));
        let closed = r#"{"Statement": {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}}"#;
        assert!(describe_policy(Some(closed)).contains("no one else"));
        assert!(describe_policy(Some("{")).contains("not JSON"));
    }
}
