//! `rewind run --server URL`: the collector's policy caps the run's modes,
//! and recordings go to it through the spill queue instead of staying in
//! `--out`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use rewind_collector::uploader::SpillQueue;
use rewind_collector::{Client, Kind, Uploader};
use rewind_runtime::{Mode, RecorderEvent, Written};

use crate::common::collector::{block_on, collector_error};
use crate::common::report;

/// Where recordings go when a collector takes them.
pub(super) struct Server {
    pub(super) client: Client,
    /// Where recordings wait until the collector has them.
    pub(super) spill: PathBuf,
    /// The most that unsent recordings of earlier runs may take there.
    pub(super) spill_limit: u64,
    /// How long the end of the run waits for what is left to send.
    pub(super) wait: Duration,
}

/// Learns the collector's policy and starts the spill queue that sends it
/// the run's recordings (the files written into `out`). Returns the queue
/// and the highest mode the collector allows, which caps the run's.
pub(super) fn connect(
    server: &Server,
    mode: Mode,
    out: &Path,
    crashes: Arc<Mutex<Vec<String>>>,
) -> Result<(Uploader, Mode)> {
    use rewind_collector::ClientError;
    use rewind_collector::protocol::mode_name;
    let client = &server.client;
    let url = client.server().to_owned();
    let said_unreachable = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let allowed = match block_on(client.policy(server.wait))? {
        Ok(policy) => policy.max_mode,
        Err(err @ ClientError::Unauthorized(_)) => {
            return Err(collector_error(client, err));
        }
        Err(ClientError::Unreachable(why)) => {
            said_unreachable.store(true, std::sync::atomic::Ordering::Relaxed);
            eprintln!(
                "rewind: {why}; recording on-event at most, recordings wait in {} until it is back",
                server.spill.display()
            );
            Mode::OnEvent
        }
        Err(err) => anyhow::bail!("{url}: {err}"),
    };
    if mode > allowed {
        eprintln!(
            "rewind: the collector allows {} at most; recording {}",
            mode_name::name(allowed),
            mode_name::name(allowed)
        );
    }
    let spill = server.spill.display().to_string();
    let started = Uploader::start(
        client.clone(),
        &server.spill,
        server.spill_limit,
        out.to_owned(),
        report_to(url.clone(), spill.clone(), crashes, said_unreachable),
    )
    .with_context(|| format!("cannot use {spill} for the spill queue"))?;
    Ok((started, allowed))
}

/// What the user hears of the spill queue's work.
fn report_to(
    url: String,
    spill: String,
    crashes: Arc<Mutex<Vec<String>>>,
    said_unreachable: Arc<std::sync::atomic::AtomicBool>,
) -> impl Fn(rewind_collector::Report) + Send + 'static {
    use rewind_collector::Report;
    move |report: Report| match report {
        // Said once: at the start, or when it first happens.
        Report::Unreachable(why) => {
            if !said_unreachable.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!("rewind: {why}; recordings wait in {spill} and are retried")
            }
        }
        Report::Reachable => eprintln!("rewind: the collector at {url} is reachable again"),
        Report::Sent { kind, id, .. } => match kind {
            rewind_collector::Kind::Snapshot => {
                eprintln!("rewind: snapshot recorded on {url} as {id}")
            }
            _ => tracing::debug!("{id} sent to {url}"),
        },
        Report::Refused { kept, error } => {
            let line = format!(
                "rewind: {error}; the recording is kept in {}",
                kept.display()
            );
            crashes.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
        Report::Dropped { files, bytes } => eprintln!(
            "rewind: dropped the {files} oldest unsent recordings ({}) from {spill}: it holds at most --spill-limit",
            bytesize::ByteSize(bytes).display().si()
        ),
    }
}

/// The recorder's listener when the collector takes the recordings: the
/// spill queue gets each file as it is written.
pub(super) fn listener(
    queue: SpillQueue,
    script: String,
    client: Client,
) -> impl Fn(&RecorderEvent) + Send + Sync + 'static {
    move |event| match event {
        RecorderEvent::Written { path, what } => match what {
            // In continuous mode the crash is in the stream.
            Written::Crash if queue.is_stream(path) => queue.crash_in_stream(path),
            Written::Crash | Written::Exit(_) => {
                queue.whole(path.clone(), Kind::Crash, &script);
            }
            Written::Snapshot(_) => {
                queue.whole(path.clone(), Kind::Snapshot, &script);
            }
            Written::Stream => {
                let id = queue.stream(path.clone(), &script);
                eprintln!("rewind: recording live to {}", client.recording_url(&id));
            }
        },
        RecorderEvent::Flushed { .. } => queue.nudge(),
        event => report::print_recorder_event(event),
    }
}

/// The end of the run: waits up to `--server-wait` for what is left to
/// send, and says where each crash went and what is still waiting.
pub(super) fn finish(uploader: Uploader, server: &Server) -> Vec<String> {
    let summary = uploader.finish(server.wait);
    let url = server.client.server();
    let mut lines = Vec::new();
    for path in &summary.pending {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        lines.push(format!(
            "rewind: {name} is not yet on {url}: it waits in {}, and the next run with --server {url} sends it",
            path.parent().unwrap_or(path).display()
        ));
    }
    for (kind, id) in &summary.sent {
        if *kind == Kind::Crash {
            lines.push(format!(
                "rewind: crash recorded on {url} as {id} (rewind replay {id} --server {url})"
            ));
        }
    }
    lines
}
