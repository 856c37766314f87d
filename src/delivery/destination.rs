//! Where a secret's key goes: the `Destinations` field's format, the `--deliver-to` shorthand,
//! and the deployer's limits (`ROTATOR_SSM_PREFIX`, `ROTATOR_GITHUB_OWNERS`) every destination
//! must keep within.

use std::fmt;

use serde_json::{Map, Value, json};

use crate::config::DeliverySettings;
use crate::services::GitHubScope;

/// The secret's field listing its destinations.
pub const DESTINATIONS: &str = "Destinations";

/// The GitHub secrets a destination writes by default.
pub const DEFAULT_KEY_ID_NAME: &str = "AWS_ACCESS_KEY_ID";
pub const DEFAULT_SECRET_KEY_NAME: &str = "AWS_SECRET_ACCESS_KEY";

/// More than this many destinations would not fit in one invocation's time with room to spare.
const MOST_DESTINATIONS: usize = 20;

/// One place the key is delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// One `SecureString` parameter holding `{"AccessKeyId": ..., "SecretAccessKey": ...}`.
    Ssm {
        name: String,
        /// The KMS key to encrypt it with; `None`: the account's `aws/ssm` key, which every
        /// principal of the account allowed to read the parameter may decrypt with.
        kms_key_id: Option<String>,
    },
    /// Two Actions secrets: the key's id and its secret part.
    GitHub {
        scope: GitHubScope,
        /// Who may read an organization secret; `None` for a repository or environment.
        visibility: Option<Visibility>,
        names: SecretNames,
    },
}

/// Which repositories may read an organization secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// The organization's private repositories. (`all`, which adds its public ones, is refused.)
    Private,
    /// These repositories of the organization, by name.
    Selected(Vec<String>),
}

/// The names of the two GitHub secrets a destination writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNames {
    pub key_id: String,
    pub secret_key: String,
}

impl Default for SecretNames {
    fn default() -> Self {
        SecretNames {
            key_id: DEFAULT_KEY_ID_NAME.to_string(),
            secret_key: DEFAULT_SECRET_KEY_NAME.to_string(),
        }
    }
}

impl fmt::Display for Destination {
    /// The `--deliver-to` shorthand: `ssm:/ci/deploy/aws`, `github:acme/api[:env]`, `github-org:acme`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Ssm { name, .. } => write!(f, "ssm:{name}"),
            Destination::GitHub { scope, .. } => match scope {
                GitHubScope::Repository { owner, repo } => write!(f, "github:{owner}/{repo}"),
                GitHubScope::Environment {
                    owner,
                    repo,
                    environment,
                } => write!(f, "github:{owner}/{repo}:{environment}"),
                GitHubScope::Organization { org } => write!(f, "github-org:{org}"),
            },
        }
    }
}

/// Reads the `Destinations` field (absent: none). The error says what is wrong, in words an
/// operator can act on.
pub fn parse_all(field: Option<&Value>) -> Result<Vec<Destination>, String> {
    let Some(field) = field else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = field else {
        return Err(format!("{DESTINATIONS} must be a list of objects"));
    };
    if items.len() > MOST_DESTINATIONS {
        return Err(format!(
            "{DESTINATIONS} lists {} destinations; at most {MOST_DESTINATIONS} fit in one rotation",
            items.len()
        ));
    }
    let mut destinations: Vec<Destination> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let destination = parse_one(item).map_err(|e| format!("destination {}: {e}", i + 1))?;
        if destinations.iter().any(|d| same_place(d, &destination)) {
            return Err(format!(
                "destination {} ({destination}) is listed twice",
                i + 1
            ));
        }
        destinations.push(destination);
    }
    Ok(destinations)
}

