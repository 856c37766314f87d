//! Test bed: moto's server on 127.0.0.1, SDK clients pointed at it, and helpers that set up users and
//! secrets and start rotations the way Secrets Manager does.
#![allow(dead_code)] // each test binary uses its own share of these helpers

pub mod faults;
pub mod invariants;
pub mod secrets_manager;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_iam::types::StatusType;
use iam_key_rotator::wiring::{self, AwsRotator};
use iam_key_rotator::{Config, RotationEvent, Step};
use serde_json::Value;

/// One moto server per test binary; it exits when this process does (its stdin pipe closes).
pub struct Moto {
    pub endpoint: String,
    pub rotation_lambda_arn: String,
    /// The key the tests set things up with: moto's default, or an administrator's with --enforce-auth.
    pub admin: (String, String),
    /// With --enforce-auth, the key of a principal holding exactly template.yaml's policy.
    pub function: Option<(String, String)>,
    /// Where the test server takes what AWS has but moto cannot be told (see `control`).
    pub control_url: String,
    /// The stand-in for GitHub's API the server runs beside moto (tests/support/github_api.py).
    pub github: GitHub,
    _child: Child,
}

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(&[]))
}

impl Moto {
    /// Installs moto into ./.venv if needed, then starts a server with extra arguments `args`.
    pub fn start(args: &[&str]) -> Moto {
        let root = project_root();
        let status = Command::new("bash")
            .arg(root.join("scripts/venv.sh"))
            .status()
            .expect("bash runs scripts/venv.sh");
        assert!(status.success(), "scripts/venv.sh could not install moto");

        let mut child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/support/moto_server.py"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server.py starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("moto_server.py reports its endpoint");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("moto_server.py printed {line:?}"));
        let key = |name: &str| {
            let pair = &ready["keys"][name];
            Some((pair[0].as_str()?.to_string(), pair[1].as_str()?.to_string()))
        };
        let github = &ready["github"];
        let text = |name: &str| github[name].as_str().expect("github info").to_string();
        Moto {
            github: GitHub {
                url: text("url"),
                token: text("token"),
                app_id: github["app_id"].as_u64().expect("app id"),
                installation_id: github["installation_id"].as_u64().expect("installation id"),
                private_key: text("private_key"),
            },
            admin: key("moto-admin").unwrap_or(("test".into(), "test".into())),
            function: key("rotation-function"),
            control_url: ready["control"].as_str().expect("control").to_string(),
            endpoint: ready["endpoint"].as_str().expect("endpoint").to_string(),
            rotation_lambda_arn: ready["rotation_lambda_arn"]
                .as_str()
                .expect("function arn")
                .to_string(),
            _child: child,
        }
    }

    /// Tells the test server what AWS would show and moto cannot be told through its API: key and
    /// password dates, MFA, the root account's row of the credential report.
    pub fn control(&self, command: Value) {
        let body = command.to_string();
        let script = "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST'))";
        let status = Command::new(project_root().join(".venv/bin/python"))
            .args(["-c", script, &self.control_url, &body])
            .status()
            .expect("python runs");
        assert!(status.success(), "control {body}");
    }

