//! A real recording, mutated where re-execution trusts it: its inputs (the
//! values fed back to the guest), its markers (positions, kinds), its
//! crashes and its settings (limits, buffer size). Re-executing it, with or
//! without materializing, and indexing it for the debugger must end in a
//! result or an error — a divergence, a refusal naming the input, a time
//! bound — never a panic, and never run past the bound.
//!
//! The fuzzer's bytes are a program of edits applied to one of the seed
//! recordings (`REWIND_FUZZ_SEEDS`: a directory of `.rwd` files made by
//! `rewind run`), so that every run reaches re-execution with a recording
//! that decodes, instead of stopping at a checksum. The guest is the one the
//! seeds were recorded with (`REWIND_FUZZ_GUEST`: its `.wasm`).

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rewind_format::model::{Bytes, CrashReason, Input, MarkerKind};
use rewind_format::{Recording, Writer};
use rewind_runtime::{
    Component, ComponentCache, ComponentSource, Materialize, RecordingFile, ReplayOptions,
    ReplayTimeout, Runtime,
};

struct World {
    runtime: Runtime,
    component: Component,
    seeds: Vec<Recording>,
    dir: PathBuf,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let guest =
            std::env::var_os("REWIND_FUZZ_GUEST").expect("REWIND_FUZZ_GUEST: the guest's .wasm");
        let seeds = std::env::var_os("REWIND_FUZZ_SEEDS")
            .expect("REWIND_FUZZ_SEEDS: a directory of recordings");
        let runtime = Runtime::new().expect("an engine");
        let bytes = std::fs::read(&guest).expect("the guest's .wasm reads");
        let source = ComponentSource::from_bytes("python", bytes);
        let cache = ComponentCache::new(ComponentCache::default_dir().expect("a cache directory"));
        let component = cache
            .load_or_compile(runtime.engine(), &source, &mut |_| {})
            .expect("the guest compiles");
        let mut seeds: Vec<Recording> = std::fs::read_dir(&seeds)
            .expect("the seeds directory reads")
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "rwd"))
            .filter(|path| !path.to_string_lossy().ends_with(".events.rwd"))
            .filter_map(|path| Recording::read(&std::fs::read(path).ok()?).ok())
            .collect();
        seeds.sort_by_key(|seed| seed.header.recording_id);
        assert!(!seeds.is_empty(), "no recordings in REWIND_FUZZ_SEEDS");
        let dir = std::env::temp_dir().join(format!("rewind-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        World {
            runtime,
            component,
            seeds,
            dir,
        }
    })
}

/// The fuzzer's bytes, read as numbers and byte strings.
struct Program<'a>(&'a [u8]);

impl Program<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn number(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for _ in 0..8 {
            let byte = self.byte()?;
            value = value << 7 | u64::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                break;
            }
        }
        Some(value)
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = (self.byte()? as usize).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(taken.to_vec())
    }

    fn text(&mut self) -> Option<String> {
        Some(String::from_utf8_lossy(&self.bytes()?).into_owned())
    }
}

