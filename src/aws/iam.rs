//! IAM through the AWS SDK.

use aws_config::SdkConfig;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::{EntityType, ReportStateType, StatusType, Tag};
use secrecy::SecretString;

use super::{aws_error, to_system_time};
use crate::error::{Error, Result};
use crate::secret::AccessKey;
use crate::services::{
    CredentialReport, CredentialReports, IamKeys, IamUser, IamUsers, KeyInfo, KeyStatus, KeyUsage,
};

/// Cheap to clone: the SDK client shares its connections.
#[derive(Clone)]
pub struct IamClient {
    client: Client,
}

impl IamClient {
    pub fn new(sdk: &SdkConfig) -> Self {
        IamClient {
            client: Client::new(sdk),
        }
    }
}

impl IamUsers for IamClient {
    async fn user(&self, name: &str) -> Result<Option<IamUser>> {
        match self.client.get_user().user_name(name).send().await {
            Ok(out) => Ok(out.user().map(|u| IamUser {
                name: u.user_name().to_string(),
                arn: u.arn().to_string(),
                path: u.path().to_string(),
                tags: u
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_no_such_entity_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("GetUser", e)),
        }
    }

    async fn create_user(&self, name: &str, path: &str) -> Result<IamUser> {
        let out = self
            .client
            .create_user()
            .user_name(name)
            .path(path)
            .send()
            .await
            .map_err(|e| aws_error("CreateUser", e))?;
        let user = out.user().ok_or_else(|| Error::Aws {
            operation: "CreateUser",
            code: None,
            status: None,
            message: "the answer held no user".to_string(),
        })?;
        Ok(IamUser {
            name: user.user_name().to_string(),
            arn: user.arn().to_string(),
            path: user.path().to_string(),
            tags: Vec::new(),
        })
    }

    async fn tag_user(&self, name: &str, key: &str, value: &str) -> Result<()> {
        self.client
            .tag_user()
            .user_name(name)
            .tags(
                Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .map_err(|e| Error::InvalidConfig(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| aws_error("TagUser", e))?;
        Ok(())
    }

    async fn users_tagged(&self, key: &str) -> Result<Vec<String>> {
        let mut tagged = Vec::new();
        let mut pages = self
            .client
            .get_account_authorization_details()
            .filter(EntityType::User)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("GetAccountAuthorizationDetails", e))?;
            tagged.extend(
                page.user_detail_list()
                    .iter()
                    .filter(|u| u.tags().iter().any(|t| t.key() == key))
                    .filter_map(|u| u.user_name().map(str::to_string)),
            );
        }
        Ok(tagged)
    }
}

impl IamKeys for IamClient {
    async fn list_keys(&self, user: &str) -> Result<Vec<KeyInfo>> {
        let keys = self
            .client
            .list_access_keys()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("ListAccessKeys", e))?;
        Ok(keys
            .into_iter()
            .filter_map(|k| {
                Some(KeyInfo {
                    id: k.access_key_id()?.to_string(),
                    status: match k.status() {
                        Some(StatusType::Active) => KeyStatus::Active,
                        Some(StatusType::Inactive) => KeyStatus::Inactive,
                        Some(StatusType::Expired) => KeyStatus::Expired,
                        _ => KeyStatus::Unknown,
                    },
                    created: to_system_time(k.create_date()),
                })
            })
            .collect())
    }

    async fn create_key(&self, user: &str) -> Result<AccessKey> {
        let out = self
            .client
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .map_err(|e| aws_error("CreateAccessKey", e))?;
        let key = out.access_key().ok_or_else(|| Error::Aws {
            operation: "CreateAccessKey",
            code: None,
            status: None,
            message: "the answer held no access key".to_string(),
        })?;
        Ok(AccessKey {
            id: key.access_key_id().to_string(),
            secret: SecretString::from(key.secret_access_key()),
        })
    }

    async fn deactivate_key(&self, user: &str, key_id: &str) -> Result<()> {
        self.client
            .update_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .status(StatusType::Inactive)
            .send()
            .await
            .map_err(|e| aws_error("UpdateAccessKey", e))?;
        Ok(())
    }

    async fn delete_key(&self, user: &str, key_id: &str) -> Result<()> {
        match self
            .client
            .delete_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_no_such_entity_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_error("DeleteAccessKey", e)),
        }
    }

    async fn last_used(&self, key_id: &str) -> Result<Option<KeyUsage>> {
        let out = self
            .client
            .get_access_key_last_used()
            .access_key_id(key_id)
            .send()
            .await
            .map_err(|e| aws_error("GetAccessKeyLastUsed", e))?;
        // IAM answers "N/A" for the service and region of a key that was never used.
        let known = |s: &str| (!s.is_empty() && s != "N/A").then(|| s.to_string());
        Ok(out.access_key_last_used().and_then(|u| {
            Some(KeyUsage {
                when: to_system_time(u.last_used_date())?,
                service: known(u.service_name()),
                region: known(u.region()),
            })
        }))
    }
}

impl CredentialReports for IamClient {
    async fn generate_credential_report(&self) -> Result<bool> {
        let out = self
            .client
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| aws_error("GenerateCredentialReport", e))?;
        Ok(out.state() == Some(&ReportStateType::Complete))
    }

    async fn credential_report(&self) -> Result<CredentialReport> {
        let out = self
            .client
            .get_credential_report()
            .send()
            .await
            .map_err(|e| aws_error("GetCredentialReport", e))?;
        let csv = out
            .content()
            .map(|blob| String::from_utf8_lossy(blob.as_ref()).into_owned())
            .unwrap_or_default();
        Ok(CredentialReport {
            generated: to_system_time(out.generated_time()),
            csv,
        })
    }
}
