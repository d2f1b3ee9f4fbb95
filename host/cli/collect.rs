//! `rewind collect`: the collector server; `rewind recordings`: what one
//! holds.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use rewind_collector::protocol::mode_name;
use rewind_collector::server::{self, ServerConfig};
use rewind_collector::{RecordingInfo, Store};
use rewind_runtime::Mode;

use crate::common::args::{CollectorArgs, parse_duration, parse_mode, parse_size};
use crate::common::collector::{block_on, collector_error};
use crate::common::{UsageError, io_message, report};

/// Frames and recordings are at least this big.
const MIN_SIZE: std::ops::RangeInclusive<u64> = 1024..=u64::MAX;

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

    /// How long an upload may go without sending a byte before it is
    /// dropped (four are read at once: a client that stalls must not hold
    /// a turn for ever).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    upload_idle: String,

    /// Acknowledge frames without flushing them to disk first: faster, but
    /// a power cut may lose what was acknowledged (a crash of the collector
    /// alone does not).
    #[arg(long)]
    no_fsync: bool,
}

pub fn collect(args: CollectArgs) -> Result<ExitCode> {
    let max_frame_bytes = parse_size("--max-frame-size", &args.max_frame_size, MIN_SIZE)?;
    let max_recording_bytes =
        parse_size("--max-recording-size", &args.max_recording_size, MIN_SIZE)?;
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
        upload_idle: parse_duration("--upload-idle", &args.upload_idle)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the collector's runtime")?;
    runtime.block_on(async move {
        store.check().await?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|err| UsageError(format!("cannot listen on {addr}: {}", io_message(&err))))?;
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

/// List the recordings a collector holds.
#[derive(Debug, Args)]
#[command(mut_arg("server", |arg| arg.required(true)))]
pub struct RecordingsArgs {
    #[command(flatten)]
    collector: CollectorArgs,

    /// Print JSON (one array of objects) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn recordings(args: RecordingsArgs) -> Result<ExitCode> {
    let Some(client) = args.collector.client()? else {
        return Err(UsageError("--server URL: which collector to list".into()).into());
    };
    let list = block_on(client.list())?.map_err(|err| collector_error(&client, err))?;
    if args.json {
        let mut json = serde_json::to_string_pretty(&list)?;
        json.push('\n');
        report::print(&json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        report::print(&format!("no recordings on {}\n", client.server()))?;
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
    let mut text = format!("{}\n", line(&titles.map(str::to_owned)));
    for row in &rows {
        text.push_str(&line(row));
        text.push('\n');
    }
    report::print(&text)?;
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
