//! The compatibility corpus: everyday Python programs and CPython's own test
//! modules, each run under CPython and under `rewind run`, compared.
//!
//! One harness for two callers: the integration test `python_corpus`, which
//! fails below a pass rate, and `rewind-bench --corpus`, which reports the
//! pass rate and the time ratio. Both include this file with `#[path]`, so it
//! uses the standard library only.
//!
//! An entry passes when `rewind run` exits as CPython does and prints the
//! same stdout. Two CPythons are the reference: the machine's `python3`,
//! and, for the RustPython guest, CPython 3.14's WASI build (the CPython
//! guest, recording off), the Python version the RustPython guest's library
//! and `sys.version` are, on the platform it runs on. The second is asked
//! only where the first differs, and the report says which one an entry
//! matched. An entry that fails and is listed in `version-differences.txt`
//! is reported apart, as differing by Python version from `python3`: it
//! never counts as a pass. A program gets a fresh scratch directory per runner as
//! `argv[1]` (granted read-write to the guest); a `Lib/test` module runs
//! through `libtest.py` from the `test` package of the machine's CPython
//! (granted read-only), which prints only unittest's count and verdict.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What one corpus entry runs.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A program of `tests/corpus/programs`.
    Program(PathBuf),
    /// A module of CPython's `test` package, e.g. `test_bisect`.
    LibTest(String),
}

/// One entry of the corpus.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `programs/NAME.py` or `Lib/test/NAME`: how reports name it.
    pub name: String,
    pub kind: Kind,
    /// Why the entry's output differs from CPython 3.11's by Python version
    /// alone, when `version-differences.txt` says so.
    pub version_difference: Option<String>,
}

/// The CPython the corpus compares with.
#[derive(Debug, Clone)]
pub struct CPython {
    /// The real binary (`sys.executable`), not a shim on the PATH that adds
    /// its own start-up to every run.
    pub program: PathBuf,
    /// The directory that holds its `test` package.
    pub lib: PathBuf,
}

impl CPython {
    /// The machine's `python3`, which must have its `test` package.
    pub fn find() -> Result<CPython, String> {
        let output = Command::new("python3")
            .args([
                "-c",
                "import os, sys, test; print(sys.executable); print(os.path.dirname(os.path.dirname(test.__file__)))",
            ])
            .output()
            .map_err(|e| format!("running python3: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let mut lines = text.lines();
        match (output.status.success(), lines.next(), lines.next()) {
            (true, Some(program), Some(lib)) => Ok(CPython {
                program: PathBuf::from(program),
                lib: PathBuf::from(lib),
            }),
            _ => Err(format!(
                "python3 with its `test` package is needed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )),
        }
    }
}

/// The entries of the corpus in `dir` (`tests/corpus`), sorted by name:
/// every `programs/*.py`, then every module named in `cpython-tests.txt`.
pub fn load(dir: &Path) -> Result<Vec<Entry>, String> {
    let programs = dir.join("programs");
    let mut entries = Vec::new();
    let listing =
        std::fs::read_dir(&programs).map_err(|e| format!("reading {}: {e}", programs.display()))?;
    for file in listing {
        let path = file.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|ext| ext == "py") {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            entries.push(Entry {
                name: format!("programs/{name}"),
                kind: Kind::Program(path.clone()),
                version_difference: None,
            });
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let list = dir.join("cpython-tests.txt");
    let text =
        std::fs::read_to_string(&list).map_err(|e| format!("reading {}: {e}", list.display()))?;
    for line in text.lines().map(str::trim) {
        if !line.is_empty() && !line.starts_with('#') {
            entries.push(Entry {
                name: format!("Lib/test/{line}"),
                kind: Kind::LibTest(line.to_owned()),
                version_difference: None,
            });
        }
    }
    let list = dir.join("version-differences.txt");
    let text =
        std::fs::read_to_string(&list).map_err(|e| format!("reading {}: {e}", list.display()))?;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, why) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let entry = entries
            .iter_mut()
            .find(|entry| entry.name == name)
            .ok_or_else(|| format!("{}: no corpus entry is named {name}", list.display()))?;
        entry.version_difference = Some(why.trim().to_owned());
    }
    Ok(entries)
}

/// What one runner did on one entry.
#[derive(Debug, Clone)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Ran {
    /// Exited alike and printed the same stdout.
    fn same_as(&self, other: &Ran) -> bool {
        self.code == other.code && self.stdout == other.stdout
    }
}

/// The verdict on one entry.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    /// The machine's `python3`.
    pub cpython: Ran,
    /// CPython 3.14's WASI build, when it was asked: see [`Harness`].
    pub wasi: Option<Ran>,
    pub rewind: Ran,
    /// The entry's `version_difference`.
    pub version_difference: Option<String>,
}

impl Outcome {
    /// `rewind run` gave the output of one of the two CPythons.
    pub fn passed(&self) -> bool {
        self.as_python3() || self.as_wasi()
    }

