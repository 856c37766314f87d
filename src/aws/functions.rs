//! Lambda through the AWS SDK: the environment of the function that rotates a secret.

use aws_config::SdkConfig;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::Value;

use super::aws_error;
use crate::error::{Error, Result};
use crate::services::Functions;

pub struct LambdaFunctions {
    client: Client,
}

impl LambdaFunctions {
    pub fn new(sdk: &SdkConfig) -> Self {
        LambdaFunctions {
            client: Client::new(sdk),
        }
    }
}

impl Functions for LambdaFunctions {
    async fn environment(&self, function_arn: &str) -> Result<Vec<(String, String)>> {
        let out = self
            .client
            .get_function_configuration()
            .function_name(function_arn)
            .send()
            .await
            .map_err(|e| aws_error("GetFunctionConfiguration", e))?;
        // Lambda answers an error instead of the variables to a caller that may not decrypt them.
        if let Some(error) = out.environment().and_then(|e| e.error()) {
            return Err(Error::Aws {
                operation: "GetFunctionConfiguration",
                code: error.error_code().map(str::to_string),
                status: None,
                message: format!(
                    "the function's environment could not be read: {}",
                    error.message().unwrap_or("no reason given")
                ),
            });
        }
        let mut variables: Vec<(String, String)> = out
            .environment()
            .and_then(|e| e.variables())
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        variables.sort();
        Ok(variables)
    }

    async fn invoke_later(&self, function_arn: &str, payload: &Value) -> Result<()> {
        self.client
            .invoke()
            .function_name(function_arn)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| aws_error("Invoke", e))?;
        Ok(())
    }
}
