//! One file per subcommand: each opens what it needs and calls the modules below it.
//! No SQL and no parsing here.

pub mod allow;
pub mod blocks;
pub mod cluster;
pub mod doctor;
pub mod import;
pub mod ingest;
pub mod meta;
pub mod metrics;
pub mod render;
pub mod report;
pub mod run;
pub mod show;
pub mod top;

mod context;

pub use context::{Context, LOCK_WAIT, ManualBlocks, Reading};
