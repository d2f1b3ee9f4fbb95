//! Expressions in the past on a real recording of millions of events: the
//! time of `print EXPR` at the start, the middle and the end of the run,
//! each against the re-execution to that point.
//!
//! An expression is answered by re-executing the run, traced, up to the
//! event on screen. "The re-execution to that point" is measured, not
//! estimated: the same program run for fewer iterations is, event for
//! event, the big run's prefix up to that point, so materializing it in
//! full is the traced re-execution to there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};

use crate::median;

/// A loop calling a small function, ending in a crash so that the default
/// mode writes a recording.
const PROGRAM: &str = "\
import sys


def work(i, acc):
    acc += i * 2
    return acc


n = int(sys.argv[1])
total = 0
for i in range(n):
    total = work(i, total)
raise RuntimeError(f\"done: {total}\")
";

/// What `print` evaluates: not a plain name, which the debugger answers
/// from the recorded locals without re-executing.
const EXPRESSION: &str = "[i, total]";

/// Where in the run the expression is evaluated, as a share of its events.
const POSITIONS: [(&str, f64); 3] = [("start", 0.01), ("middle", 0.5), ("end", 1.0)];

pub struct Point {
    pub name: &'static str,
    pub event: u64,
    /// The answer, as the debugger printed it.
    pub answer: String,
    /// `print` alone: the session with it less the session without.
    pub print: Duration,
    /// Materializing in full a run that is the big run's prefix to here.
    pub to_here: Duration,
}

pub struct Figures {
    pub events: u64,
    pub run: Duration,
    pub materialize: Duration,
    pub points: Vec<Point>,
}

/// Records `iterations` of the loop into `dir`: the crash recording.
fn record(rewind: &Path, dir: &Path, script: &Path, iterations: u64) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    let out = Command::new(rewind)
        .arg("run")
        .arg("--out")
        .arg(dir)
        .arg(script)
        .arg(iterations.to_string())
        .output()
        .context("starting rewind run")?;
    ensure!(
        out.status.code() == Some(1),
        "the loop did not end in its crash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recording = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.to_string_lossy().ends_with("-crash.rwd"))
        .context("the loop's crash recording")?;
    Ok(recording)
}

/// Materializes `recording` in full: the events and the time it took.
fn materialize(rewind: &Path, recording: &Path) -> Result<(u64, Duration)> {
    let events = recording.with_extension("events.rwd");
    let _ = std::fs::remove_file(&events);
    let start = Instant::now();
    let out = Command::new(rewind)
        .arg("replay")
        .arg(recording)
        .args(["--materialize", "--full"])
        .output()
        .context("starting rewind replay --materialize")?;
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "materializing failed: {stderr}");
    let count = stderr
        .split("materialized ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no event count in: {stderr}"))?;
    Ok((count, elapsed))
}

/// The debugger's session on `recording` with `commands`: its time, and
/// the answer to the last command.
fn session(rewind: &Path, recording: &Path, commands: &Path) -> Result<(Duration, String)> {
    let start = Instant::now();
    let out = Command::new(rewind)
        .arg("replay")
        .arg(recording)
        .arg("--commands")
        .arg(commands)
        .output()
        .context("starting rewind replay --commands")?;
    let elapsed = start.elapsed();
    ensure!(
        out.status.success(),
        "the debugger failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answer = stdout.lines().last().unwrap_or_default().to_owned();
    Ok((elapsed, answer))
}

/// Medians of `runs` measurements at each position of a run of about
/// `events` events.
pub fn measure(rewind: &Path, scratch: &Path, events: u64, runs: usize) -> Result<Figures> {
    let runs = runs.max(1);
    let script = scratch.join("past.py");
    std::fs::write(&script, PROGRAM)?;
    let dir = scratch.join("past");

    // Events per iteration, from two short runs: the tracer decides.
    let mut counts = Vec::new();
    for iterations in [1000, 2000] {
        let recording = record(rewind, &dir, &script, iterations)?;
        counts.push(materialize(rewind, &recording)?.0);
    }
    let per_iteration = (counts[1].saturating_sub(counts[0]) / 1000).max(1);
    let iterations = (events / per_iteration).max(1000);

    // The big run, timed, and its events.
    let big_dir = scratch.join("past-big");
    let start = Instant::now();
    let big = record(rewind, &big_dir, &script, iterations)?;
    let run = start.elapsed();
    let (total, materialized) = materialize(rewind, &big)?;

    let mut points = Vec::new();
    for (name, share) in POSITIONS {
        // The last iteration's events are followed by the crash's few.
        let event = ((total as f64 * share) as u64).clamp(1, total.saturating_sub(10));
        let prefix = ((iterations as f64 * share) as u64).max(1);
        let goto = scratch.join("past-goto.commands");
        let print = scratch.join("past-print.commands");
        std::fs::write(&goto, format!("goto {event}\n"))?;
        std::fs::write(&print, format!("goto {event}\nprint {EXPRESSION}\n"))?;
        let (mut prints, mut to_here) = (Vec::new(), Vec::new());
        let mut answer = String::new();
        for _ in 0..runs {
            let (without, _) = session(rewind, &big, &goto)?;
            let (with, said) = session(rewind, &big, &print)?;
            if !said.starts_with(&format!("{EXPRESSION} = [")) {
                bail!("print {EXPRESSION} at event {event} answered: {said}");
            }
            answer = said;
            prints.push(with.saturating_sub(without));
            let recording = record(rewind, &dir, &script, prefix)?;
            to_here.push(materialize(rewind, &recording)?.1);
        }
        points.push(Point {
            name,
            event,
            answer,
            print: median(prints),
            to_here: median(to_here),
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&big_dir);
    Ok(Figures {
        events: total,
        run,
        materialize: materialized,
        points,
    })
}

pub fn print(figures: &Figures, runs: usize) {
    println!(
        "\nExpressions in the past: `print {EXPRESSION}` in a recording of {} events \
         (the run {:.2} s, materialized in full in {:.2} s), median of {runs} runs. \
         \"To here\" is the traced re-execution of the run up to that event, \
         measured by materializing the same program stopped there.\n",
        figures.events,
        figures.run.as_secs_f64(),
        figures.materialize.as_secs_f64()
    );
    println!("| position | event | print | re-execution to here | print / to here | answer |");
    println!("|---|---:|---:|---:|---:|---|");
    for point in &figures.points {
        println!(
            "| {} | {} | {:.2} s | {:.2} s | {:.2}x | `{}` |",
            point.name,
            point.event,
            point.print.as_secs_f64(),
            point.to_here.as_secs_f64(),
            point.print.as_secs_f64() / point.to_here.as_secs_f64().max(1e-6),
            point.answer
        );
    }
}
