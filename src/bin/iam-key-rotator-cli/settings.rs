//! Which settings each command acts with, and what it covers: a secret's command takes the
//! settings of the function that rotates that secret; a sweep of the account, each secret's.

use std::time::SystemTime;

use aws_config::SdkConfig;
use iam_key_rotator::deployed::{self, Applied};
use iam_key_rotator::services::{SecretCatalog, SecretVersions};
use iam_key_rotator::wiring::{self, AwsRotator};
use iam_key_rotator::{Config, Error, sweep};
use serde::Serialize;

/// What a command acted with: the settings it applied, and the secrets it looked at.
#[derive(Debug, Default, Serialize)]
pub struct Context {
    /// One entry per rotation function whose settings were applied (none: no command on keys).
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
pub fn own(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The settings for a command on one secret, and a rotator that acts with them. Which secrets a
/// command covers stays this shell's choice (ROTATOR_SECRET_NAME_PREFIX).
pub async fn for_secret(sdk: &SdkConfig, secret_id: &str) -> Result<(AwsRotator, Applied), Error> {
    let shell = Config::from_env()?;
    let prefix = shell.secret_name_prefix.clone();
    let info = wiring::rotator(sdk, shell)
        .secrets()
        .describe(secret_id)
        .await?;
    let lambda = wiring::functions(sdk);
    let applied = deployed::settings_for(&lambda, info.rotation_function(), own).await?;
    Ok((rotator_under(sdk, &applied, &prefix), applied))
}

/// The settings of `function_arn`, for a secret being made for it: its prefix, path and tag
/// binding included, so the function may rotate what adopt makes.
pub async fn for_function(
    sdk: &SdkConfig,
    function_arn: &str,
) -> Result<(AwsRotator, Applied), Error> {
    let lambda = wiring::functions(sdk);
    let applied = deployed::settings_for(&lambda, Some(function_arn), own).await?;
    Ok((wiring::rotator(sdk, applied.config.clone()), applied))
}

/// What a command over every secret under `prefix` covers, said plainly.
pub fn covers(prefix: &str) -> String {
    if prefix.is_empty() {
        "every secret of the account (ROTATOR_SECRET_NAME_PREFIX is not set)".to_string()
    } else {
        format!("the secrets whose names start with {prefix:?} (ROTATOR_SECRET_NAME_PREFIX)")
    }
}

/// Sweeps every secret under this shell's prefix, each with the settings of the function attached
/// to it (by its exact ARN: each qualifier has its own settings): one pass per function over its
/// own secrets, the first one also over the secrets no function is attached to. Every function's
/// settings are read before anything changes; a pass that fails is reported and the rest go on.
pub async fn sweep_account(
    sdk: &SdkConfig,
    options: &sweep::Options,
    now: SystemTime,
) -> Result<(sweep::Summary, Context), Error> {
    let prefix = Config::from_env()?.secret_name_prefix;
    let listed = wiring::rotator(sdk, Config::from_env()?)
        .secrets()
        .list_secrets(&prefix)
        .await?;
    let mut groups: Vec<(Option<&str>, Vec<String>)> = Vec::new();
    for secret in &listed {
        let function = secret.rotation_function();
        match groups.iter_mut().find(|(f, _)| *f == function) {
            Some((_, arns)) => arns.push(secret.arn.clone()),
            None => groups.push((function, vec![secret.arn.clone()])),
        }
    }
    // Secrets no function is attached to go with the first pass (their findings only).
    groups.sort_by_key(|(function, _)| function.is_some());
    if let [(None, unattached), (Some(_), _), ..] = groups.as_mut_slice() {
        let unattached = std::mem::take(unattached);
        groups.remove(0);
        groups[0].1.extend(unattached);
    }
    let lambda = wiring::functions(sdk);
    let mut passes = Vec::new();
    for (function, arns) in groups {
        let applied = deployed::settings_for(&lambda, function, own).await?;
        passes.push((function, applied, arns));
    }
    let mut merged = sweep::Summary {
        dry_run: options.dry_run,
        ..sweep::Summary::default()
    };
    let mut context = Context {
        covers: Some(covers(&prefix)),
        ..Context::default()
    };
    for (function, applied, arns) in passes {
        // For its function: a secret moved to another one since the listing is left alone.
        let only_these = sweep::Options {
            only: Some(arns),
            function_arn: function.map(str::to_string),
            ..options.clone()
        };
        let rotator = rotator_under(sdk, &applied, &prefix);
        match sweep::sweep(&rotator, &only_these, now).await {
            Ok(report) => {
                merged.secrets += report.secrets;
                merged.actions.extend(report.actions);
                merged.findings.extend(report.findings);
                merged.deliveries.extend(report.deliveries);
                merged.errors.extend(report.errors);
            }
            Err(e) => merged.errors.push(format!("the pass with {applied}: {e}")),
        }
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
    wiring::rotator(sdk, config)
}
