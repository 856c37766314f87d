//! Printing what a command did: JSON for scripts, text for people.

use iam_key_rotator::audit;
use serde_json::json;

use crate::{Output, Report, report};

pub fn print(output: Output, report: &Report) {
    match (output, report) {
        (Output::Json, Report::Audited(audit)) => println!("{}", json!(audit)),
        (Output::Csv, Report::Audited(audit)) => print!("{}", audit::to_csv(audit)),
        (Output::Html, Report::Audited(audit)) => print!("{}", audit::to_html(audit)),
        (_, Report::Audited(audit)) => print!("{}", audit::to_text(audit)),
        (Output::Json, Report::Adopted(adoption)) => println!("{}", json!(adoption)),
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
        (
            Output::Json,
            Report::Rotated {
                rotation,
                retired,
                before,
                after,
            },
        ) => {
            let mut changes = rotation.cancelled.clone();
            changes.extend(report::changes(before, after));
            println!(
                "{}",
                json!({"secret_id": after.secret_id, "token": rotation.token, "resumed": rotation.resumed,
                       "changes": changes, "retired": retired, "before": before, "after": after})
            )
        }
        (Output::Json, Report::Cancelled { secret_id, changes }) => {
            println!("{}", json!({"secret_id": secret_id, "changes": changes}))
        }
        (Output::Json, Report::Swept(swept)) => println!("{}", json!(swept)),
        (Output::Json, Report::Retired { secret_id, actions }) => {
            println!("{}", json!({"secret_id": secret_id, "actions": actions}))
        }
        (_, Report::Swept(swept)) => print!("{}", report::sweep_table(swept)),
        (_, Report::Retired { secret_id, actions }) => {
            if actions.is_empty() {
                println!("The previous key of {secret_id} is already gone; nothing to do");
            }
            for a in actions {
                println!("{} key {} of {secret_id}: {}", a.action, a.key_id, a.reason);
            }
        }
        (Output::Json, Report::Stepped { event }) => println!(
            "{}",
            json!({"step": event.step.as_str(), "secret_id": event.secret_id, "token": event.token, "result": "ok"})
        ),
        (Output::Json, Report::Shown(status)) => println!("{}", json!(status)),
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
                println!("  - {} key {}: {}", a.action, a.key_id, a.reason);
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
