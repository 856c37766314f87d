//! Settings read from the environment once at start-up, with their documented defaults.

use std::time::Duration;

use crate::error::{Error, Result};
pub use crate::retirement::RetirePolicy;

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
/// How long the previous key stays Active after a rotation (`0`: finishSecret deactivates it).
pub const DEACTIVATE_AFTER_VAR: &str = "ROTATOR_DEACTIVATE_AFTER";
/// How long the previous key must show no use before the sweep deactivates it.
pub const QUIET_FOR_VAR: &str = "ROTATOR_QUIET_FOR";
/// How long a previous key stays Inactive before the sweep deletes it (`never`: the next rotation does).
pub const DELETE_AFTER_VAR: &str = "ROTATOR_DELETE_AFTER";
/// How late AWS may show a key's use (GetAccessKeyLastUsed): "no use seen" proves nothing younger.
pub const LAST_USE_LAG_VAR: &str = "ROTATOR_LAST_USE_LAG";
/// The sweep looks at the secrets whose names start with this.
pub const SECRET_NAME_PREFIX_VAR: &str = "ROTATOR_SECRET_NAME_PREFIX";
/// When set, every new version also carries the SES SMTP credentials for this region.
pub const SES_SMTP_REGION_VAR: &str = "ROTATOR_SES_SMTP_REGION";

/// New keys may be delivered to SSM parameters whose names start with this (unset: to none).
pub const SSM_PREFIX_VAR: &str = "ROTATOR_SSM_PREFIX";
/// New keys may be delivered to GitHub secrets of these accounts, comma-separated (unset: to none).
pub const GITHUB_OWNERS_VAR: &str = "ROTATOR_GITHUB_OWNERS";
/// The Secrets Manager secret (ARN or name) holding the GitHub App's or token's credentials.
pub const GITHUB_CREDENTIALS_VAR: &str = "ROTATOR_GITHUB_CREDENTIALS";
/// GitHub's API, for GitHub Enterprise Server (default `https://api.github.com`).
pub const GITHUB_API_URL_VAR: &str = "ROTATOR_GITHUB_API_URL";

/// The role, by name, this function assumes in member accounts to reach their users (unset: none).
pub const MEMBER_ROLE_VAR: &str = "ROTATOR_MEMBER_ROLE";
/// The external id the member role's trust policy asks for, if any.
pub const MEMBER_EXTERNAL_ID_VAR: &str = "ROTATOR_MEMBER_EXTERNAL_ID";
/// The member accounts rotated users may live in, comma-separated, or `*` for any account of
/// the organization; required with the member role.
pub const MEMBER_ACCOUNTS_VAR: &str = "ROTATOR_MEMBER_ACCOUNTS";

/// The audit role's name in each member account, for the organization-wide audit.
pub const AUDIT_ROLE_VAR: &str = "ROTATOR_AUDIT_ROLE";
/// member-role.yaml's default name for it.
pub const AUDIT_ROLE: &str = "iam-key-rotator-audit";

/// Every setting, by its variable's name.
pub const VARIABLES: [&str; 19] = [
    TEST_BUDGET_VAR,
    TEST_FIRST_DELAY_VAR,
    TEST_MAX_DELAY_VAR,
    USER_PATH_PREFIX_VAR,
    USER_TAG_VAR,
    DEACTIVATE_AFTER_VAR,
    QUIET_FOR_VAR,
    DELETE_AFTER_VAR,
    LAST_USE_LAG_VAR,
    SECRET_NAME_PREFIX_VAR,
    SES_SMTP_REGION_VAR,
    SSM_PREFIX_VAR,
    GITHUB_OWNERS_VAR,
    GITHUB_CREDENTIALS_VAR,
    GITHUB_API_URL_VAR,
    MEMBER_ROLE_VAR,
    MEMBER_EXTERNAL_ID_VAR,
    MEMBER_ACCOUNTS_VAR,
    AUDIT_ROLE_VAR,
];

