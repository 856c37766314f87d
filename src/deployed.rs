//! The settings a command run by hand acts with: those of the function deployed to rotate the
//! secret, unless the operator's own environment sets them, so that following a finding's advice
//! (`iam-key-rotator-cli rotate`) never cuts off a consumer that the deployed grace period protects.

use std::fmt;

use serde::Serialize;

use crate::config::{
    Config, DEACTIVATE_AFTER_VAR, DELETE_AFTER_VAR, LAST_USE_LAG_VAR, QUIET_FOR_VAR, RetirePolicy,
    USER_PATH_PREFIX_VAR, USER_TAG_VAR, VARIABLES,
};
use crate::error::Result;
use crate::services::Functions;

/// Only these of a function's environment variables are settings of ours.
const PREFIX: &str = "ROTATOR_";

/// What `template.yaml` deploys when its parameters are left alone: a grace period, never an
/// immediate deactivation, and its scope (the user path, users bound to their secret by tag).
/// Used when a function rotates the secret but its settings cannot be read; `tests/template.rs`
/// checks them against the template's parameters.
pub const TEMPLATE_DEFAULTS: [(&str, &str); 6] = [
    (DEACTIVATE_AFTER_VAR, "24h"),
    (QUIET_FOR_VAR, "24h"),
    (DELETE_AFTER_VAR, "7d"),
    (LAST_USE_LAG_VAR, "4h"),
    (USER_PATH_PREFIX_VAR, "/rotated/"),
    (USER_TAG_VAR, "iam-key-rotator:secret"),
];

/// Where the settings came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Source {
    /// The settings of the function that rotates the secret (GetFunctionConfiguration).
    Function { function_arn: String },
    /// A function rotates the secret, but its settings could not be read (`why`): the template's
    /// defaults.
    TemplateDefaults { function_arn: String, why: String },
    /// No function rotates the secret (or none was asked about): this shell's settings and the
    /// built-in defaults, since nothing else would retire its old key.
    Own,
}

/// The settings a command applies, and how it came by them.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    #[serde(flatten)]
    pub source: Source,
    /// The retirement policy, as durations people read (`24h`, `0s`, `never`).
    pub deactivate_after: String,
    pub quiet_for: String,
    pub delete_after: String,
    /// The `ROTATOR_*` variables set in this shell, which win over the function's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<String>,
    #[serde(skip)]
    pub config: Config,
}

impl Applied {
    fn new(source: Source, config: Config, overridden: Vec<String>) -> Applied {
        let RetirePolicy {
            deactivate_after,
            quiet_for,
            delete_after,
        } = config.retirement();
        let human = |d| humantime::format_duration(d).to_string();
        Applied {
            source,
            deactivate_after: human(deactivate_after),
            quiet_for: human(quiet_for),
            delete_after: delete_after.map_or("never".to_string(), human),
            overridden,
            config,
        }
    }
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Function { function_arn } => {
                write!(f, "the settings of {function_arn}, which rotates it")?
            }
            Source::TemplateDefaults { function_arn, why } => write!(
                f,
                "the template's defaults: {function_arn} rotates it, but its settings could not be read ({why})"
            )?,
            Source::Own => write!(
                f,
                "this shell's settings (ROTATOR_*, else the built-in defaults): no function rotates it"
            )?,
        }
        let deactivate = if self.deactivate_after == "0s" {
            "deactivate the previous key at once".to_string()
        } else {
            format!(
                "keep the previous key Active for {}, then until unused for {}",
                self.deactivate_after, self.quiet_for
            )
        };
        write!(f, "; {deactivate}, delete it after {}", self.delete_after)?;
        if !self.overridden.is_empty() {
            write!(f, "; set here: {}", self.overridden.join(", "))?;
        }
        Ok(())
    }
}

