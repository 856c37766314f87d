//! An organization's audit with more accounts than one invocation's deadline allows, through the
//! Lambda binary: IAM answers slowly (the test server's proxy adds 700 ms to each IAM call, so an
//! account takes seconds), the function's timeout is 8 seconds, so each run stops starting accounts
//! well before its deadline and invokes the function again with where to go on. The chain must
//! audit every account exactly once, each run answering within its timeout.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Moto;

const MEMBERS: usize = 20;

#[tokio::test]
async fn an_organizations_audit_longer_than_its_deadline_goes_on_in_a_chain_that_audits_every_account_once()
 {
    let dir = std::env::temp_dir().join(format!(
        "iam-key-rotator-audit-scale-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let invocations = dir.join("invocations.jsonl");
    let function_log = dir.join("function.log");
    let moto = Box::leak(Box::new(Moto::start(&[
        "--function-binary",
        env!("CARGO_BIN_EXE_iam-key-rotator"),
        "--invocations",
        invocations.to_str().unwrap(),
        "--function-log",
        function_log.to_str().unwrap(),
        "--timeout",
        "8",
        "--iam-latency-ms",
        "700",
        "--function-env",
        "ROTATOR_SECRET_NAME_PREFIX=iam-keys/",
    ])));
    let audit_role = json!({"AuditPrincipalArn": "arn:aws:iam::123456789012:root"}).to_string();
    let made = moto.organization(&[
        "account",
        "member",
        "--count",
        &MEMBERS.to_string(),
        "--audit-role",
        &audit_role,
    ]);
    assert_eq!(made["account_ids"].as_array().map(Vec::len), Some(MEMBERS));

    let first = support::invoke(moto, &json!({"Action": "audit", "Organization": true})).await;
    assert!(
        first["next"].is_string(),
        "the first run cannot audit every account in time: {first}"
    );

    let runs = support::wait_for_the_chain(&invocations, "audit", Duration::from_secs(120));
    let answers = support::answers_of_the_chain(&runs, 8000.0);
    assert!(
        runs.iter().all(|r| r["event"]["Organization"] == true),
        "{runs:?}"
    );
    assert!(
        answers.iter().all(|a| a["unreachable_accounts"] == 0),
        "{answers:?}"
    );
    assert_eq!(
        answers.last().map(|a| &a["not_reached_accounts"]),
        Some(&json!(0))
    );
    let audited: u64 = answers
        .iter()
        .map(|a| a["accounts"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        audited,
        MEMBERS as u64 + 1,
        "each account (the members and the management account) exactly once over {} runs",
        runs.len()
    );
    // A chain that goes on is no unreachable account: no error line, no count (a count of 0 is not
    // written at all).
    let log = std::fs::read_to_string(&function_log).expect("the function's log");
    let metric = "\"AuditAccountUnreachable\":";
    assert!(
        log.match_indices(metric)
            .all(|(at, _)| log[at + metric.len()..].starts_with('0')),
        "{log}"
    );
    assert!(!log.contains("not audited"), "{log}");
}