    /// What the GitHub stand-in holds: `{"secrets": {scope: {NAME: {"value", "updated_at"}}},
    /// "requests": [...], "tokens_minted", "public_key_reads"}` (see github_api.py).
    pub fn github_state(&self) -> Value {
        let script = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1] + '/github').read().decode())";
        let out = Command::new(project_root().join(".venv/bin/python"))
            .args(["-c", script, &self.control_url])
            .output()
            .expect("python runs");
        assert!(out.status.success(), "GET /control/github");
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// Runs tests/support/organization.py against this server (an account or an OU, and
    /// member-role.yaml's roles in it); returns what it prints.
    pub fn organization(&self, args: &[&str]) -> Value {
        let out = Command::new(project_root().join(".venv/bin/python"))
            .arg(project_root().join("tests/support/organization.py"))
            .arg(&self.endpoint)
            .args(args)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "organization.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// The AssumeRole sessions the test server granted to roles whose trust it checked:
    /// `[{"role", "tags", "external_id"}]`.
    pub fn sessions(&self) -> Value {
        let script = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1] + '/sessions').read().decode())";
        let out = Command::new(project_root().join(".venv/bin/python"))
            .args(["-c", script, &self.control_url])
            .output()
            .expect("python runs");
        assert!(out.status.success(), "GET /control/sessions");
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// What the throttling proxy in front of the function counted (`--iam-latency-ms`):
    /// `{"iam_passed", "iam_throttled", "other"}`.
    pub fn proxy_counts(&self) -> Value {
        let script = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1] + '/proxy').read().decode())";
        let out = Command::new(project_root().join(".venv/bin/python"))
            .args(["-c", script, &self.control_url])
            .output()
            .expect("python runs");
        assert!(out.status.success(), "GET /control/proxy");
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// An administrator's view of a member account, through the role Organizations makes in it.
    pub async fn sdk_config_in(&self, account: &str) -> SdkConfig {
        let sts = aws_sdk_sts::Client::new(&self.sdk_config().await);
        let out = sts
            .assume_role()
            .role_arn(format!(
                "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
            ))
            .role_session_name("test-admin")
            .send()
            .await
            .expect("AssumeRole into the member account");
        let c = out.credentials().expect("credentials");
        aws_config::defaults(BehaviorVersion::latest())
            .region("us-east-1")
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                None,
                "member-admin",
            ))
            .load()
            .await
    }

    /// The command-line tool, pointed at this server.
    pub fn cli(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_iam-key-rotator-cli"));
        command
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE");
        command
    }

    pub async fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_as(&self.admin.0, &self.admin.1).await
    }

    /// A config whose requests pass through `faults`, with the SDK's standard retries (3 attempts)
    /// but short backoff and attempt timeouts, so that fault tests run quickly.
    pub async fn sdk_config_with_faults(&self, faults: &faults::Faults) -> SdkConfig {
        // moto speaks plain HTTP on loopback.
        let base = aws_smithy_http_client::Builder::new().build_http();
        aws_config::defaults(BehaviorVersion::latest())
            .region("us-east-1")
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .http_client(faults.http_client(base))
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(5))
                    .with_max_backoff(Duration::from_millis(20)),
            )
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(250))
                    .build(),
            )
            .load()
            .await
    }

    pub async fn sdk_config_as(&self, key_id: &str, secret: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region("us-east-1")
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(key_id, secret, None, None, "test"))
            .load()
            .await
    }
}

/// How the tests reach the GitHub stand-in, and the credentials it accepts.
pub struct GitHub {
    pub url: String,
    /// A fine-grained token it accepts.
    pub token: String,
    /// A GitHub App it knows, and the app's private key (PEM).
    pub app_id: u64,
    pub installation_id: u64,
    pub private_key: String,
}

/// Settings for tests: moto accepts new keys at once, so the test step need not wait long.
pub fn test_config() -> Config {
    Config {
        test_budget: Duration::from_secs(10),
        test_first_delay: Duration::from_millis(50),
        test_max_delay: Duration::from_millis(200),
        user_path_prefix: "/rotated/".to_string(),
        ..Config::default()
    }
}

/// A name no other test uses, so that tests can share one moto server.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A user under `/rotated/` with one key, and a secret holding it: the starting point of most tests.
pub struct Bed {
    pub moto: &'static Moto,
    pub iam: aws_sdk_iam::Client,
    pub sm: aws_sdk_secretsmanager::Client,
    pub sdk: SdkConfig,
    pub user: String,
    pub secret_name: String,
    pub secret_arn: String,
    pub first_key: String,
    pub first_secret: String,
}

impl Bed {
    pub async fn new() -> Bed {
        Bed::new_on(moto()).await
    }

    /// Like `new`, on a server of the test's own.
    pub async fn new_on(moto: &'static Moto) -> Bed {
        Bed::with_value_on(moto, |user, key_id, secret| {
            serde_json::json!({"UserName": user, "AccessKeyId": key_id, "SecretAccessKey": secret})
        })
        .await
    }

    /// Builds the secret's first value from the user name and the first key.
    pub async fn with_value(value: impl FnOnce(&str, &str, &str) -> Value) -> Bed {
        Bed::with_value_on(moto(), value).await
    }

    /// Like `with_value`, on a server of the test's own.
    pub async fn with_value_on(
        moto: &'static Moto,
        value: impl FnOnce(&str, &str, &str) -> Value,
    ) -> Bed {
        let sdk = moto.sdk_config().await;
        let iam = aws_sdk_iam::Client::new(&sdk);
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let user = unique("ci-bot");
        let key = user_with_key(&iam, &user, "/rotated/").await;
        // Under the template's secret name prefix, so the least-privilege policy allows it.
        let secret_name = format!("iam-keys/{}", unique("ci-bot"));
        let created = sm
            .create_secret()
            .name(&secret_name)
            .secret_string(value(&user, key.access_key_id(), key.secret_access_key()).to_string())
            .send()
            .await
            .expect("CreateSecret");
        Bed {
            moto,
            iam,
            sm,
            sdk,
            user,
            secret_name,
            secret_arn: created.arn().expect("arn").to_string(),
            first_key: key.access_key_id().to_string(),
            first_secret: key.secret_access_key().to_string(),
        }
    }