    /// `rewind run` gave `python3`'s output.
    pub fn as_python3(&self) -> bool {
        self.rewind.same_as(&self.cpython)
    }

    /// `rewind run` gave the output of CPython 3.14's WASI build, not
    /// `python3`'s.
    pub fn as_wasi(&self) -> bool {
        !self.as_python3()
            && self
                .wasi
                .as_ref()
                .is_some_and(|wasi| self.rewind.same_as(wasi))
    }

    /// Failed, and listed as differing by Python version: reported apart,
    /// never as a pass.
    pub fn differs_by_version(&self) -> bool {
        !self.passed() && self.version_difference.is_some()
    }

    /// Failed, and not for a listed difference of version.
    pub fn failed(&self) -> bool {
        !self.passed() && self.version_difference.is_none()
    }

    /// `rewind run`'s time over CPython's.
    pub fn ratio(&self) -> f64 {
        self.rewind.elapsed.as_secs_f64() / self.cpython.elapsed.as_secs_f64().max(1e-6)
    }

    /// Why the entry failed, in one line: the exit statuses and the last
    /// line the guest wrote to stderr (its exception, usually), or where
    /// stdout first differs.
    pub fn reason(&self) -> String {
        if self.cpython.code != self.rewind.code {
            let last = self
                .rewind
                .stderr
                .lines()
                .rev()
                .find(|line| {
                    // rewind's own closing line says where the recording went.
                    let recorded = line.starts_with("rewind: crash recorded")
                        || (line.starts_with("rewind: exit status ")
                            && line.contains(" recorded in "));
                    !line.trim().is_empty() && !recorded
                })
                .unwrap_or("");
            return format!(
                "exit {} (CPython {}): {}",
                code(self.rewind.code),
                code(self.cpython.code),
                last.trim()
            );
        }
        let line = first_difference(&self.cpython.stdout, &self.rewind.stdout);
        format!("wrong output from line {}", line + 1)
    }

    /// The first lines where stdout differs, `-` CPython's and `+` rewind's,
    /// and the end of rewind's stderr.
    pub fn diff(&self) -> String {
        let expected: Vec<&str> = self.cpython.stdout.lines().collect();
        let got: Vec<&str> = self.rewind.stdout.lines().collect();
        let start = first_difference(&self.cpython.stdout, &self.rewind.stdout);
        let mut out = String::new();
        for i in start..(start + 6).min(expected.len().max(got.len())) {
            if let Some(line) = expected.get(i) {
                out.push_str(&format!("  -{:>4} {line}\n", i + 1));
            }
            if let Some(line) = got.get(i) {
                out.push_str(&format!("  +{:>4} {line}\n", i + 1));
            }
        }
        let stderr: Vec<&str> = self.rewind.stderr.lines().collect();
        for line in &stderr[stderr.len().saturating_sub(8)..] {
            out.push_str(&format!("  stderr| {line}\n"));
        }
        if let Some(wasi) = &self.wasi {
            let line = first_difference(&wasi.stdout, &self.rewind.stdout);
            out.push_str(&format!(
                "  CPython 3.14's WASI build: exit {}, its stdout differs from line {}\n",
                code(wasi.code),
                line + 1
            ));
        }
        out
    }
}

fn code(code: Option<i32>) -> String {
    code.map_or_else(|| "by signal".to_owned(), |c| c.to_string())
}

/// The index of the first line where `a` and `b` differ.
fn first_difference(a: &str, b: &str) -> usize {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .unwrap_or(0)
}

/// How the corpus is run.
pub struct Harness<'a> {
    pub corpus: PathBuf,
    pub cpython: CPython,
    /// A `rewind` command before its `run` argument: the caller picks the
    /// binary and its environment (compiled-guest cache, recordings).
    pub rewind: &'a (dyn Fn() -> Command + Sync),
    /// Where each entry gets its scratch directories.
    pub scratch: PathBuf,
    /// Entries run at once.
    pub jobs: usize,
    /// Where `rewind run`'s output differs from `python3`'s, compare it
    /// with CPython 3.14's WASI build too: `rewind run --python cpython
    /// --mode off`. For the RustPython guest, whose standard library is
    /// CPython 3.13's and 3.14's and whose `sys.version` says 3.14; not for
    /// the CPython guest, which is that build.
    pub wasi_reference: bool,
}

