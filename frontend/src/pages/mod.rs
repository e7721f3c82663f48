//! One module per tab.

pub mod editor;
pub mod fleet;
pub mod publish;
pub mod snapshots;
pub mod test;
pub mod versions;
