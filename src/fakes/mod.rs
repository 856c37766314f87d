//! In-memory Secrets Manager, IAM and STS for the steps' unit tests. Each is a cheap handle to shared
//! state, so a test keeps one to arrange and inspect while the rotator holds another.
//!
//! `secrets.rs` is Secrets Manager, `iam.rs` IAM, `sts.rs` STS, `destinations.rs` SSM and GitHub,
//! `accounts.rs` an organization's member accounts, `organization.rs` its tree and Security Hub;
//! [`Gate`] pauses one handle's calls.

mod accounts;
mod destinations;
mod iam;
mod organization;
mod secrets;
mod sts;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::error::Error;

pub use accounts::FakeAccounts;
pub use destinations::{FakeGitHub, FakeParameters};
pub use iam::FakeIam;
pub use organization::{FakeHub, FakeOrganization};
pub use secrets::{FakeSecrets, FakeVersion};
pub use sts::FakeSts;

/// The engine over the fakes.
pub type FakeRotator =
    crate::engine::Rotator<crate::services::Clients<FakeSecrets, FakeIam, FakeSts>>;

/// The engine over the fakes, member accounts, organization and Security Hub included.
pub type FakeOrgRotator = crate::engine::Rotator<
    crate::services::Clients<
        FakeSecrets,
        FakeIam,
        FakeSts,
        crate::services::NotSetUp,
        crate::services::NotSetUp,
        FakeAccounts,
        FakeOrganization,
        FakeHub,
    >,
>;

/// The engine over the fakes, destinations included.
pub type FakeDeliveringRotator = crate::engine::Rotator<
    crate::services::Clients<FakeSecrets, FakeIam, FakeSts, FakeParameters, FakeGitHub>,
>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Holds one rotator's calls at a chosen point, so a test can run another rotator meanwhile:
/// the `at`-th call made through handles sharing this gate waits until [`Gate::resume`].
#[derive(Default)]
pub struct Gate {
    calls: AtomicUsize,
    at: usize,
    reached: Notify,
    resume: Notify,
}

impl Gate {
    pub fn pause_at(at: usize) -> Arc<Gate> {
        Arc::new(Gate {
            at,
            ..Gate::default()
        })
    }

    /// Resolves once a call has reached the pause point.
    pub async fn reached(&self) {
        self.reached.notified().await
    }

    pub fn resume(&self) {
        self.resume.notify_one()
    }

    /// Calls made through this gate so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) async fn pass(gate: &Option<Arc<Gate>>) {
        if let Some(gate) = gate {
            let n = gate.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n == gate.at {
                gate.reached.notify_one();
                gate.resume.notified().await;
            }
        }
    }
}

pub(crate) fn fail(operation: &'static str) -> Error {
    Error::Aws {
        operation,
        code: Some("InternalFailure".into()),
        status: Some(500),
        message: "injected by the test".into(),
    }
}
