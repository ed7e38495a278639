//! saslguard's integration tests, as one test binary (`autotests = false` in Cargo.toml,
//! as ripgrep does): each `tests/NAME.rs` is the module `NAME` here, so the crate and
//! the helpers are linked once instead of once per file.
//!
//! Run one file's tests with `cargo test --test tests NAME::` (e.g. `blocks::`), one test
//! with `cargo test --test tests NAME::TEST`. The tests run as threads of one process:
//! none may change the process's environment, current directory or zone; child
//! processes get theirs (`Command::env`, `Command::current_dir`).
//!
//! A new test file is a new `mod` line below (`layout::` fails on a file left out).

// Helpers shared by the test modules (`use crate::common;`).
mod common;
mod common_netns;
mod need;
mod rig;

mod aggregation;
mod blocks;
mod cluster;
mod cluster_cli;
mod cluster_reports;
mod contrib;
mod crash;
mod doctor_firewall;
mod e2e_doctor;
mod e2e_invalid_mechanism;
mod e2e_postfix;
mod exports;
mod families;
mod families_prop;
mod firewall;
mod firewall_cli;
mod firewall_drift;
mod import;
mod ingest;
mod journal;
mod layout;
mod line_accounting;
mod maps;
mod meta;
mod operator;
mod package;
mod parser_fuzz;
mod postfix_safety;
mod readers;
mod readme;
mod render_postfix;
mod report;
mod report_html;
mod retention;
mod rollups;
mod show;
mod store_safety;
mod top;
mod untruths;
