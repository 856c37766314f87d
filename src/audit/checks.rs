//! The checks, each mapped to CIS AWS Foundations v3.0 and Security Hub: plain functions of the
//! report's rows, what the rotated secrets hold, and the time.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::credential_report::{KeySlot, UserRow};

const DAY: Duration = Duration::from_secs(24 * 3600);
/// CIS 1.14: keys rotated within 90 days.
pub const MAX_KEY_AGE_DAYS: u64 = 90;
/// CIS 1.12: credentials used within 45 days.
pub const MAX_UNUSED_DAYS: u64 = 45;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// The controls a finding fails; none for a finding that is about this tool's coverage, not CIS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Controls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cis: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<&'static str>,
}

impl Controls {
    /// As a person reads them: `CIS 1.4 / IAM.4`, `CIS 1.7`, or nothing.
    pub fn label(&self) -> String {
        match (self.cis, self.security_hub) {
            (Some(cis), Some(hub)) => format!("CIS {cis} / {hub}"),
            (Some(cis), None) => format!("CIS {cis}"),
            (None, Some(hub)) => hub.to_string(),
            (None, None) => String::new(),
        }
    }
}

/// Which key a finding is about: its slot in the report (none for a key the report does not
/// show), and its id where the tool knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub user: String,
    pub arn: String,
    pub check: &'static str,
    pub severity: Severity,
    pub controls: Controls,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyRef>,
    pub detail: String,
    pub remedy: String,
    /// The secret the finding is about, when that is what it is about (a secret that cannot be
    /// read): it tells findings that name no user apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A secret under rotation that holds a user's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Managed {
    pub secret: String,
    pub rotation_enabled: bool,
    #[serde(serialize_with = "super::serialize_time")]
    pub last_rotated: Option<SystemTime>,
    #[serde(serialize_with = "super::serialize_time")]
    pub next_rotation: Option<SystemTime>,
    /// Where its rotations deliver the key (the secret's `Destinations`, as `ssm:/NAME`,
    /// `github:OWNER/REPO`, ...), or why they cannot be read.
    pub destinations: Vec<String>,
}

/// What the audit knows of a user's keys beyond the report, by (user, slot).
pub type KnownKeys = HashMap<(String, u8), KnownKey>;

/// What the audit knows of the key in one slot beyond the report.
#[derive(Debug, Clone, Default)]
pub struct KnownKey {
    /// The key's id, which the report lacks.
    pub id: Option<String>,
    /// The secret under rotation that holds it, if one does.
    pub managed: Option<Managed>,
}

/// What the audit learnt beyond the report, and what it could not learn.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub known: KnownKeys,
    /// Users whose report rows are older than what IAM or their secret shows: checks of their
    /// keys would read another key's dates, so they are not run (a `stale-report` finding says why).
    pub stale_users: HashSet<String>,
    /// User → the unreadable secret that, by its name, may hold that user's keys.
    pub unreadable_for: HashMap<String, String>,
    /// Every secret that could not be read, by name.
    pub unreadable: Vec<String>,
    /// Users some secret names a key of: a slot of theirs whose key the audit cannot tell (two
    /// keys made in the same second, say) may hold that key, so it is never called unmanaged.
    pub named_users: HashSet<String>,
    /// The rotation function the remedies name.
    pub function_arn: String,
    /// The member account the users are in, which adopt's remedy names (`None`: the caller's).
    pub member_account: Option<String>,
}

impl Seen {
    /// Whether the key in a slot of `user` (`id`, when the audit could tell it) may be held by a
    /// secret the audit cannot match it to: then it is never called unmanaged. So it is when a
    /// secret names a key of the user but the slot's key cannot be told (two keys made in the same
    /// second), and in a member account whenever a secret could not be read (which account an
    /// unreadable secret's user is in cannot be read either).
    pub fn untold(&self, user: &str, id: Option<&str>) -> bool {
        (id.is_none() && self.named_users.contains(user))
            || (self.member_account.is_some() && !self.unreadable.is_empty())
    }
}

/// Whole days from `then` to `now`.
pub fn days_since(then: SystemTime, now: SystemTime) -> u64 {
    now.duration_since(then).unwrap_or_default().as_secs() / DAY.as_secs()
}

