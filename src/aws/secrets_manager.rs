//! Secrets Manager through the AWS SDK.

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, RotationRulesType, Tag};
use secrecy::{ExposeSecret, SecretString};

use super::{aws_error, to_system_time};
use crate::error::Result;
use crate::services::{
    AWSPENDING, CurrentValue, CurrentValues, Schedule, SecretCatalog, SecretInfo, SecretSummary,
    SecretTags, SecretVersion, SecretVersions, StoredValue, UnreadableSecret,
};

pub struct SecretsManagerClient {
    client: Client,
}

impl SecretsManagerClient {
    pub fn new(sdk: &SdkConfig) -> Self {
        SecretsManagerClient {
            client: Client::new(sdk),
        }
    }
}

impl SecretVersions for SecretsManagerClient {
    async fn describe(&self, secret_id: &str) -> Result<SecretInfo> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeSecret", e))?;
        let mut versions: Vec<SecretVersion> = out
            .version_ids_to_stages()
            .into_iter()
            .flatten()
            .map(|(id, labels)| SecretVersion {
                id: id.clone(),
                labels: labels.clone(),
                created: None,
            })
            .collect();
        versions.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(SecretInfo {
            arn: out.arn().unwrap_or(secret_id).to_string(),
            rotation_enabled: out.rotation_enabled().unwrap_or(false),
            rotation_lambda_arn: out.rotation_lambda_arn().map(str::to_string),
            versions,
            tags: tag_pairs(out.tags()),
        })
    }

    async fn list_versions(&self, secret_id: &str) -> Result<Vec<SecretVersion>> {
        let pages = self
            .client
            .list_secret_version_ids()
            .secret_id(secret_id)
            .include_deprecated(true)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("ListSecretVersionIds", e))?;
        Ok(pages
            .iter()
            .flat_map(|page| page.versions())
            .filter_map(|v| {
                Some(SecretVersion {
                    id: v.version_id()?.to_string(),
                    labels: v.version_stages().to_vec(),
                    created: to_system_time(v.created_date()),
                })
            })
            .collect())
    }

    async fn value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        label: Option<&str>,
    ) -> Result<Option<StoredValue>> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .set_version_id(version_id.map(str::to_string))
            .set_version_stage(label.map(str::to_string))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            // An empty AWSPENDING version, or a version without that label: there is no value.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception())
                    && version_id.is_some() =>
            {
                return Ok(None);
            }
            Err(e) => return Err(aws_error("GetSecretValue", e)),
        };
        Ok(Some(StoredValue {
            version_id: out.version_id().unwrap_or_default().to_string(),
            created: to_system_time(out.created_date()),
            text: SecretString::from(out.secret_string().unwrap_or_default()),
        }))
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretString,
        rotation_token: Option<&str>,
    ) -> Result<()> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(value.expose_secret())
            .version_stages(AWSPENDING)
            .set_rotation_token(rotation_token.map(str::to_string))
            .send()
            .await
            .map_err(|e| aws_error("PutSecretValue", e))?;
        Ok(())
    }

    async fn move_label(
        &self,
        secret_id: &str,
        label: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<()> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(label)
            .set_move_to_version_id(to.map(str::to_string))
            .set_remove_from_version_id(from.map(str::to_string))
            .send()
            .await
            .map_err(|e| aws_error("UpdateSecretVersionStage", e))?;
        Ok(())
    }
}

impl SecretTags for SecretsManagerClient {
    async fn tag(&self, secret_id: &str, key: &str, value: &str) -> Result<()> {
        self.client
            .tag_resource()
            .secret_id(secret_id)
            .tags(Tag::builder().key(key).value(value).build())
            .send()
            .await
            .map_err(|e| aws_error("TagResource", e))?;
        Ok(())
    }

    async fn untag(&self, secret_id: &str, key: &str) -> Result<()> {
        self.client
            .untag_resource()
            .secret_id(secret_id)
            .tag_keys(key)
            .send()
            .await
            .map_err(|e| aws_error("UntagResource", e))?;
        Ok(())
    }
}

