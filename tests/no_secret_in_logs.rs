//! A full rotation, and a failing step, with every log line captured: no secret access key may appear.
//!
//! This test has a binary of its own because it installs a log subscriber, which tracing's
//! per-callsite caching makes unreliable while other tests log on other threads.

mod support;

use iam_key_rotator::lambda;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::Bed;

#[tokio::test]
async fn no_secret_access_key_reaches_the_logs() {
    use iam_key_rotator::logging::{LogFormat, filter, subscriber};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    for format in [LogFormat::Text, LogFormat::Json] {
        let bed = Bed::new().await;
        let first_secret = bed.value("AWSCURRENT").await["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_string();
        let logs = Captured::default();
        let writer = logs.clone();
        let _guard =
            tracing::subscriber::set_default(subscriber(format, filter("trace"), move || {
                writer.clone()
            }));

        let token = bed.start_rotation().await;
        bed.run_steps(&bed.rotator(), &token).await.unwrap();
        // A rotation that delivers its key to SSM and GitHub, with GitHub failing once.
        let prefix = format!("/ci/{}/", support::unique("logs"));
        let repo = support::unique("logs");
        let delivering = Bed::with_value(|user, key_id, secret| {
            json!({"UserName": user, "AccessKeyId": key_id, "SecretAccessKey": secret, "Destinations": [
                {"Type": "ssm", "Name": format!("{prefix}aws")},
                {"Type": "github", "Repository": format!("acme/{repo}")},
            ]})
        })
        .await;
        let credentials = delivering.github_credentials(true).await;
        let config = delivering.delivering_config(&prefix, &credentials);
        delivering.moto.control(json!({"op": "github_fault", "method": "PUT", "path_contains": repo, "kind": "fail", "times": 1}));
        let delivered = delivering.start_rotation().await;
        delivering
            .run_steps(
                &iam_key_rotator::wiring::rotator(&delivering.sdk, config),
                &delivered,
            )
            .await
            .unwrap();
        let delivered_secret = delivering.value("AWSCURRENT").await["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_string();
        // A failing step logs its error too.
        let _ = lambda::handle(
            &bed.rotator(),
            &iam_key_rotator::services::NotSetUp,
            LambdaEvent::new(json!({"Step": "nope"}), Context::default()),
        )
        .await;

        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let current = bed.value("AWSCURRENT").await;
        let new_id = current["AccessKeyId"].as_str().unwrap();
        let new_secret = current["SecretAccessKey"].as_str().unwrap();
        // The capture works: it holds the steps, the token and both key ids.
        for expected in [
            "createSecret",
            "finishSecret",
            token.as_str(),
            new_id,
            bed.first_key.as_str(),
            "InvalidEvent",
        ] {
            assert!(
                text.contains(expected),
                "{format:?} logs lack {expected}:\n{text}"
            );
        }
        assert!(
            !text.contains(&first_secret),
            "{format:?} logs hold the old secret access key"
        );
        assert!(
            !text.contains(new_secret),
            "{format:?} logs hold the new secret access key"
        );
        assert!(
            text.contains("delivered the key") && text.contains(&repo),
            "{format:?} logs lack the delivery"
        );
        for secret in [
            &delivering.first_secret,
            &delivered_secret,
            &delivering.moto.github.token,
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{format:?} logs hold a secret of the delivering rotation"
            );
        }
        if format == LogFormat::Json {
            for line in text.lines() {
                let parsed: Value =
                    serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
                assert!(parsed.get("level").is_some(), "{line}");
            }
        }
    }
}
