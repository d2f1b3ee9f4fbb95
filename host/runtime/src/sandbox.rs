//! What a guest may see of the host: argv, environment, granted directories.
//!
//! Everything is denied unless granted here. The host environment is not
//! inherited, there is no network, and a directory grant is enforced by
//! wasmtime-wasi's capability-based filesystem: `..` and symlinks cannot lead
//! out of it.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use rewind_format::model::Input;
use wasmtime_wasi::cli::IsTerminal as _;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::interrupt::Interrupts;
use crate::recorder::{Recorder, ThreadRecorder, hooks};

/// The guest's view of the world.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    args: Vec<String>,
    env: Vec<(String, String)>,
    dirs: Vec<DirGrant>,
    cwd: Option<String>,
    recorder: Option<Recorder>,
    interrupts: Option<Interrupts>,
}

/// One host directory made visible to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: String,
    /// Whether the guest may create, change and delete files under it.
    pub writable: bool,
}

impl Sandbox {
    /// A sandbox whose guest receives `args` as its argv and nothing else.
    pub fn new<I, S>(args: I) -> Sandbox
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Sandbox {
            args: args.into_iter().map(Into::into).collect(),
            ..Sandbox::default()
        }
    }

    /// Sets an environment variable of the guest.
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// Grants the guest a directory.
    pub fn dir(&mut self, grant: DirGrant) -> &mut Self {
        self.dirs.push(grant);
        self
    }

    /// The guest's initial working directory (a guest path).
    pub fn cwd(&mut self, cwd: impl Into<String>) -> &mut Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// The directories granted so far.
    pub fn dirs(&self) -> &[DirGrant] {
        &self.dirs
    }

    /// The guest's argv.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Records the guest: everything nondeterministic it receives passes
    /// through `recorder`'s input log on the way in.
    pub fn record(&mut self, recorder: Recorder) -> &mut Self {
        self.recorder = Some(recorder);
        self
    }

    /// Lets `interrupts` interrupt the guest (Ctrl-C): see [`Interrupts`].
    pub fn interrupts(&mut self, interrupts: Interrupts) -> &mut Self {
        self.interrupts = Some(interrupts);
        self
    }

    /// The thread handle a run of this sandbox records through.
    pub(crate) fn thread_recorder(&self) -> ThreadRecorder {
        let thread = match &self.recorder {
            Some(recorder) => recorder.thread(),
            None => ThreadRecorder::detached(),
        };
        match &self.interrupts {
            Some(interrupts) => thread.with_interrupts(interrupts.clone()),
            None => thread,
        }
    }

    pub(crate) fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// The guest's WASI context; with `log` attached, every input is logged,
    /// starting with argv, environment and working directory.
    pub(crate) fn build(&self, log: &ThreadRecorder) -> Result<WasiCtx> {
        Ok(self.wasi_builder(log)?.build())
    }

    /// A WASI context builder for this sandbox, for a host that runs the
    /// guest in a store of its own (see [`crate::add_to_linker_sync`]).
    ///
    /// When `log` belongs to a [`Recorder`], argv, environment and working
    /// directory are logged now, and the builder's clocks, stdin and
    /// insecure-random seed log every reading. Its stdout and stderr are the
    /// host's, and may be replaced (output is not input). Give argv and
    /// environment to the sandbox, not to the builder, and keep its stdin
    /// and clocks: what bypasses the log cannot be re-executed.
    pub fn wasi_builder(&self, log: &ThreadRecorder) -> Result<WasiCtxBuilder> {
        let mut builder = WasiCtxBuilder::new();
        builder
            .inherit_stdout()
            .inherit_stderr()
            .args(&self.args)
            .envs(&self.env);
        if let Some(cwd) = &self.cwd {
            builder.initial_cwd(cwd);
        }
        if log.recorder().is_some() {
            log.input(Input::Args {
                args: self.args.clone(),
            });
            log.input(Input::Env {
                vars: self.env.clone(),
            });
            if let Some(cwd) = &self.cwd {
                log.input(Input::Cwd { path: cwd.clone() });
            }
            let seed: u128 = rand::random();
            log.input(Input::Other {
                name: "insecure-seed".to_owned(),
                data: seed.to_le_bytes()[..].into(),
            });
            // Whether stdin, stdout and stderr are terminals changes what a
            // program does (Python buffers by it): an input like the others.
            let stdin = wasmtime_wasi::cli::stdin();
            let terminals = [
                stdin.is_terminal(),
                wasmtime_wasi::cli::stdout().is_terminal(),
                wasmtime_wasi::cli::stderr().is_terminal(),
            ];
            log.input(Input::Other {
                name: "terminals".to_owned(),
                data: terminals.map(u8::from)[..].into(),
            });
            builder
                .insecure_random_seed(seed)
                .stdin(hooks::Stdin {
                    inner: stdin,
                    log: log.clone(),
                })
                .wall_clock(hooks::WallClock {
                    inner: Box::new(wasmtime_wasi::clocks::WallClock::new()),
                    log: log.clone(),
                })
                .monotonic_clock(hooks::MonotonicClock {
                    inner: Box::new(wasmtime_wasi::clocks::MonotonicClock::new()),
                    log: log.clone(),
                });
        } else if log.interrupts().is_some() {
            // Unrecorded, but a read of stdin still ends at Ctrl-C.
            builder.stdin(hooks::Stdin {
                inner: wasmtime_wasi::cli::stdin(),
                log: log.clone(),
            });
        } else {
            builder.inherit_stdin();
        }
        for grant in &self.dirs {
            let perms = if grant.writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            builder
                .preopened_dir(&grant.host, &grant.guest, perms)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot open directory {}", grant.host.display()))?;
        }
        // No network: no sockets are allowed and no names resolve.
        builder
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        Ok(builder)
    }
}
