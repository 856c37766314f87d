//! Lambda, as far as the CLI and the sweep need it: the settings of a deployed function, and the
//! function invoking itself again to go on with a sweep its deadline cut short.

use std::future::Future;

use serde_json::Value;

use crate::error::Result;

/// Lambda, to read the settings of the function deployed to rotate a secret.
pub trait Functions: Send + Sync {
    /// The function's environment variables (its configuration, never its code).
    fn environment(
        &self,
        function_arn: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;

    /// Invokes the function with `payload` without waiting for it (InvocationType Event).
    fn invoke_later(
        &self,
        function_arn: &str,
        payload: &Value,
    ) -> impl Future<Output = Result<()>> + Send;
}