/// The settings to act with on a secret that the function `rotated_by` rotates (`None`: none is
/// attached). `own` looks up this shell's environment; each variable it sets wins.
pub async fn settings_for<F: Functions>(
    functions: &F,
    rotated_by: Option<&str>,
    own: impl Fn(&str) -> Option<String>,
) -> Result<Applied> {
    let Some(function_arn) = rotated_by else {
        return Ok(Applied::new(
            Source::Own,
            Config::from_lookup(own)?,
            Vec::new(),
        ));
    };
    let (deployed, source) = match functions.environment(function_arn).await {
        Ok(variables) => (
            variables
                .into_iter()
                .filter(|(name, _)| name.starts_with(PREFIX))
                .collect::<Vec<_>>(),
            Source::Function {
                function_arn: function_arn.to_string(),
            },
        ),
        Err(e) => (
            TEMPLATE_DEFAULTS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            Source::TemplateDefaults {
                function_arn: function_arn.to_string(),
                why: e.to_string(),
            },
        ),
    };
    let overridden: Vec<String> = VARIABLES
        .iter()
        .filter(|name| own(name).is_some())
        .map(|name| name.to_string())
        .collect();
    let config = Config::from_lookup(|name| {
        own(name).or_else(|| {
            deployed
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    })?;
    Ok(Applied::new(source, config, overridden))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::Error;

    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:rotator";
    const HOUR: Duration = Duration::from_secs(3600);

    /// A function deployed with `variables`, or one whose settings cannot be read (`None`).
    struct Deployed(Option<Vec<(&'static str, &'static str)>>);

    impl Functions for Deployed {
        async fn environment(&self, _function_arn: &str) -> Result<Vec<(String, String)>> {
            match &self.0 {
                Some(vars) => Ok(vars
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()),
                None => Err(Error::Aws {
                    operation: "GetFunctionConfiguration",
                    code: Some("AccessDeniedException".into()),
                    status: Some(403),
                    message: "AccessDeniedException: not authorized".into(),
                }),
            }
        }

        async fn invoke_later(&self, _: &str, _: &serde_json::Value) -> Result<()> {
            unreachable!("reading settings invokes nothing")
        }
    }

    fn shell(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[tokio::test]
    async fn a_secret_rotated_by_a_function_gets_that_functions_policy() {
        let function = Deployed(Some(vec![
            ("ROTATOR_DEACTIVATE_AFTER", "24h"),
            ("ROTATOR_USER_TAG", "iam-key-rotator:secret"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ]));

        let applied = settings_for(&function, Some(FUNCTION), shell(&[]))
            .await
            .unwrap();

        assert_eq!(applied.config.retire.deactivate_after, 24 * HOUR);
        assert_eq!(
            applied.config.user_tag.as_deref(),
            Some("iam-key-rotator:secret")
        );
        assert!(matches!(applied.source, Source::Function { .. }));
        assert!(applied.to_string().contains(FUNCTION), "{applied}");
        assert!(applied.to_string().contains("Active for 1day"), "{applied}");
    }

    #[tokio::test]
    async fn this_shells_settings_win_and_are_named() {
        let function = Deployed(Some(vec![("ROTATOR_DEACTIVATE_AFTER", "24h")]));

        let applied = settings_for(
            &function,
            Some(FUNCTION),
            shell(&[("ROTATOR_DEACTIVATE_AFTER", "1h")]),
        )
        .await
        .unwrap();

        assert_eq!(applied.config.retire.deactivate_after, HOUR);
        assert_eq!(applied.overridden, ["ROTATOR_DEACTIVATE_AFTER"]);
        // A variable the function does not set is named too: it still decides.
        let applied = settings_for(
            &function,
            Some(FUNCTION),
            shell(&[("ROTATOR_LAST_USE_LAG", "0")]),
        )
        .await
        .unwrap();
        assert_eq!(applied.overridden, ["ROTATOR_LAST_USE_LAG"]);
    }

    #[tokio::test]
    async fn unreadable_settings_give_the_templates_grace_never_immediate_deactivation() {
        let applied = settings_for(&Deployed(None), Some(FUNCTION), shell(&[]))
            .await
            .unwrap();

        assert_eq!(applied.config.retire.deactivate_after, 24 * HOUR);
        assert_eq!(applied.config.retire.quiet_for, 24 * HOUR);
        assert_eq!(applied.config.retire.delete_after, Some(7 * 24 * HOUR));
        // ... and its scope: a user outside the path, or not bound to the secret, is refused.
        assert_eq!(applied.config.user_path_prefix, "/rotated/");
        assert_eq!(
            applied.config.user_tag.as_deref(),
            Some("iam-key-rotator:secret")
        );
        assert!(
            applied.to_string().contains("AccessDeniedException"),
            "{applied}"
        );
    }

    #[tokio::test]
    async fn a_secret_no_function_rotates_keeps_the_clis_own_settings() {
        let applied = settings_for(&Deployed(None), None, shell(&[]))
            .await
            .unwrap();

        assert_eq!(applied.source, Source::Own);
        assert_eq!(applied.config, Config::default());
        assert!(applied.to_string().contains("at once"), "{applied}");
    }
}