/// How this deployment reaches users in other accounts of its organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSettings {
    /// The role name `member-role.yaml` makes in each member account; `None`: only this account.
    pub role: Option<String>,
    pub external_id: Option<String>,
    /// The member accounts a secret's `AccountId` may name: the deployer's decision, not the
    /// secret writer's. Empty: none.
    pub accounts: MemberAccountList,
    /// The audit role's name in each member account.
    pub audit_role: String,
}

/// Which member accounts rotated users may live in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MemberAccountList {
    #[default]
    None,
    /// `*`: any account the member role can be assumed in (the template narrows that to the
    /// organization, `MemberOrganizationId`).
    Any,
    Listed(Vec<String>),
}

impl MemberAccountList {
    pub fn allows(&self, account: &str) -> bool {
        match self {
            MemberAccountList::None => false,
            MemberAccountList::Any => true,
            MemberAccountList::Listed(accounts) => accounts.iter().any(|a| a == account),
        }
    }
}

/// Where this deployment lets new keys be delivered. Whoever may write a secret chooses its
/// destinations among these; only the deployer widens them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    /// SSM parameter names must start with this, like `/ci/`; `None`: no SSM destination.
    pub ssm_prefix: Option<String>,
    /// GitHub accounts (users or organizations) whose secrets may be written; empty: none.
    pub github_owners: Vec<String>,
    /// The Secrets Manager secret holding GitHub's credentials; required with `github_owners`.
    pub github_credentials: Option<String>,
    pub github_api_url: String,
}

pub const GITHUB_API_URL: &str = "https://api.github.com";

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            ssm_prefix: None,
            github_owners: Vec::new(),
            github_credentials: None,
            github_api_url: GITHUB_API_URL.to_string(),
        }
    }
}

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
    pub retire: RetirePolicy,
    /// AWS shows a key's last use this late at most (it documents "usually within four hours"),
    /// so "not used since" a moment younger than this proves nothing.
    pub last_use_lag: Duration,
    /// The sweep's scope: secrets whose names start with this (empty: every secret).
    pub secret_name_prefix: String,
    /// An SES region such as `eu-west-1`: new versions then also hold `SmtpUsername` and `SmtpPassword`.
    pub ses_smtp_region: Option<String>,
    /// Where new keys may be delivered.
    pub delivery: DeliverySettings,
    /// How users in other accounts are reached.
    pub members: MemberSettings,
    /// The region this process runs in (`AWS_REGION`, which Lambda sets): where the audit's
    /// findings go in Security Hub.
    pub region: Option<String>,
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
            retire: RetirePolicy::default(),
            last_use_lag: Duration::from_secs(4 * 3600),
            secret_name_prefix: String::new(),
            ses_smtp_region: None,
            delivery: DeliverySettings::default(),
            members: MemberSettings::default(),
            region: None,
        }
    }
}

