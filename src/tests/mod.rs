//! Tests of the crate as a whole that reach its private parts: property tests of the parsers, which
//! feed the engine malformed events and secrets through the fakes.

mod input_properties;
