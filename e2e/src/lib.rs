//! Test harness for cross-component tests: real registries, real servers, real browsers.

pub mod faults;
pub mod testbed;
