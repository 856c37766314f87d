//! The checks on rows built by hand: each fires exactly at its edge, and not before.

use std::time::{Duration, SystemTime};

use super::checks::{KnownKeys, Severity, check};
use super::report::{KeySlot, ROOT, UserRow};
use super::*;

const DAY: Duration = Duration::from_secs(86_400);

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

fn ago(days: u64) -> Option<SystemTime> {
    Some(now() - DAY * days as u32 - Duration::from_secs(60))
}

fn key(slot: u8, made_days_ago: u64, used_days_ago: Option<u64>) -> KeySlot {
    KeySlot {
        slot,
        active: true,
        last_rotated: ago(made_days_ago),
        last_used: used_days_ago.and_then(ago),
    }
}

fn no_key(slot: u8) -> KeySlot {
    KeySlot {
        slot,
        active: false,
        last_rotated: None,
        last_used: None,
    }
}

fn user(name: &str, keys: [KeySlot; 2]) -> UserRow {
    UserRow {
        user: name.into(),
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        created: ago(400),
        password_enabled: false,
        password_last_used: None,
        mfa_active: false,
        keys,
    }
}

fn checks_of(rows: &[UserRow], known: &KnownKeys) -> Vec<(String, &'static str)> {
    check(rows, known, "arn:fn", now())
        .into_iter()
        .map(|f| (f.user, f.check))
        .collect()
}

fn managed_slot(user: &str, slot: u8) -> KnownKeys {
    let mut known = KnownKeys::new();
    known.insert(
        (user.into(), slot),
        (
            Some("AKIAMANAGED".into()),
            Some(Managed {
                secret: format!("iam-keys/{user}"),
                rotation_enabled: true,
                last_rotated: ago(10),
                next_rotation: ago(0),
            }),
        ),
    );
    known
}

#[test]
fn a_key_of_90_days_passes_and_one_of_91_fails() {
    let known = managed_slot("ninety", 1);
    let mut known_too = managed_slot("ninety-one", 1);
    known_too.extend(known);
    let rows = [
        user("ninety", [key(1, 90, Some(1)), no_key(2)]),
        user("ninety-one", [key(1, 91, Some(1)), no_key(2)]),
    ];
    assert_eq!(
        checks_of(&rows, &known_too),
        [("ninety-one".to_string(), "key-older-than-90-days")]
    );
}

#[test]
fn credentials_unused_for_45_days_pass_and_46_fail_and_never_used_counts_from_creation() {
    let mut known = managed_slot("used-45", 1);
    known.extend(managed_slot("used-46", 1));
    known.extend(managed_slot("never-used", 1));
    let rows = [
        user("used-45", [key(1, 60, Some(45)), no_key(2)]),
        user("used-46", [key(1, 60, Some(46)), no_key(2)]),
        user("never-used", [key(1, 50, None), no_key(2)]),
    ];
    let found = checks_of(&rows, &known);
    assert_eq!(
        found,
        [
            ("never-used".to_string(), "credentials-unused-45-days"),
            ("used-46".to_string(), "credentials-unused-45-days"),
        ]
    );
}

#[test]
fn a_console_password_is_checked_for_mfa_and_use() {
    let mut console = user("console", [no_key(1), no_key(2)]);
    console.password_enabled = true;
    console.password_last_used = ago(46);
    let mut fine = console.clone();
    fine.user = "fine".into();
    fine.mfa_active = true;
    fine.password_last_used = ago(3);
    let found = checks_of(&[console, fine], &KnownKeys::new());
    assert_eq!(
        found,
        [
            ("console".to_string(), "console-user-without-mfa"),
            ("console".to_string(), "credentials-unused-45-days"),
        ]
    );
}

#[test]
fn two_active_keys_and_unmanaged_keys_are_reported() {
    let rows = [user("two", [key(1, 10, Some(1)), key(2, 5, Some(1))])];
    let found = check(&rows, &managed_slot("two", 1), "arn:fn", now());
    let checks: Vec<_> = found.iter().map(|f| f.check).collect();
    assert_eq!(checks, ["two-active-keys", "unmanaged-key"]);
    let unmanaged = &found[1];
    assert_eq!(unmanaged.severity, Severity::Low);
    assert_eq!(unmanaged.key.as_ref().unwrap().slot, 2);
    assert!(
        unmanaged.remedy.contains("adopt --user two"),
        "{}",
        unmanaged.remedy
    );
}

#[test]
fn the_root_account_is_checked_whatever_its_password_column_says() {
    let mut root = user(ROOT, [key(1, 500, Some(0)), no_key(2)]);
    root.arn = "arn:aws:iam::123456789012:root".into();
    root.password_enabled = false; // real reports say not_supported
    let found = check(&[root.clone()], &KnownKeys::new(), "arn:fn", now());
    let checks: Vec<_> = found.iter().map(|f| (f.check, f.controls.cis)).collect();
    assert_eq!(
        checks,
        [
            ("root-access-key", "1.4"),
            ("root-used-recently", "1.7"),
            ("root-without-mfa", "1.5")
        ]
    );
    assert!(found.iter().all(|f| f.severity == Severity::High));

    root.keys = [no_key(1), no_key(2)];
    root.mfa_active = true;
    root.password_last_used = ago(3);
    assert!(check(&[root], &KnownKeys::new(), "arn:fn", now()).is_empty());
}

#[test]
fn a_healthy_managed_user_has_no_finding_and_fail_on_follows_severity() {
    let rows = [user("healthy", [key(1, 10, Some(0)), no_key(2)])];
    let known = managed_slot("healthy", 1);
    assert!(check(&rows, &known, "arn:fn", now()).is_empty());

    let rows = vec![user("old", [key(1, 100, Some(0)), no_key(2)])];
    let findings = check(&rows, &managed_slot("old", 1), "arn:fn", now());
    let audit = assemble(rows, managed_slot("old", 1), findings, Some(now()), now());
    assert!(audit.has_finding_at_or_above(Severity::Medium));
    assert!(!audit.has_finding_at_or_above(Severity::High));
    assert_eq!(audit.summary.managed_keys, 1);
}