    pub fn rotator(&self) -> AwsRotator {
        wiring::rotator(&self.sdk, test_config())
    }

    /// What RotateSecret does before it calls the function: turns rotation on and adds an empty
    /// AWSPENDING version under a fresh token. Returns the token.
    pub async fn start_rotation(&self) -> String {
        let token = uuid::Uuid::new_v4().to_string();
        self.rotate_secret(&token).await.expect("RotateSecret");
        token
    }

    /// Dates the version `token` (the rotation it began) 20 minutes back: longer than one attempt
    /// runs, so the attempt that began it is over (a later retry with the same token is as safe
    /// as Secrets Manager's own retries).
    pub fn began_long_ago(&self, token: &str) {
        self.moto.control(serde_json::json!({
            "op": "version_created", "secret": self.secret_arn, "version": token, "seconds_ago": 1200
        }));
    }

    /// A secret holding credentials the GitHub stand-in accepts (a GitHub App's, or a token); its ARN.
    pub async fn github_credentials(&self, app: bool) -> String {
        let github = &self.moto.github;
        let stored = match app {
            true => serde_json::json!({
                "AppId": github.app_id, "InstallationId": github.installation_id, "PrivateKey": github.private_key,
            }),
            false => serde_json::json!({"Token": github.token}),
        };
        self.sm
            .create_secret()
            .name(unique("github/credentials"))
            .secret_string(stored.to_string())
            .send()
            .await
            .expect("CreateSecret")
            .arn()
            .expect("arn")
            .to_string()
    }

    /// The test settings, letting keys go to SSM parameters under `ssm_prefix` and to GitHub
    /// secrets of `acme` (through the stand-in, with the credentials in `credentials`).
    pub fn delivering_config(&self, ssm_prefix: &str, credentials: &str) -> Config {
        Config {
            last_use_lag: Duration::ZERO,
            delivery: iam_key_rotator::config::DeliverySettings {
                ssm_prefix: Some(ssm_prefix.to_string()),
                github_owners: vec!["acme".into()],
                github_credentials: Some(credentials.to_string()),
                github_api_url: self.moto.github.url.clone(),
            },
            ..test_config()
        }
    }

    /// Takes AWSPENDING off the version `token`, as an operator cancels a rotation by hand.
    pub async fn take_pending_off(&self, token: &str) -> Result<(), String> {
        self.sm
            .update_secret_version_stage()
            .secret_id(&self.secret_arn)
            .version_stage("AWSPENDING")
            .remove_from_version_id(token)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    }

