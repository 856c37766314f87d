//! The organization-wide audit and its Security Hub import, over an organization in memory.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use super::organization::{OrgAudit, OrgOptions, Selection, audit_organization};
use super::security_hub::{Destination, Judged, import};
use crate::config::Config;
use crate::engine::Rotator;
use crate::fakes::{
    FakeAccounts, FakeHub, FakeIam, FakeOrgRotator, FakeOrganization, FakeSecrets, FakeSts,
};
use crate::services::{Clients, IamKeys, IamUsers, NotSetUp};

const MANAGEMENT: &str = "123456789012";
const PAYMENTS: &str = "111111111111";
const SANDBOX: &str = "222222222222";
const LEGACY: &str = "333333333333";
const CLOSED: &str = "444444444444";
const DAY: Duration = Duration::from_secs(86_400);

/// Root ─ management account
///      └ workloads ─ prod ─ eu ─ payments (its key 100 days old, one managed key)
///                  └ sandbox (no audit role deployed)
///      └ legacy-ou ─ legacy
/// plus a suspended account at the root.
struct World {
    hub: FakeHub,
    accounts: FakeAccounts,
    payments: FakeIam,
    rotator: FakeOrgRotator,
    managed_key: String,
}

impl World {
    async fn new() -> World {
        let org = FakeOrganization::new(MANAGEMENT);
        org.add_unit("r-root", "ou-ab12-00000001", "workloads");
        org.add_unit("ou-ab12-00000001", "ou-ab12-00000002", "prod");
        org.add_unit("ou-ab12-00000002", "ou-ab12-00000003", "eu");
        org.add_unit("r-root", "ou-ab12-00000004", "legacy-ou");
        org.add_account("ou-ab12-00000003", PAYMENTS, "payments");
        org.add_account("ou-ab12-00000001", SANDBOX, "sandbox");
        org.add_account("ou-ab12-00000004", LEGACY, "legacy");
        org.add_account("r-root", CLOSED, "closed");
        org.suspend(CLOSED);

        let accounts = FakeAccounts::default();
        let payments = accounts.add(PAYMENTS);
        payments.add_user("old-keys", "/");
        let old = payments.create_key("old-keys").await.unwrap();
        backdate(&payments, &old.id, 100);
        payments.add_user("deployer", "/rotated/");
        let managed = payments.create_key("deployer").await.unwrap();
        backdate(&payments, &managed.id, 100);
        let legacy = accounts.add(LEGACY);
        legacy.add_user("ancient", "/");
        let key = legacy.create_key("ancient").await.unwrap();
        backdate(&legacy, &key.id, 200);

        let own = FakeIam::default();
        own.add_user("admin", "/");
        let key = own.create_key("admin").await.unwrap();
        backdate(&own, &key.id, 120);
        for iam in [&own, &payments, &legacy] {
            iam.refresh_report();
        }

        let hub = FakeHub::default();
        // A secret in the management account rotates the payments deployer's key.
        let value = serde_json::json!({"UserName": "deployer", "AccountId": PAYMENTS, "AccessKeyId": managed.id});
        let secrets = FakeSecrets::rotation_started("v1", value.to_string(), "t1");
        secrets.state().name = "iam-keys/payments-deployer".into();
        let rotator = Rotator::with_services(
            Clients {
                secrets,
                iam: own.clone(),
                keys: FakeSts::new(own),
                parameters: NotSetUp,
                github: NotSetUp,
                accounts: accounts.clone(),
                organization: org.clone(),
                security_hub: hub.clone(),
            },
            Config {
                secret_name_prefix: "iam-keys/".into(),
                ..Config::default()
            },
        );
        World {
            hub,
            accounts,
            payments,
            rotator,
            managed_key: managed.id,
        }
    }

    async fn audit(&self, selection: Selection) -> OrgAudit {
        let options = OrgOptions {
            role: "iam-key-rotator-audit".into(),
            selection,
            deadline: None,
            start_after: None,
        };
        audit_organization(&self.rotator, &options, SystemTime::now(), |_| {})
            .await
            .unwrap()
    }
}

fn backdate(iam: &FakeIam, key_id: &str, days: u32) {
    if let Some(key) = iam.state().keys.iter_mut().find(|k| k.info.id == key_id) {
        key.info.created = Some(SystemTime::now() - DAY * days);
    }
}