/// Refuses a destination outside what the deployer allows, naming the setting that would allow it.
pub fn check_allowed(destination: &Destination, allowed: &DeliverySettings) -> Result<(), String> {
    match destination {
        Destination::Ssm { name, .. } => match &allowed.ssm_prefix {
            Some(prefix) if name.starts_with(prefix.as_str()) => Ok(()),
            Some(prefix) => Err(format!(
                "{destination} is outside the SSM prefix {prefix} this function may write (ROTATOR_SSM_PREFIX)"
            )),
            None => Err(format!(
                "{destination}: this function delivers to no SSM parameter (ROTATOR_SSM_PREFIX is not set)"
            )),
        },
        Destination::GitHub { scope, .. } => {
            let owner = scope.owner();
            if allowed
                .github_owners
                .iter()
                .any(|o| o.eq_ignore_ascii_case(owner))
            {
                Ok(())
            } else if allowed.github_owners.is_empty() {
                Err(format!(
                    "{destination}: this function delivers to no GitHub account (ROTATOR_GITHUB_OWNERS is not set)"
                ))
            } else {
                Err(format!(
                    "{destination}: {owner} is not among the GitHub accounts this function may write ({}; ROTATOR_GITHUB_OWNERS)",
                    allowed.github_owners.join(", ")
                ))
            }
        }
    }
}

/// Reads a `--deliver-to` shorthand into the JSON the secret stores: `ssm:NAME`,
/// `github:OWNER/REPO`, `github:OWNER/REPO:ENVIRONMENT`, `github-org:ORG:private`, or
/// `github-org:ORG:repo,repo` (those repositories only).
pub fn parse_shorthand(spec: &str) -> Result<Value, String> {
    let shape =
        "write ssm:/NAME, github:OWNER/REPO[:ENVIRONMENT] or github-org:ORG:private|REPO,REPO";
    let value = match spec.split_once(':') {
        Some(("ssm", name)) => json!({"Type": "ssm", "Name": name}),
        Some(("github", rest)) => match rest.split_once(':') {
            Some((repository, environment)) => {
                json!({"Type": "github", "Repository": repository, "Environment": environment})
            }
            None => json!({"Type": "github", "Repository": rest}),
        },
        Some(("github-org", rest)) => match rest.split_once(':') {
            Some((org, visibility @ ("all" | "private"))) => {
                json!({"Type": "github", "Organization": org, "Visibility": visibility})
            }
            Some((org, repositories)) => json!({
                "Type": "github", "Organization": org, "Visibility": "selected",
                "Repositories": repositories.split(',').collect::<Vec<_>>(),
            }),
            None => {
                return Err(format!(
                    "{spec:?} does not say which repositories of {rest} may read it: {shape}"
                ));
            }
        },
        _ => return Err(format!("{spec:?} is not a destination: {shape}")),
    };
    // The same checks as a destination written into the secret by hand.
    parse_one(&value).map_err(|e| format!("{spec:?}: {e}"))?;
    Ok(value)
}

fn parse_one(item: &Value) -> Result<Destination, String> {
    let Value::Object(fields) = item else {
        return Err(
            "it is not an object like {\"Type\": \"ssm\", \"Name\": \"/ci/deploy/aws\"}".into(),
        );
    };
    match text(fields, "Type")? {
        Some("ssm") => parse_ssm(fields),
        Some("github") => parse_github(fields),
        Some(other) => Err(format!(
            "Type {other:?} is not a destination this function knows (ssm or github)"
        )),
        None => Err("it has no Type (ssm or github)".into()),
    }
}

fn parse_ssm(fields: &Map<String, Value>) -> Result<Destination, String> {
    only_fields(fields, &["Type", "Name", "KeyId"])?;
    let name = text(fields, "Name")?.ok_or("an ssm destination needs a Name")?;
    if !is_parameter_name(name) {
        return Err(format!(
            "{name:?} is not an SSM parameter path (it starts with /, and holds letters, digits and _.-/ only)"
        ));
    }
    let kms_key_id = text(fields, "KeyId")?.map(str::to_string);
    if kms_key_id
        .as_deref()
        .is_some_and(|k| k.is_empty() || k.len() > 2048)
    {
        return Err("KeyId must name a KMS key (an id, ARN or alias)".into());
    }
    Ok(Destination::Ssm {
        name: name.to_string(),
        kms_key_id,
    })
}