    /// RotateSecret with a 90-day schedule and the server's function, under `token`.
    pub async fn rotate_secret(
        &self,
        token: &str,
    ) -> Result<
        (),
        aws_sdk_secretsmanager::error::SdkError<
            aws_sdk_secretsmanager::operation::rotate_secret::RotateSecretError,
        >,
    > {
        self.sm
            .rotate_secret()
            .secret_id(&self.secret_arn)
            .client_request_token(token)
            .rotation_lambda_arn(&self.moto.rotation_lambda_arn)
            .rotation_rules(
                aws_sdk_secretsmanager::types::RotationRulesType::builder()
                    .automatically_after_days(90)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
    }

    /// Runs one step with the test bed's own rotator.
    pub async fn run_step(&self, step: Step, token: &str) -> Result<(), iam_key_rotator::Error> {
        self.rotator()
            .run(&self.event(step, token), far_deadline())
            .await
    }

    pub fn event(&self, step: Step, token: &str) -> RotationEvent {
        RotationEvent {
            step,
            secret_id: self.secret_arn.clone(),
            token: token.to_string(),
            rotation_token: None,
        }
    }

    /// Runs the four steps in order with `token`, stopping at the first failure, as Secrets Manager does.
    pub async fn run_steps<X: iam_key_rotator::services::Services>(
        &self,
        rotator: &iam_key_rotator::Rotator<X>,
        token: &str,
    ) -> Result<(), iam_key_rotator::Error> {
        for step in Step::ALL {
            rotator
                .run(&self.event(step, token), far_deadline())
                .await?;
        }
        Ok(())
    }

    /// A whole rotation: start it, then run the four steps.
    pub async fn rotate(&self) -> String {
        let token = self.start_rotation().await;
        self.run_steps(&self.rotator(), &token)
            .await
            .expect("rotation succeeds");
        token
    }

    /// Gives the user one more key; returns its id and secret.
    pub async fn add_key(&self) -> (String, String) {
        let out = self
            .iam
            .create_access_key()
            .user_name(&self.user)
            .send()
            .await
            .expect("CreateAccessKey");
        let key = out.access_key().expect("a key");
        (
            key.access_key_id().to_string(),
            key.secret_access_key().to_string(),
        )
    }

    /// Signs a request with the key, so that IAM records it as used.
    pub async fn use_key(&self, key_id: &str, secret: &str) {
        let sdk = self.moto.sdk_config_as(key_id, secret).await;
        aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .expect("GetCallerIdentity");
    }

    /// The ARN a request signed with this key is made as; `None` if AWS refuses the key.
    pub async fn caller_arn(&self, key_id: &str, secret: &str) -> Option<String> {
        let sdk = self.moto.sdk_config_as(key_id, secret).await;
        let out = aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .ok()?;
        out.arn().map(str::to_string)
    }

    pub async fn user_arn(&self) -> String {
        let out = self
            .iam
            .get_user()
            .user_name(&self.user)
            .send()
            .await
            .expect("GetUser");
        out.user().expect("a user").arn().to_string()
    }

    /// Every key id some version of the secret holds, labelled or not.
    pub async fn keys_held_by_versions(&self) -> Vec<String> {
        let versions = self
            .sm
            .list_secret_version_ids()
            .secret_id(&self.secret_arn)
            .include_deprecated(true)
            .send()
            .await
            .expect("ListSecretVersionIds");
        let mut held = Vec::new();
        for version in versions.versions() {
            let Some(id) = version.version_id() else {
                continue;
            };
            let Ok(out) = self
                .sm
                .get_secret_value()
                .secret_id(&self.secret_arn)
                .version_id(id)
                .send()
                .await
            else {
                continue;
            };
            if let Some(key) = out
                .secret_string()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|v| v["AccessKeyId"].as_str().map(str::to_string))
            {
                held.push(key);
            }
        }
        held
    }

