//! The command line: its commands, options and help, as clap reads them.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  2  the command line is wrong
  3  the input is wrong (event, secret, user, configuration): fix it, then run again
  3  also: AWS refused the request (access denied, no such secret, invalid parameter)
  4  the keys or the rotation need an operator (quota, unusable key, stale rotation): see the message
  5  AWS failed for now (throttling, 5xx, no answer) or the new key was not accepted in time:
     running again may help
  3, 5 also: audit --security-hub could not import every finding (not enabled, access denied,
     a finding refused: 3; throttled: 5); the report is printed whole first
  6  audit --fail-on: a finding at or above that severity exists
  7  audit: a secret under the prefix could not be read (KMS, access), or an account of the
     organization not reached: the audit is incomplete (7 wins over 3 and 5, which win over 6)

Settings: for a secret that a function rotates, that function's ROTATOR_* settings
(lambda:GetFunctionConfiguration; the template's defaults if they cannot be read), except those
set in this shell, which win; for any other secret, this shell's ROTATOR_* and the built-in
defaults. Every command says which it applied. AWS credentials, region and endpoint come the
usual way (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).";

/// Rotate IAM user access keys kept in Secrets Manager, outside Lambda.
#[derive(Parser)]
#[command(name = "iam-key-rotator-cli", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// How to print results: text for people, json for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// Log each step's progress to standard error.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    /// audit only
    Csv,
    /// audit only: one self-contained page
    Html,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    High,
    Medium,
    Low,
}

