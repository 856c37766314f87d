//! The command-line entry point: the rotation engine run by hand or by a scheduler outside Lambda.

mod output;
mod settings;
mod tables;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use clap::error::ErrorKind;
use clap::{Parser, Subcommand, ValueEnum};
use iam_key_rotator::aws;
use iam_key_rotator::change::Change;
use iam_key_rotator::deployed;
use iam_key_rotator::rotation::cli_driver;
use iam_key_rotator::services::Schedule;
use iam_key_rotator::status::{Status, status};
use iam_key_rotator::wiring::{self, AwsRotator};
use iam_key_rotator::{Config, Error, RotationEvent, adopt, audit, logging, sweep};
use serde_json::{Value, json};
use settings::Context;

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  2  the command line is wrong
  3  the input is wrong (event, secret, user, configuration): fix it, then run again
  3  also: AWS refused the request (access denied, no such secret, invalid parameter)
  4  the keys or the rotation need an operator (quota, unusable key, stale rotation): see the message
  5  AWS failed for now (throttling, 5xx, no answer) or the new key was not accepted in time:
     running again may help
  6  audit --fail-on: a finding at or above that severity exists
  7  audit: a secret under the prefix could not be read (KMS, access): the audit is incomplete;
     see its unreadable-secret findings (7 wins over 6)

