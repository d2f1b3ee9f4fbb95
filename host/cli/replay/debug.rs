//! `rewind replay FILE`: open a recording in the time-travel debugger,
//! materializing its events first when they are not yet.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use rewind_debugger::commands;
use rewind_debugger::session::Session;

use super::Replay;
use crate::common::evaluate::PastEvaluator;
use crate::common::report;
use crate::common::{UsageError, events, io_message};

/// Where the debugger's commands come from.
pub enum Driver {
    Terminal,
    Script(PathBuf),
}

pub fn main(replay: &Replay<'_>, driver: Driver) -> Result<ExitCode> {
    let path = replay.path;
    if matches!(driver, Driver::Terminal)
        && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal())
    {
        return Err(UsageError(
            "the debugger needs a terminal; give --commands SCRIPT (or - for stdin) to run commands without one, or --exec / --materialize"
                .into(),
        )
        .into());
    }
    // A script is read before the work starts, so a bad path costs nothing.
    let script = match &driver {
        Driver::Script(script) => Some(read_script(script)?),
        Driver::Terminal => None,
    };
    let (mut session, traced_from) = events::open(&replay.source())?;
    if let Some(traced_from) = traced_from {
        session.set_evaluator(Box::new(PastEvaluator::new(
            replay.path.to_owned(),
            replay.guest.cloned(),
            replay.timeout,
            traced_from,
        )));
    }
    match script {
        Some(lines) => {
            report::print(&format!("{}\n", banner(&session, path)))?;
            for line in lines {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let mut text = format!("(rewind) {line}\n");
                if commands::is_quit(line) {
                    report::print(&text)?;
                    break;
                }
                let answer = commands::run(&mut session, line);
                if !answer.is_empty() {
                    text.push_str(&answer);
                    text.push('\n');
                }
                report::print(&text)?;
            }
        }
        None => {
            let title = banner(&session, path);
            rewind_debugger::tui::run(&mut session, &title)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_script(script: &Path) -> Result<Vec<String>> {
    if script == Path::new("-") {
        return std::io::stdin()
            .lock()
            .lines()
            .collect::<std::io::Result<_>>()
            .context("cannot read commands from stdin");
    }
    let text = std::fs::read_to_string(script).map_err(|err| {
        UsageError(format!(
            "cannot read the commands {}: {}",
            script.display(),
            io_message(&err)
        ))
    })?;
    Ok(text.lines().map(str::to_owned).collect())
}

/// What the session opened, in a few lines.
fn banner(session: &Session, path: &Path) -> String {
    let events: u64 = session
        .trace
        .threads
        .values()
        .map(|index| u64::from(index.len()))
        .sum();
    let threads = session.trace.threads.len();
    let mut out = format!(
        "{}: {events} events in {threads} thread{} ({})",
        path.display(),
        if threads == 1 { "" } else { "s" },
        session.origin
    );
    for note in &session.notes {
        out.push_str("\nnote: ");
        out.push_str(note);
    }
    if let Some(pos) = session.pos() {
        out.push('\n');
        out.push_str(&commands::place(session, pos));
    }
    out
}
