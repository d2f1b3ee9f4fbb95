//! `rewind-bench`: runs the shared Python workloads under each runner, several
//! times each and interleaved, and prints medians and ratios as Markdown.
//!
//! The runners:
//! - `cpython`: the real CPython binary (not a shim on the PATH, which adds
//!   its own start-up to every run);
//! - `native`: the Python guest crate built for the host, the same VM without
//!   WebAssembly: the limit the wasm build can reach;
//! - `rewind`: `rewind run`, the wasm guest in the sandbox, in each
//!   recording mode: `off`, the default `on-event`, `continuous` (whose
//!   stream gives the log's size), and live tracing (`--trace`);
//! - `rewind --python cpython`: the CPython guest, off, on-event and traced.
//!
//! Every runner's output is compared with CPython's, so a runner that
//! computes a wrong result is reported rather than timed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Parser;

mod collector;
mod corpus;
mod debugger;
mod past;
mod serve;

/// The `q` quantile (0 to 1) of `sorted`, nearest rank below.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q) as usize)
        .copied()
        .unwrap_or_default()
}

/// Benchmark `rewind run` against CPython and native RustPython.
#[derive(Debug, Parser)]
#[command(name = "rewind-bench", about)]
struct Args {
    /// Runs of each workload under each runner; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,

    /// Runs of the hello-world script for start-up time.
    #[arg(long, default_value_t = 20)]
    startup_runs: usize,

    /// The directory of workloads (`*.py`); by default the shared ones and
    /// the project's own in `host/bench/python`.
    #[arg(long, value_name = "DIR")]
    workloads: Option<PathBuf>,

    /// Only the workloads whose file name contains one of these.
    #[arg(long = "only", value_name = "NAME")]
    only: Vec<String>,

    /// Runs of each workload with live tracing, which is 3-110x slower;
    /// 0 leaves tracing out.
    #[arg(long, default_value_t = 1)]
    trace_runs: usize,

    /// Runs of each workload ending in a crash: recorded, opened in the
    /// debugger (`rewind replay --commands`, the last 10,000 events) and
    /// materialized in full (`--materialize --full`); 0 leaves this out.
    #[arg(long, default_value_t = 3)]
    materialize_runs: usize,

    /// As `--materialize-runs`, on the CPython guest, whose tracer (Python
    /// code over `sys.monitoring`) is 30-100x slower.
    #[arg(long, default_value_t = 1)]
    cpython_materialize_runs: usize,

    /// Events in the synthetic recording the debugger opens and moves
    /// through; 0 leaves the debugger out.
    #[arg(long, default_value_t = 5_000_000)]
    debugger_events: u64,

    /// Measure the debugger only, not the workloads.
    #[arg(long)]
    debugger_only: bool,

    /// Events in the real recording where `print EXPR` is timed at the
    /// start, the middle and the end, against the re-execution to each;
    /// 0 leaves expressions in the past out.
    #[arg(long, default_value_t = 5_000_000)]
    past_events: u64,

    /// Runs of each expression in the past (and of its re-execution).
    #[arg(long, default_value_t = 3)]
    past_runs: usize,

    /// Measure expressions in the past only.
    #[arg(long)]
    past_only: bool,

    /// Concurrent streams the collector takes under load; 0 leaves the
    /// collector out.
    #[arg(long, default_value_t = 32)]
    collector_runtimes: usize,

    /// How long the collector is kept under load.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    collector_seconds: f64,

    /// Measure the collector only.
    #[arg(long)]
    collector_only: bool,

    /// How long `rewind serve` is kept under load in each recording mode;
    /// 0 leaves it out.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    serve_seconds: f64,

    /// Measure `rewind serve` only.
    #[arg(long)]
    serve_only: bool,

    /// Run the compatibility corpus (`tests/corpus`) only: each entry
    /// under CPython and `rewind run`, the pass rate and the median time
    /// ratio; `--only` restricts the entries.
    #[arg(long)]
    corpus: bool,
}

/// A way to run a Python script.
struct Runner {
    name: &'static str,
    program: PathBuf,
    prefix: Vec<String>,
    /// Arguments after the script path.
    suffix: fn(&Path) -> Vec<String>,
    /// Where the runner's recordings go: their size is measured, then they
    /// are deleted.
    out: Option<PathBuf>,
    /// Runs per workload, when not `--runs`.
    runs: Option<usize>,
}

