//! `audit --organization` and `--security-hub` against moto: an organization whose units nest,
//! member accounts reached through member-role.yaml's audit role (the test server checks its
//! trust), one account without the role, accounts left out by id and by unit, a user tagged
//! exempt, and the findings in Security Hub updated by a re-run and resolved once fixed.

mod support;

use std::process::Output;
use std::sync::OnceLock;

use aws_sdk_iam::types::Tag;
use serde_json::{Value, json};
use support::{Moto, unique};

const MANAGEMENT: &str = "123456789012";

/// A server whose function is the built binary, for the scheduled audit.
fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        Moto::start(&[
            "--function-binary",
            env!("CARGO_BIN_EXE_iam-key-rotator"),
            "--function-log",
            function_log().to_str().unwrap(),
            "--function-env",
            "ROTATOR_SECRET_NAME_PREFIX=iam-keys/",
        ])
    })
}

fn function_log() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "iam-key-rotator-org-audit-{}.log",
        std::process::id()
    ))
}

fn cli(args: &[&str]) -> Output {
    moto()
        .cli()
        .args(args)
        .env("ROTATOR_SECRET_NAME_PREFIX", "iam-keys/")
        .output()
        .expect("the CLI runs")
}

fn id_of(value: Value, field: &str) -> String {
    value[field].as_str().expect("an id").to_string()
}

/// The organization, made once for this test binary:
/// Root ─ workloads ─ prod ─ payments (audit role)
///                  └ no-role (no audit role)
///      └ sandbox ─ playground (audit role; left out by unit)
///      └ excluded (audit role; left out by id)
struct Org {
    payments: String,
    no_role: String,
    excluded: String,
    playground: String,
    sandbox: String,
}

fn org() -> &'static Org {
    static ORG: OnceLock<Org> = OnceLock::new();
    ORG.get_or_init(|| {
        let m = moto();
        let audit_role =
            json!({"AuditPrincipalArn": format!("arn:aws:iam::{MANAGEMENT}:root")}).to_string();
        let workloads = id_of(m.organization(&["ou", "workloads"]), "ou_id");
        let prod = id_of(
            m.organization(&["ou", "prod", "--parent", &workloads]),
            "ou_id",
        );
        let sandbox = id_of(m.organization(&["ou", "sandbox"]), "ou_id");
        let account = |name: &str, parent: Option<&str>, role: bool| {
            let mut args = vec!["account", name];
            if let Some(parent) = parent {
                args.extend(["--parent", parent]);
            }
            if role {
                args.extend(["--audit-role", audit_role.as_str()]);
            }
            id_of(m.organization(&args), "account_id")
        };
        Org {
            payments: account("payments", Some(&prod), true),
            no_role: account("no-role", Some(&workloads), false),
            excluded: account("excluded", None, true),
            playground: account("playground", Some(&sandbox), true),
            sandbox,
        }
    })
}

/// A user with one key made `days` ago in `account`'s IAM.
async fn user_with_old_key(
    iam: &aws_sdk_iam::Client,
    account: &str,
    name: &str,
    path: &str,
    days: u64,
) -> String {
    iam.create_user()
        .user_name(name)
        .path(path)
        .send()
        .await
        .expect("CreateUser");
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("CreateAccessKey");
    let key_id = key.access_key().expect("a key").access_key_id().to_string();
    moto().control(
        json!({"op": "key", "account": account, "key_id": key_id, "created_days_ago": days}),
    );
    key_id
}

