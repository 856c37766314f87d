//! Settings read from the environment once at start-up, with their documented defaults.

use std::time::Duration;

use crate::error::{Error, Result};

/// How long testSecret keeps trying a new key, in total.
pub const TEST_BUDGET_VAR: &str = "ROTATOR_TEST_BUDGET_SECONDS";
/// The first pause between two tries of a new key; it doubles after each try.
pub const TEST_FIRST_DELAY_VAR: &str = "ROTATOR_TEST_FIRST_DELAY_MS";
/// The longest pause between two tries of a new key.
pub const TEST_MAX_DELAY_VAR: &str = "ROTATOR_TEST_MAX_DELAY_MS";
/// Only users whose IAM path starts with this are rotated.
pub const USER_PATH_PREFIX_VAR: &str = "ROTATOR_USER_PATH_PREFIX";
/// When set, only users carrying this tag with the secret's ARN as its value are rotated.
pub const USER_TAG_VAR: &str = "ROTATOR_USER_TAG";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// testSecret gives up on a new key after this long (never past the invocation's deadline).
    pub test_budget: Duration,
    pub test_first_delay: Duration,
    pub test_max_delay: Duration,
    /// An IAM path prefix such as `/rotated/`; `/` allows every user.
    pub user_path_prefix: String,
    /// A tag key such as `iam-key-rotator:secret`: the user must carry it, valued with the
    /// secret's ARN, so that a secret cannot be pointed at someone else's user.
    pub user_tag: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            // IAM takes about 5 to 15 seconds to accept a new key; a minute leaves room for slow days.
            test_budget: Duration::from_secs(60),
            test_first_delay: Duration::from_millis(1000),
            test_max_delay: Duration::from_millis(8000),
            user_path_prefix: "/".to_string(),
            user_tag: None,
        }
    }
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Config> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let defaults = Config::default();
        let config = Config {
            test_budget: match lookup(TEST_BUDGET_VAR) {
                Some(v) => Duration::from_secs(parse_number(TEST_BUDGET_VAR, &v, 1, 900)?),
                None => defaults.test_budget,
            },
            test_first_delay: match lookup(TEST_FIRST_DELAY_VAR) {
                Some(v) => {
                    Duration::from_millis(parse_number(TEST_FIRST_DELAY_VAR, &v, 1, 60_000)?)
                }
                None => defaults.test_first_delay,
            },
            test_max_delay: match lookup(TEST_MAX_DELAY_VAR) {
                Some(v) => Duration::from_millis(parse_number(TEST_MAX_DELAY_VAR, &v, 1, 300_000)?),
                None => defaults.test_max_delay,
            },
            user_path_prefix: match lookup(USER_PATH_PREFIX_VAR) {
                Some(v) => parse_path_prefix(&v)?,
                None => defaults.user_path_prefix,
            },
            user_tag: match lookup(USER_TAG_VAR) {
                Some(v) if (1..=128).contains(&v.trim().len()) => Some(v.trim().to_string()),
                Some(v) => {
                    return Err(Error::InvalidConfig(format!(
                        "{USER_TAG_VAR}={v:?} is not an IAM tag key (1 to 128 characters); set one or unset it"
                    )));
                }
                None => None,
            },
        };
        if config.test_first_delay > config.test_max_delay {
            return Err(Error::InvalidConfig(format!(
                "{TEST_FIRST_DELAY_VAR} ({} ms) is larger than {TEST_MAX_DELAY_VAR} ({} ms); make the first delay the smaller one",
                config.test_first_delay.as_millis(),
                config.test_max_delay.as_millis()
            )));
        }
        Ok(config)
    }
}

fn parse_number(name: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Error::InvalidConfig(format!(
            "{name}={value:?} is not a whole number from {min} to {max}; set it to one or unset it for the default"
        ))),
    }
}

fn parse_path_prefix(value: &str) -> Result<String> {
    if value.starts_with('/') && value.ends_with('/') {
        Ok(value.to_string())
    } else {
        Err(Error::InvalidConfig(format!(
            "{USER_PATH_PREFIX_VAR}={value:?} is not an IAM path: it must start and end with '/', like /rotated/ (or / for every user)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(vars: &[(&str, &str)]) -> Result<Config> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn unset_variables_give_the_documented_defaults() {
        assert_eq!(config_with(&[]).unwrap(), Config::default());
        assert_eq!(Config::default().test_budget, Duration::from_secs(60));
    }

    #[test]
    fn set_variables_are_used() {
        let config = config_with(&[
            (TEST_BUDGET_VAR, "30"),
            (TEST_FIRST_DELAY_VAR, "250"),
            (TEST_MAX_DELAY_VAR, "4000"),
            (USER_PATH_PREFIX_VAR, "/rotated/"),
            (USER_TAG_VAR, "iam-key-rotator:secret"),
        ])
        .unwrap();
        assert_eq!(config.user_tag.as_deref(), Some("iam-key-rotator:secret"));
        assert_eq!(config.test_budget, Duration::from_secs(30));
        assert_eq!(config.test_first_delay, Duration::from_millis(250));
        assert_eq!(config.test_max_delay, Duration::from_millis(4000));
        assert_eq!(config.user_path_prefix, "/rotated/");
    }

    #[test]
    fn invalid_values_are_refused_with_the_variable_named() {
        for (name, value) in [
            (TEST_BUDGET_VAR, "soon"),
            (TEST_BUDGET_VAR, "0"),
            (TEST_BUDGET_VAR, "-5"),
            (TEST_MAX_DELAY_VAR, "1e3"),
            (USER_PATH_PREFIX_VAR, "rotated"),
            (USER_TAG_VAR, ""),
        ] {
            let err = config_with(&[(name, value)]).unwrap_err();
            assert_eq!(err.kind(), "InvalidConfiguration");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn first_delay_above_max_delay_is_refused() {
        let err = config_with(&[(TEST_FIRST_DELAY_VAR, "5000"), (TEST_MAX_DELAY_VAR, "1000")])
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
