//! Fault injection under the SDK: an HTTP client that wraps the real one and makes chosen requests
//! fail the ways AWS calls fail in production, so the SDK's own retries and our recovery both run.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;

/// How a request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// AWS answers 400 with its throttling code; the request was not applied.
    Throttling,
    /// AWS answers 503; the request was not applied.
    ServerError,
    /// The connection fails before the request reaches AWS.
    ConnectionFailure,
    /// No answer until the SDK's attempt timeout; the request was not applied.
    Timeout,
    /// AWS applies the request, and the answer is lost: how orphan keys are born.
    LostResponse,
    /// The process dies (the Lambda times out) just before this request is sent.
    CrashBefore,
    /// The process dies just after AWS applied this request.
    CrashAfter,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Throttling,
        FaultKind::ServerError,
        FaultKind::ConnectionFailure,
        FaultKind::Timeout,
        FaultKind::LostResponse,
        FaultKind::CrashBefore,
        FaultKind::CrashAfter,
    ];
    /// The kinds a soak test draws from: every one but the crashes, which end an invocation.
    pub const TRANSIENT: [FaultKind; 5] = [
        FaultKind::Throttling,
        FaultKind::ServerError,
        FaultKind::ConnectionFailure,
        FaultKind::Timeout,
        FaultKind::LostResponse,
    ];
}

/// Runs after every request that reached AWS, before its answer goes back: the invariant check.
pub type AfterEach = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Default)]
struct Plan {
    /// IAM's propagation delay: STS refuses a key for this long after it first sees it.
    propagation_delay: Option<Duration>,
    first_seen: HashMap<String, Instant>,
    requests: usize,
    /// Fail requests `first..first + count` this way.
    window: Option<(usize, usize, FaultKind)>,
    /// Or fail each request with this probability, drawing the kind at random.
    random: Option<(StdRng, f64)>,
    injected: Vec<(usize, String, FaultKind)>,
}

/// The shared control of an injector: what to fail, what was failed, and the crash signal.
#[derive(Clone, Default)]
pub struct Faults {
    plan: Arc<Mutex<Plan>>,
    crashed: Arc<Notify>,
    after_each: Arc<Mutex<Option<AfterEach>>>,
}

impl Faults {
    /// Fails requests `first` to `first + count - 1` (counted from now, 1-based) with `kind`.
    pub fn fail(&self, first: usize, count: usize, kind: FaultKind) {
        let mut plan = self.plan.lock().unwrap();
        plan.requests = 0;
        plan.window = Some((first, count, kind));
    }

    /// Fails each request with probability `rate`, with a seeded choice of kind.
    pub fn fail_at_random(&self, seed: u64, rate: f64) {
        let mut plan = self.plan.lock().unwrap();
        plan.random = Some((StdRng::seed_from_u64(seed), rate));
    }

    /// Makes STS refuse every key with `InvalidClientTokenId` for `delay` after its first use, as
    /// real IAM does for a new key (moto accepts new keys at once). `None` ends the delay.
    pub fn propagation_delay(&self, delay: Option<Duration>) {
        self.plan.lock().unwrap().propagation_delay = delay;
    }

    /// Whether STS should refuse this request's key, still propagating.
    fn still_propagating(&self, request: &HttpRequest) -> bool {
        let mut plan = self.plan.lock().unwrap();
        let Some(delay) = plan.propagation_delay else {
            return false;
        };
        let Some(key_id) = signing_key(request) else {
            return false;
        };
        let first_seen = *plan.first_seen.entry(key_id).or_insert_with(Instant::now);
        first_seen.elapsed() < delay
    }

    pub fn stop_failing(&self) {
        let mut plan = self.plan.lock().unwrap();
        plan.window = None;
        plan.random = None;
    }

    /// Requests seen since the last `fail`.
    pub fn requests(&self) -> usize {
        self.plan.lock().unwrap().requests
    }

    pub fn injected(&self) -> Vec<(usize, String, FaultKind)> {
        self.plan.lock().unwrap().injected.clone()
    }

    pub fn after_each(&self, check: AfterEach) {
        *self.after_each.lock().unwrap() = Some(check);
    }

    /// Resolves when a crash fault fires: the harness then drops the running step, as Lambda would.
    pub async fn crashed(&self) {
        self.crashed.notified().await
    }

