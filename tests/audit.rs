//! `audit` against moto: users in every state the checks cover (dates set through the test
//! server, which also adds the root row real reports have), each check firing exactly when it
//! should, managed and unmanaged keys told apart, and every output format parsed back.

mod support;
// What the audit cannot see (unreadable secrets, stale reports, stale secrets): its own file.
#[path = "audit/unseen.rs"]
mod unseen;

use std::collections::BTreeSet;
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::{Moto, project_root, unique};

pub(crate) fn moto() -> &'static Moto {
    support::moto()
}

pub(crate) fn cli(args: &[&str]) -> Output {
    moto()
        .cli()
        .args(args)
        .env("ROTATOR_SECRET_NAME_PREFIX", "iam-keys/")
        .output()
        .expect("the CLI runs")
}

pub(crate) struct Account {
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) sm: aws_sdk_secretsmanager::Client,
    pub(crate) tag: String,
}

impl Account {
    pub(crate) async fn new() -> Account {
        let sdk = moto().sdk_config().await;
        Account {
            iam: aws_sdk_iam::Client::new(&sdk),
            sm: aws_sdk_secretsmanager::Client::new(&sdk),
            tag: unique("a"),
        }
    }

    /// A user with keys made and used so many days ago (`None`: never used); with `managed`, a
    /// secret under the prefix holds its first key.
    pub(crate) async fn user(
        &self,
        name: &str,
        keys: &[(u64, Option<u64>)],
        managed: bool,
    ) -> (String, Vec<String>) {
        let user = format!("{}-{name}", self.tag);
        self.iam
            .create_user()
            .user_name(&user)
            .send()
            .await
            .unwrap();
        let mut ids = Vec::new();
        for (made, used) in keys {
            let key = self
                .iam
                .create_access_key()
                .user_name(&user)
                .send()
                .await
                .unwrap();
            let key = key.access_key().unwrap();
            moto().control(json!({"op": "key", "key_id": key.access_key_id(),
                                  "created_days_ago": *made as f64 + 0.01, "last_used_days_ago": used.map(|d| d as f64 + 0.01)}));
            if managed && ids.is_empty() {
                self.sm
                    .create_secret()
                    .name(format!("iam-keys/{user}"))
                    .secret_string(json!({"UserName": user, "AccessKeyId": key.access_key_id(), "SecretAccessKey": key.secret_access_key()}).to_string())
                    .send()
                    .await
                    .unwrap();
            }
            ids.push(key.access_key_id().to_string());
        }
        moto().control(json!({"op": "user", "user": user, "created_days_ago": 400}));
        (user, ids)
    }

    async fn console_user(&self, name: &str, mfa: bool, used_days_ago: u64) -> String {
        let (user, _) = self.user(name, &[], false).await;
        self.iam
            .create_login_profile()
            .user_name(&user)
            .password("A-long-passw0rd!")
            .send()
            .await
            .unwrap();
        moto().control(json!({"op": "user", "user": user, "mfa": mfa, "password_last_used_days_ago": used_days_ago}));
        user
    }