#[derive(Subcommand)]
pub enum Command {
    /// Rotate now: run the four steps in order, as Secrets Manager would, and print what changed.
    /// An unfinished rotation is resumed (or, if it cannot finish, cancelled and started afresh);
    /// a rotation that fails is cancelled, so the secret is never left stuck.
    Rotate {
        /// The secret's name or ARN.
        #[arg(long)]
        secret_id: String,
        /// Deactivate the previous key right after, whatever the grace period (a leaked key).
        #[arg(long)]
        revoke_previous: bool,
    },
    /// End an unfinished rotation: take AWSPENDING off, delete its new key if nothing ever used
    /// it, and print what was done.
    Cancel {
        /// The secret's name or ARN.
        #[arg(long)]
        secret_id: String,
    },
    /// Run one step from a rotation event file ("-" reads standard input), exactly as the Lambda would.
    Step {
        /// A JSON file like {"Step": "createSecret", "SecretId": "...", "ClientRequestToken": "..."}.
        #[arg(long)]
        event: PathBuf,
    },
    /// Apply the after-rotation policy (ROTATOR_DEACTIVATE_AFTER, ROTATOR_QUIET_FOR,
    /// ROTATOR_DELETE_AFTER) to every secret under ROTATOR_SECRET_NAME_PREFIX, and report findings.
    Sweep {
        /// Only this secret (name or ARN), checked in depth.
        #[arg(long)]
        secret_id: Option<String>,
        /// Print what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Check every secret's keys in IAM, not only those the policy is working on.
        #[arg(long)]
        deep: bool,
    },
    /// Deactivate the secret's previous key now, whatever the policy says (and delete it with --delete).
    Retire {
        /// The secret's name or ARN.
        #[arg(long)]
        secret_id: String,
        /// Also delete the key.
        #[arg(long)]
        delete: bool,
    },
    /// Deliver the current key again to the secret's Destinations (the remedy for DeliveryStale),
    /// and show what each holds.
    Deliver {
        /// The secret's name or ARN.
        #[arg(long)]
        secret_id: String,
    },
    /// Audit every access key of the account against CIS AWS Foundations v3.0 and Security Hub,
    /// from IAM's credential report, telling keys under rotation from the others.
    Audit {
        /// Read a saved credential report (CSV) instead of generating one.
        #[arg(long)]
        report_file: Option<PathBuf>,
        /// Exit with 6 when a finding at or above this severity exists (for pipelines).
        #[arg(long, value_enum)]
        fail_on: Option<FailOn>,
        /// Audit every account of the organization (run it from the management account or a
        /// delegated administrator), each through its audit role, into one report by account.
        #[arg(long, conflicts_with = "report_file")]
        organization: bool,
        /// The audit role in each member account (default ROTATOR_AUDIT_ROLE, else
        /// iam-key-rotator-audit, member-role.yaml's AuditRoleName).
        #[arg(long, requires = "organization")]
        role: Option<String>,
        /// Audit only this account (repeat for several); with --include-ou, either.
        #[arg(long, value_name = "ACCOUNT_ID", requires = "organization")]
        include_account: Vec<String>,
        /// Leave this account out (repeat for several).
        #[arg(long, value_name = "ACCOUNT_ID", requires = "organization")]
        exclude_account: Vec<String>,
        /// Audit only the accounts under this unit (ou-... or r-...), at any depth.
        #[arg(long, value_name = "OU_ID", requires = "organization")]
        include_ou: Vec<String>,
        /// Leave out the accounts under this unit, at any depth.
        #[arg(long, value_name = "OU_ID", requires = "organization")]
        exclude_ou: Vec<String>,
        /// Import the findings into Security Hub (this account's, in this region), one per
        /// account, user, key and check; earlier ones that no longer hold are resolved.
        #[arg(long)]
        security_hub: bool,
    },
    /// Bring an IAM user under rotation: its secret, its tag, rotation attached and run now.
    /// Running it again changes nothing.
    Adopt {
        /// The IAM user's name.
        #[arg(long)]
        user: String,
        /// The rotation function's ARN (the stack's output RotationFunctionArn).
        #[arg(long)]
        function_arn: String,
        /// Make the user under ROTATOR_USER_PATH_PREFIX if it does not exist.
        #[arg(long)]
        create: bool,
        /// The active key its consumers use now, when the user has two.
        #[arg(long)]
        key_id: Option<String>,
        /// Bind the user to the existing secret <prefix><user> although adopt did not bind it
        /// there: check the secret's tags and resource policy (printed) first.
        #[arg(long)]
        reuse_secret: bool,
        /// Where the first rotation delivers the new key, where the adopted key's consumers read
        /// it: ssm:/NAME, github:OWNER/REPO[:ENVIRONMENT] or github-org:ORG:private|REPO,REPO.
        /// Repeat for several. Each must be within the function's ROTATOR_SSM_PREFIX or
        /// ROTATOR_GITHUB_OWNERS.
        #[arg(long, value_name = "DESTINATION")]
        deliver_to: Vec<String>,
        /// Rotate every so many days (1 to 1000).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=1000), conflicts_with = "schedule")]
        days: i64,
        /// Or on a schedule expression, like "rate(30 days)" or "cron(0 4 1 * ? *)".
        #[arg(long)]
        schedule: Option<String>,
        /// Print the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The user's account, when it is a member account of the organization: the secret
        /// (<prefix><account>/<user>) names it, and the function reaches it through its member
        /// role (it must be among the function's ROTATOR_MEMBER_ACCOUNTS).
        #[arg(long, value_name = "ACCOUNT_ID", value_parser = account_id)]
        account: Option<String>,
        /// With --account: the role there adopt reads and tags the user through (the member
        /// role may not tag users).
        #[arg(long, default_value = iam_key_rotator::adopt::ORGANIZATION_ADMIN_ROLE, requires = "account")]
        account_role: String,
    },
    /// Show the user's keys (status, age, last use) beside the secret's versions and labels.
    Status {
        /// The secret's name or ARN.
        #[arg(long)]
        secret_id: String,
    },
}

/// An AWS account id: 12 digits.
fn account_id(value: &str) -> Result<String, String> {
    match iam_key_rotator::accounts::is_account_id(value) {
        true => Ok(value.to_string()),
        false => Err("an AWS account id is 12 digits".into()),
    }
}
