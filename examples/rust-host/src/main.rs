//! A program that embeds wasmtime and records the component it runs with
//! Rewind's recorder, as any host of its own would: its store's data keeps
//! the recorder's state next to WASI's, and its linker gets the recorder
//! after WASI. When the guest is done, it reads every recording written
//! and prints its threads, events (with their values) and crashes; with
//! `--check` it also re-executes each one.
//!
//! ```text
//! rewind-example-host [--out DIR] [--mode MODE] [--events N] [--check] GUEST.wasm [ARGS]...
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::{Context as _, Result};
use clap::Parser;
use rewind_runtime::format::Recording;
use rewind_runtime::format::model::{CrashReason, Event};
use rewind_runtime::{
    ComponentSource, Mode, Outcome, Recorder, RecorderCtx, RecorderEvent, RecorderView,
    RecordingConfig, RecordingFile, ReplayOptions, ReplayTimeout, Runtime, Sandbox,
};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Runs a WASI command component with Rewind's recorder embedded, then
/// prints what each recording it wrote holds.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Where recordings are written.
    #[arg(long, value_name = "DIR", default_value = "rewind-recordings")]
    out: PathBuf,
    /// The recording mode: off, on-event (crashes and snapshots) or
    /// continuous (one stream of the whole run).
    #[arg(long, value_name = "MODE", default_value = "on-event", value_parser = parse_mode)]
    mode: Mode,
    /// How many of each thread's last events to print.
    #[arg(long, value_name = "N", default_value_t = 20)]
    events: usize,
    /// Re-execute each recording and say whether the guest did the same.
    #[arg(long)]
    check: bool,
    /// The guest component (a WASI 0.2 command).
    guest: PathBuf,
    /// Arguments for the guest.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    guest_args: Vec<String>,
}

