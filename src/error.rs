//! The one error type: every failure the rotation can report, each saying what to do next.

use std::time::Duration;

/// Every way a rotation step can fail.
///
/// Messages name the secret, user and key ids involved and what the operator should do;
/// they never contain a secret access key. [`Error::kind`] is what Lambda reports as `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "invalid rotation event: {0}. Secrets Manager sends {{\"Step\": \"createSecret|setSecret|testSecret|finishSecret\", \"SecretId\": \"...\", \"ClientRequestToken\": \"...\"}}"
    )]
    InvalidEvent(String),

    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    #[error("cannot read {path}: {reason}. Check the path, and that you may read the file")]
    UnreadableFile { path: String, reason: String },

    #[error(
        "the credential report is not the CSV IAM writes: {0}. Download it again (aws iam get-credential-report), or audit without --report-file"
    )]
    InvalidCredentialReport(String),

    #[error(
        "no secret {secret} under the prefix {prefix:?} (ROTATOR_SECRET_NAME_PREFIX): check its name or ARN, or set the prefix so that it covers the secret"
    )]
    SecretNotFound { secret: String, prefix: String },

    #[error(
        "secret {secret} has no previous key to retire: its AWSPREVIOUS version is missing, holds no key of the current user, or holds the current key. Nothing was changed"
    )]
    NoPreviousKey { secret: String },

    #[error(
        "secret {secret} does not have rotation enabled. Turn rotation on with `aws secretsmanager rotate-secret --secret-id {secret} --rotation-lambda-arn ...`"
    )]
    RotationNotEnabled { secret: String },

    #[error(
        "token {token} is not a version of secret {secret}: rotation must be started by Secrets Manager (rotate-secret), which creates that version first"
    )]
    UnknownVersion { secret: String, token: String },

    #[error(
        "a rotation of secret {secret} is in progress: version {version} is AWSPENDING. Let it finish, or cancel it with `aws secretsmanager update-secret-version-stage --secret-id {secret} --version-stage AWSPENDING --remove-from-version-id {version}`, then retry"
    )]
    RotationInProgress { secret: String, version: String },

    #[error(
        "version {token} of secret {secret} is not AWSPENDING (its labels: {labels}): another rotation has taken over or this one was abandoned; start a new rotation"
    )]
    NotPending {
        secret: String,
        token: String,
        labels: String,
    },

    #[error(
        "the {label} value of secret {secret} is not a valid key secret: {reason}. Expected JSON like {{\"UserName\": \"...\", \"AccessKeyId\": \"...\", \"SecretAccessKey\": \"...\"}}; fix it with put-secret-value, then retry"
    )]
    InvalidSecret {
        secret: String,
        label: String,
        reason: String,
    },

    #[error(
        "IAM user {user} named by secret {secret} does not exist: correct UserName in the secret, then retry"
    )]
    UserNotFound { secret: String, user: String },

    #[error(
        "IAM user {user} (path {path}) is outside this function's scope ({allowed}); refusing to touch its keys. Move the user under the allowed path or point the secret at another user"
    )]
    UserOutOfScope {
        user: String,
        path: String,
        allowed: String,
    },

    #[error(
        "secret {secret} names AWS account {account} for its user, and this function cannot act there: {reason}. Nothing was changed"
    )]
    AccountUnreachable {
        secret: String,
        account: String,
        reason: String,
        /// AWS failed for now (throttling, no answer) rather than refused.
        retry: bool,
    },

    #[error(
        "the {label} version of secret {secret} names IAM user {other_user}, but AWSCURRENT names {user}: a rotation never moves a secret to another user, so nothing was changed. Cancel this rotation (iam-key-rotator-cli cancel --secret-id {secret}), correct UserName, then rotate again"
    )]
    UserMismatch {
        secret: String,
        label: String,
        user: String,
        other_user: String,
    },

    #[error(
        "IAM user {user} already has 2 access keys and none can be removed safely: {}. If a key named here is no longer used, deactivate it (aws iam update-access-key --user-name {user} --access-key-id <id> --status Inactive), then retry the rotation; AWS reports a key's use with a delay of up to several hours, so a key used moments ago may not show it yet", blocking.join("; ")
    )]
    KeyQuota {
        secret: String,
        user: String,
        /// Each key in the way, with why it may not go.
        blocking: Vec<String>,
    },

    #[error(
        "version {token} of secret {secret} has no value yet: createSecret must run first. Let Secrets Manager retry the rotation, or start a new one"
    )]
    PendingValueMissing { secret: String, token: String },

    #[error(
        "the pending key {key_id} of IAM user {user} cannot be used: {reason}. {}", if *abandoned {
            "This rotation was abandoned (AWSPENDING taken off its version) so that the next rotation can start with a fresh key"
        } else {
            "Nothing was changed; start a new rotation so createSecret makes a fresh key"
        }
    )]
    PendingKeyUnusable {
        user: String,
        key_id: String,
        reason: String,
        /// Whether the function took AWSPENDING off, ending this rotation.
        abandoned: bool,
    },

    #[error(
        "the rotation of secret {secret} under token {token} is stale: {reason}. Promoting its key would undo that change, so nothing was changed. Cancel this rotation (iam-key-rotator-cli cancel --secret-id {secret}, or aws secretsmanager update-secret-version-stage --secret-id {secret} --version-stage AWSPENDING --remove-from-version-id {token}), then rotate again"
    )]
    StaleRotation {
        secret: String,
        token: String,
        reason: String,
    },

    #[error(
        "the new key {key_id} of IAM user {user} never became valid: STS still answered {last_code} after {attempts} attempts over {:.1}s. IAM can take a while to propagate a new key; raise ROTATOR_TEST_BUDGET_SECONDS (and the function timeout) if this repeats. No label was moved; the next attempt of this rotation tries the same key again", waited.as_secs_f64()
    )]
    KeyNeverValid {
        user: String,
        key_id: String,
        attempts: u32,
        waited: Duration,
        last_code: String,
    },

    #[error(
        "the new key {key_id} signs as {actual}, not as the secret's user {expected}: the secret's UserName and the key disagree; check the secret, then start a new rotation"
    )]
    WrongIdentity {
        key_id: String,
        expected: String,
        actual: String,
    },

    #[error(
        "a rotation of secret {secret} began at {started} (version {version}) and may still be running: an attempt by Secrets Manager (or a CLI run that stopped after storing its key) lasts up to 15 minutes, so taking it over now would race it. Nothing was changed; run again after {settled}, or see where it stands with `iam-key-rotator-cli status --secret-id {secret}`"
    )]
    RotationInFlight {
        secret: String,
        version: String,
        started: String,
        settled: String,
    },

    #[error(
        "secret {secret} lists a destination this function will not deliver to: {reason}. Nothing was changed; correct Destinations in the secret (see the README's \"Deliver the key\"), then retry"
    )]
    InvalidDestination { secret: String, reason: String },

    #[error(
        "could not deliver the new key to {destination}: {reason}. {}", if *retry {
            "The rotation retries it; the destinations already written hold a working key"
        } else {
            "Fix the destination or the function's access to it, then retry the rotation; the destinations already written hold a working key"
        }
    )]
    DeliveryFailed {
        destination: String,
        reason: String,
        /// Whether trying again may help (throttling, a server error, no answer).
        retry: bool,
    },

    #[error(
        "{destination} does not hold the new key: {reason}. Nothing was promoted; the rotation's next attempt delivers it again"
    )]
    DeliveryUnconfirmed { destination: String, reason: String },

    #[error("GitHub {operation} failed: {message}")]
    GitHub {
        operation: &'static str,
        /// The HTTP status of GitHub's answer; `None` when none came.
        status: Option<u16>,
        message: String,
    },

    #[error("cannot bring IAM user {user} under rotation: {reason}")]
    CannotAdopt { user: String, reason: String },

    #[error("AWS {operation} failed: {message}")]
    Aws {
        operation: &'static str,
        code: Option<String>,
        /// The HTTP status of AWS's answer; `None` when none came (connection failure, timeout).
        status: Option<u16>,
        message: String,
    },
}

