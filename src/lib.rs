//! Rotates IAM user access keys through Secrets Manager's four-step rotation contract.
//!
//! Where to look:
//! - [`event`]: the rotation event and its validation;
//! - [`secret`]: the secret's JSON format;
//! - [`steps`]: the contract check and the four steps, one module each;
//! - [`services`]: the small traits the steps call AWS through; [`aws`]: their SDK adapters;
//!   [`wiring`]: the two put together, once;
//! - [`lambda`]: the Lambda handler (`src/main.rs` runs it);
//! - [`audit`]: every key of the account against CIS; [`adopt`]: bringing a user under rotation;
//! - [`sweep`]: after the rotation: retiring previous keys, watching every secret;
//! - [`manual`]: rotations the CLI drives itself; [`status`] and [`change`]: what the CLI shows;
//! - [`deployed`]: the settings a command run by hand acts with (the deployed function's);
//! - [`config`], [`logging`], [`error`].

pub mod adopt;
pub mod audit;
pub mod aws;
pub mod backoff;
pub mod change;
pub mod config;
pub mod dates;
pub mod deployed;
pub mod engine;
pub mod error;
pub mod event;
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
