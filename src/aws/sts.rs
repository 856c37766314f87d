//! STS through the AWS SDK, signing with the key under test instead of the function's own role.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sdk_sts::{Client, Config};
use secrecy::ExposeSecret;

use super::aws_error;
use crate::secret::AccessKey;
use crate::services::{CheckError, KeyChecker};

/// The codes AWS answers while a new key has not reached every IAM endpoint yet.
const NOT_YET_VALID: [&str; 2] = ["InvalidClientTokenId", "SignatureDoesNotMatch"];

pub struct StsKeyChecker {
    /// Region, endpoint and timeouts; the credentials are swapped for the key under test.
    base: Config,
}

impl StsKeyChecker {
    pub fn new(sdk: &SdkConfig) -> Self {
        StsKeyChecker {
            base: Config::new(sdk),
        }
    }
}

impl KeyChecker for StsKeyChecker {
    async fn caller_arn(&self, key: &AccessKey) -> Result<String, CheckError> {
        let credentials = Credentials::new(
            key.id.clone(),
            key.secret.expose_secret().to_string(),
            None,
            None,
            "key-under-test",
        );
        let client = Client::from_conf(
            self.base
                .to_builder()
                .credentials_provider(credentials)
                .build(),
        );
        match client.get_caller_identity().send().await {
            Ok(out) => Ok(out.arn().unwrap_or_default().to_string()),
            Err(e) => {
                let err = aws_error("GetCallerIdentity", e);
                match &err {
                    crate::error::Error::Aws {
                        code: Some(code), ..
                    } if NOT_YET_VALID.contains(&code.as_str()) => {
                        Err(CheckError::NotYetValid { code: code.clone() })
                    }
                    _ => Err(CheckError::Failed(err)),
                }
            }
        }
    }
}
