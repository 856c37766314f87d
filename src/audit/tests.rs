//! The checks on rows built by hand: each fires exactly at its edge, and not before.

use std::time::{Duration, SystemTime};

use super::checks::{KnownKeys, Severity, check};
use super::credential_report::{KeySlot, ROOT, UserRow};
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
        super::KnownKey {
            id: Some("AKIAMANAGED".into()),
            managed: Some(Managed {
                secret: format!("iam-keys/{user}"),
                rotation_enabled: true,
                last_rotated: ago(10),
                next_rotation: ago(0),
                destinations: vec!["ssm:/ci/deploy/aws".into()],
            }),
        },
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
    assert_eq!(unmanaged.key.as_ref().unwrap().slot, Some(2));
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
            ("root-access-key", Some("1.4")),
            ("root-used-recently", Some("1.7")),
            ("root-without-mfa", Some("1.5"))
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
    let seen = Seen {
        known: managed_slot("old", 1),
        ..Seen::default()
    };
    let audit = assemble(
        rows,
        &seen,
        Default::default(),
        findings,
        Some(now()),
        now(),
    );
    assert!(audit.has_finding_at_or_above(Severity::Medium));
    assert!(!audit.has_finding_at_or_above(Severity::High));
    assert_eq!(audit.summary.managed_keys, 1);
}

#[test]
fn a_root_key_counts_whether_or_not_it_is_active() {
    let mut switched_off = key(1, 500, None);
    switched_off.active = false;
    let mut root = user(ROOT, [switched_off, no_key(2)]);
    root.arn = "arn:aws:iam::123456789012:root".into();
    root.mfa_active = true;
    let found = check(&[root], &KnownKeys::new(), "arn:fn", now());
    let checks: Vec<_> = found.iter().map(|f| f.check).collect();
    assert_eq!(checks, ["root-access-key"]);
    assert_eq!(found[0].controls.security_hub, Some("IAM.4"));
}

#[test]
fn an_unmanaged_key_is_no_cis_or_security_hub_control_of_its_own() {
    let rows = [user("loose", [key(1, 10, Some(1)), no_key(2)])];
    let found = check(&rows, &KnownKeys::new(), "arn:fn", now());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].check, "unmanaged-key");
    assert_eq!(
        serde_json::to_value(&found[0].controls).unwrap(),
        serde_json::json!({})
    );
}

mod matching_by_id_and_date {
    use super::*;
    use crate::audit::matching::match_user;
    use crate::audit::secrets::Named;
    use crate::services::{KeyInfo, KeyStatus};

    fn iam_key(id: &str, made: Option<SystemTime>, status: KeyStatus) -> KeyInfo {
        KeyInfo {
            id: id.into(),
            status,
            created: made,
        }
    }

    fn named(id: &str, rotated: Option<SystemTime>) -> Named {
        Named {
            key_id: id.into(),
            managed: Managed {
                secret: "iam-keys/u".into(),
                rotation_enabled: true,
                last_rotated: rotated,
                next_rotation: None,
                destinations: Vec::new(),
            },
            arn: "arn:secret".into(),
            rotated,
        }
    }

    #[test]
    fn a_key_the_secret_names_but_iam_lacks_is_missing_not_the_slots_key() {
        let row = user("u", [key(1, 20, Some(1)), no_key(2)]);
        let keys = [iam_key("AKIAREAL", ago(20), KeyStatus::Active)];
        let found = match_user(&row, &keys, &[named("AKIAGONE", ago(30))], &[], Some(now()));
        assert_eq!(found.slots, [(1, "AKIAREAL".to_string(), None)]);
        assert_eq!(found.missing.len(), 1);
        assert_eq!(found.missing[0].0, "AKIAGONE");
        assert_eq!(found.stale, None);
    }

    #[test]
    fn slots_are_matched_by_creation_date_not_by_position() {
        // The report lists the newer key first.
        let row = user("u", [key(1, 5, Some(1)), key(2, 50, Some(1))]);
        let keys = [
            iam_key("AKIAOLD", ago(50), KeyStatus::Active),
            iam_key("AKIANEW", ago(5), KeyStatus::Active),
        ];
        let found = match_user(&row, &keys, &[named("AKIANEW", ago(5))], &[], Some(now()));
        assert_eq!(found.slots.len(), 2);
        assert!(found.slots.contains(&(2, "AKIAOLD".to_string(), None)));
        assert!(
            found
                .slots
                .iter()
                .any(|(slot, id, m)| *slot == 1 && id == "AKIANEW" && m.is_some())
        );
    }

    #[test]
    fn two_keys_of_the_same_second_are_told_apart_by_status_or_not_at_all() {
        let mut off = key(2, 10, None);
        off.active = false;
        off.last_rotated = key(1, 10, None).last_rotated;
        let row = user("u", [key(1, 10, None), off]);
        let keys = [
            iam_key("AKIAON", ago(10), KeyStatus::Active),
            iam_key("AKIAOFF", ago(10), KeyStatus::Inactive),
        ];
        let found = match_user(&row, &keys, &[], &[], Some(now()));
        assert!(found.slots.contains(&(1, "AKIAON".to_string(), None)));
        assert!(found.slots.contains(&(2, "AKIAOFF".to_string(), None)));

        let both_on = [
            iam_key("AKIAA", ago(10), KeyStatus::Active),
            iam_key("AKIAB", ago(10), KeyStatus::Active),
        ];
        let row = user("u", [key(1, 10, None), key(2, 10, None)]);
        let found = match_user(&row, &both_on, &[], &[], Some(now()));
        assert!(found.slots.is_empty(), "a guess would be a position");
    }

