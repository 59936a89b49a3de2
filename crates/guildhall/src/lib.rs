//! The Guildhall binary's library half: settings, wiring, the mailer adapter
//! and the operator CLI. `main.rs` only parses arguments and calls in here;
//! the test kit calls `startup::Server::build` to run real servers.
//!
//! This crate may depend on everything; nothing depends on it but the test kit.

pub mod cli;
pub mod dns;
pub mod mail;
pub mod provisioning;
pub mod settings;
pub mod startup;
pub mod web;