    /// An HTTP client for SDK configs: `base` with these faults in front of it.
    pub fn http_client(&self, base: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(Injector {
            base,
            faults: self.clone(),
        })
    }

    fn decide(&self, operation: &str) -> Option<FaultKind> {
        let mut plan = self.plan.lock().unwrap();
        plan.requests += 1;
        let n = plan.requests;
        let in_window = plan
            .window
            .filter(|(first, count, _)| (*first..first.saturating_add(*count)).contains(&n))
            .map(|(_, _, kind)| kind);
        let kind = in_window.or_else(|| {
            let (rng, rate) = plan.random.as_mut()?;
            rng.random_bool(*rate)
                .then(|| FaultKind::TRANSIENT[rng.random_range(0..FaultKind::TRANSIENT.len())])
        });
        if let Some(kind) = kind {
            plan.injected.push((n, operation.to_string(), kind));
        }
        kind
    }
}

struct Injector {
    base: SharedHttpClient,
    faults: Faults,
}

impl fmt::Debug for Injector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FaultInjector")
    }
}

impl HttpClient for Injector {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            inner: self.base.http_connector(settings, components),
            faults: self.faults.clone(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    inner: SharedHttpConnector,
    faults: Faults,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Faults")
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = operation_of(&request);
        let json_protocol = request.headers().get("x-amz-target").is_some();
        if operation == "GetCallerIdentity" && self.faults.still_propagating(&request) {
            return HttpConnectorFuture::ready(Ok(error_response(
                403,
                false,
                "InvalidClientTokenId",
            )));
        }
        let fault = self.faults.decide(&operation);
        let inner = self.inner.clone();
        let faults = self.faults.clone();
        HttpConnectorFuture::new(async move {
            match fault {
                None => {
                    let response = inner.call(request).await?;
                    let check = faults.after_each.lock().unwrap().clone();
                    if let Some(check) = check {
                        check().await;
                    }
                    Ok(response)
                }
                Some(FaultKind::Throttling) => Ok(error_response(
                    400,
                    json_protocol,
                    throttling_code(json_protocol),
                )),
                Some(FaultKind::ServerError) => {
                    Ok(error_response(503, json_protocol, "ServiceUnavailable"))
                }
                Some(FaultKind::ConnectionFailure) => {
                    Err(ConnectorError::io("injected: connection refused".into()))
                }
                Some(FaultKind::Timeout) => {
                    // Longer than any attempt timeout the tests set; the SDK gives up first.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Err(ConnectorError::timeout("injected: no answer".into()))
                }
                Some(FaultKind::LostResponse) => {
                    let _applied = inner.call(request).await;
                    Err(ConnectorError::io(
                        "injected: connection reset after the request was sent".into(),
                    ))
                }
                Some(FaultKind::CrashBefore) => {
                    faults.crashed.notify_waiters();
                    std::future::pending().await
                }
                Some(FaultKind::CrashAfter) => {
                    let _applied = inner.call(request).await;
                    faults.crashed.notify_waiters();
                    std::future::pending().await
                }
            }
        })
    }
}

/// `secretsmanager.GetSecretValue` from the JSON protocol's header, `ListAccessKeys` from a query body.
fn operation_of(request: &HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let body = request.body().bytes().unwrap_or_default();
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or("unknown")
        .to_string()
}

/// The access key id a SigV4 request is signed with.
fn signing_key(request: &HttpRequest) -> Option<String> {
    let authorization = request.headers().get("authorization")?;
    let credential = authorization.split("Credential=").nth(1)?;
    Some(credential.split('/').next()?.to_string())
}

fn throttling_code(json_protocol: bool) -> &'static str {
    if json_protocol {
        "ThrottlingException"
    } else {
        "Throttling"
    }
}

fn error_response(status: u16, json_protocol: bool, code: &str) -> HttpResponse {
    let body = if json_protocol {
        format!(r#"{{"__type":"{code}","message":"injected fault"}}"#)
    } else {
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected fault</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        )
    };
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("a valid status"),
        SdkBody::from(body),
    );
    if json_protocol {
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", code.to_string());
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.1");
    } else {
        response.headers_mut().insert("content-type", "text/xml");
    }
    response
}