Settings: for a secret that a function rotates, that function's ROTATOR_* settings
(lambda:GetFunctionConfiguration; the template's defaults if they cannot be read), except those
set in this shell, which win; for any other secret, this shell's ROTATOR_* and the built-in
defaults. Every command says which it applied. AWS credentials, region and endpoint come the
usual way (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).";

/// Rotate IAM user access keys kept in Secrets Manager, outside Lambda.
#[derive(Parser)]
#[command(name = "iam-key-rotator-cli", version, after_help = EXIT_CODES)]
struct Cli {
    /// How to print results: text for people, json for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,

    /// Log each step's progress to standard error.
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
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
enum FailOn {
    High,
    Medium,
    Low,
}

#[derive(Subcommand)]
enum Command {
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
    /// Audit every access key of the account against CIS AWS Foundations v3.0 and Security Hub,
    /// from IAM's credential report, telling keys under rotation from the others.
    Audit {
        /// Read a saved credential report (CSV) instead of generating one.
        #[arg(long)]
        report_file: Option<PathBuf>,
        /// Exit with 6 when a finding at or above this severity exists (for pipelines).
        #[arg(long, value_enum)]
        fail_on: Option<FailOn>,
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
        /// Rotate every so many days (1 to 1000).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=1000), conflicts_with = "schedule")]
        days: i64,
        /// Or on a schedule expression, like "rate(30 days)" or "cron(0 4 1 * ? *)".
        #[arg(long)]
        schedule: Option<String>,
        /// Print the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show the user's keys (status, age, last use) beside the secret's versions and labels.
    Status {
        /// The secret's name or ARN.
        #[arg(long)]
        secret_id: String,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if wants_json()
                && !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) =>
        {
            let message = e.render().to_string();
            println!(
                "{}",
                json!({"error": {"type": "UsageError", "message": message.trim()}})
            );
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let level = if cli.verbose { "info" } else { "warn" };
    tracing::subscriber::set_global_default(logging::subscriber(
        logging::LogFormat::from_env(),
        logging::filter(level),
        std::io::stderr,
    ))
    .ok();

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if matches!(cli.output, Output::Csv | Output::Html)
        && !matches!(cli.command, Command::Audit { .. })
    {
        eprintln!(
            "error: --output csv and --output html are for the audit command; use text or json"
        );
        return ExitCode::from(2);
    }
    match runtime.block_on(run(&cli)) {
        Ok((report, context)) => {
            output::print(cli.output, &report, &context);
            if let Outcome::Audited(audit) = &report
                && audit.is_incomplete()
            {
                eprintln!(
                    "error: the audit is incomplete: {} secret(s) could not be read (see the unreadable-secret findings); make them readable to this role, then audit again",
                    audit.summary.unreadable_secrets
                );
                return ExitCode::from(7);
            }
            if let (
                Outcome::Audited(audit),
                Command::Audit {
                    fail_on: Some(level),
                    ..
                },
            ) = (&report, &cli.command)
            {
                let level = match level {
                    FailOn::High => audit::Severity::High,
                    FailOn::Medium => audit::Severity::Medium,
                    FailOn::Low => audit::Severity::Low,
                };
                if audit.has_finding_at_or_above(level) {
                    return ExitCode::from(6);
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            match cli.output {
                Output::Text | Output::Csv | Output::Html => eprintln!("error[{}]: {e}", e.kind()),
                Output::Json => println!(
                    "{}",
                    json!({"error": {"type": e.kind(), "message": e.to_string()}})
                ),
            }
            ExitCode::from(e.remedy() as u8)
        }
    }
}

/// Whether the command line asks for JSON, even when it is otherwise wrong.
fn wants_json() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .any(|pair| pair[0] == "--output" && pair[1] == "json")
        || args.iter().any(|a| a == "--output=json")
}

/// What a command did, for printing.
pub enum Outcome {
    Rotated {
        rotation: cli_driver::Rotation,
        retired: Vec<sweep::Action>,
        before: Status,
        after: Status,
    },
    Cancelled {
        secret_id: String,
        changes: Vec<Change>,
    },
    Swept(sweep::Summary),
    Audited(Box<audit::Audit>),
    Adopted(adopt::Adoption),
    Retired {
        secret_id: String,
        actions: Vec<sweep::Action>,
    },
    Stepped {
        event: RotationEvent,
    },
    Shown(Status),
}

/// Runs the command; says which settings it applied and what it covered.
async fn run(cli: &Cli) -> Result<(Outcome, Context), Error> {
    let sdk = aws::load_sdk_config().await;
    let acted = |report: Outcome, applied: deployed::Applied| {
        let context = Context {
            policies: vec![applied],
            covers: None,
        };
        Ok((report, context))
    };
    match &cli.command {
        Command::Rotate {
            secret_id,
            revoke_previous,
        } => {
            let (rotator, applied) = settings::for_secret(&sdk, secret_id).await?;
            let budget = applied.config.test_budget;
            acted(
                rotate(&rotator, secret_id, budget, *revoke_previous).await?,
                applied,
            )
        }
        Command::Sweep {
            secret_id,
            dry_run,
            deep,
        } => {
            let options = sweep::Options {
                secret_id: secret_id.clone(),
                dry_run: *dry_run,
                deep: *deep,
                function_arn: None,
                only: None,
            };
            let now = SystemTime::now();
            let Some(secret_id) = secret_id else {
                let (report, context) = settings::sweep_account(&sdk, &options, now).await?;
                return Ok((Outcome::Swept(report), context));
            };
            let (rotator, applied) = settings::for_secret(&sdk, secret_id).await?;
            acted(
                Outcome::Swept(sweep::sweep(&rotator, &options, now).await?),
                applied,
            )
        }
        Command::Audit { report_file, .. } => {
            let rotator = wiring::rotator(&sdk, Config::from_env()?);
            let csv = match report_file {
                Some(path) => {
                    Some(
                        std::fs::read_to_string(path).map_err(|e| Error::UnreadableFile {
                            path: path.display().to_string(),
                            reason: e.to_string(),
                        })?,
                    )
                }
                None => None,
            };
            let audit =
                audit::audit(&rotator, csv, SystemTime::now(), |line| eprintln!("{line}")).await?;
            let context = Context {
                policies: Vec::new(),
                covers: Some(settings::covers(&rotator.config().secret_name_prefix)),
            };
            Ok((Outcome::Audited(Box::new(audit)), context))
        }
        Command::Adopt {
            user,
            function_arn,
            create,
            key_id,
            reuse_secret,
            days,
            schedule,
            dry_run,
        } => {
            let request = adopt::Request {
                user: user.clone(),
                function_arn: function_arn.clone(),
                create: *create,
                key_id: key_id.clone(),
                schedule: match schedule {
                    Some(e) => Schedule::Expression(e.clone()),
                    None => Schedule::Days(*days),
                },
                dry_run: *dry_run,
                reuse_secret: *reuse_secret,
            };
            // The secret is made for this function: its prefix, path and tag binding apply.
            let (rotator, applied) = settings::for_function(&sdk, function_arn).await?;
            acted(
                Outcome::Adopted(adopt::adopt(&rotator, &request).await?),
                applied,
            )
        }
        Command::Retire { secret_id, delete } => {
            let (rotator, applied) = settings::for_secret(&sdk, secret_id).await?;
            let report = Outcome::Retired {
                secret_id: secret_id.clone(),
                actions: sweep::retire(&rotator, secret_id, *delete).await?,
            };
            acted(report, applied)
        }
        Command::Step { event } => {
            let event = read_event(event)?;
            let (rotator, applied) = settings::for_secret(&sdk, &event.secret_id).await?;
            let budget = applied.config.test_budget;
            rotator
                .run(&event, Instant::now() + budget + Duration::from_secs(60))
                .await?;
            acted(Outcome::Stepped { event }, applied)
        }
        Command::Status { secret_id } => {
            let rotator = wiring::rotator(&sdk, Config::from_env()?);
            let shown = status(rotator.secrets(), rotator.iam(), secret_id).await?;
            Ok((Outcome::Shown(shown), Context::default()))
        }
        Command::Cancel { secret_id } => {
            let (rotator, applied) = settings::for_secret(&sdk, secret_id).await?;
            let report = Outcome::Cancelled {
                secret_id: secret_id.clone(),
                changes: cli_driver::cancel(&rotator, secret_id).await?,
            };
            acted(report, applied)
        }
    }
}

async fn rotate(
    rotator: &AwsRotator,
    secret_id: &str,
    budget: Duration,
    revoke_previous: bool,
) -> Result<Outcome, Error> {
    let before = status(rotator.secrets(), rotator.iam(), secret_id).await?;
    let deadline = Instant::now() + budget + Duration::from_secs(60);
    let rotation = cli_driver::rotate(rotator, secret_id, deadline).await?;
    let retired = if revoke_previous {
        sweep::retire(rotator, secret_id, false).await?
    } else {
        Vec::new()
    };
    let after = status(rotator.secrets(), rotator.iam(), secret_id).await?;
    Ok(Outcome::Rotated {
        rotation,
        retired,
        before,
        after,
    })
}

fn read_event(path: &PathBuf) -> Result<RotationEvent, Error> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| Error::UnreadableFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidEvent(format!("{} is not JSON: {e}", path.display())))?;
    RotationEvent::from_json(&value)
}
