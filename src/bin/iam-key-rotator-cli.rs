//! The command-line entry point: the rotation engine run by hand or by a scheduler outside Lambda.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use clap::{Parser, Subcommand, ValueEnum};
use iam_key_rotator::aws::{self, AwsRotator};
use iam_key_rotator::status::{Status, status};
use iam_key_rotator::{Config, Contract, Error, RotationEvent, Step, logging};
use serde_json::{Value, json};

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  2  the command line is wrong
  3  the input is wrong (event, secret, user, configuration): fix it, then run again
  4  the keys or the rotation need an operator (quota, unusable key): see the message
  5  AWS failed or refused: often passing, running again may help

Settings come from the same environment variables as the Lambda (ROTATOR_*), and AWS
credentials, region and endpoint the usual way (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).";

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
enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Rotate now: run the four steps in order with a fresh token, as Secrets Manager would,
    /// and print what changed.
    Rotate {
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
    /// Show the user's keys (status, age, last use) beside the secret's versions and labels.
    Status {
        /// The secret's name or ARN.
        #[arg(long)]
        secret_id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    match runtime.block_on(run(&cli)) {
        Ok(report) => {
            print_report(cli.output, &report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            match cli.output {
                Output::Text => eprintln!("error[{}]: {e}", e.kind()),
                Output::Json => println!(
                    "{}",
                    json!({"error": {"type": e.kind(), "message": e.to_string()}})
                ),
            }
            ExitCode::from(e.remedy() as u8)
        }
    }
}

/// What a command did, for printing.
enum Report {
    Rotated {
        token: String,
        before: Status,
        after: Status,
    },
    Stepped {
        event: RotationEvent,
    },
    Shown(Status),
}

async fn run(cli: &Cli) -> Result<Report, Error> {
    let config = Config::from_env()?;
    let budget = config.test_budget;
    let sdk = aws::load_sdk_config().await;
    let rotator = aws::rotator(&sdk, config);
    match &cli.command {
        Command::Rotate { secret_id } => rotate(&rotator, secret_id, budget).await,
        Command::Step { event } => {
            let event = read_event(event)?;
            rotator
                .run(&event, Instant::now() + budget + Duration::from_secs(60))
                .await?;
            Ok(Report::Stepped { event })
        }
        Command::Status { secret_id } => Ok(Report::Shown(
            status(rotator.secrets(), rotator.iam(), secret_id).await?,
        )),
    }
}

async fn rotate(rotator: &AwsRotator, secret_id: &str, budget: Duration) -> Result<Report, Error> {
    let before = status(rotator.secrets(), rotator.iam(), secret_id).await?;
    let token = uuid::Uuid::new_v4().to_string();
    let deadline = Instant::now() + budget + Duration::from_secs(60);
    for step in Step::ALL {
        let event = RotationEvent {
            step,
            secret_id: secret_id.to_string(),
            token: token.clone(),
            rotation_token: None,
        };
        rotator.run_under(&event, deadline, Contract::Cli).await?;
    }
    let after = status(rotator.secrets(), rotator.iam(), secret_id).await?;
    Ok(Report::Rotated {
        token,
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
    .map_err(|e| Error::InvalidEvent(format!("cannot read {}: {e}", path.display())))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidEvent(format!("{} is not JSON: {e}", path.display())))?;
    RotationEvent::from_json(&value)
}

fn print_report(output: Output, report: &Report) {
    match (output, report) {
        (
            Output::Json,
            Report::Rotated {
                token,
                before,
                after,
            },
        ) => println!(
            "{}",
            json!({"secret_id": after.secret_id, "token": token, "changes": changes(before, after), "before": before, "after": after})
        ),
        (Output::Json, Report::Stepped { event }) => println!(
            "{}",
            json!({"step": event.step.as_str(), "secret_id": event.secret_id, "token": event.token, "result": "ok"})
        ),
        (Output::Json, Report::Shown(status)) => println!("{}", json!(status)),
        (
            Output::Text,
            Report::Rotated {
                token,
                before,
                after,
            },
        ) => {
            println!("Rotated {} (token {token})", after.secret_id);
            for change in changes(before, after) {
                println!("  - {change}");
            }
            println!("\nBefore:\n{}\nAfter:\n{}", table(before), table(after));
        }
        (Output::Text, Report::Stepped { event }) => {
            println!(
                "{} done for {} (token {})",
                event.step, event.secret_id, event.token
            )
        }
        (Output::Text, Report::Shown(status)) => print!("{}", table(status)),
    }
}

/// What differs between two looks at the same secret, in words.
fn changes(before: &Status, after: &Status) -> Vec<String> {
    let mut out = Vec::new();
    for key in &after.keys {
        match before
            .keys
            .iter()
            .find(|k| k.access_key_id == key.access_key_id)
        {
            None => out.push(format!(
                "created key {} ({})",
                key.access_key_id, key.status
            )),
            Some(old) if old.status != key.status => out.push(format!(
                "key {}: {} -> {}",
                key.access_key_id, old.status, key.status
            )),
            Some(_) => {}
        }
    }
    for key in &before.keys {
        if !after
            .keys
            .iter()
            .any(|k| k.access_key_id == key.access_key_id)
        {
            out.push(format!("deleted key {}", key.access_key_id));
        }
    }
    let current_key = |s: &Status| {
        s.versions
            .iter()
            .find(|v| v.labels.iter().any(|l| l == "AWSCURRENT"))
            .and_then(|v| v.access_key_id.clone())
    };
    if current_key(before) != current_key(after) {
        out.push(format!(
            "AWSCURRENT now holds {} (was {})",
            current_key(after).unwrap_or_else(|| "no key".into()),
            current_key(before).unwrap_or_else(|| "no key".into())
        ));
    }
    out
}

fn table(status: &Status) -> String {
    let mut out = format!(
        "  secret {}  user {}  rotation {}\n",
        status.secret_id,
        status.user.as_deref().unwrap_or("?"),
        if status.rotation_enabled { "on" } else { "off" }
    );
    out += &format!("  {:<38} {:<24} {}\n", "VERSION", "LABELS", "KEY");
    for v in &status.versions {
        out += &format!(
            "  {:<38} {:<24} {}\n",
            v.version_id,
            v.labels.join(","),
            v.access_key_id.as_deref().unwrap_or("-")
        );
    }
    out += &format!(
        "  {:<22} {:<9} {:<8} {:<10} {}\n",
        "KEY", "STATUS", "AGE", "LAST USED", "HELD AS"
    );
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    for k in &status.keys {
        out += &format!(
            "  {:<22} {:<9} {:<8} {:<10} {}\n",
            k.access_key_id,
            k.status,
            k.created
                .map(|t| age(now.saturating_sub(t)))
                .unwrap_or_else(|| "?".into()),
            k.last_used
                .map(|t| age(now.saturating_sub(t)) + " ago")
                .unwrap_or_else(|| "never".into()),
            if k.labels.is_empty() {
                "(unknown to the secret)".to_string()
            } else {
                k.labels.join(",")
            }
        );
    }
    out
}

/// A short age for a table cell: "42s", "5m", "3h", "12d".
fn age(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}
