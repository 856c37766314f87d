//! With ROTATOR_SES_SMTP_REGION, every new version carries SES SMTP credentials derived from its
//! key, checked against an independent implementation of AWS's published algorithm.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use iam_key_rotator::wiring;
use secrecy::{ExposeSecret, SecretString};
use support::{Bed, project_root, test_config};

/// The passwords AWS's algorithm gives, computed by tests/support/ses_smtp.py.
fn reference_passwords(cases: &[(&str, &str)]) -> Vec<String> {
    let mut child = Command::new(project_root().join(".venv/bin/python"))
        .arg(project_root().join("tests/support/ses_smtp.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut stdin = child.stdin.take().unwrap();
    for (key, region) in cases {
        writeln!(stdin, "{key} {region}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_smtp_password_matches_awss_published_algorithm() {
    let cases = [
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"),
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-west-1"),
        ("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "ap-southeast-2"),
        ("a+b/c=d", "us-gov-west-1"),
    ];
    // Make sure the venv (and so python) exists.
    support::moto();
    let expected = reference_passwords(&cases);
    for ((key, region), expected) in cases.iter().zip(expected) {
        let ours = iam_key_rotator::smtp::smtp_password(&SecretString::from(*key), region);
        assert_eq!(ours.expose_secret(), expected, "{region}");
    }
}

#[tokio::test]
async fn every_new_version_carries_the_smtp_credentials_of_its_key() {
    let bed = Bed::new().await;
    let mut config = test_config();
    config.ses_smtp_region = Some("eu-west-1".into());
    let rotator = wiring::rotator(&bed.sdk, config);
    let token = bed.start_rotation().await;
    bed.run_steps(&rotator, &token).await.unwrap();

    let current = bed.value("AWSCURRENT").await;
    let key = current["AccessKeyId"].as_str().unwrap();
    let secret = current["SecretAccessKey"].as_str().unwrap();
    assert_eq!(current["SmtpUsername"], key);
    let expected = reference_passwords(&[(secret, "eu-west-1")]);
    assert_eq!(current["SmtpPassword"], expected[0].as_str());

    // Without the setting, the next rotation drops credentials that would no longer work.
    let token = bed.start_rotation().await;
    bed.run_steps(&bed.rotator(), &token).await.unwrap();
    let current = bed.value("AWSCURRENT").await;
    assert!(
        current.get("SmtpPassword").is_none(),
        "{:?}",
        current.as_object().map(|o| o.keys().collect::<Vec<_>>())
    );
}
