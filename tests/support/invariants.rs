//! The promises a rotation keeps at every moment, checked against moto with plain (fault-free) clients.

use std::sync::Mutex;

use serde_json::{Map, Value};

use super::Bed;

/// Collects violations instead of panicking, so a check can run inside the SDK's HTTP stack.
pub struct Invariants {
    pub bed: Bed,
    /// Fields of the secret beyond the key, as first stored: they must never be lost.
    extra: Map<String, Value>,
    violations: Mutex<Vec<String>>,
    pub checks: Mutex<usize>,
    user_arn: String,
    /// Keys STS has already accepted as the user: a key's owner never changes.
    proven: Mutex<Vec<String>>,
}

impl Invariants {
    pub async fn new(bed: Bed) -> Invariants {
        let mut extra = bed
            .value("AWSCURRENT")
            .await
            .as_object()
            .cloned()
            .unwrap_or_default();
        for field in ["UserName", "AccessKeyId", "SecretAccessKey"] {
            extra.remove(field);
        }
        Invariants {
            user_arn: bed.user_arn().await,
            bed,
            extra,
            violations: Mutex::default(),
            checks: Mutex::default(),
            proven: Mutex::default(),
        }
    }

    fn violated(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }

    /// What must hold after every single AWS call: (1) AWSCURRENT's key exists, is Active and
    /// signs as the user; (2) the user holds at most 2 keys; (4) no field beyond the key is lost.
    pub async fn check_during(&self, moment: &str) {
        *self.checks.lock().unwrap() += 1;
        let bed = &self.bed;
        let current = bed.value("AWSCURRENT").await;
        let keys = bed.keys().await;
        if keys.len() > 2 {
            self.violated(format!("{moment}: the user holds {} keys", keys.len()));
        }
        // A secret that starts with only a UserName has no key to protect until its first rotation.
        let key_id = current["AccessKeyId"].as_str().unwrap_or_default();
        if key_id.is_empty() {
            return;
        }
        match keys.iter().find(|(id, _)| id == key_id) {
            Some((_, status)) if status == "Active" => {}
            Some((_, status)) => {
                self.violated(format!("{moment}: AWSCURRENT's key {key_id} is {status}"))
            }
            None => self.violated(format!(
                "{moment}: AWSCURRENT's key {key_id} does not exist"
            )),
        }
        let secret = current["SecretAccessKey"].as_str().unwrap_or_default();
        let signed_as = bed.caller_arn(key_id, secret).await;
        let user_arn = bed.user_arn().await;
        if signed_as.as_deref() != Some(user_arn.as_str()) {
            self.violated(format!(
                "{moment}: AWSCURRENT's key signs as {signed_as:?}, not {user_arn}"
            ));
        }
        let mut values = vec![("AWSCURRENT", current)];
        if bed.version_of("AWSPENDING").await.is_some()
            && let Some(pending) = bed.try_value("AWSPENDING").await
        {
            values.push(("AWSPENDING", pending));
        }
        for (label, value) in values {
            for (field, expected) in &self.extra {
                if value.get(field) != Some(expected) {
                    self.violated(format!("{moment}: {label} lost the field {field}"));
                }
            }
        }
    }

    /// What must hold once a rotation completed: (2) exactly one Active key, and (3) no key the
    /// secret's versions do not hold.
    pub async fn check_completed(&self, moment: &str) {
        self.check_during(moment).await;
        let bed = &self.bed;
        let keys = bed.keys().await;
        let active = keys.iter().filter(|(_, s)| s == "Active").count();
        if active != 1 {
            self.violated(format!(
                "{moment}: {active} active keys after a completed rotation: {keys:?}"
            ));
        }
        let held = bed.keys_held_by_versions().await;
        for (id, _) in &keys {
            if !held.contains(id) {
                self.violated(format!(
                    "{moment}: key {id} is held by no version of the secret"
                ));
            }
        }
    }
}
