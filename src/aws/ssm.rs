//! SSM Parameter Store through the AWS SDK: a delivery destination.

use aws_config::SdkConfig;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;
use secrecy::{ExposeSecret, SecretString};

use super::aws_error;
use crate::error::Result;
use crate::services::ParameterStore;

pub struct SsmParameters {
    client: Client,
}

impl SsmParameters {
    pub fn new(sdk: &SdkConfig) -> Self {
        SsmParameters {
            client: Client::new(sdk),
        }
    }
}

impl ParameterStore for SsmParameters {
    async fn get(&self, name: &str) -> Result<Option<SecretString>> {
        let result = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out
                .parameter()
                .and_then(|p| p.value())
                .map(SecretString::from)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("GetParameter", e)),
        }
    }

    async fn put(&self, name: &str, value: &SecretString, kms_key_id: Option<&str>) -> Result<()> {
        self.client
            .put_parameter()
            .name(name)
            .value(value.expose_secret())
            .r#type(ParameterType::SecureString)
            .set_key_id(kms_key_id.map(str::to_string))
            .overwrite(true)
            .send()
            .await
            .map_err(|e| aws_error("PutParameter", e))?;
        Ok(())
    }
}