fn audited(report: &Value) -> Vec<String> {
    report["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["account"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn listed(report: &Value, part: &str) -> Vec<String> {
    report[part]
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| a["account"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The audit's active and resolved findings in Security Hub, by id.
async fn security_hub() -> Vec<(String, String, String)> {
    let hub = aws_sdk_securityhub::Client::new(&moto().sdk_config().await);
    let out = hub
        .get_findings()
        .max_results(100)
        .send()
        .await
        .expect("GetFindings");
    out.findings()
        .iter()
        .map(|f| {
            (
                f.id().unwrap_or_default().to_string(),
                f.aws_account_id().unwrap_or_default().to_string(),
                f.record_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_organization_is_audited_by_account_and_its_findings_reach_security_hub() {
    let org = org();
    let payments = aws_sdk_iam::Client::new(&moto().sdk_config_in(&org.payments).await);
    let old = unique("old-keys");
    let old_key = Box::pin(user_with_old_key(&payments, &org.payments, &old, "/", 100)).await;
    let exempt = unique("break-glass");
    Box::pin(user_with_old_key(
        &payments,
        &org.payments,
        &exempt,
        "/",
        200,
    ))
    .await;
    let tag = Tag::builder()
        .key("iam-key-rotator:exempt")
        .value("SEC-12")
        .build()
        .expect("a tag");
    payments
        .tag_user()
        .user_name(&exempt)
        .tags(tag)
        .send()
        .await
        .expect("TagUser");
    // A user of the excluded account that would otherwise be found.
    let excluded = aws_sdk_iam::Client::new(&moto().sdk_config_in(&org.excluded).await);
    Box::pin(user_with_old_key(
        &excluded,
        &org.excluded,
        &unique("hidden"),
        "/",
        300,
    ))
    .await;

    let args = [
        "audit",
        "--output",
        "json",
        "--organization",
        "--exclude-account",
        &org.excluded,
        "--exclude-ou",
        &org.sandbox,
        "--security-hub",
    ];
    let out = cli(&args);

    assert_eq!(
        out.status.code(),
        Some(7),
        "an unreachable account makes it incomplete: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // The report lists accounts by id; moto draws member ids at random.
    let mut expected = vec![MANAGEMENT.to_string(), org.payments.clone()];
    expected.sort();
    assert_eq!(audited(&report), expected);
    assert_eq!(listed(&report, "unreachable"), vec![org.no_role.clone()]);
    assert!(
        report["unreachable"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("member-role.yaml")
    );
    let left_out = listed(&report, "excluded");
    assert!(
        left_out.contains(&org.excluded) && left_out.contains(&org.playground),
        "{left_out:?}"
    );
    let payments_report = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == org.payments.as_str())
        .unwrap();
    assert_eq!(
        payments_report["units"],
        json!(["Root", "workloads", "prod"])
    );
    assert_eq!(payments_report["account_name"], "payments");

    let findings = report["findings"].as_array().expect("findings");
    let old_findings: Vec<&Value> = findings
        .iter()
        .filter(|f| f["user"] == old.as_str())
        .collect();
    assert!(
        old_findings
            .iter()
            .any(|f| f["check"] == "key-older-than-90-days"),
        "{old_findings:?}"
    );
    assert!(
        old_findings
            .iter()
            .all(|f| f["account"] == org.payments.as_str() && f["account_name"] == "payments")
    );
    assert!(
        !findings.iter().any(|f| f["user"] == exempt.as_str()),
        "exempt users get no finding"
    );
    assert!(
        !findings
            .iter()
            .any(|f| f["account"] == org.excluded.as_str())
    );

    // Security Hub holds each finding once, under the account it was found in.
    assert_eq!(report["security_hub"]["imported"], findings.len());
    let stored = Box::pin(security_hub()).await;
    let ours = |id_part: &str| {
        stored
            .iter()
            .filter(|(id, _, _)| id.contains(id_part))
            .cloned()
            .collect::<Vec<_>>()
    };
    let old_stored = ours(&format!("/{}/{old}/", org.payments));
    assert_eq!(old_stored.len(), old_findings.len());
    assert!(
        old_stored
            .iter()
            .all(|(_, account, state)| account == &org.payments && state == "ACTIVE")
    );

    // Run again: nothing duplicated.
    let again: Value = serde_json::from_slice(&cli(&args).stdout).expect("JSON");
    assert_eq!(again["security_hub"]["resolved"], 0);
    assert_eq!(Box::pin(security_hub()).await.len(), stored.len());

    // The old key goes: its findings are resolved on the next run.
    payments
        .delete_access_key()
        .user_name(&old)
        .access_key_id(&old_key)
        .send()
        .await
        .expect("DeleteAccessKey");
    let fixed: Value = serde_json::from_slice(&cli(&args).stdout).expect("JSON");
    assert!(
        fixed["security_hub"]["resolved"].as_u64().unwrap_or(0) >= old_findings.len() as u64,
        "{}",
        fixed["security_hub"]
    );
    let old_stored = security_hub()
        .await
        .into_iter()
        .filter(|(id, _, _)| id.contains(&format!("/{}/{old}/", org.payments)))
        .collect::<Vec<_>>();
    assert!(
        old_stored.iter().all(|(_, _, state)| state == "ARCHIVED"),
        "{old_stored:?}"
    );
}

#[tokio::test]
async fn the_organizations_report_reads_by_account_in_every_format() {
    let org = org();
    let args = [
        "audit",
        "--organization",
        "--include-account",
        &org.payments,
        "--include-account",
        &org.no_role,
    ];

    let text = String::from_utf8(cli(&args).stdout).expect("text");
    assert!(
        text.contains(&format!("UNREACHABLE no-role ({})", org.no_role)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "== payments ({}) in Root / workloads / prod",
            org.payments
        )),
        "{text}"
    );

    let csv =
        String::from_utf8(cli(&[&args[..], &["--output", "csv"]].concat()).stdout).expect("csv");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .starts_with("account,account_name,"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("{},no-role,account-unreachable,", org.no_role))),
        "{csv}"
    );

    let html =
        String::from_utf8(cli(&[&args[..], &["--output", "html"]].concat()).stdout).expect("html");
    assert!(
        html.contains("<table id=\"accounts\">") && html.contains("<table id=\"unreachable\">"),
        "{html}"
    );
    assert!(html.contains(&format!("id=\"account-{}\"", org.payments)));
}

#[tokio::test]
async fn the_scheduled_audit_covers_the_organization_and_logs_each_account_it_could_not_reach() {
    let org = org();
    let lambda = aws_sdk_lambda::Client::new(&moto().sdk_config().await);
    let event = json!({"Action": "audit", "Organization": true, "ExcludeAccounts": [org.excluded]});

    let out = lambda
        .invoke()
        .function_name(&moto().rotation_lambda_arn)
        .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
        .send()
        .await
        .expect("Invoke");

    let summary: Value =
        serde_json::from_slice(out.payload().expect("a payload").as_ref()).expect("JSON");
    assert_eq!(summary["unreachable_accounts"], 1, "{summary}");
    // The management account, payments and playground: no-role is unreachable, excluded left out.
    assert_eq!(summary["accounts"], 3, "{summary}");
    let log = std::fs::read_to_string(function_log()).expect("the function's log");
    assert!(
        log.lines().any(
            |l| l.contains("an account of the organization was not audited")
                && l.contains(&org.no_role)
        ),
        "{log}"
    );
    assert!(
        log.contains("\"AuditAccountUnreachable\":1"),
        "the metric: {log}"
    );
}
