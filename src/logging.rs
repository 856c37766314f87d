//! Log set-up: plain text for people, JSON for CloudWatch when Lambda asks for it.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Lambda sets this to `JSON` when the function's log format is JSON.
pub const FORMAT_VAR: &str = "AWS_LAMBDA_LOG_FORMAT";
/// Lambda's application log level (`TRACE` … `FATAL`); `RUST_LOG` directives win over it.
pub const LEVEL_VAR: &str = "AWS_LAMBDA_LOG_LEVEL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn from_env() -> LogFormat {
        match std::env::var(FORMAT_VAR) {
            Ok(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Our own lines at `level`; the SDK's only when they warn, since its debug lines are noise here.
pub fn filter(level: &str) -> EnvFilter {
    let level = match level.to_ascii_lowercase().as_str() {
        "fatal" => "error".to_string(),
        other => other.to_string(),
    };
    EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,iam_key_rotator={level}")))
}

/// A subscriber writing to `writer`; every line carries the rotation span's step, secret and token.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
        LogFormat::Text => Box::new(builder.with_ansi(false).finish()),
    }
}

/// Installs the process-wide subscriber from the environment, writing to `writer`.
pub fn init<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = std::env::var(LEVEL_VAR).unwrap_or_else(|_| "info".to_string());
    let subscriber = subscriber(LogFormat::from_env(), filter(&level), writer);
    // Only fails if a subscriber is already set, in which case that one keeps working.
    let _ = tracing::subscriber::set_global_default(subscriber);
}