impl Harness<'_> {
    /// Runs every entry, `jobs` at a time; the outcomes in `entries`' order.
    pub fn run_all(&self, entries: &[Entry]) -> Vec<Outcome> {
        let next = Mutex::new(0);
        let outcomes = Mutex::new(vec![None; entries.len()]);
        std::thread::scope(|scope| {
            for _ in 0..self.jobs.max(1) {
                scope.spawn(|| {
                    loop {
                        let i = {
                            let mut next = next.lock().unwrap();
                            *next += 1;
                            *next - 1
                        };
                        let Some(entry) = entries.get(i) else { break };
                        let outcome = self.run(entry);
                        outcomes.lock().unwrap()[i] = Some(outcome);
                    }
                });
            }
        });
        outcomes
            .into_inner()
            .unwrap()
            .into_iter()
            .flatten()
            .collect()
    }

    /// Runs one entry under CPython, then under `rewind run`.
    pub fn run(&self, entry: &Entry) -> Outcome {
        let dir = self.scratch.join(entry.name.replace('/', "_"));
        let (script, mut args) = match &entry.kind {
            Kind::Program(path) => (path.clone(), vec![]),
            Kind::LibTest(module) => (
                self.corpus.join("libtest.py"),
                vec![self.cpython.lib.display().to_string(), module.clone()],
            ),
        };
        let cpython = {
            let scratch = fresh(&dir.join("cpython"));
            if matches!(entry.kind, Kind::Program(_)) {
                args.insert(0, scratch.display().to_string());
            }
            let mut command = Command::new(&self.cpython.program);
            // The guest sees no host environment; neither does CPython here.
            command
                .env_clear()
                .current_dir(&scratch)
                .arg(&script)
                .args(&args);
            timed(command)
        };
        // `rewind run` with `flags`, in a scratch directory of its own.
        let sandboxed = |name: &str, flags: &[&str], args: &mut Vec<String>| {
            let scratch = fresh(&dir.join(name));
            if matches!(entry.kind, Kind::Program(_)) {
                args[0] = scratch.display().to_string();
            }
            let mut command = (self.rewind)();
            command
                .current_dir(&scratch)
                .arg("run")
                .args(flags)
                .args(["--timeout", "120s", "--dir-rw"])
                .arg(&scratch);
            if matches!(entry.kind, Kind::LibTest(_)) {
                command.arg("--dir").arg(&self.cpython.lib);
            }
            command.arg(&script).args(args.iter());
            timed(command)
        };
        let rewind = sandboxed("rewind", &[], &mut args);
        let wasi = (self.wasi_reference && !rewind.same_as(&cpython))
            .then(|| sandboxed("wasi", &["--python", "cpython", "--mode", "off"], &mut args));
        let _ = std::fs::remove_dir_all(&dir);
        Outcome {
            name: entry.name.clone(),
            cpython,
            wasi,
            rewind,
            version_difference: entry.version_difference.clone(),
        }
    }
}

/// `dir`, emptied and created.
fn fresh(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::create_dir_all(dir);
    dir.to_owned()
}

fn timed(mut command: Command) -> Ran {
    command.stdin(Stdio::null());
    let start = Instant::now();
    match command.output() {
        Ok(output) => Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: start.elapsed(),
        },
        Err(e) => Ran {
            code: None,
            stdout: String::new(),
            stderr: format!("could not start {command:?}: {e}"),
            elapsed: start.elapsed(),
        },
    }
}

/// The passed entries and the pass rate (0 to 1).
pub fn pass_rate(outcomes: &[Outcome]) -> (usize, f64) {
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    (passed, passed as f64 / outcomes.len().max(1) as f64)
}

/// The pass rate in one line: over all entries, which reference each
/// passing entry matched, and what the others are.
pub fn summary(outcomes: &[Outcome]) -> String {
    let (passed, rate) = pass_rate(outcomes);
    let as_wasi = outcomes.iter().filter(|o| o.as_wasi()).count();
    let by_version = outcomes.iter().filter(|o| o.differs_by_version()).count();
    let failed = outcomes.iter().filter(|o| o.failed()).count();
    let wasi = if outcomes.iter().any(|o| o.wasi.is_some()) {
        format!(
            " ({} as python3 prints, {as_wasi} as CPython 3.14's WASI build prints)",
            passed - as_wasi
        )
    } else {
        String::new()
    };
    format!(
        "{passed} of {} pass ({:.1}%){wasi}; {by_version} differ by Python version \
         (version-differences.txt), {failed} fail",
        outcomes.len(),
        rate * 100.0,
    )
}

/// The median of `rewind run`'s time over CPython's, over `outcomes`.
pub fn median_ratio(outcomes: &[Outcome]) -> f64 {
    let mut ratios: Vec<f64> = outcomes.iter().map(Outcome::ratio).collect();
    ratios.sort_by(f64::total_cmp);
    match ratios.len() {
        0 => 0.0,
        n if n % 2 == 1 => ratios[n / 2],
        n => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
    }
}