/// What a command-line caller should make of an error: the CLI's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// The input is wrong (event, secret, configuration, scope, or AWS refused the request as
    /// invalid or not allowed): fix it, then retry. Exit code 3.
    FixInput = 3,
    /// The keys or the rotation's state need an operator (quota, unusable key). Exit code 4.
    Operator = 4,
    /// AWS failed for now (throttling, a 5xx, no answer) or the new key was not accepted in
    /// time: running again may help. Exit code 5.
    Retry = 5,
}

impl Error {
    pub fn remedy(&self) -> Remedy {
        match self {
            Error::InvalidEvent(_)
            | Error::InvalidConfig(_)
            | Error::UnreadableFile { .. }
            | Error::InvalidCredentialReport(_)
            | Error::SecretNotFound { .. }
            | Error::NoPreviousKey { .. }
            | Error::RotationNotEnabled { .. }
            | Error::UnknownVersion { .. }
            | Error::NotPending { .. }
            | Error::InvalidSecret { .. }
            | Error::UserNotFound { .. }
            | Error::UserOutOfScope { .. }
            | Error::UserMismatch { .. }
            | Error::CannotAdopt { .. }
            | Error::InvalidDestination { .. } => Remedy::FixInput,
            Error::RotationInProgress { .. }
            | Error::KeyQuota { .. }
            | Error::PendingValueMissing { .. }
            | Error::PendingKeyUnusable { .. }
            | Error::StaleRotation { .. }
            | Error::WrongIdentity { .. } => Remedy::Operator,
            Error::KeyNeverValid { .. }
            | Error::RotationInFlight { .. }
            | Error::DeliveryUnconfirmed { .. } => Remedy::Retry,
            Error::DeliveryFailed { retry, .. } | Error::AccountUnreachable { retry, .. } => {
                match retry {
                    true => Remedy::Retry,
                    false => Remedy::FixInput,
                }
            }
            Error::GitHub { status, .. } => match status {
                Some(429) | Some(500..) | None => Remedy::Retry,
                Some(_) => Remedy::FixInput,
            },
            Error::Aws { code, status, .. } => aws_remedy(code.as_deref(), *status),
        }
    }