impl SecretCatalog for SecretsManagerClient {
    async fn list_secrets(&self, name_prefix: &str) -> Result<Vec<SecretSummary>> {
        let request = self
            .client
            .list_secrets()
            .max_results(100)
            .set_filters(name_filter(name_prefix));
        let pages = request
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("ListSecrets", e))?;
        Ok(pages
            .iter()
            .flat_map(|page| page.secret_list())
            // AWS's name filter matches a prefix; ours must match exactly what the policy allows.
            .filter(|s| s.name().unwrap_or_default().starts_with(name_prefix))
            .map(|s| SecretSummary {
                arn: s.arn().unwrap_or_default().to_string(),
                name: s.name().unwrap_or_default().to_string(),
                rotation_enabled: s.rotation_enabled().unwrap_or(false),
                rotation_lambda_arn: s.rotation_lambda_arn().map(str::to_string),
                last_rotated: to_system_time(s.last_rotated_date()),
                next_rotation: to_system_time(s.next_rotation_date()),
                versions: s
                    .secret_versions_to_stages()
                    .into_iter()
                    .flatten()
                    .map(|(id, labels)| SecretVersion {
                        id: id.clone(),
                        labels: labels.clone(),
                        created: None,
                    })
                    .collect(),
                tags: tag_pairs(s.tags()),
            })
            .collect())
    }

    async fn current_values(&self, name_prefix: &str) -> Result<CurrentValues> {
        let request = self
            .client
            .batch_get_secret_value()
            .max_results(20)
            .set_filters(name_filter(name_prefix));
        let pages: Vec<_> = request
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("BatchGetSecretValue", e))?;
        let values = pages
            .iter()
            .flat_map(|page| page.secret_values())
            .filter(|v| v.name().unwrap_or_default().starts_with(name_prefix))
            .filter_map(|v| {
                Some(CurrentValue {
                    arn: v.arn()?.to_string(),
                    name: v.name()?.to_string(),
                    created: to_system_time(v.created_date()),
                    text: SecretString::from(v.secret_string()?.to_string()),
                })
            })
            .collect();
        // Dropping these would make a secret that exists look like no secret at all.
        let unreadable = pages
            .iter()
            .flat_map(|page| page.errors())
            .filter(|e| secret_name(e.secret_id().unwrap_or_default()).starts_with(name_prefix))
            .map(|e| UnreadableSecret {
                secret_id: e.secret_id().unwrap_or("an unnamed secret").to_string(),
                code: e.error_code().unwrap_or("UnknownError").to_string(),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect();
        Ok(CurrentValues { values, unreadable })
    }

    async fn create_secret(
        &self,
        name: &str,
        value: &SecretString,
        tags: &[(&str, &str)],
    ) -> Result<String> {
        let tags = tags
            .iter()
            .map(|(key, value)| Tag::builder().key(*key).value(*value).build())
            .collect();
        let out = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value.expose_secret())
            .description("An IAM user's access key, rotated by iam-key-rotator")
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error("CreateSecret", e))?;
        Ok(out.arn().unwrap_or(name).to_string())
    }

    async fn resource_policy(&self, secret_id: &str) -> Result<Option<String>> {
        let out = self
            .client
            .get_resource_policy()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| aws_error("GetResourcePolicy", e))?;
        Ok(out.resource_policy().map(str::to_string))
    }

    async fn attach_rotation(
        &self,
        secret_id: &str,
        function_arn: &str,
        schedule: &Schedule,
    ) -> Result<()> {
        let rules = match schedule {
            Schedule::Days(days) => RotationRulesType::builder().automatically_after_days(*days),
            Schedule::Expression(expression) => {
                RotationRulesType::builder().schedule_expression(expression)
            }
        };
        self.client
            .rotate_secret()
            .secret_id(secret_id)
            .rotation_lambda_arn(function_arn)
            .rotation_rules(rules.build())
            .send()
            .await
            .map_err(|e| aws_error("RotateSecret", e))?;
        Ok(())
    }
}

/// AWS's filter for names starting with `prefix` (it matches a prefix); none for "".
fn name_filter(prefix: &str) -> Option<Vec<Filter>> {
    (!prefix.is_empty()).then(|| {
        vec![
            Filter::builder()
                .key(FilterNameStringType::Name)
                .values(prefix)
                .build(),
        ]
    })
}

/// The name in a secret's ARN (`arn:...:secret:NAME-AbCdEf`, AWS adds six random characters), or
/// the id itself when it is a name.
fn secret_name(id: &str) -> &str {
    match id
        .strip_prefix("arn:")
        .and_then(|_| id.split_once(":secret:"))
    {
        Some((_, name)) => name.rsplit_once('-').map_or(name, |(name, _)| name),
        None => id,
    }
}

/// A secret's tags as (key, value); a tag without either is skipped.
fn tag_pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}