/// Runs every check over every row, knowing only which secret holds which slot.
#[cfg(test)]
pub fn check(
    rows: &[UserRow],
    known: &KnownKeys,
    function_arn: &str,
    now: SystemTime,
) -> Vec<Finding> {
    let seen = Seen {
        known: known.clone(),
        function_arn: function_arn.to_string(),
        ..Seen::default()
    };
    check_seen(rows, &seen, now)
}

/// Runs every check over every row.
pub fn check_seen(rows: &[UserRow], seen: &Seen, now: SystemTime) -> Vec<Finding> {
    let mut findings = Vec::new();
    for row in rows {
        if row.is_root() {
            check_root(row, now, &mut findings);
        } else {
            check_user(row, seen, now, &mut findings);
        }
    }
    sort(&mut findings);
    findings
}

/// Most severe first, then by user and check.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| (a.severity, &a.user, a.check).cmp(&(b.severity, &b.user, b.check)));
}

/// A finding about `row` with nothing said yet.
pub fn finding(
    row: &UserRow,
    check: &'static str,
    severity: Severity,
    controls: Controls,
) -> Finding {
    Finding {
        user: row.user.clone(),
        arn: row.arn.clone(),
        check,
        severity,
        controls,
        key: None,
        detail: String::new(),
        remedy: String::new(),
        secret: None,
    }
}

fn cis(cis: &'static str, security_hub: Option<&'static str>) -> Controls {
    Controls {
        cis: Some(cis),
        security_hub,
    }
}

/// The root account: no access key, MFA on, not used lately. (Real reports say `not_supported`
/// for root's `password_enabled`, so nothing here depends on it.)
fn check_root(row: &UserRow, now: SystemTime, out: &mut Vec<Finding>) {
    // CIS 1.4 is about a root key existing: an inactive one can be switched back on. A key the
    // report shows exists: it is active, or it has a creation date.
    for key in row
        .keys
        .iter()
        .filter(|k| k.active || k.last_rotated.is_some())
    {
        out.push(Finding {
            key: Some(KeyRef {
                slot: Some(key.slot),
                id: None,
            }),
            detail: format!(
                "the root account has an {} access key (slot {})",
                if key.active { "active" } else { "inactive" },
                key.slot
            ),
            remedy: "delete it: sign in as root, Security credentials, Access keys".into(),
            ..finding(
                row,
                "root-access-key",
                Severity::High,
                cis("1.4", Some("IAM.4")),
            )
        });
    }
    if !row.mfa_active {
        out.push(Finding {
            detail: "the root account has no MFA".into(),
            remedy: "enable a (hardware) MFA device for the root account".into(),
            ..finding(
                row,
                "root-without-mfa",
                Severity::High,
                cis("1.5", Some("IAM.9")),
            )
        });
    }
    let uses = [
        row.password_last_used,
        row.keys[0].last_used,
        row.keys[1].last_used,
    ];
    if let Some(last) = uses.into_iter().flatten().max()
        && now.duration_since(last).unwrap_or_default() < DAY
    {
        out.push(Finding {
            detail: format!(
                "the root account was used at {}",
                humantime::format_rfc3339_seconds(last)
            ),
            remedy: "use an IAM role or user for daily work; find out who signed in as root".into(),
            ..finding(row, "root-used-recently", Severity::High, cis("1.7", None))
        });
    }
}

