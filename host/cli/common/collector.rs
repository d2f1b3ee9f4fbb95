//! Talking to a collector from the command line: a client for a URL,
//! requests run to completion, a refusal as the user's error, and a
//! recording fetched into the local cache for `rewind replay ID`.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use rewind_collector::{Client, ClientError};

use super::args::CollectorArgs;
use super::status::UsageError;

impl CollectorArgs {
    /// A client of `--server`, when one is given.
    pub fn client(&self) -> Result<Option<Client>> {
        self.server
            .as_deref()
            .map(|server| client(server, self.token.clone()))
            .transpose()
    }
}

/// A client of `server`, with a usage error for a bad URL.
pub fn client(server: &str, token: Option<String>) -> Result<Client> {
    Client::new(server, token.filter(|token| !token.is_empty()))
        .map_err(|err| UsageError(err).into())
}

/// Runs a request on a runtime of its own.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start an HTTP client")?;
    Ok(runtime.block_on(future))
}

/// A collector's refusal as the user's error: a bad token is the command
/// line's fault (exit 2), an unreachable collector rewind's (exit 3).
pub fn collector_error(client: &Client, err: ClientError) -> anyhow::Error {
    match err {
        ClientError::Unauthorized(_) => UsageError(format!(
            "{} refused the token: give the collector's with --token or REWIND_TOKEN",
            client.server()
        ))
        .into(),
        err => anyhow::anyhow!("{err}"),
    }
}

/// A recording on a collector, fetched into the local cache for
/// `rewind replay`: `what` is `ID` (with `server`) or the recording's URL.
/// A copy already there is used again when the collector has nothing more.
pub fn fetch(what: &str, collector: &CollectorArgs) -> Result<PathBuf> {
    let (server, token) = (collector.server.as_deref(), collector.token.clone());
    let (server, id) = match what.split_once("/v1/recordings/") {
        Some((base, id)) if what.starts_with("http://") || what.starts_with("https://") => {
            (base.to_owned(), id.trim_end_matches('/').to_owned())
        }
        _ => match server {
            Some(server) => (server.to_owned(), what.to_owned()),
            None => {
                return Err(UsageError(format!(
                    "{what}: no such file (for a recording on a collector, give --server URL, or its URL)"
                ))
                .into());
            }
        },
    };
    if !rewind_collector::protocol::valid_id(&id) {
        return Err(UsageError(format!("{id:?} is not a recording id")).into());
    }
    let client = client(&server, token)?;
    let dir = rewind_runtime::ComponentCache::default_dir()
        .context("no cache directory: set REWIND_CACHE_DIR or HOME")?
        .join("recordings")
        .join(server_key(client.server()));
    let path = dir.join(format!("{id}.rwd"));
    let info = block_on(client.info(&id))?.map_err(|err| collector_error(&client, err))?;
    let Some(info) = info else {
        return Err(UsageError(format!("{} has no recording {id}", client.server())).into());
    };
    let cached = std::fs::metadata(&path).is_ok_and(|meta| meta.len() == info.size);
    if !cached {
        // Written to disk as it comes, up to what the collector said it
        // holds (and what a stream may have grown since): a collector that
        // sends more, or without end, fills neither memory nor the disk.
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let temp = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempfile_in(&dir)
            .with_context(|| format!("cannot write into {}", dir.display()))?;
        let limit = info.size.saturating_add(GROWTH);
        let mut out = std::io::BufWriter::new(temp);
        block_on(client.download_to(&id, &mut out, limit))?
            .map_err(|err| collector_error(&client, err))?;
        let temp = out.into_inner().map_err(|err| err.into_error())?;
        temp.persist(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        if !info.complete {
            eprintln!(
                "rewind: {id} is incomplete on the collector (its run was cut short, or still streams): it opens up to its last frame"
            );
        }
    }
    Ok(path)
}

/// How much a recording may have grown on the collector between its info
/// and its download (a stream still being written).
const GROWTH: u64 = 64 << 20;

/// A directory name for a collector's URL.
pub fn server_key(server: &str) -> String {
    let rest = server.split_once("://").map_or(server, |(_, rest)| rest);
    rest.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
