//! The Lambda entry point: builds the clients once, then serves rotation and sweep events, writing
//! the invocation's metrics (CloudWatch embedded metric format) after each.

#![recursion_limit = "256"]

use iam_key_rotator::{Config, aws, lambda, logging, wiring};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init(std::io::stdout);
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let metrics = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace("IamKeyRotator")
        .init()
        .inspect_err(|e| tracing::warn!(error = %e, "metrics are off"))
        .ok();
    let sdk = aws::load_sdk_config().await;
    let rotator = wiring::rotator(&sdk, config);
    let functions = wiring::functions(&sdk);
    let (rotator, functions) = (&rotator, &functions);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result = lambda::handle(rotator, functions, event).await;
        if let Some(metrics) = metrics
            && let Err(e) = metrics.flush(std::io::stdout())
        {
            tracing::warn!(error = %e, "could not write the metrics");
        }
        result
    }))
    .await
}
