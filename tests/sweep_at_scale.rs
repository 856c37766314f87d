//! A deep sweep with more work than one invocation's deadline allows, through the Lambda binary:
//! IAM answers slowly (the test server's proxy adds 200 ms to each IAM call), the function's
//! timeout is 3 seconds, so each run stops starting secrets at its deadline and invokes the
//! function again with where to go on. The chain must look at every secret exactly once, each run
//! answering within its timeout.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Moto, unique};

const SECRETS: usize = 60;

#[tokio::test]
async fn a_sweep_longer_than_its_deadline_goes_on_in_a_chain_that_visits_every_secret_once() {
    let dir = std::env::temp_dir().join(format!("iam-key-rotator-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let invocations = dir.join("invocations.jsonl");
    let moto = Box::leak(Box::new(Moto::start(&[
        "--function-binary",
        env!("CARGO_BIN_EXE_iam-key-rotator"),
        "--invocations",
        invocations.to_str().unwrap(),
        "--timeout",
        "3",
        "--iam-latency-ms",
        "200",
        "--function-env",
        "ROTATOR_USER_PATH_PREFIX=/rotated/",
        "--function-env",
        "ROTATOR_SECRET_NAME_PREFIX=iam-keys/",
    ])));
    let sdk = moto.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut names = Vec::new();
    for n in 0..SECRETS {
        let user = unique(&format!("fleet-{n:02}"));
        let key = support::user_with_key(&iam, &user, "/rotated/").await;
        let name = format!("iam-keys/{user}");
        let value = json!({"UserName": user, "AccessKeyId": key.access_key_id(), "SecretAccessKey": key.secret_access_key()});
        sm.create_secret()
            .name(&name)
            .secret_string(value.to_string())
            .send()
            .await
            .expect("CreateSecret");
        names.push(name);
    }
    moto.control(
        json!({"op": "rotated_by", "secrets": names, "function": moto.rotation_lambda_arn}),
    );

    let first = support::invoke(moto, &json!({"Action": "sweep", "Deep": true})).await;
    assert!(
        first["next"].is_string(),
        "the first run cannot finish in time: {first}"
    );

    // The chain goes on by itself; wait for the run that needs no other.
    let runs = support::wait_for_the_chain(&invocations, "sweep", Duration::from_secs(90));
    let answers = support::answers_of_the_chain(&runs, 3000.0);
    assert!(runs.iter().all(|r| r["event"]["Deep"] == true), "{runs:?}");
    let visited: u64 = answers
        .iter()
        .map(|a| a["secrets"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        visited,
        SECRETS as u64,
        "each secret exactly once over {} runs",
        runs.len()
    );
    let proxied = moto.proxy_counts();
    assert!(
        proxied["iam_passed"].as_u64().unwrap_or(0) >= 2 * SECRETS as u64,
        "{proxied}"
    );
}