/// A store's data: WASI's state and the recorder's, side by side.
struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    recorder: RecorderCtx,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl RecorderView for Host {
    fn recorder(&mut self) -> &mut RecorderCtx {
        &mut self.recorder
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rewind-example-host: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.guest)
        .with_context(|| format!("cannot read {}", args.guest.display()))?;
    let name = args.guest.file_stem().map_or_else(
        || "guest".to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    let source = ComponentSource::from_bytes(&name, bytes);

    let engine =
        Engine::new(rewind_runtime::configure(&mut Config::new())).map_err(anyhow::Error::from)?;
    let component = Component::new(&engine, source.bytes())
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{} is not a WebAssembly component", args.guest.display()))?;
    let mut linker = Linker::<Host>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
    rewind_runtime::add_to_linker_sync(&mut linker)?;

    let mut config = RecordingConfig::new(&source, &args.out);
    config.mode = args.mode;
    // So that `rewind replay` finds the guest too.
    let guest_path = std::path::absolute(&args.guest)?;
    config.settings.push((
        "guest-path".to_owned(),
        guest_path.to_string_lossy().into_owned(),
    ));
    let (written, recordings) = mpsc::channel();
    let recorder = Recorder::new(config, move |event| match event {
        RecorderEvent::Written { path, .. } => {
            let _ = written.send(path.clone());
        }
        RecorderEvent::Failed(why) => eprintln!("rewind-example-host: recording failed: {why}"),
        RecorderEvent::Flushed { .. } => {}
    });

    let thread = recorder.thread();
    let mut argv = vec![name];
    argv.extend(args.guest_args);
    let wasi = Sandbox::new(argv).wasi_builder(&thread)?.build();
    let state = Host {
        wasi,
        table: ResourceTable::new(),
        recorder: RecorderCtx::new(thread.clone()),
    };
    let mut store = Store::new(&engine, state);
    let command = Command::instantiate(&mut store, &component, &linker)
        .map_err(anyhow::Error::from)
        .context("the guest cannot be instantiated")?;
    let result = command.wasi_cli_run().call_run(&mut store);
    let outcome = thread.finish(result);
    match &outcome {
        Outcome::Exited(code) => {
            eprintln!("rewind-example-host: the guest exited with status {code}")
        }
        stopped => eprintln!("rewind-example-host: {stopped}"),
    }

    // In continuous mode a crash is announced in the stream it went into:
    // each file once.
    let mut paths: Vec<PathBuf> = Vec::new();
    for path in recordings.try_iter() {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    let runtime = match args.check {
        true => Some(Runtime::new()?),
        false => None,
    };
    for path in &paths {
        print_recording(path, args.events)?;
        if let Some(runtime) = &runtime {
            check(runtime, &source, path)?;
        }
    }
    if paths.is_empty() {
        println!("no recording was written (mode {})", args.mode);
    }
    Ok(match outcome {
        Outcome::Exited(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Outcome::LimitExceeded(_) | Outcome::Trapped(_) => ExitCode::from(70),
    })
}

/// Prints a recording's header, each thread's last `last` events with the
/// values they carry, and its crashes with every frame's locals.
fn print_recording(path: &Path, last: usize) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let recording =
        Recording::read(&bytes).with_context(|| format!("cannot read {}", path.display()))?;
    let header = &recording.header;
    println!(
        "recording {}: {}, guest {} ({}), {} thread(s)",
        path.display(),
        header.mode,
        header.guest_name,
        header.guest_digest,
        recording.threads.len()
    );
    for (id, thread) in &recording.threads {
        let events: Vec<&Event> = thread.events.iter().flat_map(|run| &run.events).collect();
        println!(
            "thread {id}: {} inputs, {} markers, {} events",
            thread.inputs.len(),
            thread.markers.len(),
            events.len()
        );
        let skip = events.len().saturating_sub(last);
        if skip > 0 {
            println!("  ({skip} earlier events not shown)");
        }
        let mut depth = 0usize;
        for (index, event) in events.iter().enumerate() {
            let shown = index >= skip;
            let indent = "  ".repeat(depth + 1);
            match event {
                Event::Call {
                    function,
                    file,
                    line,
                    args,
                } => {
                    if shown {
                        println!(
                            "{indent}call {function}({}) at {file}:{line}",
                            pairs(args, ", ")
                        );
                    }
                    depth += 1;
                }
                Event::Line { line, changed } if shown => {
                    println!("{indent}line {line}: {}", pairs(changed, " "));
                }
                Event::Return { value } => {
                    depth = depth.saturating_sub(1);
                    if shown {
                        println!("{}return {value}", "  ".repeat(depth + 1));
                    }
                }
                Event::Exception {
                    stage,
                    type_name,
                    message,
                } if shown => {
                    println!("{indent}exception ({stage:?}) {type_name}: {message}");
                }
                _ => {}
            }
        }
    }
    for crash in &recording.crashes {
        let what = match (&crash.exception, &crash.reason) {
            (Some(exception), _) => format!("{}: {}", exception.type_name, exception.message),
            (None, CrashReason::Trap(why) | CrashReason::Limit(why)) => why.clone(),
            (None, reason) => format!("{reason:?}"),
        };
        println!("crash in thread {}: {what}", crash.thread);
        for frame in &crash.frames {
            let at = format!("  at {} ({}:{})", frame.function, frame.file, frame.line);
            match frame.locals.is_empty() {
                true => println!("{at}"),
                false => println!("{at} {}", pairs(&frame.locals, " ")),
            }
        }
    }
    Ok(())
}

/// `name=value` pairs, joined by `separator`.
fn pairs(values: &[(String, String)], separator: &str) -> String {
    values
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(separator)
}

/// Re-executes the recording at `path` with `source`'s guest.
fn check(runtime: &Runtime, source: &ComponentSource, path: &Path) -> Result<()> {
    let file = RecordingFile::open(path)?;
    let component =
        Component::new(runtime.engine(), source.bytes()).map_err(anyhow::Error::from)?;
    let options = ReplayOptions {
        echo_output: false,
        materialize: None,
        progress: None,
        timeout: ReplayTimeout::Derived,
    };
    let replayed = runtime.replay(&component, &file, options)?;
    match replayed.divergence() {
        Some(divergence) => println!("re-executed: {divergence}"),
        None => println!("re-executed: {}", replayed.summary()),
    }
    Ok(())
}

fn parse_mode(name: &str) -> Result<Mode, String> {
    match name {
        "off" => Ok(Mode::Off),
        "on-event" => Ok(Mode::OnEvent),
        "continuous" => Ok(Mode::Continuous),
        _ => Err(format!(
            "{name:?} is not a recording mode (off, on-event, continuous)"
        )),
    }
}