fn parse_github(fields: &Map<String, Value>) -> Result<Destination, String> {
    let names = match fields.get("Names") {
        None => SecretNames::default(),
        Some(Value::Object(names)) => {
            only_fields(names, &["AccessKeyId", "SecretAccessKey"])?;
            let defaults = SecretNames::default();
            let key_id = text(names, "AccessKeyId")?.unwrap_or(&defaults.key_id);
            let secret_key = text(names, "SecretAccessKey")?.unwrap_or(&defaults.secret_key);
            SecretNames {
                key_id: key_id.to_string(),
                secret_key: secret_key.to_string(),
            }
        }
        Some(_) => return Err("Names must be an object like {\"AccessKeyId\": \"DEPLOY_KEY_ID\", \"SecretAccessKey\": \"DEPLOY_SECRET_KEY\"}".into()),
    };
    for name in [&names.key_id, &names.secret_key] {
        if !is_github_secret_name(name) {
            return Err(format!(
                "{name:?} is not a GitHub secret name (letters, digits and _, not starting with a digit or GITHUB_)"
            ));
        }
    }
    if names.key_id.eq_ignore_ascii_case(&names.secret_key) {
        return Err("the key id and the secret key need two different secret names".into());
    }

    if let Some(org) = text(fields, "Organization")? {
        only_fields(
            fields,
            &[
                "Type",
                "Organization",
                "Visibility",
                "Repositories",
                "Names",
            ],
        )?;
        if !is_github_login(org) {
            return Err(format!("{org:?} is not a GitHub organization name"));
        }
        let repositories = match fields.get("Repositories") {
            None => None,
            Some(Value::Array(items)) => {
                let mut names = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(repo) if is_repository_name(repo) => names.push(repo.to_string()),
                        _ => {
                            return Err(format!(
                                "Repositories holds {item}, which is not a repository name of {org}"
                            ));
                        }
                    }
                }
                Some(names)
            }
            Some(_) => return Err("Repositories must be a list of repository names".into()),
        };
        let visibility = match (text(fields, "Visibility")?, repositories) {
            (Some("all"), _) => {
                return Err("Visibility all would give the key to every repository of the organization, public ones included; use private, or selected with Repositories".into());
            }
            (Some("private"), None) => Visibility::Private,
            (Some("selected"), Some(repos)) if !repos.is_empty() => Visibility::Selected(repos),
            (Some("selected"), _) => {
                return Err(
                    "Visibility selected needs Repositories, the repositories that may read it"
                        .into(),
                );
            }
            (Some("private"), Some(_)) => {
                return Err("Repositories goes with Visibility selected only".into());
            }
            (Some(other), _) => {
                return Err(format!("Visibility {other:?} is not private or selected"));
            }
            (None, _) => {
                return Err("an organization destination needs a Visibility: private (its private repositories) or selected (with Repositories)".into());
            }
        };
        return Ok(Destination::GitHub {
            scope: GitHubScope::Organization {
                org: org.to_string(),
            },
            visibility: Some(visibility),
            names,
        });
    }

    only_fields(fields, &["Type", "Repository", "Environment", "Names"])?;
    let repository = text(fields, "Repository")?
        .ok_or("a github destination needs a Repository (OWNER/REPO) or an Organization")?;
    let (owner, repo) = match repository.split_once('/') {
        Some((owner, repo)) if is_github_login(owner) && is_repository_name(repo) => (owner, repo),
        _ => return Err(format!("Repository {repository:?} is not OWNER/REPO")),
    };
    let scope = match text(fields, "Environment")? {
        None => GitHubScope::Repository {
            owner: owner.to_string(),
            repo: repo.to_string(),
        },
        // Never a name that would change the API path it goes into, nor characters that can
        // make it read as another name in a log (controls, bidirectional marks).
        Some(environment)
            if (1..=255).contains(&environment.len())
                && environment != "."
                && environment != ".."
                && !environment
                    .chars()
                    .any(|c| c.is_control() || is_format_char(c)) =>
        {
            GitHubScope::Environment {
                owner: owner.to_string(),
                repo: repo.to_string(),
                environment: environment.to_string(),
            }
        }
        Some(_) => {
            return Err("Environment must be an environment name (1 to 255 characters)".into());
        }
    };
    Ok(Destination::GitHub {
        scope,
        visibility: None,
        names,
    })
}

