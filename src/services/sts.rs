//! STS, as far as testSecret needs it: who a key signs as.

use std::future::Future;

use crate::error::{Error, Result};
use crate::secret::AccessKey;

/// Why a key could not prove who it is.
#[derive(Debug)]
pub enum CheckError {
    /// AWS does not accept the key (yet): new keys take seconds to propagate.
    NotYetValid { code: String },
    /// Anything else; not worth retrying here.
    Failed(Error),
}

/// STS, used to prove that a key works.
pub trait KeyChecker: Send + Sync {
    /// The ARN that a request signed with `key` is made as.
    fn caller_arn(
        &self,
        key: &AccessKey,
    ) -> impl Future<Output = Result<String, CheckError>> + Send;
}
