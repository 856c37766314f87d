//! The one place the real services meet the engine: the SDK clients, built once per process,
//! bundled as the services every capability works with.

use aws_config::SdkConfig;

use crate::aws::{IamClient, LambdaFunctions, SecretsManagerClient, StsKeyChecker};
use crate::config::Config;
use crate::engine::Rotator;
use crate::services::Clients;

/// The engine wired to the real services.
pub type AwsRotator = Rotator<Clients<SecretsManagerClient, IamClient, StsKeyChecker>>;

/// Builds the SDK clients once, for every event the process handles.
pub fn rotator(sdk: &SdkConfig, config: Config) -> AwsRotator {
    Rotator::new(
        SecretsManagerClient::new(sdk),
        IamClient::new(sdk),
        StsKeyChecker::new(sdk),
        config,
    )
}

/// Lambda, for the CLI to read a deployed function's settings (see `deployed`).
pub fn functions(sdk: &SdkConfig) -> LambdaFunctions {
    LambdaFunctions::new(sdk)
}
