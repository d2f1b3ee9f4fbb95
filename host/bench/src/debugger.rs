//! The debugger on a recording of millions of events: time to open it
//! (read and index), and the time of a step, a next and a reverse-continue
//! across it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use rewind_debugger::commands;
use rewind_debugger::index::Trace;
use rewind_debugger::session::Session;
use rewind_format::Writer;
use rewind_format::model::{End, Event, Header, Mode, Source};

use crate::median;

/// The program the synthetic recording pretends to trace: a loop calling a
/// small function, five events an iteration.
const PROGRAM: &str = "\
def work(i):
    acc = i * 2
    return acc + 1

total = 0
for i in range(N):
    total += work(i)
";

/// Writes a live-traced recording of `events` events to `path`.
pub fn write_recording(path: &Path, events: u64) -> Result<()> {
    let header = Header {
        recording_id: [3; 16],
        created_unix_ms: 0,
        guest_name: "python".into(),
        guest_digest: "sha256:bench".into(),
        mode: Mode::Continuous,
        settings: Vec::new(),
    };
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = Writer::new(std::io::BufWriter::new(file), &header)?;
    let script = "/bench/loop.py".to_owned();
    writer.source(&Source {
        path: script.clone(),
        text: PROGRAM.into(),
    })?;
    let pair = |name: &str, value: u64| (name.to_owned(), value.to_string());
    let mut batch = vec![
        Event::Call {
            function: "<module>".into(),
            file: script.clone(),
            line: 0,
            args: Vec::new(),
        },
        Event::Line {
            line: 5,
            changed: Vec::new(),
        },
    ];
    let mut written = 0u64;
    let mut i = 0u64;
    let mut total = 0u64;
    while written + (batch.len() as u64) < events {
        batch.push(Event::Line {
            line: 6,
            changed: vec![pair("i", i), pair("total", total)],
        });
        batch.push(Event::Call {
            function: "work".into(),
            file: script.clone(),
            line: 1,
            args: vec![pair("i", i)],
        });
        batch.push(Event::Line {
            line: 2,
            changed: Vec::new(),
        });
        batch.push(Event::Line {
            line: 3,
            changed: vec![pair("acc", i * 2)],
        });
        batch.push(Event::Return {
            value: (i * 2 + 1).to_string(),
        });
        total += i * 2 + 1;
        i += 1;
        if batch.len() >= 4096 {
            writer.events(0, written, &batch)?;
            written += batch.len() as u64;
            batch.clear();
        }
    }
    writer.events(0, written, &batch)?;
    writer.end(&End { exit_code: Some(0) })?;
    Ok(())
}

pub struct Figures {
    pub events: u64,
    pub bytes: u64,
    pub open: Duration,
    pub step: Duration,
    pub next: Duration,
    pub reverse_step: Duration,
    pub breakpoint: Duration,
    pub reverse_continue: Duration,
    pub process_open: Duration,
}

/// Medians of `runs` measurements of each operation.
pub fn measure(rewind: &Path, scratch: &Path, events: u64, runs: usize) -> Result<Figures> {
    let path = scratch.join("debugger-bench.rwd");
    write_recording(&path, events)?;
    let bytes = std::fs::metadata(&path)?.len();
    let runs = runs.max(1);

    let open = || -> Result<Session> {
        let data = std::fs::read(&path)?;
        let (recording, trace) = Trace::build(data)?;
        Ok(Session::new(
            recording,
            trace,
            &[],
            "bench".into(),
            Vec::new(),
        ))
    };
    let mut opens = Vec::new();
    let mut session = None;
    for _ in 0..runs {
        let start = Instant::now();
        let opened = open()?;
        opens.push(start.elapsed());
        session = Some(opened);
    }
    let mut session = session.expect("at least one run");
    let len = session.index().map_or(0, |index| index.len());

    // Commands from the middle, each answered in full (the move, the
    // place, the source line): a batch of them per sample.
    let per_step = |session: &mut Session, command: &str| {
        let mut samples = Vec::new();
        for _ in 0..runs {
            session.seek(len / 2);
            let start = Instant::now();
            for _ in 0..1000 {
                std::hint::black_box(commands::run(session, command));
            }
            samples.push(start.elapsed() / 1000);
        }
        median(samples)
    };
    let step = per_step(&mut session, "step");
    let next = per_step(&mut session, "next");
    let reverse_step = per_step(&mut session, "reverse-step");

    // A breakpoint hit once, at the start: reverse-continue from the end
    // crosses every event.
    let start = Instant::now();
    session
        .add_breakpoint("loop.py", 5)
        .map_err(anyhow::Error::msg)?;
    let breakpoint = start.elapsed();
    let mut reverse = Vec::new();
    for _ in 0..runs {
        session.seek(u32::MAX);
        let start = Instant::now();
        let answer = commands::run(&mut session, "reverse-continue");
        reverse.push(start.elapsed());
        anyhow::ensure!(
            session.pos() == Some(1) && answer.starts_with("breakpoint 1"),
            "reverse-continue did not stop at the breakpoint: {answer}"
        );
    }

    // The whole command: a process opening the recording and answering.
    let script = scratch.join("debugger-bench.commands");
    std::fs::write(&script, "where\n")?;
    let mut process = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let out = std::process::Command::new(rewind)
            .arg("replay")
            .arg(&path)
            .arg("--commands")
            .arg(&script)
            .output()?;
        process.push(start.elapsed());
        anyhow::ensure!(
            out.status.success(),
            "rewind replay failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_file(&path);
    Ok(Figures {
        events: u64::from(len),
        bytes,
        open: median(opens),
        step,
        next,
        reverse_step,
        breakpoint,
        reverse_continue: median(reverse),
        process_open: median(process),
    })
}

pub fn print(figures: &Figures, runs: usize) {
    println!(
        "\nDebugger: a live-traced recording of {} events ({:.1} MB, a loop calling a function), \
         median of {runs} runs.\n",
        figures.events,
        figures.bytes as f64 / 1e6
    );
    println!("| operation | time |");
    println!("|---|---:|");
    println!(
        "| open (read + index), in process | {:.0} ms |",
        ms(figures.open)
    );
    println!(
        "| `rewind replay FILE --commands` (process, open + `where`) | {:.0} ms |",
        ms(figures.process_open)
    );
    println!("| `step`, answered | {:.2} µs |", us(figures.step));
    println!(
        "| `next` (over a call), answered | {:.2} µs |",
        us(figures.next)
    );
    println!(
        "| `reverse-step`, answered | {:.2} µs |",
        us(figures.reverse_step)
    );
    println!(
        "| break (find every hit of a line) | {:.1} ms |",
        ms(figures.breakpoint)
    );
    println!(
        "| `reverse-continue` across all events, answered | {:.2} µs |",
        us(figures.reverse_continue)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