fn ids(skipped: &[super::organization::Skipped]) -> Vec<&str> {
    skipped.iter().map(|s| s.account.account.as_str()).collect()
}

#[tokio::test]
async fn every_account_under_nested_units_is_audited_and_each_finding_names_its_account() {
    let world = World::new().await;

    let report = world.audit(Selection::default()).await;

    let audited: Vec<&str> = report
        .accounts
        .iter()
        .map(|a| a.account.account.as_str())
        .collect();
    assert_eq!(audited, [PAYMENTS, MANAGEMENT, LEGACY]);
    let payments = &report.accounts[0];
    assert_eq!(payments.account.units, ["Root", "workloads", "prod", "eu"]);
    assert_eq!(payments.account.account_name, "payments");
    // Never skipped in silence: the account without the role, with the reason and what to do.
    assert_eq!(ids(&report.unreachable), [SANDBOX]);
    assert!(
        report.unreachable[0]
            .reason
            .contains("deploy member-role.yaml"),
        "{}",
        report.unreachable[0].reason
    );
    assert_eq!(ids(&report.excluded), [CLOSED]);
    assert!(report.is_incomplete());

    let old_keys: Vec<(&str, &str)> = report
        .findings
        .iter()
        .filter(|f| f.finding.check == "key-older-than-90-days")
        .map(|f| (f.account.as_str(), f.finding.user.as_str()))
        .collect();
    assert_eq!(
        old_keys,
        [
            (PAYMENTS, "deployer"),
            (PAYMENTS, "old-keys"),
            (MANAGEMENT, "admin"),
            (LEGACY, "ancient")
        ]
    );
    // The secret in the management account makes the payments deployer's key a managed one.
    let deployer = payments
        .audit
        .users
        .iter()
        .find(|u| u.user == "deployer")
        .unwrap();
    assert_eq!(
        deployer.keys[0].id.as_deref(),
        Some(world.managed_key.as_str())
    );
    assert!(deployer.keys[0].managed.is_some());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["findings"][0]["account"], PAYMENTS);
    assert_eq!(json["findings"][0]["account_name"], "payments");
    assert_eq!(report.summary.accounts, 3);
    assert_eq!(report.summary.unreachable_accounts, 1);
    // adopt's remedy for a member account's key names the account.
    let unmanaged = report
        .findings
        .iter()
        .find(|f| f.account == PAYMENTS && f.finding.check == "unmanaged-key")
        .expect("the old-keys user's key is nobody's");
    assert!(
        unmanaged
            .finding
            .remedy
            .contains(&format!(" --account {PAYMENTS} ")),
        "{}",
        unmanaged.finding.remedy
    );
}

#[tokio::test]
async fn a_team_rolls_out_by_unit_and_leaves_accounts_out_by_id() {
    let world = World::new().await;

    let report = world
        .audit(Selection {
            include_units: vec!["ou-ab12-00000001".into()],
            exclude_accounts: vec![SANDBOX.into()],
            ..Selection::default()
        })
        .await;

    let audited: Vec<&str> = report
        .accounts
        .iter()
        .map(|a| a.account.account.as_str())
        .collect();
    assert_eq!(
        audited,
        [PAYMENTS],
        "under workloads at any depth, sandbox excluded"
    );
    assert!(report.unreachable.is_empty());
    let excluded = ids(&report.excluded);
    for account in [MANAGEMENT, SANDBOX, LEGACY, CLOSED] {
        assert!(excluded.contains(&account), "{account}: {excluded:?}");
    }

    let report = world
        .audit(Selection {
            exclude_units: vec!["ou-ab12-00000002".into()],
            ..Selection::default()
        })
        .await;
    let audited: Vec<&str> = report
        .accounts
        .iter()
        .map(|a| a.account.account.as_str())
        .collect();
    assert_eq!(audited, [MANAGEMENT, LEGACY]);
}

#[tokio::test]
async fn a_user_tagged_exempt_gets_no_finding() {
    let world = World::new().await;
    world
        .payments
        .tag_user("old-keys", super::EXEMPT_TAG, "break-glass, ticket SEC-12")
        .await
        .unwrap();

    let report = world.audit(Selection::default()).await;

    assert!(!report.findings.iter().any(|f| f.finding.user == "old-keys"));
    assert_eq!(report.accounts[0].audit.summary.exempt_users, ["old-keys"]);
    assert!(report.findings.iter().any(|f| f.finding.user == "deployer"));
}

