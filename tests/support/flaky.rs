//! Wrappers around the real adapters that fail one chosen AWS call, to test recovery at every call point.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use iam_key_rotator::Error;
use iam_key_rotator::secret::AccessKey;
use iam_key_rotator::services::{
    CheckError, Iam, IamUser, KeyChecker, KeyInfo, SecretInfo, SecretStore, SecretVersion,
    StoredValue,
};
use secrecy::SecretString;

/// How the chosen call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request never reaches AWS.
    Refused,
    /// AWS applies the request, but the answer is lost: how orphan keys are born.
    LostResponse,
}

/// Counts AWS calls across the three wrappers and fails the one numbered `fail_at` (1-based).
/// `fail_at = 0` fails nothing, which is how a test counts the calls.
#[derive(Clone, Default)]
pub struct Faults {
    calls: Arc<AtomicUsize>,
    fail_at: Arc<AtomicUsize>,
    lose_response: Arc<AtomicBool>,
}

impl Faults {
    pub fn fail_call(&self, n: usize, fault: Fault) {
        self.calls.store(0, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
        self.lose_response
            .store(fault == Fault::LostResponse, Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    async fn call<T>(
        &self,
        operation: &'static str,
        request: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.fail_at.load(Ordering::SeqCst) {
            return request.await;
        }
        if self.lose_response.load(Ordering::SeqCst) {
            let _ = request.await;
        }
        Err(Error::Aws {
            operation,
            code: Some("ServiceUnavailable".into()),
            message: format!("injected fault at call {n}"),
        })
    }
}

pub struct Flaky<T> {
    pub inner: T,
    pub faults: Faults,
}

impl<T: SecretStore> SecretStore for Flaky<T> {
    async fn describe(&self, secret_id: &str) -> Result<SecretInfo, Error> {
        self.faults
            .call("DescribeSecret", self.inner.describe(secret_id))
            .await
    }
    async fn list_versions(&self, secret_id: &str) -> Result<Vec<SecretVersion>, Error> {
        self.faults
            .call("ListSecretVersionIds", self.inner.list_versions(secret_id))
            .await
    }
    async fn value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        label: Option<&str>,
    ) -> Result<Option<StoredValue>, Error> {
        self.faults
            .call(
                "GetSecretValue",
                self.inner.value(secret_id, version_id, label),
            )
            .await
    }
    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretString,
        rotation_token: Option<&str>,
    ) -> Result<(), Error> {
        self.faults
            .call(
                "PutSecretValue",
                self.inner
                    .put_pending(secret_id, token, value, rotation_token),
            )
            .await
    }
    async fn move_label(
        &self,
        secret_id: &str,
        label: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<(), Error> {
        self.faults
            .call(
                "UpdateSecretVersionStage",
                self.inner.move_label(secret_id, label, to, from),
            )
            .await
    }
}

impl<T: Iam> Iam for Flaky<T> {
    async fn user(&self, name: &str) -> Result<Option<IamUser>, Error> {
        self.faults.call("GetUser", self.inner.user(name)).await
    }
    async fn list_keys(&self, user: &str) -> Result<Vec<KeyInfo>, Error> {
        self.faults
            .call("ListAccessKeys", self.inner.list_keys(user))
            .await
    }
    async fn create_key(&self, user: &str) -> Result<AccessKey, Error> {
        self.faults
            .call("CreateAccessKey", self.inner.create_key(user))
            .await
    }
    async fn deactivate_key(&self, user: &str, key_id: &str) -> Result<(), Error> {
        self.faults
            .call("UpdateAccessKey", self.inner.deactivate_key(user, key_id))
            .await
    }
    async fn delete_key(&self, user: &str, key_id: &str) -> Result<(), Error> {
        self.faults
            .call("DeleteAccessKey", self.inner.delete_key(user, key_id))
            .await
    }
    async fn last_used(&self, key_id: &str) -> Result<Option<SystemTime>, Error> {
        self.faults
            .call("GetAccessKeyLastUsed", self.inner.last_used(key_id))
            .await
    }
}

impl<T: KeyChecker> KeyChecker for Flaky<T> {
    async fn caller_arn(&self, key: &AccessKey) -> Result<String, CheckError> {
        // The checker's own error type carries "not yet valid"; keep its answer when the call passes.
        let mut answer = None;
        let passed = self
            .faults
            .call("GetCallerIdentity", async {
                answer = Some(self.inner.caller_arn(key).await);
                Ok(())
            })
            .await;
        match (passed, answer) {
            (Ok(()), Some(answer)) => answer,
            (Err(e), _) => Err(CheckError::Failed(e)),
            (Ok(()), None) => unreachable!("a call that passed has run"),
        }
    }
}
