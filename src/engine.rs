//! The engine every capability works with: the services it calls, its settings, and the values of
//! secret versions already read. Built once per process, used for every event. The rules live
//! elsewhere, each in one module: the contract and the four steps in `rotation`, reading secret
//! versions in `versions`, the user-scope rule in `scope`.

use crate::config::Config;
use crate::services::{Clients, Iam, KeyChecker, SecretStore, Services};
use crate::versions::ValueCache;

/// The engine: the services every capability calls, its settings, and the values already read.
pub struct Rotator<X> {
    services: X,
    config: Config,
    pub(crate) values: ValueCache,
}

impl<S: SecretStore, I: Iam, K: KeyChecker> Rotator<Clients<S, I, K>> {
    pub fn new(secrets: S, iam: I, keys: K, config: Config) -> Self {
        Rotator::with_services(
            Clients {
                secrets,
                iam,
                keys,
                parameters: Default::default(),
                github: Default::default(),
                accounts: Default::default(),
                organization: Default::default(),
                security_hub: Default::default(),
            },
            config,
        )
    }
}

impl<X: Services> Rotator<X> {
    pub fn with_services(services: X, config: Config) -> Self {
        Rotator {
            services,
            config,
            values: ValueCache::default(),
        }
    }

    pub fn secrets(&self) -> &X::Secrets {
        self.services.secrets()
    }

    /// IAM of the function's own account: for what concerns the account itself (its credential
    /// report). A secret's user is reached through `user_in_scope`, which knows its account.
    pub fn own_iam(&self) -> &X::Iam {
        self.services.iam()
    }

    pub(crate) fn services(&self) -> &X {
        &self.services
    }

    pub fn key_checker(&self) -> &X::KeyChecker {
        self.services.key_checker()
    }

    pub fn parameters(&self) -> &X::Parameters {
        self.services.parameters()
    }

    pub fn github(&self) -> &X::GitHub {
        self.services.github()
    }

    pub fn organization(&self) -> &X::Organization {
        self.services.organization()
    }

    pub fn security_hub(&self) -> &X::SecurityHub {
        self.services.security_hub()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }
}