/// Imports into `hub` now, with no deadline.
async fn import_now(
    hub: &FakeHub,
    findings: &[(String, &super::Finding)],
    judged: &Judged,
) -> super::security_hub::Imported {
    import(
        hub,
        &destination(),
        findings,
        judged,
        SystemTime::now(),
        None,
    )
    .await
}

fn destination() -> Destination {
    Destination {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: MANAGEMENT.into(),
    }
}

async fn import_report(world: &World, report: &OrgAudit) -> super::security_hub::Imported {
    let findings: Vec<(String, &super::Finding)> = report
        .findings
        .iter()
        .map(|f| (f.account.clone(), &f.finding))
        .collect();
    let audited: HashSet<String> = report
        .accounts
        .iter()
        .map(|a| a.account.account.clone())
        .collect();
    import_now(
        world.rotator.security_hub(),
        &findings,
        &Judged::accounts(audited),
    )
    .await
}

#[tokio::test]
async fn security_hub_gets_one_finding_per_check_updated_by_a_rerun_and_resolved_once_fixed() {
    let world = World::new().await;
    let hub = &world.hub;

    let first = world.audit(Selection::default()).await;
    let imported = import_report(&world, &first).await;
    assert_eq!(imported.imported, first.findings.len());
    let stored = hub.findings.lock().unwrap().clone();
    assert_eq!(stored.len(), first.findings.len());
    let old = stored
        .iter()
        .find(|f| {
            f.id == format!("iam-key-rotator/{PAYMENTS}/old-keys/slot-1/key-older-than-90-days")
        })
        .unwrap_or_else(|| panic!("{:#?}", stored.iter().map(|f| &f.id).collect::<Vec<_>>()));
    assert_eq!(old.account_id, PAYMENTS);
    assert_eq!(
        (old.compliance.as_str(), old.record_state.as_str()),
        ("FAILED", "ACTIVE")
    );
    assert!(old.types[0].contains("CIS AWS Foundations Benchmark"));
    let first_seen = old.created_at;

    // The same audit again: the same findings, updated in place.
    let again = world.audit(Selection::default()).await;
    import_report(&world, &again).await;
    let stored = hub.findings.lock().unwrap().clone();
    assert_eq!(stored.len(), first.findings.len(), "no duplicates");
    let old = stored
        .iter()
        .find(|f| f.id.contains("/old-keys/") && f.id.ends_with("key-older-than-90-days"))
        .unwrap();
    assert_eq!(old.created_at, first_seen, "first seen is kept");

    // The old key goes; and the legacy account drops out of reach (its role removed).
    let key = world.payments.list_keys("old-keys").await.unwrap()[0]
        .id
        .clone();
    world.payments.delete_key("old-keys", &key).await.unwrap();
    world.payments.refresh_report();
    world.accounts.remove(LEGACY);
    let fixed = world.audit(Selection::default()).await;
    let imported = import_report(&world, &fixed).await;

    assert!(imported.resolved >= 1);
    let stored = hub.findings.lock().unwrap().clone();
    let old = stored
        .iter()
        .find(|f| f.id.contains("/old-keys/") && f.id.ends_with("key-older-than-90-days"))
        .unwrap();
    assert_eq!(
        (old.compliance.as_str(), old.record_state.as_str()),
        ("PASSED", "ARCHIVED")
    );
    let legacy: Vec<_> = stored.iter().filter(|f| f.account_id == LEGACY).collect();
    assert!(!legacy.is_empty());
    assert!(
        legacy.iter().all(|f| f.record_state == "ACTIVE"),
        "an account the run could not reach keeps its findings"
    );
}

/// A `key-older-than-90-days` finding for each of `n` users of the payments account.
fn old_keys_of_users(n: usize) -> Vec<super::Finding> {
    (0..n)
        .map(|i| super::Finding {
            user: format!("user-{i}"),
            arn: format!("arn:aws:iam::{PAYMENTS}:user/user-{i}"),
            check: "key-older-than-90-days",
            severity: super::Severity::Medium,
            controls: super::Controls::default(),
            key: None,
            detail: "d".into(),
            remedy: "r".into(),
            secret: None,
        })
        .collect()
}