    /// `(user, check)` of the findings about this account's own users.
    pub(crate) fn checks(&self, audit: &Value) -> BTreeSet<(String, String)> {
        audit["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["user"].as_str().unwrap().starts_with(&self.tag))
            .map(|f| {
                let user = f["user"].as_str().unwrap();
                (
                    user[self.tag.len() + 1..].to_string(),
                    f["check"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

pub(crate) fn audit_json(args: &[&str]) -> Value {
    let mut all = vec!["audit", "--output", "json"];
    all.extend(args);
    let out = cli(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

pub(crate) fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(u, c)| (u.to_string(), c.to_string()))
        .collect()
}

#[tokio::test]
async fn each_check_fires_exactly_when_it_should_and_every_format_reads_back() {
    let account = Account::new().await;
    account.user("fresh", &[(10, Some(1))], true).await;
    account.user("age-90", &[(90, Some(1))], true).await;
    account.user("age-91", &[(91, Some(1))], true).await;
    account.user("used-45", &[(60, Some(45))], true).await;
    account.user("used-46", &[(60, Some(46))], true).await;
    account.user("never-used", &[(50, None)], true).await;
    let (_, two) = account
        .user("two-keys", &[(10, Some(1)), (5, Some(1))], true)
        .await;
    account.user("unmanaged", &[(10, Some(1))], false).await;
    account.console_user("console", false, 2).await;
    account.console_user("console-mfa", true, 2).await;
    account.console_user("console-idle", true, 46).await;

    let audit = audit_json(&[]);
    assert_eq!(
        account.checks(&audit),
        set(&[
            ("age-91", "key-older-than-90-days"),
            ("used-46", "credentials-unused-45-days"),
            ("never-used", "credentials-unused-45-days"),
            ("two-keys", "two-active-keys"),
            ("two-keys", "unmanaged-key"),
            ("unmanaged", "unmanaged-key"),
            ("console", "console-user-without-mfa"),
            ("console-idle", "credentials-unused-45-days"),
        ])
    );
    // The second key of two-keys is told by its id: the audit matched slots to ids.
    let unmanaged_of_two = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["user"].as_str().unwrap().ends_with("-two-keys") && f["check"] == "unmanaged-key"
        })
        .unwrap();
    assert_eq!(unmanaged_of_two["key"]["id"], two[1].as_str());
    // Not being under this tool's rotation is no CIS or Security Hub control of its own.
    assert_eq!(unmanaged_of_two["controls"], json!({}));
    assert!(
        unmanaged_of_two["remedy"]
            .as_str()
            .unwrap()
            .contains("adopt --user")
    );
    let managed = audit["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"].as_str().unwrap().ends_with("-fresh"))
        .unwrap();
    assert_eq!(
        managed["keys"][0]["managed"]["secret"].as_str().unwrap(),
        format!("iam-keys/{}-fresh", account.tag)
    );
    assert!(audit["generated_at"].is_string());
    assert_eq!(audit["summary"]["report_age_hours"], 0);
    assert!(
        !audit["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["user"] == "<root_account>"),
        "a well-kept root"
    );

    // CSV: one row per finding, by column name.
    let out = cli(&["audit", "--output", "csv"]);
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), audit["findings"].as_array().unwrap().len());
    assert_eq!(
        reader.headers().unwrap().iter().position(|h| h == "check"),
        Some(2)
    );

    // HTML: one self-contained page, parsed by Python's HTML parser.
    let out = cli(&["audit", "--output", "html"]);
    let page = String::from_utf8(out.stdout).unwrap();
    let parsed = Command::new(project_root().join(".venv/bin/python"))
        .args(["-c", r#"
import json, sys
from html.parser import HTMLParser
class Page(HTMLParser):
    def __init__(self):
        super().__init__(); self.tags = []; self.findings = 0; self.bars = 0; self.external = []
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs); self.tags.append(tag)
        if tag == "tr" and attrs.get("class") == "finding": self.findings += 1
        if tag == "rect" and attrs.get("class") == "bar": self.bars += 1
        for name in ("src", "href"):
            if name in attrs: self.external.append(attrs[name])
page = Page(); page.feed(sys.stdin.read()); page.close()
print(json.dumps({"script": "script" in page.tags, "svg": "svg" in page.tags, "findings": page.findings,
                  "bars": page.bars, "external": page.external}))
"#])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(page.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let parsed: Value = serde_json::from_slice(&parsed.stdout).expect("the page parses");
    assert_eq!(parsed["script"], false);
    assert_eq!(parsed["external"], json!([]));
    assert_eq!(parsed["svg"], true);
    assert_eq!(
        parsed["findings"],
        audit["findings"].as_array().unwrap().len()
    );
    assert!(
        parsed["bars"].as_u64().unwrap() >= 9,
        "one bar per active key: {parsed}"
    );

    let text = String::from_utf8(cli(&["audit"]).stdout).unwrap();
    assert!(text.contains("MEDIUM") && text.contains("fix: "), "{text}");

    // The root account: a key, no MFA, used today.
    assert_eq!(cli(&["audit", "--fail-on", "high"]).status.code(), Some(0));
    moto()
        .control(json!({"op": "root", "access_key": true, "mfa": false, "last_used_days_ago": 0}));
    let audit = audit_json(&[]);
    let root: BTreeSet<&str> = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["user"] == "<root_account>")
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        root,
        BTreeSet::from(["root-access-key", "root-without-mfa", "root-used-recently"])
    );
    assert_eq!(cli(&["audit", "--fail-on", "high"]).status.code(), Some(6));
    // CIS 1.4 / IAM.4 are about a root key existing: switched off is not gone.
    moto().control(
        json!({"op": "root", "access_key": "inactive", "mfa": true, "last_used_days_ago": null}),
    );
    let audit = audit_json(&[]);
    let root: Vec<&str> = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["user"] == "<root_account>")
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(root, ["root-access-key"]);
    moto().control(
        json!({"op": "root", "access_key": false, "mfa": true, "last_used_days_ago": null}),
    );
}

#[test]
fn a_saved_report_can_be_audited_and_a_broken_one_is_refused() {
    let dir = std::env::temp_dir().join(unique("report"));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.csv");
    std::fs::write(&broken, "user,arn\nnot,enough\n").unwrap();
    let out = cli(&["audit", "--report-file", broken.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[tokio::test]
async fn each_managed_key_shows_where_its_rotations_deliver_it() {
    let account = Account::new().await;
    let (user, ids) = account.user("delivers", &[(10, Some(1))], false).await;
    let key = ids[0].clone();
    account
        .sm
        .create_secret()
        .name(format!("iam-keys/{user}"))
        .secret_string(
            json!({"UserName": user, "AccessKeyId": key, "Destinations": [
                {"Type": "ssm", "Name": "/ci/deploy/aws"},
                {"Type": "github", "Repository": "acme/api", "Environment": "prod"},
            ]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();

    let audit = audit_json(&[]);
    let view = audit["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == json!(user))
        .expect("the user");
    assert_eq!(
        view["keys"][0]["managed"]["destinations"],
        json!(["ssm:/ci/deploy/aws", "github:acme/api:prod"])
    );
    let page = String::from_utf8(cli(&["audit", "--output", "html"]).stdout).unwrap();
    let row = page
        .lines()
        .find(|l| l.contains("class=\"managed\"") && l.contains(&user))
        .expect("a row for the key under rotation");
    assert!(
        row.contains(&key) && row.contains("<code>github:acme/api:prod</code>"),
        "{row}"
    );
}