/// One timed run.
struct Timed {
    elapsed: Duration,
    stdout: String,
    /// Bytes of recordings the run wrote.
    recorded: u64,
}

impl Runner {
    fn command(&self, script: &Path) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.prefix);
        if let Some(out) = &self.out {
            command.arg("--out").arg(out);
        }
        command.args((self.suffix)(script));
        command.stdin(Stdio::null());
        command
    }

    /// A `rewind run` runner with extra flags.
    fn rewind_with(&self, name: &'static str, flags: &[&str], scratch: &Path) -> Runner {
        let mut prefix = self.prefix.clone();
        prefix.extend(flags.iter().map(|flag| flag.to_string()));
        Runner {
            name,
            program: self.program.clone(),
            prefix,
            suffix: self.suffix,
            out: Some(scratch.join(name.replace(' ', "-"))),
            runs: None,
        }
    }

    /// One timed run: wall time, stdout, and bytes recorded.
    fn time(&self, script: &Path) -> Result<Timed> {
        let start = Instant::now();
        let output = self
            .command(script)
            .output()
            .with_context(|| format!("starting {}", self.name))?;
        let elapsed = start.elapsed();
        let recorded = match &self.out {
            Some(out) => take_recordings(out)?,
            None => 0,
        };
        if !output.status.success() {
            bail!(
                "{} failed on {}: {}\n{}",
                self.name,
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(Timed {
            elapsed,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            recorded,
        })
    }
}

/// The size of the recordings in `dir`, which are then removed.
fn take_recordings(dir: &Path) -> Result<u64> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut bytes = 0;
    for entry in entries {
        let path = entry?.path();
        bytes += std::fs::metadata(&path)?.len();
        std::fs::remove_file(&path)?;
    }
    Ok(bytes)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The shared workloads, and the project's own (`host/bench/python`:
    // decimal-heavy programs).
    let workloads_dirs = match &args.workloads {
        Some(dir) => vec![dir.clone()],
        None => vec![
            root.join("../shared/bench/python"),
            root.join("host/bench/python"),
        ],
    };
    let mut workloads: Vec<PathBuf> = Vec::new();
    for dir in &workloads_dirs {
        for entry in std::fs::read_dir(dir)
            .with_context(|| format!("reading workloads in {}", dir.display()))?
        {
            workloads.push(entry?.path());
        }
    }
    workloads.retain(|path| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        path.extension().is_some_and(|ext| ext == "py")
            && (args.only.is_empty() || args.only.iter().any(|only| name.contains(only.as_str())))
    });
    workloads.sort();
    if workloads.is_empty() && !args.corpus {
        bail!("no workloads in {}", workloads_dirs[0].display());
    }

    let scratch = tempdir()?;
    let rewind = rewind(&root)?;
    if args.corpus {
        corpus::measure(&root, &rewind.program, &scratch, &args.only)?;
        let _ = std::fs::remove_dir_all(&scratch);
        return Ok(());
    }
    if args.serve_seconds > 0.0 && !args.past_only && (args.serve_only || !args.collector_only) {
        let duration = std::time::Duration::from_secs_f64(args.serve_seconds);
        let (workers, connections) = (2, 16);
        eprintln!(
            "loading rewind serve for {:.0} s per mode",
            duration.as_secs_f64()
        );
        let figures = serve::measure(&rewind.program, &scratch, workers, connections, duration)?;
        serve::print(&figures, workers, connections);
        if args.serve_only {
            let _ = std::fs::remove_dir_all(&scratch);
            return Ok(());
        }
    }
    if args.collector_runtimes > 0 && !args.past_only {
        let duration = std::time::Duration::from_secs_f64(args.collector_seconds.max(0.1));
        eprintln!(
            "loading the collector with {} streams for {:.0} s",
            args.collector_runtimes,
            duration.as_secs_f64()
        );
        let figures =
            collector::measure(&rewind.program, &scratch, args.collector_runtimes, duration)?;
        collector::print(&figures);
        if args.collector_only {
            let _ = std::fs::remove_dir_all(&scratch);
            return Ok(());
        }
    }
    if args.debugger_events > 0 && !args.collector_only && !args.past_only {
        eprintln!(
            "measuring the debugger on {} events ({} runs)",
            args.debugger_events, args.runs
        );
        let figures =
            debugger::measure(&rewind.program, &scratch, args.debugger_events, args.runs)?;
        debugger::print(&figures, args.runs);
    }
    if args.debugger_only {
        let _ = std::fs::remove_dir_all(&scratch);
        return Ok(());
    }
    if args.past_events > 0 {
        eprintln!(
            "measuring expressions in the past on {} events ({} runs)",
            args.past_events, args.past_runs
        );
        let figures = past::measure(&rewind.program, &scratch, args.past_events, args.past_runs)?;
        past::print(&figures, args.past_runs.max(1));
    }
    if args.past_only {
        let _ = std::fs::remove_dir_all(&scratch);
        return Ok(());
    }
    let mut traced = rewind.rewind_with("rewind --trace", &["--trace"], &scratch);
    traced.runs = Some(args.trace_runs);
    let mut cpython_traced = rewind.rewind_with(
        "rewind --python cpython --trace",
        &["--python", "cpython", "--trace"],
        &scratch,
    );
    cpython_traced.runs = Some(args.trace_runs);
    // The order matters to the report: see `print_report`.
    let runners = [
        cpython()?,
        native(&root)?,
        rewind.rewind_with("rewind --mode off", &["--mode", "off"], &scratch),
        rewind.rewind_with("rewind (on-event)", &[], &scratch),
        rewind.rewind_with(
            "rewind --mode continuous",
            &["--mode", "continuous"],
            &scratch,
        ),
        traced,
        rewind.rewind_with(
            "rewind --python cpython --mode off",
            &["--python", "cpython", "--mode", "off"],
            &scratch,
        ),
        rewind.rewind_with(
            "rewind --python cpython (on-event)",
            &["--python", "cpython"],
            &scratch,
        ),
        cpython_traced,
    ];
    let hello = scratch.join("hello.py");
    std::fs::write(&hello, "print('hi')\n")?;
    // Warm every runner (rewind's compiled-guest cache above all).
    for runner in &runners {
        runner.time(&hello)?;
    }

    eprintln!("measuring start-up ({} runs each)", args.startup_runs);
    let startup: Vec<Duration> = measure(&runners, &hello, args.startup_runs)?
        .into_iter()
        .map(|m| m.elapsed)
        .collect();

    let mut rows = Vec::new();
    for workload in &workloads {
        let name = workload.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("measuring {name} ({} runs each)", args.runs);
        rows.push((name, measure(&runners, workload, args.runs)?));
    }

    print_report(&runners, &startup, &rows, &args);
    for (python, runs, off, trace) in [
        ("rustpython", args.materialize_runs, 2, 5),
        ("cpython", args.cpython_materialize_runs, 6, 8),
    ] {
        if runs == 0 {
            continue;
        }
        let mut materialized = Vec::new();
        for workload in &workloads {
            let name = workload.file_name().unwrap().to_string_lossy().into_owned();
            eprintln!("materializing {name}'s crash on the {python} guest ({runs} runs)");
            let measured = materialize(&rewind.program, python, workload, &scratch, runs)?;
            materialized.push((name, measured));
        }
        print_materialization(&materialized, &rows, python, runs, (off, trace));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// A runner's medians on one script.
#[derive(Clone, Copy)]
struct Measured {
    elapsed: Duration,
    recorded: u64,
}

/// Median wall time of each runner on `script`, runs interleaved so that a
/// noisy moment of the machine does not fall on one runner only.
fn measure(runners: &[Runner], script: &Path, runs: usize) -> Result<Vec<Measured>> {
    let mut times = vec![Vec::with_capacity(runs); runners.len()];
    let mut recorded = vec![Vec::with_capacity(runs); runners.len()];
    let mut expected = None;
    for run in 0..runs {
        for (i, runner) in runners.iter().enumerate() {
            if run >= runner.runs.unwrap_or(runs).min(runs) {
                continue;
            }
            let timed = runner.time(script)?;
            match &expected {
                None => expected = Some(timed.stdout),
                Some(expected) if *expected != timed.stdout => bail!(
                    "{} printed {:?} on {}, CPython printed {expected:?}",
                    runner.name,
                    timed.stdout,
                    script.display()
                ),
                Some(_) => {}
            }
            times[i].push(timed.elapsed);
            recorded[i].push(timed.recorded);
        }
    }
    Ok(times
        .into_iter()
        .zip(recorded)
        .map(|(times, mut recorded)| {
            recorded.sort();
            match times.is_empty() {
                // A runner left out (`--trace-runs 0`).
                true => Measured {
                    elapsed: Duration::ZERO,
                    recorded: 0,
                },
                false => Measured {
                    elapsed: median(times),
                    recorded: recorded[recorded.len() / 2],
                },
            }
        })
        .collect())
}

/// What reading back a workload's crash recording costs, medians.
struct Materialized {
    /// The recorded run (on-event mode, ending in the crash).
    run: Duration,
    /// `rewind replay CRASH --commands`: from nothing materialized to the
    /// debugger's first answer, with the default window.
    open: Duration,
    /// `rewind replay --materialize --full`: every event of the run.
    full: Duration,
    events: u64,
    /// Bytes of the full materialization's events file.
    bytes: u64,
}

/// Records `workload` with a crash appended at its end (the default
/// on-event mode), timing the run; then times opening the crash in the
/// debugger (`rewind replay --commands`, which materializes the default
/// window: the last 10,000 events) and a full materialization.
fn materialize(
    rewind: &Path,
    python: &str,
    workload: &Path,
    scratch: &Path,
    runs: usize,
) -> Result<Materialized> {
    let stem = workload.file_stem().unwrap_or_default().to_string_lossy();
    let script = scratch.join(format!("{stem}_crash.py"));
    let mut text = std::fs::read_to_string(workload)?;
    text.push_str("\nraise RuntimeError('rewind-bench: a crash at the end')\n");
    std::fs::write(&script, text)?;
    let commands = scratch.join("where.commands");
    std::fs::write(&commands, "where\n")?;
    let out = scratch.join(format!("{stem}-materialize"));

    let mut run_times = Vec::new();
    let mut crash = None;
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(&out);
        let start = Instant::now();
        let recorded = Command::new(rewind)
            .args([
                "run",
                "--python",
                python,
                "--timeout",
                "none",
                "--buffer-events",
                "10000",
                "--out",
            ])
            .arg(&out)
            .arg(&script)
            .stdin(Stdio::null())
            .output()?;
        run_times.push(start.elapsed());
        if recorded.status.code() != Some(1) {
            bail!("recording {} did not crash: {recorded:?}", script.display());
        }
        crash = std::fs::read_dir(&out)?
            .flatten()
            .map(|entry| entry.path())
            .find(|path| path.to_string_lossy().ends_with("-crash.rwd"));
    }
    let crash = crash.context("the crash recording")?;
    // `NAME.events.rwd` beside `NAME.rwd`.
    let sidecar = crash.with_extension("events.rwd");

    let mut open_times = Vec::new();
    for _ in 0..runs {
        let _ = std::fs::remove_file(&sidecar);
        let start = Instant::now();
        let output = Command::new(rewind)
            .args(["replay", "--commands"])
            .arg(&commands)
            .arg(&crash)
            .stdin(Stdio::null())
            .output()?;
        open_times.push(start.elapsed());
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !stdout.contains("materialized by re-execution") {
            bail!(
                "opening {} did not materialize its events: {stdout}{}",
                crash.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    let mut full_times = Vec::new();
    let (mut events, mut bytes) = (0, 0);
    for _ in 0..runs {
        let _ = std::fs::remove_file(&sidecar);
        let start = Instant::now();
        let output = Command::new(rewind)
            .args(["replay", "--materialize", "--full"])
            .arg(&crash)
            .stdin(Stdio::null())
            .output()?;
        full_times.push(start.elapsed());
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!("materializing {} failed: {stderr}", crash.display());
        }
        // "rewind: materialized N events (...)"
        events = stderr
            .split_whitespace()
            .skip_while(|word| *word != "materialized")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .context("the materialized event count")?;
        bytes = std::fs::metadata(&sidecar)?.len();
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(Materialized {
        run: median(run_times),
        open: median(open_times),
        full: median(full_times),
        events,
        bytes,
    })
}

fn print_materialization(
    materialized: &[(String, Materialized)],
    rows: &[(String, Vec<Measured>)],
    python: &str,
    runs: usize,
    (off, traced): (usize, usize),
) {
    println!(
        "\nReading a crash back on the {python} guest: each workload with a crash at its end, \
         recorded in the default on-event mode (run); opened in the debugger, `rewind replay \
         CRASH --commands` with nothing materialized yet, which re-executes the run keeping the \
         last 10,000 events (open); and `rewind replay --materialize --full`, every event of the \
         run (full). Medians of {runs} runs each; `--trace` / off from the tables above.\n"
    );
    println!(
        "| workload | run (s) | open (s) | open / run | full (s) | full / run | events | events/s | bytes/event | --trace / off |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (mut opens, mut fulls, mut rates, mut sizes, mut traces) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((name, m), (_, measured)) in materialized.iter().zip(rows) {
        let run = m.run.as_secs_f64();
        let open = m.open.as_secs_f64() / run;
        let full = m.full.as_secs_f64() / run;
        let rate = m.events as f64 / m.full.as_secs_f64();
        let size = m.bytes as f64 / m.events.max(1) as f64;
        let trace = measured[traced].elapsed.as_secs_f64() / measured[off].elapsed.as_secs_f64();
        println!(
            "| {name} | {run:.2} | {:.2} | {open:.2}x | {:.2} | {full:.2}x | {} | {:.2} M | {size:.2} | {} |",
            m.open.as_secs_f64(),
            m.full.as_secs_f64(),
            m.events,
            rate / 1e6,
            match measured[traced].elapsed.is_zero() {
                true => "-".to_owned(),
                false => format!("{trace:.2}x"),
            }
        );
        opens.push(open);
        fulls.push(full);
        rates.push(rate);
        sizes.push(size);
        if !measured[traced].elapsed.is_zero() {
            traces.push(trace);
        }
    }
    let worst = |values: &[f64]| values.iter().copied().fold(0.0, f64::max);
    println!(
        "\nMedian open / run: {:.2}x (worst {:.2}x); full / run: {:.2}x (worst {:.2}x); \
         full materialization: {:.2} M events/s, {:.2} bytes/event (worst {:.2}); --trace / off: {}",
        median_f64(opens.clone()),
        worst(&opens),
        median_f64(fulls.clone()),
        worst(&fulls),
        median_f64(rates) / 1e6,
        median_f64(sizes.clone()),
        worst(&sizes),
        match traces.is_empty() {
            true => "-".to_owned(),
            false => format!("{:.2}x", median_f64(traces)),
        }
    );
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn median_f64(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn print_report(
    runners: &[Runner],
    startup: &[Duration],
    rows: &[(String, Vec<Measured>)],
    args: &Args,
) {
    let secs = |d: Duration| format!("{:.3}", d.as_secs_f64());
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    // The VM's speed alone: each runner's start-up taken off its time.
    let compute = |time: Duration, runner: usize| time.saturating_sub(startup[runner]);
    // Runners, in the order of `main`.
    const CPYTHON: usize = 0;
    const NATIVE: usize = 1;
    const OFF: usize = 2;
    const ON_EVENT: usize = 3;
    const CONTINUOUS: usize = 4;
    const TRACE: usize = 5;

    println!(
        "Medians of {} runs ({} with --trace), interleaved; wall time in seconds. \
         \"compute\" takes each runner's start-up (below) off its time.\n",
        args.runs, args.trace_runs
    );
    println!("## The VM: `rewind run --mode off` against CPython and native RustPython\n");
    println!(
        "| workload | CPython | native RustPython | rewind run | rewind / native | rewind / native, compute | rewind / CPython | native / CPython |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut by_native = Vec::new();
    let mut by_native_compute = Vec::new();
    let mut by_cpython = Vec::new();
    let mut native_by_cpython = Vec::new();
    for (name, m) in rows {
        let (cpython, native, rewind) = (m[CPYTHON].elapsed, m[NATIVE].elapsed, m[OFF].elapsed);
        let compute_ratio = ratio(compute(rewind, OFF), compute(native, NATIVE));
        by_native.push(ratio(rewind, native));
        by_native_compute.push(compute_ratio);
        by_cpython.push(ratio(rewind, cpython));
        native_by_cpython.push(ratio(native, cpython));
        println!(
            "| {name} | {} | {} | {} | {:.2}x | {compute_ratio:.2}x | {:.2}x | {:.2}x |",
            secs(cpython),
            secs(native),
            secs(rewind),
            ratio(rewind, native),
            ratio(rewind, cpython),
            ratio(native, cpython),
        );
    }
    let worst = by_native.iter().copied().fold(0.0, f64::max);
    let worst_compute = by_native_compute.iter().copied().fold(0.0, f64::max);
    println!(
        "| **median** | | | | **{:.2}x** | **{:.2}x** | **{:.2}x** | **{:.2}x** |",
        median_f64(by_native),
        median_f64(by_native_compute),
        median_f64(by_cpython),
        median_f64(native_by_cpython)
    );
    println!("\nWorst rewind / native: {worst:.2}x (compute: {worst_compute:.2}x).\n");

    println!("## Recording cost: each mode against `--mode off`\n");
    println!(
        "| workload | off | on-event | on-event / off | continuous | continuous / off | log bytes/s | --trace | --trace / off |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut on_event = Vec::new();
    let mut continuous = Vec::new();
    let mut traced = Vec::new();
    for (name, m) in rows {
        let off = m[OFF].elapsed;
        on_event.push(ratio(m[ON_EVENT].elapsed, off));
        continuous.push(ratio(m[CONTINUOUS].elapsed, off));
        let (trace_time, trace_ratio) = match m[TRACE].elapsed.is_zero() {
            true => ("—".to_owned(), "—".to_owned()),
            false => {
                traced.push(ratio(m[TRACE].elapsed, off));
                (
                    secs(m[TRACE].elapsed),
                    format!("{:.1}x", ratio(m[TRACE].elapsed, off)),
                )
            }
        };
        let rate = m[CONTINUOUS].recorded as f64 / m[CONTINUOUS].elapsed.as_secs_f64();
        println!(
            "| {name} | {} | {} | {:.3}x | {} | {:.3}x | {} | {trace_time} | {trace_ratio} |",
            secs(off),
            secs(m[ON_EVENT].elapsed),
            ratio(m[ON_EVENT].elapsed, off),
            secs(m[CONTINUOUS].elapsed),
            ratio(m[CONTINUOUS].elapsed, off),
            bytes_per_sec(rate),
        );
    }
    let traced = match traced.is_empty() {
        true => "—".to_owned(),
        false => format!("**{:.1}x**", median_f64(traced)),
    };
    println!(
        "| **median** | | | **{:.3}x** | | **{:.3}x** | | | {traced} |",
        median_f64(on_event),
        median_f64(continuous),
    );
    println!(
        "\nLog bytes/s: the continuous stream's size (the whole input log and markers) over the run's wall time.\n"
    );

    print_cpython_guest(rows, &ratio, &secs);

    println!(
        "Start-up, `print('hi')`, median of {} runs:\n",
        args.startup_runs
    );
    println!("| runner | wall time |");
    println!("|---|---|");
    for (runner, time) in runners.iter().zip(startup) {
        if !time.is_zero() {
            println!(
                "| {} | {:.1} ms |",
                runner.name,
                time.as_secs_f64() * 1000.0
            );
        }
    }
}

/// The CPython guest (`--python cpython`) beside native CPython and the
/// RustPython guest: speed with recording off, the default on-event mode's
/// cost, and live tracing's.
fn print_cpython_guest(
    rows: &[(String, Vec<Measured>)],
    ratio: &dyn Fn(Duration, Duration) -> f64,
    secs: &dyn Fn(Duration) -> String,
) {
    const CPYTHON: usize = 0;
    const RUSTPYTHON_OFF: usize = 2;
    const RUSTPYTHON_TRACE: usize = 5;
    const OFF: usize = 6;
    const ON_EVENT: usize = 7;
    const TRACE: usize = 8;
    println!("## The CPython guest: `rewind run --python cpython`\n");
    println!(
        "| workload | CPython | CPython guest, off | RustPython guest, off | CPython guest / CPython | RustPython guest / CPython guest | on-event / off | --trace / off | RustPython --trace / off |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let (mut by_native, mut rust_by_guest, mut on_event, mut traced, mut rust_traced) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (name, m) in rows {
        let off = m[OFF].elapsed;
        by_native.push(ratio(off, m[CPYTHON].elapsed));
        rust_by_guest.push(ratio(m[RUSTPYTHON_OFF].elapsed, off));
        on_event.push(ratio(m[ON_EVENT].elapsed, off));
        let trace = |at: usize, base: usize, into: &mut Vec<f64>| match m[at].elapsed.is_zero() {
            true => "—".to_owned(),
            false => {
                let r = ratio(m[at].elapsed, m[base].elapsed);
                into.push(r);
                format!("{r:.1}x")
            }
        };
        let trace_ratio = trace(TRACE, OFF, &mut traced);
        let rust_trace_ratio = trace(RUSTPYTHON_TRACE, RUSTPYTHON_OFF, &mut rust_traced);
        println!(
            "| {name} | {} | {} | {} | {:.2}x | {:.2}x | {:.3}x | {trace_ratio} | {rust_trace_ratio} |",
            secs(m[CPYTHON].elapsed),
            secs(off),
            secs(m[RUSTPYTHON_OFF].elapsed),
            ratio(off, m[CPYTHON].elapsed),
            ratio(m[RUSTPYTHON_OFF].elapsed, off),
            ratio(m[ON_EVENT].elapsed, off),
        );
    }
    let median_or_dash = |values: Vec<f64>| match values.is_empty() {
        true => "—".to_owned(),
        false => format!("**{:.1}x**", median_f64(values)),
    };
    println!(
        "| **median** | | | | **{:.2}x** | **{:.2}x** | **{:.3}x** | {} | {} |\n",
        median_f64(by_native),
        median_f64(rust_by_guest),
        median_f64(on_event),
        median_or_dash(traced),
        median_or_dash(rust_traced),
    );
}

fn bytes_per_sec(rate: f64) -> String {
    if rate >= 1024.0 * 1024.0 {
        format!("{:.1} MiB/s", rate / (1024.0 * 1024.0))
    } else if rate >= 1024.0 {
        format!("{:.1} KiB/s", rate / 1024.0)
    } else {
        format!("{rate:.0} B/s")
    }
}

/// The real CPython binary, as `sys.executable` names it.
fn cpython() -> Result<Runner> {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .context("running python3 to find the real CPython binary")?;
    let program = PathBuf::from(String::from_utf8(output.stdout)?.trim());
    if !program.is_file() {
        bail!("python3 reports its executable as {program:?}, which does not exist");
    }
    Ok(Runner {
        name: "CPython",
        program,
        prefix: vec![],
        suffix: |script| vec![script.display().to_string()],
        out: None,
        runs: None,
    })
}

/// The Python guest crate built for the host, in release, by cargo.
fn native(root: &Path) -> Result<Runner> {
    let target_dir = root.join("target/rewind-guests-native");
    eprintln!("building the Python guest natively (the first time takes minutes)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root.join("guest"))
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "rewind-python",
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .context("running cargo to build the native Python guest")?;
    if !status.success() {
        bail!("building the native Python guest failed");
    }
    Ok(Runner {
        name: "native RustPython",
        program: target_dir.join("release/rewind-python"),
        prefix: vec![],
        suffix: |script| {
            let path = script.display().to_string();
            vec!["--script".into(), path.clone(), "--".into(), path]
        },
        out: None,
        runs: None,
    })
}

/// `rewind run`, built in release beside this binary.
fn rewind(root: &Path) -> Result<Runner> {
    eprintln!("building rewind");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "--release", "--locked", "--bin", "rewind"])
        .status()
        .context("running cargo to build rewind")?;
    if !status.success() {
        bail!("building rewind failed");
    }
    Ok(Runner {
        name: "rewind run",
        program: root.join("target/release/rewind"),
        prefix: vec!["run".into(), "--timeout".into(), "none".into()],
        suffix: |script| vec![script.display().to_string()],
        out: None,
        runs: None,
    })
}

fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("rewind-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
