//! Test harness for cross-component tests: real registries, real servers, real browsers.

pub mod faults;
pub mod fleetgen;
pub mod testbed;
