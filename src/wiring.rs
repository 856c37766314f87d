//! The one place the real services meet the engine: the SDK clients, built once per process,
//! bundled as the services every capability works with.

use aws_config::SdkConfig;

use crate::aws::{
    AssumedRoles, IamClient, LambdaFunctions, Organization, SecretsManagerClient, SecurityHub,
    SsmParameters, StsKeyChecker,
};
use crate::config::Config;
use crate::engine::Rotator;
use crate::github::GitHubClient;
use crate::services::Clients;

/// The engine wired to the real services.
pub type AwsRotator = Rotator<
    Clients<
        SecretsManagerClient,
        IamClient,
        StsKeyChecker,
        SsmParameters,
        GitHubClient,
        AssumedRoles,
        Organization,
        SecurityHub,
    >,
>;

/// Builds the clients once, for every event the process handles. GitHub's credentials are read
/// only when a key is first delivered there, a member account's role only assumed when a secret
/// names that account.
pub fn rotator(sdk: &SdkConfig, config: Config) -> AwsRotator {
    let services = Clients {
        secrets: SecretsManagerClient::new(sdk),
        iam: IamClient::new(sdk),
        keys: StsKeyChecker::new(sdk),
        parameters: SsmParameters::new(sdk),
        github: GitHubClient::new(sdk, &config.delivery),
        accounts: AssumedRoles::new(sdk, &config.members),
        organization: Organization::new(sdk),
        security_hub: SecurityHub::new(sdk),
    };
    Rotator::with_services(services, config)
}

/// Lambda, for the CLI to read a deployed function's settings (see `deployed`).
pub fn functions(sdk: &SdkConfig) -> LambdaFunctions {
    LambdaFunctions::new(sdk)
}
