//! The command-line entry point: the rotation engine run by hand or by a scheduler outside Lambda.

mod args;
mod output;
mod settings;
mod tables;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use args::{Cli, Command, FailOn, Output};
use clap::Parser;
use clap::error::ErrorKind;
use iam_key_rotator::audit::organization::{OrgOptions, Selection};
use iam_key_rotator::aws;
use iam_key_rotator::change::Change;
use iam_key_rotator::delivery::Holding;
use iam_key_rotator::deployed;
use iam_key_rotator::rotation::cli_driver;
use iam_key_rotator::services::Schedule;
use iam_key_rotator::status::{Status, status};
use iam_key_rotator::wiring::{self, AwsRotator};
use iam_key_rotator::{Config, Error, RotationEvent, adopt, audit, logging, sweep};
use serde_json::{Value, json};
use settings::Context;

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
            if let Outcome::Audited(run) = &report
                && run.is_incomplete()
            {
                eprintln!("error: {}", incomplete(run));
                return ExitCode::from(7);
            }
            // The report above is whole; only its copy in Security Hub is missing or partial.
            if let Outcome::Audited(run) = &report
                && let Some(imported) = &run.security_hub
            {
                if let Some(failure) = &imported.failed {
                    eprintln!("error[{}]: {}", failure.kind, failure.message);
                    return ExitCode::from(failure.remedy as u8);
                }
                if !imported.refused.is_empty() {
                    eprintln!(
                        "error[SecurityHubRefused]: Security Hub refused {} finding(s) (listed above); the report stands. Correct what it says, or report it as a bug of iam-key-rotator",
                        imported.refused.len()
                    );
                    return ExitCode::from(3);
                }
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
                if audit.findings().iter().any(|(_, f)| f.severity <= level) {
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

/// Why an audit is incomplete, and what to do.
fn incomplete(run: &audit::run::Run) -> String {
    match &run.report {
        audit::run::Report::Account(audit) => format!(
            "the audit is incomplete: {} secret(s) could not be read (see the unreadable-secret findings); make them readable to this role, then audit again",
            audit.summary.unreadable_secrets
        ),
        audit::run::Report::Organization(org) => format!(
            "the audit is incomplete: {} account(s) could not be reached, {} not reached in time, {} with unreadable secrets (see the report); deploy member-role.yaml with AuditPrincipalArn to each, then audit again",
            org.unreachable.len(),
            org.not_reached.len(),
            org.accounts
                .iter()
                .filter(|a| a.audit.is_incomplete())
                .count()
        ),
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
    Audited(Box<audit::run::Run>),
    Adopted(adopt::Adoption),
    Retired {
        secret_id: String,
        actions: Vec<sweep::Action>,
    },
    Stepped {
        event: RotationEvent,
    },
    Shown(Status),
    Delivered {
        secret_id: String,
        holdings: Vec<Holding>,
    },
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
                deadline: None,
                start_after: None,
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
        Command::Audit {
            report_file,
            organization,
            role,
            include_account,
            exclude_account,
            include_ou,
            exclude_ou,
            security_hub,
            ..
        } => {
            let rotator = wiring::rotator(&sdk, Config::from_env()?);
            let report_csv = match report_file {
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
            let organization = organization.then(|| OrgOptions {
                role: role
                    .clone()
                    .unwrap_or_else(|| rotator.config().members.audit_role.clone()),
                selection: Selection {
                    include_accounts: include_account.clone(),
                    exclude_accounts: exclude_account.clone(),
                    include_units: include_ou.clone(),
                    exclude_units: exclude_ou.clone(),
                },
                deadline: None,
                start_after: None,
            });
            let security_hub = match (security_hub, sdk.region()) {
                (false, _) => None,
                (true, Some(region)) => Some(region.to_string()),
                (true, None) => {
                    return Err(Error::InvalidConfig(
                        "--security-hub needs a region: set AWS_REGION or a profile's region"
                            .into(),
                    ));
                }
            };
            let request = audit::run::Request {
                organization,
                security_hub,
                report_csv,
                import_deadline: None,
            };
            let run = audit::run::run(&rotator, request, SystemTime::now(), |line| {
                eprintln!("{line}")
            })
            .await?;
            let context = Context {
                policies: Vec::new(),
                covers: Some(settings::covers(&rotator.config().secret_name_prefix)),
            };
            Ok((Outcome::Audited(Box::new(run)), context))
        }
        Command::Adopt {
            user,
            function_arn,
            create,
            key_id,
            reuse_secret,
            deliver_to,
            days,
            schedule,
            dry_run,
            account,
            account_role,
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
                deliver_to: deliver_to.clone(),
                account: account.clone(),
                account_role: account_role.clone(),
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
        Command::Deliver { secret_id } => {
            let (rotator, applied) = settings::for_secret(&sdk, secret_id).await?;
            let deadline = Instant::now() + Duration::from_secs(120);
            let report = Outcome::Delivered {
                secret_id: secret_id.clone(),
                holdings: rotator.deliver_again(secret_id, deadline).await?,
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
            let shown = status(&rotator, secret_id).await?;
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
    let before = status(rotator, secret_id).await?;
    let deadline = Instant::now() + budget + Duration::from_secs(60);
    let rotation = cli_driver::rotate(rotator, secret_id, deadline).await?;
    let retired = if revoke_previous {
        sweep::retire(rotator, secret_id, false).await?
    } else {
        Vec::new()
    };
    let after = status(rotator, secret_id).await?;
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
