//! GitHub's REST API behind the `GitHubSecrets` trait: Actions secrets of repositories,
//! environments and organizations. Waits out GitHub's rate limits (`Retry-After`, the secondary
//! limits), within a bound, and authenticates with the credentials `credentials` reads.

mod credentials;

use std::collections::HashMap;
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
    cache: Mutex<Cache>,
}

/// What the client keeps between calls: the credentials, and a token per App installation.
#[derive(Default)]
struct Cache {
    credentials: Option<(Credentials, Instant)>,
    tokens: HashMap<u64, (SecretString, Instant)>,
}

impl GitHubClient {
    pub fn new(sdk: &SdkConfig, settings: &DeliverySettings) -> Self {
        let api = Url::parse(&settings.github_api_url).map_err(|e| {
            format!(
                "ROTATOR_GITHUB_API_URL={:?} is not a URL: {e}",
                settings.github_api_url
            )
        });
        // GitHub refuses requests without a User-Agent. Redirects are never followed: GitHub
        // answers a renamed or transferred repository with one, and following it would write to
        // whoever owns the repository now, past ROTATOR_GITHUB_OWNERS.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
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
            cache: Mutex::new(Cache::default()),
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

    /// The credentials secret's value, read again every [`TOKEN_REREAD`] so that credentials
    /// replaced in Secrets Manager reach a warm function.
    async fn credentials(&self, cache: &mut Cache) -> Result<Credentials> {
        if let Some((credentials, until)) = &cache.credentials
            && Instant::now() < *until
        {
            return Ok(credentials.clone());
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
        let credentials = Credentials::parse(secret_id, &text)?;
        cache.credentials = Some((credentials.clone(), Instant::now() + TOKEN_REREAD));
        Ok(credentials)
    }

    /// A token for calls about `owner`'s repositories: the fine-grained one, or a token minted
    /// for the App's installation on that account (one per installation, for 50 minutes).
    async fn token(&self, owner: &str) -> Result<SecretString> {
        let mut cache = self.cache.lock().await;
        let (app_id, installation_id, private_key) = match self.credentials(&mut cache).await? {
            Credentials::Token(token) => return Ok(token),
            Credentials::App {
                app_id,
                installations,
                private_key,
            } => {
                let secret_id = self.credentials.as_deref().unwrap_or_default();
                (
                    app_id,
                    installations.for_owner(secret_id, owner)?,
                    private_key,
                )
            }
        };
        if let Some((token, until)) = cache.tokens.get(&installation_id)
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let jwt = app_jwt(&app_id, &private_key, SystemTime::now())?;
        let url = self.url(&[
            "app",
            "installations",
            &installation_id.to_string(),
            "access_tokens",
        ])?;
        let operation = "mint an installation token";
        let answer = self
            .send_as(&jwt, Method::POST, url, None, operation)
            .await?;
        let status = answer.status;
        let body = answer.expect(operation, &[201])?;
        let token = body
            .get("token")
            .and_then(Value::as_str)
            .map(SecretString::from)
            .ok_or_else(|| Error::GitHub {
                operation,
                status: Some(status.as_u16()),
                message: "GitHub's answer holds no token".into(),
            })?;
        // Installation tokens last an hour; use one for 50 minutes at most.
        let until = Instant::now() + Duration::from_secs(50 * 60);
        cache.tokens.insert(installation_id, (token.clone(), until));
        Ok(token)
    }

    /// One API call about `owner`'s repositories; a refused token is replaced once.
    async fn call(
        &self,
        owner: &str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        operation: &'static str,
    ) -> Result<Answer> {
        let token = self.token(owner).await?;
        let answer = self
            .send_as(&token, method.clone(), url.clone(), body, operation)
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        *self.cache.lock().await = Cache::default();
        let token = self.token(owner).await?;
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
                        // A limit that outlasts the wait passes: tell it from a refusal.
                        Some(wait) => (
                            wait,
                            github_error(operation, StatusCode::TOO_MANY_REQUESTS, &body),
                        ),
                        None if status.is_server_error() => {
                            (backoff(attempt), github_error(operation, status, &body))
                        }
                        None => {
                            let date = headers
                                .get("date")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| httpdate::parse_http_date(v).ok());
                            return Ok(Answer { status, body, date });
                        }
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

/// GitHub's answer: its status, JSON body (`Null` when it has none), and time (its `Date`).
struct Answer {
    status: StatusCode,
    body: Value,
    date: Option<SystemTime>,
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
        301 | 302 | 307 | 308 => {
            ": the repository was renamed or moved to another owner; update the secret's Destinations"
        }
        401 => ": the token was refused; check the credentials secret",
        403 => {
            ": the token may not do this; it needs \"Secrets: write\" on the repository, environment or organization"
        }
        404 => ": no such repository, environment or organization, or the token cannot see it",
        429 => ": GitHub's rate limit outlasted the wait; the next attempt tries again",
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
            .call(scope.owner(), Method::GET, url, None, operation)
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
                owner,
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
    ) -> Result<Option<SystemTime>> {
        let operation = "write a secret";
        let mut body = json!({"encrypted_value": sealed.encrypted_value, "key_id": sealed.key_id});
        match &sealed.access {
            None => {}
            Some(OrgAccess::Private) => body["visibility"] = json!("private"),
            Some(OrgAccess::Selected(ids)) => {
                body["visibility"] = json!("selected");
                body["selected_repository_ids"] = json!(ids);
            }
        }
        let url = self.secrets_url(scope, &[name])?;
        let answer = self
            .call(scope.owner(), Method::PUT, url, Some(&body), operation)
            .await?;
        let date = answer.date;
        answer.expect(operation, &[201, 204])?;
        Ok(date)
    }

    async fn updated_at(&self, scope: &GitHubScope, name: &str) -> Result<Option<SystemTime>> {
        let operation = "read a secret's date";
        let answer = self
            .call(
                scope.owner(),
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