    #[test]
    fn a_report_older_than_the_secrets_rotation_is_stale() {
        let generated = now() - DAY;
        let row = user("u", [key(1, 100, Some(2)), no_key(2)]);
        let keys = [iam_key("AKIANEW", ago(0), KeyStatus::Active)];
        let found = match_user(
            &row,
            &keys,
            &[named("AKIANEW", ago(0))],
            &[],
            Some(generated),
        );
        let why = found.stale.unwrap();
        assert!(
            why.starts_with("report generated at ")
                && why.contains(", before secret iam-keys/u rotated at ")
                && why.ends_with(": its key ages are stale"),
            "{why}"
        );
        assert!(found.slots.is_empty(), "the slot's key is another one");
    }

    #[test]
    fn a_saved_report_is_stale_when_iam_has_a_key_it_does_not_show_or_lacks_one_it_does() {
        let row = user("u", [key(1, 100, Some(2)), no_key(2)]);
        let keys = [
            iam_key("AKIAOLD", ago(100), KeyStatus::Active),
            iam_key("AKIANEW", ago(0), KeyStatus::Active),
        ];
        let found = match_user(&row, &keys, &[], &[], None);
        assert!(found.stale.unwrap().contains("does not show key AKIANEW"));
        let found = match_user(&row, &[], &[], &[], None);
        assert!(found.stale.unwrap().contains("IAM no longer has"));
    }
}

/// The audit of ci-bot's row (`keys`: each slot's active flag and date, or "false,N/A") through
/// the fakes, its secret `secrets` under `iam-keys/`.
async fn audit_ci_bot(
    iam: crate::fakes::FakeIam,
    secrets: crate::fakes::FakeSecrets,
    keys: [String; 2],
) -> super::Audit {
    let made = humantime::format_rfc3339_seconds(SystemTime::now());
    let [one, two] = keys;
    let csv = format!(
        "user,arn,user_creation_time,password_enabled,password_last_used,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date\nci-bot,arn:aws:iam::123456789012:user/rotated/ci-bot,{made},false,N/A,false,{one},N/A,{two},N/A\n"
    );
    secrets.state().name = "iam-keys/ci-bot".into();
    let config = crate::Config {
        secret_name_prefix: "iam-keys/".into(),
        ..crate::Config::default()
    };
    let sts = crate::fakes::FakeSts::new(iam.clone());
    let rotator = crate::engine::Rotator::new(secrets, iam, sts, config);
    audit(&rotator, Some(csv), SystemTime::now(), |_| {})
        .await
        .unwrap()
}

#[tokio::test]
async fn through_the_fakes_an_unreadable_secret_leaves_its_users_key_unjudged() {
    use crate::fakes::{FakeIam, FakeSecrets};
    use crate::services::IamKeys as _;

    let iam = FakeIam::default();
    iam.add_user("ci-bot", "/rotated/");
    let key = iam.create_key("ci-bot").await.unwrap();
    let value = serde_json::json!({"UserName": "ci-bot", "AccessKeyId": key.id});
    let secrets = FakeSecrets::rotation_started("v1", value.to_string(), "t1");
    secrets.state().unreadable = Some(("DecryptionFailure".into(), "can't decrypt".into()));
    let made = humantime::format_rfc3339_seconds(SystemTime::now());
    let audit = audit_ci_bot(iam, secrets, [format!("true,{made}"), "false,N/A".into()]).await;
    let checks: Vec<_> = audit.findings.iter().map(|f| f.check).collect();
    assert_eq!(checks, ["unreadable-secret"]);
    assert_eq!(audit.findings[0].user, "ci-bot");
    assert!(audit.is_incomplete());
    assert_eq!(audit.summary.unverified_keys, 1);
}

#[tokio::test]
async fn keys_made_in_the_same_second_that_a_secret_may_hold_are_never_called_unmanaged() {
    use crate::fakes::{FakeIam, FakeSecrets};
    use crate::services::IamKeys as _;

    // A rotation moments after the user was made: both keys Active, made in the same second, so
    // the report's dates cannot tell which slot holds the key the secret names.
    let iam = FakeIam::default();
    iam.add_user("ci-bot", "/rotated/");
    let old = iam.create_key("ci-bot").await.unwrap();
    let new = iam.create_key("ci-bot").await.unwrap();
    let made = SystemTime::now();
    for key in iam.state().keys.iter_mut() {
        key.info.created = Some(made);
    }
    let value = serde_json::json!({"UserName": "ci-bot", "AccessKeyId": new.id});
    let secrets = FakeSecrets::rotation_started("v1", value.to_string(), "t1");
    let made = humantime::format_rfc3339_seconds(made);
    let audit = audit_ci_bot(
        iam,
        secrets,
        [format!("true,{made}"), format!("true,{made}")],
    )
    .await;

    let checks: Vec<_> = audit.findings.iter().map(|f| f.check).collect();
    assert_eq!(checks, ["two-active-keys"], "{:?}", audit.findings);
    assert_eq!(audit.summary.unverified_keys, 2);
    assert_eq!(audit.summary.unmanaged_keys, 0);
    assert_ne!(old.id, new.id);
}
