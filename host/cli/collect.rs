//! `rewind collect`: the collector server; `rewind recordings`: what one
//! holds; and fetching a recording from one for `rewind replay ID`.

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use rewind_collector::protocol::mode_name;
use rewind_collector::server::{self, ServerConfig};
use rewind_collector::{Client, ClientError, RecordingInfo, Store};
use rewind_runtime::Mode;

use crate::UsageError;
use crate::run::parse_mode;

/// Run a collector: the HTTP service that runtimes send recordings to.
///
/// It publishes its policy (the highest recording mode runtimes may use),
/// takes continuous streams frame by frame and crash and snapshot
/// recordings whole, acknowledges each once it is stored, lists them
/// (`rewind recordings --server URL`) and serves them for replay
/// (`rewind replay ID --server URL`). `docs/collector-api.md` describes the
/// API.
///
/// Listening on anything but loopback needs a token, which every request
/// must then carry (`--token` on the runtime's side, or REWIND_TOKEN).
/// Ctrl-C stops it; what was acknowledged is stored.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The address to listen on; port 0 picks a free port (the address is
    /// printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    listen: String,

    /// Where recordings are stored: a directory (created if missing),
    /// file://DIR, or s3://BUCKET[/PREFIX] configured from the AWS_*
    /// environment variables (AWS_ENDPOINT and AWS_ALLOW_HTTP=true for an
    /// S3-compatible server).
    #[arg(long, value_name = "DIR_OR_URL", default_value = "rewind-collected")]
    store: String,

    /// The highest mode runtimes may record in: off, on-event or
    /// continuous. A runtime asking for more gets this.
    #[arg(long, value_name = "MODE", default_value = "continuous", value_parser = parse_mode)]
    max_mode: Mode,

    /// The token requests must carry (`Authorization: Bearer TOKEN`);
    /// required unless listening on loopback only.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REWIND_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// The largest frame of a stream, and of a request's body.
    #[arg(long, value_name = "SIZE", default_value = "16MiB")]
    max_frame_size: String,

    /// The largest recording kept; a stream that grows past it is refused
    /// from there on (what came before stays).
    #[arg(long, value_name = "SIZE", default_value = "1GiB")]
    max_recording_size: String,

    /// Acknowledge frames without flushing them to disk first: faster, but
    /// a power cut may lose what was acknowledged (a crash of the collector
    /// alone does not).
    #[arg(long)]
    no_fsync: bool,
}

pub fn collect(args: CollectArgs) -> Result<ExitCode> {
    let max_frame_bytes = parse_size("--max-frame-size", &args.max_frame_size)?;
    let max_recording_bytes = parse_size("--max-recording-size", &args.max_recording_size)?;
    let addrs: Vec<SocketAddr> = args
        .listen
        .to_socket_addrs()
        .map_err(|err| UsageError(format!("--listen {}: {err}", args.listen)))?
        .collect();
    let Some(&addr) = addrs.first() else {
        return Err(UsageError(format!("--listen {}: no address", args.listen)).into());
    };
    let token = args.token.filter(|token| !token.is_empty());
    if let Some(token) = &token
        && (token.len() < 8 || token.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err(UsageError(
            "--token: at least 8 characters, without spaces or control characters".into(),
        )
        .into());
    }
    if token.is_none() && !addrs.iter().all(|addr| addr.ip().is_loopback()) {
        return Err(UsageError(format!(
            "--listen {}: a collector reachable from other machines needs a token (--token or REWIND_TOKEN)",
            args.listen
        ))
        .into());
    }
    let store = Store::open(&args.store, !args.no_fsync)
        .map_err(|err| UsageError(format!("--store {}: {err:#}", args.store)))?;
    let config = ServerConfig {
        max_mode: args.max_mode,
        token,
        max_frame_bytes,
        max_recording_bytes,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the collector's runtime")?;
    runtime.block_on(async move {
        store.check().await?;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|err| {
            UsageError(format!(
                "cannot listen on {addr}: {}",
                crate::io_message(&err)
            ))
        })?;
        let bound = listener.local_addr()?;
        eprintln!(
            "rewind: collecting on http://{bound} (max mode {}, store {}); Ctrl-C stops",
            mode_name::name(config.max_mode),
            store.describe()
        );
        let shutdown = async {
            let interrupt = tokio::signal::ctrl_c();
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = interrupt => {}
                _ = async {
                    match &mut terminate {
                        Some(terminate) => { terminate.recv().await; }
                        None => std::future::pending().await,
                    }
                } => {}
            }
            eprintln!("rewind: collector stopping");
        };
        server::serve(listener, config, store, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn parse_size(flag: &str, spec: &str) -> Result<u64> {
    let size: bytesize::ByteSize = spec
        .parse()
        .map_err(|err| UsageError(format!("{flag} {spec:?}: {err}")))?;
    if size.as_u64() < 1024 {
        return Err(UsageError(format!("{flag} {spec}: at least 1KiB")).into());
    }
    Ok(size.as_u64())
}

/// List the recordings a collector holds.
#[derive(Debug, Args)]
pub struct RecordingsArgs {
    /// The collector, e.g. http://127.0.0.1:7878.
    #[arg(long, value_name = "URL", env = "REWIND_SERVER")]
    server: String,

    /// The collector's token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REWIND_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// Print JSON (one array of objects) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn recordings(args: RecordingsArgs) -> Result<ExitCode> {
    let client = client(&args.server, args.token)?;
    let list = block_on(client.list())?.map_err(|err| collector_error(&client, err))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        writeln!(out, "no recordings on {}", client.server())?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|info| {
            [
                info.id.clone(),
                info.kind.name().to_owned(),
                info.script.clone(),
                info.guest.clone(),
                created(info),
                format!(
                    "{} {}",
                    bytesize::ByteSize(info.size).display().si(),
                    if info.complete { "" } else { "(incomplete)" }
                )
                .trim_end()
                .to_owned(),
            ]
        })
        .collect();
    let titles = ["ID", "KIND", "SCRIPT", "GUEST", "CREATED (UTC)", "SIZE"];
    let mut widths = titles.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut text = String::new();
        for (n, cell) in cells.iter().enumerate() {
            if n + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[n]));
            }
        }
        text
    };
    writeln!(out, "{}", line(&titles.map(str::to_owned)))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn created(info: &RecordingInfo) -> String {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(info.created_unix_ms);
    humantime::format_rfc3339_seconds(when)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
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
pub fn fetch(what: &str, server: Option<&str>, token: Option<String>) -> Result<PathBuf> {
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
    let (info, bytes) = block_on(async {
        let info = match client.info(&id).await? {
            Some(info) => info,
            None => return Ok((None, None)),
        };
        let cached = std::fs::metadata(&path).is_ok_and(|meta| meta.len() == info.size);
        if cached {
            return Ok((Some(info), None));
        }
        let bytes = client.download(&id).await?;
        Ok((Some(info), Some(bytes)))
    })?
    .map_err(|err| collector_error(&client, err))?;
    let Some(info) = info else {
        return Err(UsageError(format!("{} has no recording {id}", client.server())).into());
    };
    if let Some(bytes) = bytes {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut temp = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempfile_in(&dir)
            .with_context(|| format!("cannot write into {}", dir.display()))?;
        temp.write_all(&bytes)?;
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
