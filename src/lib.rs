//! Rotates IAM user access keys through Secrets Manager's four-step rotation contract.
//!
//! Where to look:
//! - [`event`]: the rotation event and its validation;
//! - [`secret`]: the secret's JSON format;
//! - [`steps`]: the contract check and the four steps, one module each;
//! - [`services`]: the small traits the steps call AWS through; [`aws`]: their SDK adapters;
//! - [`lambda`]: the Lambda handler (`src/main.rs` runs it);
//! - [`audit`]: every key of the account against CIS; [`adopt`]: bringing a user under rotation;
//! - [`sweep`]: after the rotation: retiring previous keys, watching every secret;
//! - [`manual`]: rotations the CLI drives itself; [`status`] and [`change`]: what the CLI shows;
//! - [`deployed`]: the settings a command run by hand acts with (the deployed function's);
//! - [`config`], [`logging`], [`error`].

pub mod adopt;
pub mod audit;
pub mod aws;
pub mod change;
pub mod config;
pub mod deployed;
pub mod error;
pub mod event;
pub mod lambda;
pub mod logging;
pub mod manual;
pub mod secret;
pub mod services;
pub mod smtp;
pub mod status;
pub mod steps;
pub mod sweep;

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod input_properties;

pub use config::Config;
pub use error::{Error, Result};
pub use event::{RotationEvent, Step};
pub use steps::{Contract, Rotator};
