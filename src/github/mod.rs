//! GitHub's REST API behind the `GitHubSecrets` trait: Actions secrets of repositories,
//! environments and organizations. Waits out GitHub's rate limits (`Retry-After`, the secondary
//! limits), within a bound, and authenticates with the credentials `credentials` reads.

mod credentials;

use std::time::{Duration, Instant, SystemTime};

use aws_config::SdkConfig;
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tracing::{debug, warn};

use crate::config::DeliverySettings;
use crate::error::{Error, Result};
use crate::services::{GitHubScope, GitHubSecrets, OrgAccess, PublicKey, SealedSecret};
use credentials::{Credentials, app_jwt};

/// The longest this client waits in all for GitHub's rate limits within one call.
const MOST_WAIT: Duration = Duration::from_secs(60);
/// Attempts of one call, for answers worth retrying (throttled, 5xx, no answer).
const ATTEMPTS: u32 = 4;
/// A fine-grained token is read again this often, so a token replaced in Secrets Manager is
/// picked up by a warm function.
const TOKEN_REREAD: Duration = Duration::from_secs(15 * 60);

pub struct GitHubClient {
    http: reqwest::Client,
    /// The API's base URL (`ROTATOR_GITHUB_API_URL`); config checked it, so an error here is a
    /// wiring mistake, reported at the first call.
    api: std::result::Result<Url, String>,
    /// The secret holding the credentials (`ROTATOR_GITHUB_CREDENTIALS`).
    credentials: Option<String>,
    secrets: aws_sdk_secretsmanager::Client,
    token: Mutex<Option<(SecretString, Instant)>>,
}

impl GitHubClient {
    pub fn new(sdk: &SdkConfig, settings: &DeliverySettings) -> Self {
        let api = Url::parse(&settings.github_api_url).map_err(|e| {
            format!(
                "ROTATOR_GITHUB_API_URL={:?} is not a URL: {e}",
                settings.github_api_url
            )
        });
        // GitHub refuses requests without a User-Agent.
        let http = reqwest::Client::builder()
            .user_agent(concat!("iam-key-rotator/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        GitHubClient {
            http,
            api,
            credentials: settings.github_credentials.clone(),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            token: Mutex::new(None),
        }
    }

    fn url(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.api.clone().map_err(Error::InvalidConfig)?;
        match url.path_segments_mut() {
            // Each segment is percent-encoded, so no name can change the path it goes into.
            Ok(mut path) => {
                path.pop_if_empty().extend(segments);
            }
            Err(()) => {
                return Err(Error::InvalidConfig(
                    "ROTATOR_GITHUB_API_URL cannot take a path: give an http(s) URL".into(),
                ));
            }
        }
        Ok(url)
    }

    /// A token for the API: the fine-grained one, or an installation token minted for the App.
    async fn token(&self) -> Result<SecretString> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let secret_id = self.credentials.as_deref().ok_or_else(|| {
            Error::InvalidConfig(
                "ROTATOR_GITHUB_CREDENTIALS is not set: name the Secrets Manager secret holding GitHub's credentials".into(),
            )
        })?;
        let out = self
            .secrets
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| Error::GitHub {
                operation: "read the credentials",
                status: None,
                message: format!(
                    "cannot read the GitHub credentials secret {secret_id} (ROTATOR_GITHUB_CREDENTIALS): {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ),
            })?;
        let text = SecretString::from(out.secret_string().unwrap_or_default());
        let (token, until) = match Credentials::parse(secret_id, &text)? {
            Credentials::Token(token) => (token, Instant::now() + TOKEN_REREAD),
            Credentials::App {
                app_id,
                installation_id,
                private_key,
            } => {
                let jwt = app_jwt(&app_id, &private_key, SystemTime::now())?;
                let url = self.url(&[
                    "app",
                    "installations",
                    &installation_id.to_string(),
                    "access_tokens",
                ])?;
                let answer = self
                    .send_as(&jwt, Method::POST, url, None, "mint an installation token")
                    .await?;
                let token = answer
                    .body
                    .get("token")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::GitHub {
                        operation: "mint an installation token",
                        status: Some(answer.status.as_u16()),
                        message: "GitHub's answer holds no token".into(),
                    })?;
                // Installation tokens last an hour; use one for 50 minutes at most.
                (
                    SecretString::from(token),
                    Instant::now() + Duration::from_secs(50 * 60),
                )
            }
        };
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// One API call with the current token; a refused token is replaced once.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        operation: &'static str,
    ) -> Result<Answer> {
        let token = self.token().await?;
        let answer = self
            .send_as(&token, method.clone(), url.clone(), body, operation)
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        *self.token.lock().await = None;
        let token = self.token().await?;
        self.send_as(&token, method, url, body, operation).await
    }

    /// Sends one request, retrying answers worth retrying and waiting out rate limits, at most
    /// [`MOST_WAIT`] in all.
    async fn send_as(
        &self,
        token: &SecretString,
        method: Method,
        url: Url,
        body: Option<&Value>,
        operation: &'static str,
    ) -> Result<Answer> {
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret())
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28");
            if let Some(body) = body {
                request = request.json(body);
            }
            let (wait, failure) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let text = response.text().await.unwrap_or_default();
                    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    match rate_limited(status, &headers, &body) {
                        Some(wait) => (wait, github_error(operation, status, &body)),
                        None if status.is_server_error() => {
                            (backoff(attempt), github_error(operation, status, &body))
                        }
                        None => return Ok(Answer { status, body }),
                    }
                }
                Err(e) => (
                    backoff(attempt),
                    Error::GitHub {
                        operation,
                        status: None,
                        message: format!(
                            "no answer from {}: {e}",
                            url.origin().ascii_serialization()
                        ),
                    },
                ),
            };
            if attempt >= ATTEMPTS || waited + wait > MOST_WAIT {
                return Err(failure);
            }
            debug!(operation, attempt, wait_ms = wait.as_millis() as u64, error = %failure, "GitHub asked to wait, or failed; trying again");
            if wait >= Duration::from_secs(5) {
                warn!(
                    operation,
                    wait_s = wait.as_secs(),
                    "GitHub's rate limit: waiting"
                );
            }
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }

    fn secrets_url(&self, scope: &GitHubScope, rest: &[&str]) -> Result<Url> {
        let mut segments: Vec<&str> = match scope {
            GitHubScope::Repository { owner, repo } => {
                vec!["repos", owner, repo, "actions", "secrets"]
            }
            GitHubScope::Environment {
                owner,
                repo,
                environment,
            } => vec!["repos", owner, repo, "environments", environment, "secrets"],
            GitHubScope::Organization { org } => vec!["orgs", org, "actions", "secrets"],
        };
        segments.extend(rest);
        self.url(&segments)
    }
}

