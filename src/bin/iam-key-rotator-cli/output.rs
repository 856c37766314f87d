//! Printing what a command did: JSON for scripts, text for people.

use iam_key_rotator::audit;
use serde_json::{Value, json};

use crate::settings::Context;
use crate::{Outcome, Output, tables};

/// Prints the report, with the settings the command applied and what it covered (`context`):
/// as fields of the JSON object, as lines before a text report, on standard error beside CSV
/// and HTML (which have no room for them).
pub fn print(output: Output, report: &Outcome, context: &Context) {
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

fn print_audit(output: Output, run: &audit::run::Run) {
    use audit::run::Report;
    match (output, &run.report) {
        (Output::Csv, Report::Account(a)) => print!("{}", audit::to_csv(a)),
        (Output::Html, Report::Account(a)) => print!("{}", audit::to_html(a)),
        (_, Report::Account(a)) => print!("{}", audit::to_text(a)),
        (Output::Csv, Report::Organization(o)) => print!("{}", audit::org_to_csv(o)),
        (Output::Html, Report::Organization(o)) => print!("{}", audit::org_to_html(o)),
        (_, Report::Organization(o)) => print!("{}", audit::org_to_text(o)),
    }
    if let Some(imported) = &run.security_hub {
        eprintln!(
            "Security Hub: {} findings imported, {} resolved, {} refused, {} not written",
            imported.imported,
            imported.resolved,
            imported.refused.len(),
            imported.not_written
        );
        for (id, why) in &imported.refused {
            eprintln!("  refused {id}: {why}");
        }
    }
}

fn json_of(report: &Outcome) -> Value {
    match report {
        Outcome::Audited(audit) => json!(audit),
        Outcome::Adopted(adoption) => json!(adoption),
        Outcome::Rotated {
            rotation,
            retired,
            before,
            after,
        } => {
            let mut changes = rotation.cancelled.clone();
            changes.extend(tables::changes(before, after));
            json!({"secret_id": after.secret_id, "token": rotation.token, "resumed": rotation.resumed,
                   "changes": changes, "retired": retired, "before": before, "after": after})
        }
        Outcome::Cancelled { secret_id, changes } => {
            json!({"secret_id": secret_id, "changes": changes})
        }
        Outcome::Swept(swept) => json!(swept),
        Outcome::Retired { secret_id, actions } => {
            json!({"secret_id": secret_id, "actions": actions})
        }
        Outcome::Stepped { event } => {
            json!({"step": event.step.as_str(), "secret_id": event.secret_id, "token": event.token, "result": "ok"})
        }
        Outcome::Shown(status) => json!(status),
        Outcome::Delivered {
            secret_id,
            holdings,
        } => json!({"secret_id": secret_id, "deliveries": holdings}),
    }
}

fn print_text(output: Output, report: &Outcome) {
    match (output, report) {
        (output, Outcome::Audited(run)) => print_audit(output, run),
        (_, Outcome::Adopted(adoption)) => {
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
        (_, Outcome::Swept(swept)) => print!("{}", tables::sweep_table(swept)),
        (
            _,
            Outcome::Delivered {
                secret_id,
                holdings,
            },
        ) => {
            if holdings.is_empty() {
                println!("{secret_id} lists no Destinations; nothing to deliver");
            }
            for h in holdings {
                println!("{}: {}", h.destination, tables::holds(&h.holds));
            }
        }
        (_, Outcome::Retired { secret_id, actions }) => {
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
            Outcome::Rotated {
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
                .chain(&tables::changes(before, after))
            {
                println!("  - {change}");
            }
            println!(
                "\nBefore:\n{}\nAfter:\n{}",
                tables::table(before),
                tables::table(after)
            );
        }
        (_, Outcome::Cancelled { secret_id, changes }) => {
            if changes.is_empty() {
                println!("No rotation of {secret_id} was unfinished; nothing to cancel");
            } else {
                println!("Cancelled the unfinished rotation of {secret_id}");
                for change in changes {
                    println!("  - {change}");
                }
            }
        }
        (_, Outcome::Stepped { event }) => {
            println!(
                "{} done for {} (token {})",
                event.step, event.secret_id, event.token
            )
        }
        (_, Outcome::Shown(status)) => print!("{}", tables::table(status)),
    }
}
