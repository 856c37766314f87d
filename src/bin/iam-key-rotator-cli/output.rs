//! Printing what a command did: JSON for scripts, text for people.

use iam_key_rotator::audit;
use serde_json::{Value, json};

use crate::settings::Context;
use crate::{Output, Report, report};

/// Prints the report, with the settings the command applied and what it covered (`context`):
/// as fields of the JSON object, as lines before a text report, on standard error beside CSV
/// and HTML (which have no room for them).
pub fn print(output: Output, report: &Report, context: &Context) {
    match output {
        Output::Json => {
            let mut value = json_of(report);
            if let (Value::Object(fields), Value::Object(said)) = (&mut value, json!(context)) {
                fields.extend(said);
            }
            println!("{value}");
        }
        Output::Csv | Output::Html => {
            for line in context.lines() {
                eprintln!("{line}");
            }
            print_text(output, report);
        }
        Output::Text => {
            for line in context.lines() {
                println!("{line}");
            }
            print_text(output, report);
        }
    }
}

fn json_of(report: &Report) -> Value {
    match report {
        Report::Audited(audit) => json!(audit),
        Report::Adopted(adoption) => json!(adoption),
        Report::Rotated {
            rotation,
            retired,
            before,
            after,
        } => {
            let mut changes = rotation.cancelled.clone();
            changes.extend(report::changes(before, after));
            json!({"secret_id": after.secret_id, "token": rotation.token, "resumed": rotation.resumed,
                   "changes": changes, "retired": retired, "before": before, "after": after})
        }
        Report::Cancelled { secret_id, changes } => {
            json!({"secret_id": secret_id, "changes": changes})
        }
        Report::Swept(swept) => json!(swept),
        Report::Retired { secret_id, actions } => {
            json!({"secret_id": secret_id, "actions": actions})
        }
        Report::Stepped { event } => {
            json!({"step": event.step.as_str(), "secret_id": event.secret_id, "token": event.token, "result": "ok"})
        }
        Report::Shown(status) => json!(status),
    }
}

fn print_text(output: Output, report: &Report) {
    match (output, report) {
        (Output::Csv, Report::Audited(audit)) => print!("{}", audit::to_csv(audit)),
        (Output::Html, Report::Audited(audit)) => print!("{}", audit::to_html(audit)),
        (_, Report::Audited(audit)) => print!("{}", audit::to_text(audit)),
        (_, Report::Adopted(adoption)) => {
            if adoption.plan.is_empty() {
                println!(
                    "User {} is already under rotation by {}; nothing to do",
                    adoption.user, adoption.secret
                );
            } else {
                let verb = if adoption.done {
                    "Done"
                } else {
                    "Plan (dry run; nothing changed)"
                };
                println!("{verb} for user {}:", adoption.user);
                for step in &adoption.plan {
                    println!("  - {}", step.detail);
                }
            }
            if let Some(reused) = &adoption.reused {
                println!("Reusing the existing secret {}:", reused.arn);
                let tags: Vec<String> = reused
                    .tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                println!(
                    "  tags: {}",
                    if tags.is_empty() {
                        "none".to_string()
                    } else {
                        tags.join(", ")
                    }
                );
                println!("  {}", reused.policy);
            }
            if let Some(consumers) = &adoption.consumers {
                println!("What the key's consumers must do: {consumers}");
            }
        }
        (_, Report::Swept(swept)) => print!("{}", report::sweep_table(swept)),
        (_, Report::Retired { secret_id, actions }) => {
            if actions.is_empty() {
                println!("The previous key of {secret_id} is already gone; nothing to do");
            }
            for a in actions {
                println!(
                    "{} key {} of {secret_id}: {}",
                    a.action.as_str(),
                    a.key_id,
                    a.reason
                );
            }
        }
        (
            _,
            Report::Rotated {
                rotation,
                retired,
                before,
                after,
            },
        ) => {
            println!("Rotated {} (token {})", after.secret_id, rotation.token);
            for a in retired {
                println!("  - {} key {}: {}", a.action.as_str(), a.key_id, a.reason);
            }
            if let Some(resumed) = &rotation.resumed {
                println!("  (took over the unfinished rotation {resumed})");
            }
            for change in rotation
                .cancelled
                .iter()
                .chain(&report::changes(before, after))
            {
                println!("  - {change}");
            }
            println!(
                "\nBefore:\n{}\nAfter:\n{}",
                report::table(before),
                report::table(after)
            );
        }
        (_, Report::Cancelled { secret_id, changes }) => {
            if changes.is_empty() {
                println!("No rotation of {secret_id} was unfinished; nothing to cancel");
            } else {
                println!("Cancelled the unfinished rotation of {secret_id}");
                for change in changes {
                    println!("  - {change}");
                }
            }
        }
        (_, Report::Stepped { event }) => {
            println!(
                "{} done for {} (token {})",
                event.step, event.secret_id, event.token
            )
        }
        (_, Report::Shown(status)) => print!("{}", report::table(status)),
    }
}