impl Config {
    /// The retirement policy as the sweep applies it: `quiet_for` counted on top of `last_use_lag`
    /// ([`RetirePolicy::with_last_use_lag`]), since AWS shows a key's use that late.
    pub fn retirement(&self) -> RetirePolicy {
        self.retire.with_last_use_lag(self.last_use_lag)
    }

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
            retire: RetirePolicy {
                deactivate_after: match lookup(DEACTIVATE_AFTER_VAR) {
                    Some(v) => parse_duration(DEACTIVATE_AFTER_VAR, &v)?,
                    None => defaults.retire.deactivate_after,
                },
                quiet_for: match lookup(QUIET_FOR_VAR) {
                    Some(v) => parse_duration(QUIET_FOR_VAR, &v)?,
                    None => defaults.retire.quiet_for,
                },
                delete_after: match lookup(DELETE_AFTER_VAR) {
                    Some(v) if v.trim() == "never" => None,
                    Some(v) => Some(parse_duration(DELETE_AFTER_VAR, &v)?),
                    None => defaults.retire.delete_after,
                },
            },
            last_use_lag: match lookup(LAST_USE_LAG_VAR) {
                Some(v) => parse_duration(LAST_USE_LAG_VAR, &v)?,
                None => defaults.last_use_lag,
            },
            secret_name_prefix: lookup(SECRET_NAME_PREFIX_VAR).unwrap_or_default(),
            ses_smtp_region: match lookup(SES_SMTP_REGION_VAR) {
                Some(v) if is_region(v.trim()) => Some(v.trim().to_string()),
                Some(v) => {
                    return Err(Error::InvalidConfig(format!(
                        "{SES_SMTP_REGION_VAR}={v:?} is not an AWS region such as eu-west-1; set one or unset it"
                    )));
                }
                None => None,
            },
            delivery: parse_delivery(&lookup)?,
            members: parse_members(&lookup)?,
            region: lookup("AWS_REGION").or_else(|| lookup("AWS_DEFAULT_REGION")),
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

/// `0`, or a duration such as `90s`, `30m`, `24h`, `7d`.
fn parse_duration(name: &str, value: &str) -> Result<Duration> {
    let value = value.trim();
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(value).map_err(|e| {
        Error::InvalidConfig(format!(
            "{name}={value:?} is not a duration ({e}); write it like 90s, 30m, 24h or 7d"
        ))
    })
}

fn parse_delivery(lookup: &impl Fn(&str) -> Option<String>) -> Result<DeliverySettings> {
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let ssm_prefix = match set(SSM_PREFIX_VAR) {
        Some(v) if v.trim().starts_with('/') && v.trim().ends_with('/') && v.trim().len() > 1 => {
            Some(v.trim().to_string())
        }
        Some(v) => {
            return Err(Error::InvalidConfig(format!(
                "{SSM_PREFIX_VAR}={v:?} is not an SSM path: it must start and end with '/', like /ci/ (a bare / would allow every parameter); set one or unset it"
            )));
        }
        None => None,
    };
    let mut github_owners = Vec::new();
    for owner in set(GITHUB_OWNERS_VAR).unwrap_or_default().split(',') {
        let owner = owner.trim();
        if owner.is_empty() {
            continue;
        }
        if !crate::delivery::is_github_login(owner) {
            return Err(Error::InvalidConfig(format!(
                "{GITHUB_OWNERS_VAR} holds {owner:?}, which is not a GitHub user or organization name (letters, digits and single hyphens); list names separated by commas"
            )));
        }
        github_owners.push(owner.to_string());
    }
    let github_credentials = set(GITHUB_CREDENTIALS_VAR).map(|v| v.trim().to_string());
    if !github_owners.is_empty() && github_credentials.is_none() {
        return Err(Error::InvalidConfig(format!(
            "{GITHUB_OWNERS_VAR} is set but {GITHUB_CREDENTIALS_VAR} is not: name the Secrets Manager secret holding the GitHub App's or token's credentials"
        )));
    }
    let github_api_url = match set(GITHUB_API_URL_VAR) {
        Some(v) => parse_api_url(v.trim())?,
        None => GITHUB_API_URL.to_string(),
    };
    Ok(DeliverySettings {
        ssm_prefix,
        github_owners,
        github_credentials,
        github_api_url,
    })
}

impl Default for MemberSettings {
    fn default() -> Self {
        MemberSettings {
            role: None,
            external_id: None,
            accounts: MemberAccountList::None,
            audit_role: AUDIT_ROLE.to_string(),
        }
    }
}

fn parse_members(lookup: &impl Fn(&str) -> Option<String>) -> Result<MemberSettings> {
    let set = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let role = match set(MEMBER_ROLE_VAR) {
        Some(v) if is_iam_name(&v, 64, "") => Some(v),
        Some(v) => {
            return Err(Error::InvalidConfig(format!(
                "{MEMBER_ROLE_VAR}={v:?} is not an IAM role name (1 to 64 of letters, digits and +=,.@_-; the name alone, not an ARN); set one or unset it"
            )));
        }
        None => None,
    };
    let external_id = match set(MEMBER_EXTERNAL_ID_VAR) {
        Some(v) if v.len() >= 2 && is_iam_name(&v, 1224, ":/") => Some(v),
        Some(_) => {
            return Err(Error::InvalidConfig(format!(
                "{MEMBER_EXTERNAL_ID_VAR} is not an external id (2 to 1224 of letters, digits and +=,.@:/_-); set one or unset it"
            )));
        }
        None => None,
    };
    if external_id.is_some() && role.is_none() {
        return Err(Error::InvalidConfig(format!(
            "{MEMBER_EXTERNAL_ID_VAR} is set but {MEMBER_ROLE_VAR} is not: name the role member-role.yaml makes in each member account"
        )));
    }
    let accounts = match set(MEMBER_ACCOUNTS_VAR) {
        None => MemberAccountList::None,
        Some(v) if v == "*" => MemberAccountList::Any,
        Some(v) => {
            let listed: Vec<String> = v.split(',').map(|a| a.trim().to_string()).collect();
            if let Some(bad) = listed.iter().find(|a| !crate::accounts::is_account_id(a)) {
                return Err(Error::InvalidConfig(format!(
                    "{MEMBER_ACCOUNTS_VAR} holds {bad:?}, which is not an AWS account id (12 digits); list ids separated by commas, or * for any account of the organization"
                )));
            }
            MemberAccountList::Listed(listed)
        }
    };
    if role.is_some() && accounts == MemberAccountList::None {
        return Err(Error::InvalidConfig(format!(
            "{MEMBER_ROLE_VAR} is set but {MEMBER_ACCOUNTS_VAR} is not: list the member accounts rotated users may live in (or * for any account of the organization), so that whoever writes a secret cannot send a rotation to an account of their own"
        )));
    }
    let audit_role = match set(AUDIT_ROLE_VAR) {
        Some(v) if is_iam_name(&v, 64, "") => v,
        Some(v) => {
            return Err(Error::InvalidConfig(format!(
                "{AUDIT_ROLE_VAR}={v:?} is not an IAM role name (1 to 64 of letters, digits and +=,.@_-); set one or unset it for {AUDIT_ROLE}"
            )));
        }
        None => AUDIT_ROLE.to_string(),
    };
    Ok(MemberSettings {
        role,
        external_id,
        accounts,
        audit_role,
    })
}

/// IAM's names: up to `max` of letters, digits and `+=,.@_-`, and `extra`.
fn is_iam_name(value: &str, max: usize, extra: &str) -> bool {
    (1..=max).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) || extra.contains(c))
}

