//! An organization's audit with more accounts than one invocation's deadline allows, through the
//! Lambda binary: IAM answers slowly (the test server's proxy adds 700 ms to each IAM call, so an
//! account takes seconds), the function's timeout is 8 seconds, so each run stops starting accounts
//! well before its deadline and invokes the function again with where to go on. The chain must
//! audit every account exactly once, each run answering within its timeout.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
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
    let moto = Box::leak(Box::new(Moto::start(&[
        "--function-binary",
        env!("CARGO_BIN_EXE_iam-key-rotator"),
        "--invocations",
        invocations.to_str().unwrap(),
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

    let lambda = aws_sdk_lambda::Client::new(&moto.sdk_config().await);
    let event = json!({"Action": "audit", "Organization": true});
    let first = lambda
        .invoke()
        .function_name(&moto.rotation_lambda_arn)
        .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
        .send()
        .await
        .expect("Invoke");
    let first: Value =
        serde_json::from_slice(first.payload().expect("a payload").as_ref()).expect("JSON");
    assert!(
        first["next"].is_string(),
        "the first run cannot audit every account in time: {first}"
    );

    let runs = support::wait_for_the_chain(&invocations, "audit", Duration::from_secs(120));
    let mut start_after: Option<String> = None;
    let mut audited = 0;
    for run in &runs {
        assert_eq!(
            run["outcome"], "response",
            "every run answers within its timeout: {run}"
        );
        assert!(run["ms"].as_f64().unwrap_or(f64::MAX) < 8000.0, "{run}");
        assert_eq!(
            run["event"]["StartAfter"].as_str(),
            start_after.as_deref(),
            "each run starts where the last stopped"
        );
        assert_eq!(run["event"]["Organization"], true);
        let answer = &run["answer"];
        assert_eq!(answer["unreachable_accounts"], 0, "{answer}");
        audited += answer["accounts"].as_u64().unwrap_or(0);
        start_after = answer["next"].as_str().map(str::to_string);
    }
    assert!(runs.len() >= 2, "{runs:?}");
    assert_eq!(start_after, None);
    assert_eq!(
        runs.last().map(|r| &r["answer"]["not_reached_accounts"]),
        Some(&json!(0))
    );
    assert_eq!(
        audited,
        MEMBERS as u64 + 1,
        "each account (the members and the management account) exactly once over {} runs",
        runs.len()
    );
}
