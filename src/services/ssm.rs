//! SSM Parameter Store, as far as delivery needs it: one `SecureString` parameter read back
//! decrypted, and written over.

use std::future::Future;

use secrecy::SecretString;

use crate::error::Result;

/// SSM Parameter Store: where some consumers read their key.
pub trait ParameterStore: Send + Sync {
    /// The parameter's value, decrypted; `None` when there is no such parameter.
    fn get(&self, name: &str) -> impl Future<Output = Result<Option<SecretString>>> + Send;

    /// Writes `value` as a `SecureString`, over what the parameter held (a new parameter version),
    /// encrypted with `kms_key_id`, or with the account's `aws/ssm` key when `None`.
    fn put(
        &self,
        name: &str,
        value: &SecretString,
        kms_key_id: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send;
}