/// GitHub's answer: its status and JSON body (`Null` when it has none).
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn expect(self, operation: &'static str, ok: &[u16]) -> Result<Value> {
        if ok.contains(&self.status.as_u16()) {
            Ok(self.body)
        } else {
            Err(github_error(operation, self.status, &self.body))
        }
    }
}

/// How long GitHub asks to wait, if this answer is a rate limit: `Retry-After`, else the primary
/// limit's reset time, else a minute for a secondary limit (GitHub's advice).
fn rate_limited(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (header("retry-after").is_some()
                || header("x-ratelimit-remaining") == Some("0")
                || message.to_ascii_lowercase().contains("rate limit")));
    if !limited {
        return None;
    }
    if let Some(seconds) = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    if header("x-ratelimit-remaining") == Some("0")
        && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok())
    {
        let now = crate::dates::epoch_seconds(SystemTime::now());
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    Some(Duration::from_secs(60))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(4))
}

fn github_error(operation: &'static str, status: StatusCode, body: &Value) -> Error {
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let advice = match status.as_u16() {
        401 => ": the token was refused; check the credentials secret",
        403 => {
            ": the token may not do this; it needs \"Secrets: write\" on the repository, environment or organization"
        }
        404 => ": no such repository, environment or organization, or the token cannot see it",
        _ => "",
    };
    Error::GitHub {
        operation,
        status: Some(status.as_u16()),
        message: format!("{status}: {message}{advice}"),
    }
}

impl GitHubSecrets for GitHubClient {
    async fn public_key(&self, scope: &GitHubScope) -> Result<PublicKey> {
        let operation = "read a public key";
        let url = self.secrets_url(scope, &["public-key"])?;
        let body = self
            .call(Method::GET, url, None, operation)
            .await?
            .expect(operation, &[200])?;
        let key_id = body.get("key_id").and_then(Value::as_str);
        let key = body.get("key").and_then(Value::as_str).and_then(|k| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(k).ok()
        });
        match (key_id, key) {
            (Some(key_id), Some(key)) => Ok(PublicKey {
                key_id: key_id.to_string(),
                key,
            }),
            _ => Err(Error::GitHub {
                operation,
                status: Some(200),
                message: format!("the public key of {scope} is not {{\"key_id\", \"key\"}}"),
            }),
        }
    }

    async fn repository_id(&self, owner: &str, repo: &str) -> Result<u64> {
        let operation = "read a repository";
        let body = self
            .call(
                Method::GET,
                self.url(&["repos", owner, repo])?,
                None,
                operation,
            )
            .await?
            .expect(operation, &[200])?;
        body.get("id").and_then(Value::as_u64).ok_or(Error::GitHub {
            operation,
            status: Some(200),
            message: format!("the answer about {owner}/{repo} holds no id"),
        })
    }

    async fn put_secret(
        &self,
        scope: &GitHubScope,
        name: &str,
        sealed: &SealedSecret,
    ) -> Result<()> {
        let operation = "write a secret";
        let mut body = json!({"encrypted_value": sealed.encrypted_value, "key_id": sealed.key_id});
        match &sealed.access {
            None => {}
            Some(OrgAccess::All) => body["visibility"] = json!("all"),
            Some(OrgAccess::Private) => body["visibility"] = json!("private"),
            Some(OrgAccess::Selected(ids)) => {
                body["visibility"] = json!("selected");
                body["selected_repository_ids"] = json!(ids);
            }
        }
        let url = self.secrets_url(scope, &[name])?;
        self.call(Method::PUT, url, Some(&body), operation)
            .await?
            .expect(operation, &[201, 204])?;
        Ok(())
    }

    async fn updated_at(&self, scope: &GitHubScope, name: &str) -> Result<Option<SystemTime>> {
        let operation = "read a secret's date";
        let answer = self
            .call(
                Method::GET,
                self.secrets_url(scope, &[name])?,
                None,
                operation,
            )
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = answer.expect(operation, &[200])?;
        let when = body
            .get("updated_at")
            .and_then(Value::as_str)
            .and_then(crate::dates::rfc3339);
        when.map(Some).ok_or(Error::GitHub {
            operation,
            status: Some(200),
            message: format!("the answer about {name} in {scope} holds no updated_at"),
        })
    }
}
