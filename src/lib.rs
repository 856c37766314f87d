//! Rotates IAM user access keys through Secrets Manager's four-step rotation contract.
//!
//! Where to look (the README's "Where things are" says more):
//! - [`services`]: the outside services as traits, and [`services::Services`], their one bundle;
//!   [`aws`]: the SDK adapters; [`wiring`]: the two put together, once;
//! - [`engine`]: the [`Rotator`] every capability works with; [`versions`]: reading secret
//!   versions; [`scope`]: the user-scope rule;
//! - [`rotation`]: the contract check and the four steps, one module each, and the CLI's driver;
//! - [`retirement`]: the retirement policy and its note; [`sweep`]: after the rotation;
//! - [`delivery`]: the new key put where its consumers read it (SSM, GitHub), and confirmed;
//! - [`audit`]: every key of the account against CIS; [`adopt`]: bringing a user under rotation;
//! - [`event`], [`secret`]: the formats; [`lambda`]: the Lambda handler (`src/main.rs` runs it);
//! - [`deployed`]: the settings a command run by hand acts with (the deployed function's);
//! - [`status`] and [`change`]: what the CLI shows;
//! - [`config`], [`error`], [`logging`], [`metrics`], [`backoff`], [`dates`], [`smtp`].

pub mod accounts;
pub mod adopt;
pub mod audit;
pub mod aws;
pub mod backoff;
pub mod change;
pub mod config;
pub mod dates;
pub mod delivery;
pub mod deployed;
pub mod engine;
pub mod error;
pub mod event;
pub mod github;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod retirement;
pub mod rotation;
pub mod scope;
pub mod secret;
pub mod services;
pub mod smtp;
pub mod status;
pub mod sweep;
pub mod versions;
pub mod wiring;

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod tests;

pub use config::Config;
pub use engine::Rotator;
pub use error::{Error, Result};
pub use event::{RotationEvent, Step};
pub use rotation::Contract;
