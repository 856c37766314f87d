//! The CLI's tables for people (a secret's status, a sweep), and the changes between two looks
//! at a secret as records.

use std::time::SystemTime;

use iam_key_rotator::change::{Change, ChangeKind};
use iam_key_rotator::dates;
use iam_key_rotator::delivery::Holds;
use iam_key_rotator::services::{AWSCURRENT, KeyStatus};
use iam_key_rotator::status::Status;
use iam_key_rotator::sweep;

/// What differs between two looks at the same secret, each with why it changed.
pub fn changes(before: &Status, after: &Status) -> Vec<Change> {
    let mut out = Vec::new();
    let current_key = |s: &Status| {
        s.versions
            .iter()
            .find(|v| v.labels.iter().any(|l| l == AWSCURRENT))
            .and_then(|v| v.access_key_id.clone())
    };
    let (old_current, new_current) = (current_key(before), current_key(after));
    for key in &after.keys {
        let id = key.access_key_id.as_str();
        match before.keys.iter().find(|k| k.access_key_id == id) {
            None => out.push(Change::key(
                ChangeKind::Created,
                id,
                if new_current.as_deref() == Some(id) {
                    "the new key, now held by AWSCURRENT"
                } else {
                    "made by the rotation"
                },
            )),
            Some(old) if old.status != key.status => {
                let action = if key.status == KeyStatus::Active {
                    ChangeKind::Reactivated
                } else {
                    ChangeKind::Deactivated
                };
                let reason = if old_current.as_deref() == Some(id) {
                    "the previous key, replaced in AWSCURRENT".to_string()
                } else {
                    format!("{} -> {}", old.status, key.status)
                };
                out.push(Change::key(action, id, reason));
            }
            Some(_) => {}
        }
    }
    for key in &before.keys {
        if !after
            .keys
            .iter()
            .any(|k| k.access_key_id == key.access_key_id)
        {
            let reason = if key.status != KeyStatus::Active {
                format!("it was {}: made room for the new key", key.status)
            } else if key.labels.is_empty() {
                "held by no version and never used: a leftover of a crashed attempt".to_string()
            } else {
                format!(
                    "held only by an old version ({}): made room for the new key",
                    key.labels.join(",")
                )
            };
            out.push(Change::key(ChangeKind::Deleted, &key.access_key_id, reason));
        }
    }
    if old_current != new_current {
        let version = after
            .versions
            .iter()
            .find(|v| v.labels.iter().any(|l| l == AWSCURRENT))
            .map(|v| v.version_id.clone())
            .unwrap_or_default();
        out.push(Change::version(
            ChangeKind::Promoted,
            &version,
            format!(
                "AWSCURRENT now holds {} (was {})",
                new_current.unwrap_or_else(|| "no key".into()),
                old_current.unwrap_or_else(|| "no key".into())
            ),
        ));
    }
    out
}

pub fn table(status: &Status) -> String {
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
    let now = dates::epoch_seconds(SystemTime::now());
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

/// What a destination holds, in words.
pub fn holds(holds: &Holds) -> String {
    match holds {
        Holds::Key => "the current key".to_string(),
        Holds::Missing(why) => format!("nothing: {why}"),
        Holds::Other(why) => format!("something else: {why}"),
        Holds::Unreadable(why) => format!("unknown, could not be read: {why}"),
    }
}

/// A sweep's report: what it did (or would do), then what an operator should look at.
pub fn sweep_table(report: &sweep::Summary) -> String {
    let verb = if report.dry_run {
        "would be done"
    } else {
        "done"
    };
    let mut out = format!(
        "Swept {} secret(s): {} action(s) {verb}, {} finding(s)\n",
        report.secrets,
        report.actions.len(),
        report.findings.len()
    );
    if !report.actions.is_empty() {
        out += &format!(
            "\n  {:<40} {:<22} {:<12} {}\n",
            "SECRET", "KEY", "ACTION", "WHY"
        );
        for a in &report.actions {
            out += &format!(
                "  {:<40} {:<22} {:<12} {}\n",
                a.secret_id,
                a.key_id,
                a.action.as_str(),
                a.reason
            );
        }
    }
    if !report.findings.is_empty() {
        out += &format!("\n  {:<40} {:<18} {}\n", "SECRET", "FINDING", "DETAIL");
        for f in &report.findings {
            out += &format!(
                "  {:<40} {:<18} {}\n",
                f.secret_id,
                f.kind.as_str(),
                f.detail
            );
        }
    }
    if !report.deliveries.is_empty() {
        out += &format!("\n  {:<40} {:<40} {}\n", "SECRET", "DESTINATION", "HOLDS");
        for d in &report.deliveries {
            out += &format!(
                "  {:<40} {:<40} {}\n",
                d.secret_id,
                d.holding.destination,
                holds(&d.holding.holds)
            );
        }
    }
    for e in &report.errors {
        out += &format!("\n  could not sweep {e}");
    }
    out
}