    /// A short, stable name for the kind of failure: Lambda's `errorType`, the CLI's error tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidEvent(_) => "InvalidEvent",
            Error::InvalidConfig(_) => "InvalidConfiguration",
            Error::UnreadableFile { .. } => "UnreadableFile",
            Error::InvalidCredentialReport(_) => "InvalidCredentialReport",
            Error::SecretNotFound { .. } => "SecretNotFound",
            Error::NoPreviousKey { .. } => "NoPreviousKey",
            Error::RotationNotEnabled { .. } => "RotationNotEnabled",
            Error::UnknownVersion { .. } => "UnknownVersion",
            Error::NotPending { .. } => "VersionNotPending",
            Error::RotationInProgress { .. } => "RotationInProgress",
            Error::InvalidSecret { .. } => "InvalidSecret",
            Error::UserNotFound { .. } => "UserNotFound",
            Error::UserOutOfScope { .. } => "UserOutOfScope",
            Error::UserMismatch { .. } => "UserMismatch",
            Error::AccountUnreachable { .. } => "AccountUnreachable",
            Error::KeyQuota { .. } => "KeyQuotaExceeded",
            Error::PendingValueMissing { .. } => "PendingValueMissing",
            Error::PendingKeyUnusable { .. } => "PendingKeyUnusable",
            Error::StaleRotation { .. } => "StaleRotation",
            Error::CannotAdopt { .. } => "CannotAdopt",
            Error::RotationInFlight { .. } => "RotationInFlight",
            Error::KeyNeverValid { .. } => "KeyNeverValid",
            Error::WrongIdentity { .. } => "WrongIdentity",
            Error::InvalidDestination { .. } => "InvalidDestination",
            Error::DeliveryFailed { .. } => "DeliveryFailed",
            Error::DeliveryUnconfirmed { .. } => "DeliveryUnconfirmed",
            Error::GitHub { .. } => "GitHubError",
            Error::Aws { .. } => "AwsError",
        }
    }
}

/// AWS's answer sorted: throttling and server failures pass, other refusals (access denied, no
/// such secret, invalid parameters) need the input fixed.
fn aws_remedy(code: Option<&str>, status: Option<u16>) -> Remedy {
    const THROTTLING: [&str; 5] = [
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
    ];
    match (code, status) {
        (Some(code), _) if THROTTLING.contains(&code) => Remedy::Retry,
        (_, Some(400..=499)) => Remedy::FixInput,
        _ => Remedy::Retry,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().to_string(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(code: &str, status: Option<u16>) -> Error {
        Error::Aws {
            operation: "GetSecretValue",
            code: Some(code.to_string()),
            status,
            message: code.to_string(),
        }
    }

    #[test]
    fn refusals_ask_for_a_fix_and_passing_failures_for_a_retry() {
        for (code, status) in [
            ("AccessDeniedException", Some(400)),
            ("AccessDenied", Some(403)),
            ("ResourceNotFoundException", Some(400)),
            ("InvalidParameterException", Some(400)),
        ] {
            assert_eq!(aws(code, status).remedy(), Remedy::FixInput, "{code}");
        }
        for (code, status) in [
            ("ThrottlingException", Some(400)),
            ("Throttling", Some(400)),
            ("InternalServiceError", Some(500)),
            ("ServiceUnavailable", Some(503)),
            ("dispatch failure", None),
        ] {
            assert_eq!(aws(code, status).remedy(), Remedy::Retry, "{code}");
        }
        let never_valid = Error::KeyNeverValid {
            user: "u".into(),
            key_id: "AKIA".into(),
            attempts: 3,
            waited: Duration::from_secs(60),
            last_code: "InvalidClientTokenId".into(),
        };
        assert_eq!(never_valid.remedy(), Remedy::Retry);
    }
}
