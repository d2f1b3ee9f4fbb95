//! Rewind's time-travel debugger over a recording's events.
//!
//! [`index::Trace`] reads a recording's events lazily and indexes them in
//! one pass; [`session::Session`] moves through them in both directions
//! (step, next, finish, continue to a breakpoint, and their reverses) and
//! reads locals, backtraces and value histories at any step;
//! [`commands`] runs gdb-style commands over a session and prints plain
//! text; [`tui`] is the full-screen terminal interface.

pub mod commands;
pub mod index;
pub mod session;
pub mod tui;
