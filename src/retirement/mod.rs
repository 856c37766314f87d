//! Retiring the previous key after a rotation: the policy (when the key is deactivated, kept,
//! deleted, or left to an operator) and the note that records where a secret stands with it. The
//! sweep's listing and its decision both ask [`RetirePolicy`] here, so they cannot disagree.

pub mod note;
mod policy;

pub use note::{NOTE_TAG, Note};
pub use policy::{Decision, Facts, RetirePolicy, decide};