/// GitHub's API over HTTPS; plain HTTP only to this machine (a test stand-in), since the token
/// travels with every request.
fn parse_api_url(value: &str) -> Result<String> {
    let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if value.starts_with("https://") || local.iter().any(|l| value.starts_with(l)) {
        Ok(value.trim_end_matches('/').to_string())
    } else {
        Err(Error::InvalidConfig(format!(
            "{GITHUB_API_URL_VAR}={value:?} is not an https:// URL (like https://github.example.com/api/v3 for GitHub Enterprise Server); set one or unset it for api.github.com"
        )))
    }
}

fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
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
    fn member_accounts_are_reached_through_a_role_name_and_an_optional_external_id() {
        let members = config_with(&[
            (MEMBER_ROLE_VAR, "iam-key-rotator-member"),
            (MEMBER_EXTERNAL_ID_VAR, "acme-rotation"),
            (MEMBER_ACCOUNTS_VAR, "111122223333, 444455556666"),
        ])
        .unwrap()
        .members;
        assert_eq!(members.role.as_deref(), Some("iam-key-rotator-member"));
        assert_eq!(members.external_id.as_deref(), Some("acme-rotation"));
        assert!(members.accounts.allows("444455556666"));
        assert!(!members.accounts.allows("999999999999"));
        for (vars, expected) in [
            (
                vec![(MEMBER_ROLE_VAR, "arn:aws:iam::111122223333:role/x")],
                "the name alone",
            ),
            (vec![(MEMBER_EXTERNAL_ID_VAR, "acme")], "is not"),
            (
                vec![(MEMBER_ROLE_VAR, "r")],
                "ROTATOR_MEMBER_ACCOUNTS is not",
            ),
            (
                vec![
                    (MEMBER_ROLE_VAR, "r"),
                    (MEMBER_ACCOUNTS_VAR, "1111-2222-3333"),
                ],
                "not an AWS account id",
            ),
            (
                vec![
                    (MEMBER_ROLE_VAR, "r"),
                    (MEMBER_ACCOUNTS_VAR, "*"),
                    (MEMBER_EXTERNAL_ID_VAR, "x"),
                ],
                "not an external id",
            ),
        ] {
            let err = config_with(&vars).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn set_variables_are_used() {
        let config = config_with(&[
            (TEST_BUDGET_VAR, "30"),
            (TEST_FIRST_DELAY_VAR, "250"),
            (TEST_MAX_DELAY_VAR, "4000"),
            (USER_PATH_PREFIX_VAR, "/rotated/"),
            (USER_TAG_VAR, "iam-key-rotator:secret"),
            (DEACTIVATE_AFTER_VAR, "24h"),
            (QUIET_FOR_VAR, "30m"),
            (DELETE_AFTER_VAR, "never"),
            (SECRET_NAME_PREFIX_VAR, "iam-keys/"),
            (SES_SMTP_REGION_VAR, "eu-west-1"),
        ])
        .unwrap();
        assert_eq!(
            config.retire,
            RetirePolicy {
                deactivate_after: Duration::from_secs(86_400),
                quiet_for: Duration::from_secs(1800),
                delete_after: None,
            }
        );
        assert_eq!(config.secret_name_prefix, "iam-keys/");
        assert_eq!(config.ses_smtp_region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            config_with(&[(DELETE_AFTER_VAR, "7d")])
                .unwrap()
                .retire
                .delete_after,
            Some(Duration::from_secs(7 * 86_400))
        );
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
            (DEACTIVATE_AFTER_VAR, "a while"),
            (QUIET_FOR_VAR, "-5m"),
            (DELETE_AFTER_VAR, "7 weeks later"),
            (SES_SMTP_REGION_VAR, "Ireland"),
        ] {
            let err = config_with(&[(name, value)]).unwrap_err();
            assert_eq!(err.kind(), "InvalidConfiguration");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn delivery_is_off_unless_the_deployer_allows_it() {
        let config = config_with(&[]).unwrap();
        assert_eq!(config.delivery, DeliverySettings::default());
        let config = config_with(&[
            (SSM_PREFIX_VAR, "/ci/"),
            (GITHUB_OWNERS_VAR, "acme, acme-labs"),
            (GITHUB_CREDENTIALS_VAR, "github/app"),
            (GITHUB_API_URL_VAR, "https://github.example.com/api/v3/"),
        ])
        .unwrap();
        assert_eq!(config.delivery.ssm_prefix.as_deref(), Some("/ci/"));
        assert_eq!(config.delivery.github_owners, ["acme", "acme-labs"]);
        assert_eq!(
            config.delivery.github_api_url,
            "https://github.example.com/api/v3"
        );
    }

    #[test]
    fn unsafe_delivery_settings_are_refused() {
        for vars in [
            vec![(SSM_PREFIX_VAR, "/")],
            vec![(SSM_PREFIX_VAR, "/ci")],
            vec![(SSM_PREFIX_VAR, "ci/")],
            vec![(GITHUB_OWNERS_VAR, "acme")],
            vec![
                (GITHUB_OWNERS_VAR, "acme/api"),
                (GITHUB_CREDENTIALS_VAR, "gh"),
            ],
            vec![(GITHUB_API_URL_VAR, "http://github.example.com")],
        ] {
            let err = config_with(&vars).unwrap_err();
            assert_eq!(err.kind(), "InvalidConfiguration", "{vars:?}");
            assert!(err.to_string().contains(vars[0].0), "{err}");
        }
    }

    #[test]
    fn first_delay_above_max_delay_is_refused() {
        let err = config_with(&[(TEST_FIRST_DELAY_VAR, "5000"), (TEST_MAX_DELAY_VAR, "1000")])
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }
}
