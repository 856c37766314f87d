//! STS in memory: who a key signs as, after refusing new keys for a while as IAM does.

use std::sync::{Arc, Mutex};

use secrecy::ExposeSecret;

use super::{FakeAccounts, FakeIam, lock};
use crate::error::Result;
use crate::secret::AccessKey;
use crate::services::{CheckError, KeyChecker};

/// STS: answers with the owner's ARN, after refusing each key `refusals` times as IAM does at first.
#[derive(Clone)]
pub struct FakeSts {
    pub iam: FakeIam,
    /// Member accounts whose keys it knows too.
    pub members: FakeAccounts,
    pub refusals: Arc<Mutex<u32>>,
    pub calls: Arc<Mutex<u32>>,
}

impl FakeSts {
    pub fn new(iam: FakeIam) -> Self {
        FakeSts {
            iam,
            members: FakeAccounts::default(),
            refusals: Arc::default(),
            calls: Arc::default(),
        }
    }
}

impl KeyChecker for FakeSts {
    async fn caller_arn(&self, key: &AccessKey) -> Result<String, CheckError> {
        *lock(&self.calls) += 1;
        {
            let mut refusals = lock(&self.refusals);
            if *refusals > 0 {
                *refusals -= 1;
                return Err(CheckError::NotYetValid {
                    code: "InvalidClientTokenId".into(),
                });
            }
        }
        let accounts = std::iter::once(self.iam.clone()).chain(self.members.all());
        let signer = accounts.into_iter().find(|iam| {
            iam.state()
                .keys
                .iter()
                .any(|k| k.info.id == key.id && k.secret == key.secret.expose_secret())
        });
        let Some(signer) = signer else {
            return Err(CheckError::NotYetValid {
                code: "InvalidClientTokenId".into(),
            });
        };
        let state = signer.state();
        let owner = state
            .keys
            .iter()
            .find(|k| k.info.id == key.id && k.secret == key.secret.expose_secret())
            .map(|k| k.user.clone())
            .ok_or(CheckError::NotYetValid {
                code: "InvalidClientTokenId".into(),
            })?;
        let user = state
            .users
            .iter()
            .find(|u| u.name == owner)
            .ok_or(CheckError::NotYetValid {
                code: "InvalidClientTokenId".into(),
            })?;
        Ok(user.arn.clone())
    }
}
