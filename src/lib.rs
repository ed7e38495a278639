//! saslguard: stops SMTP AUTH brute force on Postfix mail servers.
//!
//! Data flows one way: [`source`] (where to read) -> [`parse`] (bytes to events) ->
//! [`store`] (SQLite, the only SQL) -> [`report`] (rankings). [`ingest`] drives the
//! first three; [`commands`] wires everything per subcommand, [`cli`] defines the
//! command line.

pub mod cli;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod enforce;
pub mod import;
pub mod ingest;
pub mod lock;
pub mod model;
pub mod network;
pub mod parse;
pub mod policy;
pub mod render;
pub mod report;
pub mod retention;
pub mod sanitize;
pub mod source;
pub mod store;
pub mod ui;
