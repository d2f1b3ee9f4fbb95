//! What the subcommands share, so that no subcommand imports another: the
//! flags and their parsers ([`args`]), exit statuses and the user's errors
//! ([`status`]), finding and loading guests ([`guest`]), talking to a
//! collector ([`collector`]), the lines `rewind` prints while it works
//! ([`report`]), and stopping cleanly on Ctrl-C ([`interrupt`]).

pub mod args;
pub mod collector;
pub mod evaluate;
pub mod events;
pub mod guest;
pub mod interrupt;
pub mod report;
pub mod status;

pub use status::{UsageError, io_message, read_recording};