#[tokio::test]
async fn findings_go_to_security_hub_a_hundred_at_a_time() {
    let hub = FakeHub::default();
    let findings = old_keys_of_users(250);
    let refs: Vec<(String, &super::Finding)> =
        findings.iter().map(|f| (PAYMENTS.to_string(), f)).collect();

    let imported = import_now(&hub, &refs, &Judged::default()).await;

    assert_eq!(imported.imported, 250);
    assert_eq!(*hub.calls.lock().unwrap(), [100, 100, 50]);
}

#[tokio::test]
async fn findings_about_no_user_neither_collide_nor_go_without_a_resource() {
    let hub = FakeHub::default();
    let about = |secret: &str, why: &str| super::Finding {
        user: String::new(),
        arn: String::new(),
        check: "unreadable-secret",
        severity: super::Severity::High,
        controls: super::Controls::default(),
        key: None,
        detail: format!("secret {secret} could not be read ({why})"),
        remedy: "r".into(),
        secret: Some(secret.to_string()),
    };
    let (a, b) = (
        about("iam-keys/a", "DecryptionFailure: no"),
        about("iam-keys/b", "DecryptionFailure: no"),
    );
    let refs = [(MANAGEMENT.to_string(), &a), (MANAGEMENT.to_string(), &b)];
    let audited = HashSet::from([MANAGEMENT.to_string()]);

    import_now(&hub, &refs, &Judged::accounts(audited.clone())).await;

    let stored = hub.findings.lock().unwrap().clone();
    assert_eq!(stored.len(), 2);
    assert_ne!(stored[0].id, stored[1].id);
    assert!(
        stored
            .iter()
            .all(|f| !f.resource_id.is_empty() && f.resource_type == "Other")
    );

    // The next run is refused with another message (another caller, say): the same findings,
    // updated, none resolved while the secrets are still unreadable.
    let (a, b) = (
        about("iam-keys/a", "AccessDeniedException: not the CLI's"),
        about("iam-keys/b", "AccessDeniedException: not the CLI's"),
    );
    let refs = [(MANAGEMENT.to_string(), &a), (MANAGEMENT.to_string(), &b)];
    let again = import_now(&hub, &refs, &Judged::accounts(audited.clone())).await;
    assert_eq!((again.imported, again.resolved), (2, 0));
    assert_eq!(hub.findings.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn an_unreadable_secret_leaves_member_keys_untold_and_is_reported_though_its_account_is_left_out()
 {
    let world = World::new().await;
    world.rotator.secrets().state().unreadable =
        Some(("DecryptionFailure".into(), "can't decrypt".into()));

    let report = world
        .audit(Selection {
            exclude_accounts: vec![MANAGEMENT.into()],
            ..Selection::default()
        })
        .await;

    let unreadable: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.finding.check == "unreadable-secret")
        .map(|f| f.account.as_str())
        .collect();
    assert_eq!(
        unreadable,
        [MANAGEMENT],
        "reported once, in the secrets' account"
    );
    assert!(report.could_not_see() && report.is_incomplete());
    // The payments deployer's key may be the unreadable secret's: never called unmanaged.
    let payments = &report.accounts[0];
    assert_eq!(payments.account.account, PAYMENTS);
    assert_eq!(payments.audit.summary.unreadable_secrets, 1);
    assert!(payments.audit.is_incomplete());
    assert!(
        payments
            .audit
            .findings
            .iter()
            .all(|f| f.check != "unmanaged-key"),
        "{:?}",
        payments.audit.findings
    );
    assert_eq!(payments.audit.summary.unmanaged_keys, 0);
    assert_eq!(payments.audit.summary.unverified_keys, 2);
}

/// The management account and 20 members at the root, each member's audit role taking 300 ms.
fn slow_organization() -> (FakeOrgRotator, Vec<String>) {
    let org = FakeOrganization::new(MANAGEMENT);
    let accounts = FakeAccounts::default();
    *accounts.audit_delay.lock().unwrap() = Duration::from_millis(300);
    let mut all = vec![MANAGEMENT.to_string()];
    for n in 0..20 {
        let id = format!("5000000000{n:02}");
        org.add_account("r-root", &id, &format!("member-{n}"));
        accounts.add(&id).refresh_report();
        all.push(id);
    }
    let own = FakeIam::default();
    own.refresh_report();
    let rotator = Rotator::with_services(
        Clients {
            secrets: FakeSecrets::default(),
            iam: own.clone(),
            keys: FakeSts::new(own),
            parameters: NotSetUp,
            github: NotSetUp,
            accounts,
            organization: org,
            security_hub: FakeHub::default(),
        },
        Config {
            secret_name_prefix: "iam-keys/".into(),
            ..Config::default()
        },
    );
    all.sort();
    (rotator, all)
}

async fn audit_until(
    rotator: &FakeOrgRotator,
    deadline: Option<std::time::Instant>,
    start_after: Option<String>,
) -> OrgAudit {
    let options = OrgOptions {
        role: "iam-key-rotator-audit".into(),
        selection: Selection::default(),
        deadline,
        start_after,
    };
    audit_organization(rotator, &options, SystemTime::now(), |_| {})
        .await
        .unwrap()
}

fn audited(report: &OrgAudit) -> Vec<String> {
    report
        .accounts
        .iter()
        .map(|a| a.account.account.clone())
        .collect()
}

#[tokio::test]
async fn an_audit_its_deadline_stopped_says_where_to_go_on_and_the_next_run_audits_the_rest() {
    let (rotator, all) = slow_organization();

    // Eight at a time, 300 ms each: the third round would start after the deadline.
    let deadline = std::time::Instant::now() + Duration::from_millis(450);
    let first = audit_until(&rotator, Some(deadline), None).await;
    assert!(!first.not_reached.is_empty());
    assert!(first.is_incomplete() && !first.could_not_see());
    let next = first
        .next
        .clone()
        .expect("a run that got somewhere says where to go on");
    assert_eq!(audited(&first).last(), Some(&next));

    let second = audit_until(&rotator, None, Some(next)).await;
    assert!(second.not_reached.is_empty() && second.next.is_none());
    assert_eq!(ids(&second.not_reached), Vec::<&str>::new());
    let mut both = audited(&first);
    both.extend(audited(&second));
    assert_eq!(both, all, "each account audited once, none left");
}

#[tokio::test]
async fn an_audit_that_reached_no_account_never_goes_on_in_place() {
    let (rotator, all) = slow_organization();

    let first = audit_until(&rotator, Some(std::time::Instant::now()), None).await;

    assert!(first.accounts.is_empty());
    assert_eq!(first.not_reached.len(), all.len());
    assert_eq!(first.next, None);
}

fn hub_request() -> super::run::Request {
    super::run::Request {
        organization: Some(OrgOptions {
            role: "iam-key-rotator-audit".into(),
            selection: Selection::default(),
            deadline: None,
            start_after: None,
        }),
        security_hub: Some("us-east-1".into()),
        report_csv: None,
        import_deadline: None,
    }
}

#[tokio::test]
async fn security_hub_not_enabled_loses_no_audit_and_says_what_to_do() {
    let world = World::new().await;
    *world.hub.not_enabled.lock().unwrap() = true;

    let run = super::run::run(&world.rotator, hub_request(), SystemTime::now(), |_| {})
        .await
        .expect("the audit stands without Security Hub");

    let super::run::Report::Organization(org) = &run.report else {
        panic!("an organization's report")
    };
    assert_eq!(org.summary.accounts, 3);
    let imported = run.security_hub.as_ref().unwrap();
    let failure = imported.failed.as_ref().expect("the failure is reported");
    assert_eq!(failure.kind, "AwsError");
    assert_eq!(failure.remedy, crate::error::Remedy::FixInput);
    assert!(
        failure.message.contains("enable Security Hub in us-east-1"),
        "{}",
        failure.message
    );
    assert_eq!(imported.imported, 0);
    assert_eq!(imported.not_written, org.findings.len());
    assert_eq!(imported.not_imported(), org.findings.len());
}

#[tokio::test]
async fn security_hub_failing_with_nothing_to_import_still_counts_for_the_alarm() {
    let hub = FakeHub::default();
    *hub.not_enabled.lock().unwrap() = true;
    let audited = HashSet::from([PAYMENTS.to_string()]);

    let imported = import_now(&hub, &[], &Judged::accounts(audited)).await;

    assert!(imported.failed.is_some());
    assert_eq!(imported.not_imported(), 1);
}

#[tokio::test]
async fn an_import_past_its_deadline_writes_nothing_more_and_says_the_next_run_will() {
    let hub = FakeHub::default();
    let world = World::new().await;
    let report = world.audit(Selection::default()).await;
    let findings: Vec<(String, &super::Finding)> = report
        .findings
        .iter()
        .map(|f| (f.account.clone(), &f.finding))
        .collect();

    let past = std::time::Instant::now();
    let imported = import(
        &hub,
        &destination(),
        &findings,
        &Judged::default(),
        SystemTime::now(),
        Some(past),
    )
    .await;

    assert!(hub.findings.lock().unwrap().is_empty());
    assert_eq!(imported.not_written, findings.len());
    let failure = imported.failed.expect("the cut is reported");
    assert_eq!(
        (failure.kind, failure.remedy),
        ("DeadlineReached", crate::error::Remedy::Retry)
    );
}

#[tokio::test]
async fn an_import_cut_off_midway_keeps_what_it_wrote_and_the_next_run_writes_the_rest() {
    let hub = FakeHub::default();
    *hub.throttled_after.lock().unwrap() = Some(1);
    let findings = old_keys_of_users(250);
    let refs: Vec<(String, &super::Finding)> =
        findings.iter().map(|f| (PAYMENTS.to_string(), f)).collect();
    let audited = HashSet::from([PAYMENTS.to_string()]);

    let cut = import_now(&hub, &refs, &Judged::accounts(audited.clone())).await;

    assert_eq!((cut.imported, cut.not_written), (100, 150));
    let failure = cut.failed.expect("the throttling is reported");
    assert_eq!(failure.remedy, crate::error::Remedy::Retry);
    assert_eq!(hub.findings.lock().unwrap().len(), 100);

    *hub.throttled_after.lock().unwrap() = None;
    let again = import_now(&hub, &refs, &Judged::accounts(audited.clone())).await;
    assert_eq!((again.imported, again.resolved), (250, 0));
    assert!(again.failed.is_none());
    assert_eq!(hub.findings.lock().unwrap().len(), 250);
}

#[tokio::test]
async fn a_mistyped_account_or_unit_id_is_refused_before_any_account_is_audited() {
    let world = World::new().await;
    for selection in [
        Selection {
            exclude_accounts: vec!["11111111111".into()],
            ..Selection::default()
        },
        Selection {
            include_units: vec!["ou-work".into()],
            ..Selection::default()
        },
        Selection {
            exclude_units: vec!["OU-ABCD-11111111".into()],
            ..Selection::default()
        },
    ] {
        let options = OrgOptions {
            role: "iam-key-rotator-audit".into(),
            selection: selection.clone(),
            deadline: None,
            start_after: None,
        };
        let err = audit_organization(&world.rotator, &options, SystemTime::now(), |_| {})
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "InvalidConfiguration", "{selection:?}: {err}");
    }
    let good = Selection {
        include_units: vec!["ou-abcd-11111111".into(), "r-ab12".into()],
        exclude_accounts: vec![PAYMENTS.into()],
        ..Selection::default()
    };
    assert!(good.check().is_ok());
}