fn check_user(row: &UserRow, seen: &Seen, now: SystemTime, out: &mut Vec<Finding>) {
    if row.password_enabled && !row.mfa_active {
        out.push(Finding {
            detail: "console password without MFA".into(),
            remedy: format!(
                "enable MFA for {} (aws iam enable-mfa-device ...)",
                row.user
            ),
            ..finding(
                row,
                "console-user-without-mfa",
                Severity::Medium,
                cis("1.10", Some("IAM.5")),
            )
        });
    }
    if row.password_enabled {
        let since = row.password_last_used.or(row.created);
        if let Some(since) = since
            && days_since(since, now) > MAX_UNUSED_DAYS
        {
            let what = if row.password_last_used.is_some() {
                "last used"
            } else {
                "never used; created"
            };
            out.push(Finding {
                detail: format!(
                    "console password {what} {} days ago",
                    days_since(since, now)
                ),
                remedy: format!(
                    "remove the password: aws iam delete-login-profile --user-name {}",
                    row.user
                ),
                ..finding(
                    row,
                    "credentials-unused-45-days",
                    Severity::Medium,
                    cis("1.12", Some("IAM.22")),
                )
            });
        }
    }
    if seen.stale_users.contains(&row.user) {
        return;
    }
    let function_arn = seen.function_arn.as_str();
    let active: Vec<&KeySlot> = row.keys.iter().filter(|k| k.active).collect();
    if active.len() == 2 {
        out.push(Finding {
            detail: "two active access keys".into(),
            remedy: "keep one: deactivate the one nothing uses (a rotated secret's previous key is retired by its sweep)".into(),
            ..finding(row, "two-active-keys", Severity::Medium, cis("1.13", None))
        });
    }
    for key in active {
        let KnownKey { id, managed } = seen
            .known
            .get(&(row.user.clone(), key.slot))
            .cloned()
            .unwrap_or_default();
        let key_ref = Some(KeyRef {
            slot: Some(key.slot),
            id: id.clone(),
        });
        let named = id
            .clone()
            .unwrap_or_else(|| format!("in slot {}", key.slot));
        let unreadable = seen.unreadable_for.get(&row.user);
        let rotate = match (&managed, unreadable) {
            (Some(m), _) => format!("iam-key-rotator-cli rotate --secret-id {}", m.secret),
            (None, Some(secret)) => format!(
                "make secret {secret} readable to the audit (see unreadable-secret), then audit again: it may hold this key"
            ),
            (None, None) => adopt(row, id.as_deref(), function_arn, seen),
        };
        if let Some(made) = key.last_rotated
            && days_since(made, now) > MAX_KEY_AGE_DAYS
        {
            out.push(Finding {
                key: key_ref.clone(),
                detail: format!("access key {named} is {} days old", days_since(made, now)),
                remedy: rotate.clone(),
                ..finding(
                    row,
                    "key-older-than-90-days",
                    Severity::Medium,
                    cis("1.14", Some("IAM.3")),
                )
            });
        }
        // A key never used counts from the day it was made, not as "fine".
        if let Some(since) = key.last_used.or(key.last_rotated)
            && days_since(since, now) > MAX_UNUSED_DAYS
        {
            let what = if key.last_used.is_some() {
                "last used"
            } else {
                "never used; made"
            };
            out.push(Finding {
                key: key_ref.clone(),
                detail: format!("access key {named} {what} {} days ago", days_since(since, now)),
                remedy: format!(
                    "deactivate it if nothing needs it: aws iam update-access-key --user-name {} --access-key-id {} --status Inactive",
                    row.user,
                    id.as_deref().unwrap_or("<id>")
                ),
                ..finding(row, "credentials-unused-45-days", Severity::Medium, cis("1.12", Some("IAM.22")))
            });
        }
        // A secret that could not be read, or a secret naming a key of this user when the audit
        // cannot tell which key this is, may hold it: calling it unmanaged would advise adopting a
        // key that is already rotated (the unreadable-secret finding speaks for the first).
        if managed.is_none() && unreadable.is_none() && !seen.untold(&row.user, id.as_deref()) {
            let adopt = adopt(row, id.as_deref(), function_arn, seen);
            let remedy = if seen.unreadable.is_empty() {
                adopt
            } else {
                format!(
                    "first make {} readable and audit again (one may hold this key); if none does: {adopt}",
                    seen.unreadable.join(", ")
                )
            };
            out.push(Finding {
                key: key_ref,
                detail: format!("access key {named} is not held by any secret under rotation"),
                remedy,
                // Not being under this tool's rotation fails no CIS or Security Hub control.
                ..finding(row, "unmanaged-key", Severity::Low, Controls::default())
            });
        }
    }
}

fn adopt(row: &UserRow, key_id: Option<&str>, function_arn: &str, seen: &Seen) -> String {
    let key = key_id
        .map(|id| format!(" --key-id {id}"))
        .unwrap_or_default();
    let account = seen
        .member_account
        .as_ref()
        .map(|a| format!(" --account {a}"))
        .unwrap_or_default();
    format!(
        "iam-key-rotator-cli adopt --user {}{key}{account} --function-arn {function_arn}",
        row.user
    )
}