    /// The user's keys as `(id, "Active"|"Inactive")`, sorted by id.
    pub async fn keys(&self) -> Vec<(String, String)> {
        let out = self
            .iam
            .list_access_keys()
            .user_name(&self.user)
            .send()
            .await
            .expect("ListAccessKeys");
        let mut keys: Vec<(String, String)> = out
            .access_key_metadata()
            .iter()
            .map(|k| {
                (
                    k.access_key_id().unwrap_or_default().to_string(),
                    k.status()
                        .map(StatusType::as_str)
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        keys.sort();
        keys
    }

    pub async fn active_keys(&self) -> Vec<String> {
        self.keys()
            .await
            .into_iter()
            .filter(|(_, s)| s == "Active")
            .map(|(id, _)| id)
            .collect()
    }

    /// The version ids and their labels, sorted.
    pub async fn labels(&self) -> Vec<(String, Vec<String>)> {
        let out = self
            .sm
            .describe_secret()
            .secret_id(&self.secret_arn)
            .send()
            .await
            .expect("DescribeSecret");
        let mut versions: Vec<(String, Vec<String>)> = out
            .version_ids_to_stages()
            .into_iter()
            .flatten()
            .filter(|(_, labels)| !labels.is_empty())
            .map(|(id, labels)| {
                let mut labels = labels.clone();
                labels.sort();
                (id.clone(), labels)
            })
            .collect();
        versions.sort();
        versions
    }

    /// The value under a label, parsed. Always names the label: moto's unnamed default lags behind.
    pub async fn value(&self, label: &str) -> Value {
        let out = self
            .sm
            .get_secret_value()
            .secret_id(&self.secret_arn)
            .version_stage(label)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetSecretValue {label}: {e:?}"));
        serde_json::from_str(out.secret_string().expect("a string")).expect("JSON")
    }

    /// Like `value`, but `None` when the label has no value (an empty pending version).
    pub async fn try_value(&self, label: &str) -> Option<Value> {
        let out = self
            .sm
            .get_secret_value()
            .secret_id(&self.secret_arn)
            .version_stage(label)
            .send()
            .await
            .ok()?;
        serde_json::from_str(out.secret_string()?).ok()
    }

    pub async fn version_of(&self, label: &str) -> Option<String> {
        self.labels()
            .await
            .into_iter()
            .find(|(_, l)| l.iter().any(|x| x == label))
            .map(|(id, _)| id)
    }

    /// The version AWSPENDING sits on when it is not also AWSCURRENT: a rotation left unfinished,
    /// which makes Secrets Manager refuse the next one. A rotation may end with AWSPENDING on AWSCURRENT.
    pub async fn unfinished_rotation(&self) -> Option<String> {
        self.labels()
            .await
            .into_iter()
            .find(|(_, l)| {
                l.iter().any(|x| x == "AWSPENDING") && !l.iter().any(|x| x == "AWSCURRENT")
            })
            .map(|(id, _)| id)
    }

    /// Everything a test compares before and after a refused step.
    pub async fn snapshot(&self) -> (Vec<(String, String)>, Vec<(String, Vec<String>)>, Value) {
        (
            self.keys().await,
            self.labels().await,
            self.value("AWSCURRENT").await,
        )
    }
}

pub fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

/// The runs of `action` the test server's `--invocations` file recorded, in order, once one ends
/// a chain of runs that invoke the function again to go on (its answer has no `next`, or it
/// failed); fails the test if none does `within`.
pub fn wait_for_the_chain(
    invocations: &std::path::Path,
    action: &str,
    within: Duration,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let runs: Vec<Value> = std::fs::read_to_string(invocations)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r["action"] == action)
            .collect();
        if runs
            .last()
            .is_some_and(|r| r["outcome"] != "response" || r["answer"]["next"].is_null())
        {
            return runs;
        }
        assert!(
            started.elapsed() < within,
            "the chain did not end: {runs:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Checks a chain of runs as each link must be (answered within `timeout_ms`, starting where the
/// run before stopped, the last one with nothing left) and returns their answers.
pub fn answers_of_the_chain(runs: &[Value], timeout_ms: f64) -> Vec<&Value> {
    let mut start_after: Option<&str> = None;
    let mut answers = Vec::new();
    for run in runs {
        assert_eq!(
            run["outcome"], "response",
            "every run answers within its timeout: {run}"
        );
        assert!(run["ms"].as_f64().unwrap_or(f64::MAX) < timeout_ms, "{run}");
        assert_eq!(
            run["event"]["StartAfter"].as_str(),
            start_after,
            "each run starts where the last stopped"
        );
        start_after = run["answer"]["next"].as_str();
        answers.push(&run["answer"]);
    }
    assert!(runs.len() >= 2, "one run was enough: {runs:?}");
    assert_eq!(start_after, None, "the last run left nothing");
    answers
}

/// Invokes the test server's function with `event` and returns its answer.
pub async fn invoke(moto: &Moto, event: &Value) -> Value {
    let lambda = aws_sdk_lambda::Client::new(&moto.sdk_config().await);
    let out = lambda
        .invoke()
        .function_name(&moto.rotation_lambda_arn)
        .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
        .send()
        .await
        .expect("Invoke");
    serde_json::from_slice(out.payload().expect("a payload").as_ref()).expect("JSON")
}

/// A new IAM user `user` under `path` with one access key, made through `iam` (whichever account
/// it reaches); the key.
pub async fn user_with_key(
    iam: &aws_sdk_iam::Client,
    user: &str,
    path: &str,
) -> aws_sdk_iam::types::AccessKey {
    iam.create_user()
        .user_name(user)
        .path(path)
        .send()
        .await
        .expect("CreateUser");
    iam.create_access_key()
        .user_name(user)
        .send()
        .await
        .expect("CreateAccessKey")
        .access_key()
        .expect("a key")
        .clone()
}

/// A user's keys as IAM lists them now, (id, status), sorted.
pub async fn keys_of(iam: &aws_sdk_iam::Client, user: &str) -> Vec<(String, String)> {
    let out = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .expect("ListAccessKeys");
    let mut keys: Vec<(String, String)> = out
        .access_key_metadata()
        .iter()
        .map(|k| {
            let status = k.status().map(|s| s.as_str().to_string());
            (
                k.access_key_id().unwrap_or_default().to_string(),
                status.unwrap_or_default(),
            )
        })
        .collect();
    keys.sort();
    keys
}
