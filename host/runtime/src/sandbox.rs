//! What a guest may see of the host: argv, environment, granted directories.
//!
//! Everything is denied unless granted here. The host environment is not
//! inherited, there is no network, and a directory grant is enforced by
//! wasmtime-wasi's capability-based filesystem: `..` and symlinks cannot lead
//! out of it.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

/// The guest's view of the world.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    args: Vec<String>,
    env: Vec<(String, String)>,
    dirs: Vec<DirGrant>,
    cwd: Option<String>,
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

    pub(crate) fn build(&self) -> Result<WasiCtx> {
        let mut builder = WasiCtxBuilder::new();
        builder.inherit_stdio().args(&self.args).envs(&self.env);
        if let Some(cwd) = &self.cwd {
            builder.initial_cwd(cwd);
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
        Ok(builder.build())
    }
}
