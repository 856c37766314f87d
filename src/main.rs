//! The Lambda entry point: builds the clients once, then serves rotation events.

use iam_key_rotator::{Config, aws, lambda, logging};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init(std::io::stdout);
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let sdk = aws::load_sdk_config().await;
    let rotator = aws::rotator(&sdk, config);
    let rotator = &rotator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        lambda::handle(rotator, event)
    }))
    .await
}
