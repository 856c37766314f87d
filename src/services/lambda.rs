//! Lambda, as far as the CLI needs it: the settings of a deployed function.

use std::future::Future;

use crate::error::Result;

/// Lambda, to read the settings of the function deployed to rotate a secret.
pub trait Functions: Send + Sync {
    /// The function's environment variables (its configuration, never its code).
    fn environment(
        &self,
        function_arn: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
}
