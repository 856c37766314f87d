//! Version values already read. A version's value never changes once stored, so each is read once
//! per process: the four steps of a rotation usually run in the same warm Lambda process.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::services::StoredValue;

/// More versions than one function process needs at once; past it the cache starts afresh.
const CAPACITY: usize = 64;

#[derive(Default)]
pub struct ValueCache {
    /// By (secret ARN, version id). Only values that exist: an empty version may still get one.
    values: Mutex<HashMap<(String, String), StoredValue>>,
}

impl ValueCache {
    pub fn get(&self, secret_arn: &str, version_id: &str) -> Option<StoredValue> {
        self.lock()
            .get(&(secret_arn.to_string(), version_id.to_string()))
            .cloned()
    }

    pub fn put(&self, secret_arn: &str, value: StoredValue) {
        let mut values = self.lock();
        if values.len() >= CAPACITY {
            values.clear();
        }
        values.insert((secret_arn.to_string(), value.version_id.clone()), value);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), StoredValue>> {
        self.values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