#[tokio::test]
async fn an_unreadable_secrets_finding_is_resolved_once_readable_though_the_secrets_account_is_left_out()
 {
    let world = World::new().await;
    let mut request = hub_request();
    if let Some(options) = request.organization.as_mut() {
        options.selection.exclude_accounts = vec![MANAGEMENT.into()];
    }
    let unreadable_in_hub = || {
        world
            .hub
            .findings
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.generator_id.ends_with("unreadable-secret"))
            .map(|f| (f.account_id.clone(), f.record_state.clone()))
            .collect::<Vec<_>>()
    };
    world.rotator.secrets().state().unreadable =
        Some(("DecryptionFailure".into(), "can't decrypt".into()));

    super::run::run(&world.rotator, request.clone(), SystemTime::now(), |_| {})
        .await
        .unwrap();
    assert_eq!(
        unreadable_in_hub(),
        [(MANAGEMENT.to_string(), "ACTIVE".to_string())]
    );

    world.rotator.secrets().state().unreadable = None;
    let run = super::run::run(&world.rotator, request, SystemTime::now(), |_| {})
        .await
        .unwrap();

    assert_eq!(
        unreadable_in_hub(),
        [(MANAGEMENT.to_string(), "ARCHIVED".to_string())]
    );
    assert!(run.security_hub.unwrap().resolved >= 1);
}