/// Two destinations that write the same place (GitHub names are not case-sensitive).
fn same_place(a: &Destination, b: &Destination) -> bool {
    match (a, b) {
        (Destination::Ssm { name: x, .. }, Destination::Ssm { name: y, .. }) => x == y,
        (Destination::GitHub { scope: x, .. }, Destination::GitHub { scope: y, .. }) => {
            x.to_string().eq_ignore_ascii_case(&y.to_string())
        }
        _ => false,
    }
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn only_fields(fields: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match fields.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(format!(
            "{unknown:?} is not a field of this destination (it takes {})",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

/// A GitHub user or organization name: letters, digits and single inner hyphens, up to 39.
pub fn is_github_login(name: &str) -> bool {
    (1..=39).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// A repository name, never one that would change the API path it goes into.
fn is_repository_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && name != "."
        && name != ".."
}

/// Invisible characters that reorder or hide text (Unicode's format characters, in part).
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// GitHub's rule for secret names.
fn is_github_secret_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
}

/// A hierarchical SSM parameter name, outside the prefixes AWS reserves.
fn is_parameter_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (2..=1011).contains(&name.len())
        && name.starts_with('/')
        && !name.ends_with('/')
        && !name.contains("//")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
        && !lower.starts_with("/aws")
        && !lower.starts_with("/ssm")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> DeliverySettings {
        DeliverySettings {
            ssm_prefix: Some("/ci/".into()),
            github_owners: vec!["acme".into()],
            github_credentials: Some("github/app".into()),
            ..DeliverySettings::default()
        }
    }

    #[test]
    fn the_three_kinds_of_destination_are_read() {
        let field = json!([
            {"Type": "ssm", "Name": "/ci/deploy/aws"},
            {"Type": "github", "Repository": "acme/api", "Environment": "prod"},
            {"Type": "github", "Organization": "acme", "Visibility": "selected", "Repositories": ["api", "web"],
             "Names": {"AccessKeyId": "DEPLOY_KEY_ID"}},
        ]);
        let destinations = parse_all(Some(&field)).unwrap();
        let shown: Vec<String> = destinations.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            shown,
            [
                "ssm:/ci/deploy/aws",
                "github:acme/api:prod",
                "github-org:acme"
            ]
        );
        let Destination::GitHub {
            names, visibility, ..
        } = &destinations[2]
        else {
            panic!("not github: {:?}", destinations[2]);
        };
        assert_eq!(names.key_id, "DEPLOY_KEY_ID");
        assert_eq!(names.secret_key, DEFAULT_SECRET_KEY_NAME);
        assert_eq!(
            visibility,
            &Some(Visibility::Selected(vec!["api".into(), "web".into()]))
        );
        for d in &destinations {
            check_allowed(d, &allowed()).unwrap();
        }
        assert_eq!(parse_all(None).unwrap(), []);
    }

    #[test]
    fn a_malformed_or_unknown_destination_is_refused_with_what_is_wrong() {
        for (item, expected) in [
            (
                json!({"Type": "s3", "Bucket": "b"}),
                "not a destination this function knows",
            ),
            (json!({"Name": "/ci/x"}), "no Type"),
            (json!({"Type": "ssm"}), "needs a Name"),
            (
                json!({"Type": "ssm", "Name": "ci/x"}),
                "not an SSM parameter path",
            ),
            (
                json!({"Type": "ssm", "Name": "/aws/reserved"}),
                "not an SSM parameter path",
            ),
            (
                json!({"Type": "ssm", "Name": "/ci/x", "Overwrite": false}),
                "\"Overwrite\" is not a field",
            ),
            (
                json!({"Type": "github", "Repository": "acme"}),
                "is not OWNER/REPO",
            ),
            (
                json!({"Type": "github", "Repository": "acme/.."}),
                "is not OWNER/REPO",
            ),
            (
                json!({"Type": "github", "Repository": "acme/api", "Environment": ".."}),
                "environment name",
            ),
            (
                json!({"Type": "github", "Repository": "acme/api", "Environment": "prod\u{202E}"}),
                "environment name",
            ),
            (
                json!({"Type": "github", "Repository": "../x/api"}),
                "is not OWNER/REPO",
            ),
            (
                json!({"Type": "github", "Repository": "acme/api", "Names": {"AccessKeyId": "GITHUB_TOKEN"}}),
                "not a GitHub secret name",
            ),
            (
                json!({"Type": "github", "Organization": "acme"}),
                "needs a Visibility",
            ),
            (
                json!({"Type": "github", "Organization": "acme", "Visibility": "selected"}),
                "needs Repositories",
            ),
            (json!("ssm:/ci/x"), "not an object"),
            (
                json!({"Type": "github", "Organization": "acme", "Visibility": "all"}),
                "public ones included",
            ),
        ] {
            let reason = parse_all(Some(&json!([item]))).unwrap_err();
            assert!(reason.contains(expected), "{item}: {reason}");
        }
        let twice = json!([{"Type": "ssm", "Name": "/ci/x"}, {"Type": "ssm", "Name": "/ci/x"}]);
        assert!(
            parse_all(Some(&twice))
                .unwrap_err()
                .contains("listed twice")
        );
        assert!(
            parse_all(Some(&json!({"Type": "ssm"})))
                .unwrap_err()
                .contains("a list")
        );
    }

    #[test]
    fn a_destination_outside_the_deployers_limits_is_refused() {
        let refused = [
            (
                json!({"Type": "ssm", "Name": "/prod/x"}),
                "outside the SSM prefix /ci/",
            ),
            // A prefix is a path: /ci/ does not cover /ci-other/.
            (
                json!({"Type": "ssm", "Name": "/ci-other/x"}),
                "outside the SSM prefix",
            ),
            (
                json!({"Type": "github", "Repository": "mallory/api"}),
                "mallory is not among",
            ),
            (
                json!({"Type": "github", "Organization": "mallory", "Visibility": "private"}),
                "mallory is not among",
            ),
        ];
        for (item, expected) in refused {
            let destination = parse_all(Some(&json!([item]))).unwrap().remove(0);
            let reason = check_allowed(&destination, &allowed()).unwrap_err();
            assert!(reason.contains(expected), "{reason}");
        }
        let nothing_allowed = DeliverySettings::default();
        let destination = parse_all(Some(&json!([{"Type": "ssm", "Name": "/ci/x"}])))
            .unwrap()
            .remove(0);
        assert!(
            check_allowed(&destination, &nothing_allowed)
                .unwrap_err()
                .contains("ROTATOR_SSM_PREFIX is not set")
        );
        // GitHub names are not case-sensitive.
        let destination = parse_all(Some(&json!([{"Type": "github", "Repository": "ACME/api"}])))
            .unwrap()
            .remove(0);
        check_allowed(&destination, &allowed()).unwrap();
    }

    #[test]
    fn the_shorthand_reads_into_the_secrets_format() {
        assert_eq!(
            parse_shorthand("ssm:/ci/deploy/aws").unwrap(),
            json!({"Type": "ssm", "Name": "/ci/deploy/aws"})
        );
        assert_eq!(
            parse_shorthand("github:acme/api:prod").unwrap(),
            json!({"Type": "github", "Repository": "acme/api", "Environment": "prod"})
        );
        assert_eq!(
            parse_shorthand("github-org:acme:api,web").unwrap()["Repositories"],
            json!(["api", "web"])
        );
        assert_eq!(
            parse_shorthand("github-org:acme:private").unwrap()["Visibility"],
            json!("private")
        );
        for bad in [
            "s3:bucket",
            "github:acme",
            "ssm:relative",
            "github-org:acme",
        ] {
            assert!(parse_shorthand(bad).is_err(), "{bad}");
        }
    }
}
