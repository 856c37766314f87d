//! Which settings each command acts with, and what it covers: a secret's command takes the
//! settings of the function that rotates that secret; a sweep of the account, each secret's.

use std::time::SystemTime;

use aws_config::SdkConfig;
use iam_key_rotator::aws::{self, AwsRotator, LambdaFunctions, SecretsManagerClient};
use iam_key_rotator::deployed::{self, Applied};
use iam_key_rotator::services::SecretStore;
use iam_key_rotator::{Config, Error, sweep};
use serde::Serialize;

/// What a command acted with: the settings it applied, and the secrets it looked at.
#[derive(Debug, Default, Serialize)]
pub struct Context {
    /// One entry per rotation function whose settings were applied (none: no command on secrets).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Applied>,
    /// For commands over the whole account: which secrets they covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covers: Option<String>,
}

impl Context {
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .policies
            .iter()
            .map(|p| format!("Policy: {p}"))
            .collect();
        lines.extend(self.covers.iter().map(|c| format!("Covers: {c}")));
        lines
    }
}

/// This shell's value of a setting.
fn own(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The settings for a command on one secret, and a rotator that acts with them.
pub async fn for_secret(sdk: &SdkConfig, secret_id: &str) -> Result<(AwsRotator, Applied), Error> {
    let info = SecretsManagerClient::new(sdk).describe(secret_id).await?;
    with_settings_of(sdk, info.rotated_by()).await
}

/// The settings of `function_arn` (the function a secret is being made for), and a rotator.
pub async fn for_function(
    sdk: &SdkConfig,
    function_arn: &str,
) -> Result<(AwsRotator, Applied), Error> {
    with_settings_of(sdk, Some(function_arn)).await
}

async fn with_settings_of(
    sdk: &SdkConfig,
    function_arn: Option<&str>,
) -> Result<(AwsRotator, Applied), Error> {
    let applied = deployed::settings_for(&LambdaFunctions::new(sdk), function_arn, own).await?;
    Ok((aws::rotator(sdk, applied.config.clone()), applied))
}

/// What a command over every secret under `prefix` covers, said plainly.
pub fn covers(prefix: &str) -> String {
    if prefix.is_empty() {
        "every secret of the account (ROTATOR_SECRET_NAME_PREFIX is not set)".to_string()
    } else {
        format!("the secrets whose names start with {prefix:?} (ROTATOR_SECRET_NAME_PREFIX)")
    }
}

/// Sweeps every secret under this shell's prefix, each with the settings of the function that
/// rotates it: one pass per function, each keeping what it found about that function's secrets
/// (the first pass also what it found about secrets no function rotates).
pub async fn sweep_account(
    sdk: &SdkConfig,
    options: &sweep::Options,
    now: SystemTime,
) -> Result<(sweep::Report, Context), Error> {
    let prefix = Config::from_env()?.secret_name_prefix;
    let listed = SecretsManagerClient::new(sdk).list_secrets(&prefix).await?;
    // One pass per function, whatever qualifier (`:live`) a secret names it with.
    let mut functions: Vec<&str> = Vec::new();
    for function in listed.iter().filter_map(|s| s.rotated_by()) {
        if !functions.iter().any(|f| sweep::same_function(f, function)) {
            functions.push(function);
        }
    }
    let mut context = Context {
        covers: Some(covers(&prefix)),
        ..Context::default()
    };
    let lambda = LambdaFunctions::new(sdk);
    if functions.len() <= 1 {
        let applied = deployed::settings_for(&lambda, functions.first().copied(), own).await?;
        let report = sweep::sweep(&rotator_under(sdk, &applied, &prefix), options, now).await?;
        context.policies.push(applied);
        return Ok((report, context));
    }
    let mut merged = sweep::Report {
        dry_run: options.dry_run,
        secrets: listed.len(),
        ..sweep::Report::default()
    };
    for (pass, function) in functions.iter().enumerate() {
        let applied = deployed::settings_for(&lambda, Some(function), own).await?;
        let only_this = sweep::Options {
            function_arn: Some(function.to_string()),
            ..options.clone()
        };
        let report = sweep::sweep(&rotator_under(sdk, &applied, &prefix), &only_this, now).await?;
        let ours = |name: &str| {
            let rotated_by = listed
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.rotated_by());
            match rotated_by {
                Some(by) => sweep::same_function(by, function),
                None => pass == 0,
            }
        };
        merged.actions.extend(report.actions);
        merged
            .findings
            .extend(report.findings.into_iter().filter(|f| ours(&f.secret_id)));
        merged.errors.extend(report.errors);
        context.policies.push(applied);
    }
    Ok((merged, context))
}

/// A rotator with `applied`'s settings over this shell's choice of secrets (`prefix`).
fn rotator_under(sdk: &SdkConfig, applied: &Applied, prefix: &str) -> AwsRotator {
    let config = Config {
        secret_name_prefix: prefix.to_string(),
        ..applied.config.clone()
    };
    aws::rotator(sdk, config)
}
