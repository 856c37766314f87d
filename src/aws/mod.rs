//! The AWS SDK adapters behind the service traits, and the SDK configuration they share. They
//! know the traits, never the engine: `wiring` puts the two together.

mod accounts;
mod functions;
mod iam;
mod organizations;
mod secrets_manager;
mod security_hub;
mod ssm;
mod sts;

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use accounts::{AssumedRoles, SECRET_SESSION_TAG};
pub use functions::LambdaFunctions;
pub use iam::IamClient;
pub use organizations::Organization;
pub use secrets_manager::SecretsManagerClient;
pub use security_hub::SecurityHub;
pub use ssm::SsmParameters;
pub use sts::StsKeyChecker;

use crate::error::Error;

/// Loads region, credentials and endpoints the usual way (environment, profile, Lambda role),
/// with timeouts so that a hung call cannot eat the invocation, and the SDK's adaptive retries:
/// IAM's request rate is shared by the whole account, so once throttled the SDK also slows its
/// own pace instead of only retrying.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::from_env()
        .retry_config(RetryConfig::adaptive().with_max_attempts(5))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await
}

/// An SDK failure as our error: the service's code and message, or the transport's reason, and the
/// HTTP status when AWS answered (it tells a refusal, 4xx, from a failure worth retrying, 5xx).
fn aws_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_string);
    let message = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    Error::Aws {
        operation,
        code,
        status,
        message,
    }
}

fn to_system_time(date: Option<&aws_smithy_types::DateTime>) -> Option<SystemTime> {
    date.and_then(|d| SystemTime::try_from(*d).ok())
}