/// Applies one edit of `program` to `recording`.
fn edit(recording: &mut Recording, program: &mut Program<'_>) -> Option<()> {
    let op = program.byte()?;
    let thread = recording.threads.values_mut().next()?;
    let inputs = &mut thread.inputs;
    let at = |n: u64, len: usize| (len > 0).then(|| n as usize % len);
    match op % 12 {
        // A value fed to the guest: its data replaced.
        0 => {
            let i = at(program.number()?, inputs.len())?;
            let data = Bytes(program.bytes()?);
            match &mut inputs[i] {
                Input::Random { data: d }
                | Input::InsecureRandom { data: d }
                | Input::Stdin { data: d }
                | Input::FileRead { data: d, .. }
                | Input::Other { data: d, .. } => *d = data,
                Input::Fs { result, .. } => *result = data,
                _ => {}
            }
        }
        // A clock reading: any numbers.
        1 => {
            let i = at(program.number()?, inputs.len())?;
            let (a, b) = (program.number()?, program.number()?);
            match &mut inputs[i] {
                Input::WallClock { secs, nanos } => (*secs, *nanos) = (a, b as u32),
                Input::MonotonicClock { nanos } => *nanos = a,
                _ => {}
            }
        }
        // Inputs dropped, duplicated, swapped, cut.
        2 => {
            let i = at(program.number()?, inputs.len())?;
            inputs.remove(i);
        }
        3 => {
            let i = at(program.number()?, inputs.len())?;
            let copy = inputs[i].clone();
            inputs.insert(i, copy);
        }
        4 => {
            let len = inputs.len();
            let (i, j) = (at(program.number()?, len)?, at(program.number()?, len)?);
            inputs.swap(i, j);
        }
        5 => {
            let len = program.number()? as usize;
            inputs.truncate(len);
        }
        // An `other` input or a filesystem call renamed.
        6 => {
            let i = at(program.number()?, inputs.len())?;
            let name = program.text()?;
            match &mut inputs[i] {
                Input::Other { name: n, .. } => *n = name,
                Input::Fs { op, .. } => *op = name,
                Input::FileRead { path, .. } => *path = name,
                _ => {}
            }
        }
        // Markers: a position, an input position, a kind.
        7 => {
            let markers = &mut thread.markers;
            let i = at(program.number()?, markers.len())?;
            markers[i].position = Some(program.number()?);
        }
        8 => {
            let markers = &mut thread.markers;
            let i = at(program.number()?, markers.len())?;
            markers[i].input_pos = program.number()?;
        }
        9 => {
            let markers = &mut thread.markers;
            let i = at(program.number()?, markers.len())?;
            markers[i].kind = match program.byte()? % 4 {
                0 => MarkerKind::Snapshot {
                    name: program.text()?,
                    all: false,
                },
                1 => MarkerKind::Crash {
                    crash: program.number()?,
                },
                2 => MarkerKind::Exit {
                    code: program.number()? as i32,
                },
                _ => MarkerKind::Flush,
            };
        }
        // A crash's reason.
        10 => {
            let len = recording.crashes.len();
            let i = at(program.number()?, len)?;
            recording.crashes[i].reason = match program.byte()? % 3 {
                0 => CrashReason::Limit(program.text()?),
                1 => CrashReason::Unhandled,
                _ => CrashReason::Trap(program.text()?),
            };
        }
        // A setting re-execution reads.
        _ => {
            let key = [
                "timeout",
                "max-memory",
                "buffer-events",
                "max-mode",
                "poll",
                "log-complete",
            ][program.byte()? as usize % 6];
            let value = program.text()?;
            match recording.header.settings.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => recording.header.settings.push((key.to_owned(), value)),
            }
        }
    }
    Some(())
}

fn encode(recording: &Recording) -> Option<Vec<u8>> {
    let mut writer = Writer::new(Vec::new(), &recording.header).ok()?;
    for source in &recording.sources {
        writer.source(source).ok()?;
    }
    for (thread, log) in &recording.threads {
        writer.inputs(*thread, 0, &log.inputs).ok()?;
        writer.markers(*thread, &log.markers).ok()?;
    }
    for crash in &recording.crashes {
        writer.crash(crash).ok()?;
    }
    if let Some(elapsed) = recording.elapsed_ms {
        writer.elapsed(elapsed).ok()?;
    }
    let end = recording
        .end
        .clone()
        .unwrap_or(rewind_format::model::End { exit_code: None });
    writer.end(&end).ok()
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let mut program = Program(data);
    let Some(choice) = program.byte() else {
        return;
    };
    let mut recording = world.seeds[choice as usize % world.seeds.len()].clone();
    let materialize = choice & 0x80 != 0;
    while edit(&mut recording, &mut program).is_some() {}
    let Some(bytes) = encode(&recording) else {
        return;
    };

    // The debugger's index of it.
    let _ = rewind_debugger::index::Trace::build(bytes.clone());

    // Re-executed, or materialized, under a bound of its own.
    let path = world.dir.join("fuzzed.rwd");
    if std::fs::write(&path, &bytes).is_err() {
        return;
    }
    let Ok(file) = RecordingFile::open(&path) else {
        return;
    };
    if file.not_replayable().is_some() {
        return;
    }
    let options = ReplayOptions {
        echo_output: false,
        materialize: materialize.then_some(Materialize {
            full: false,
            buffer_events: None,
        }),
        progress: None,
        timeout: ReplayTimeout::Limit(Duration::from_secs(10)),
    };
    let _ = world.runtime.replay(&world.component, &file, options);
});
