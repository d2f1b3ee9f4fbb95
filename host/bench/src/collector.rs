//! The collector under load: a real `rewind collect` on loopback, and N
//! concurrent runtimes — simulated by a load generator that speaks the same
//! protocol with the same client — each streaming a recording of line events
//! frame by frame, as fast as acknowledgements come, for a bounded time.
//! Afterwards every stream is read back and checked: all it acknowledged is
//! stored, complete and readable.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use rewind_collector::Client;
use rewind_format::model::{End, Event, Header, Input, Mode};
use rewind_format::{Recording, Writer};

/// Events in one frame.
const EVENTS_PER_FRAME: usize = 2_000;

/// What the load came to.
pub struct Figures {
    pub runtimes: usize,
    pub seconds: f64,
    pub frames: u64,
    pub events: u64,
    pub bytes: u64,
    /// Median and 99th percentile time from sending a frame to its
    /// acknowledgement.
    pub ack_median: Duration,
    pub ack_p99: Duration,
    /// The collector process's resident memory: peak, and at the end.
    pub peak_rss_kib: u64,
    pub end_rss_kib: u64,
    /// Streams whose stored recording lacks something acknowledged.
    pub lost: usize,
}

/// One simulated runtime's stream.
struct Stream {
    id: String,
    frames: u64,
    events: u64,
    acked: u64,
    latencies: Vec<Duration>,
}

pub fn measure(
    rewind: &Path,
    scratch: &Path,
    runtimes: usize,
    duration: Duration,
) -> Result<Figures> {
    let store = scratch.join("collector-store");
    let (mut child, url) = start(rewind, &store)?;
    let result = load(&child, &url, runtimes, duration);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&store);
    result
}

fn start(rewind: &Path, store: &Path) -> Result<(Child, String)> {
    use std::io::BufRead as _;
    let mut child = Command::new(rewind)
        .args(["collect", "--listen", "127.0.0.1:0", "--store"])
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting rewind collect")?;
    let mut stderr = std::io::BufReader::new(child.stderr.take().context("no stderr")?);
    let mut line = String::new();
    stderr.read_line(&mut line)?;
    let Some(url) = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
    else {
        let _ = child.kill();
        bail!("the collector did not start: {line}");
    };
    let url = url.to_owned();
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Ok((child, url))
}

fn load(child: &Child, url: &str, runtimes: usize, duration: Duration) -> Result<Figures> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = Client::new(url, None).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let streams = runtime.block_on(async {
        let mut tasks = Vec::new();
        for n in 0..runtimes {
            let client = client.clone();
            tasks.push(tokio::spawn(stream(client, n, started + duration)));
        }
        let mut streams = Vec::new();
        for task in tasks {
            streams.push(task.await??);
        }
        anyhow::Ok(streams)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let (peak_rss_kib, end_rss_kib) = rss(child.id());

    // Read every stream back.
    let mut lost = 0;
    for stream in &streams {
        let stored = runtime.block_on(client.download(&stream.id))?;
        let recording = Recording::read(&stored)?;
        let events: u64 = recording
            .threads
            .get(&0)
            .map(|thread| {
                thread
                    .events
                    .iter()
                    .map(|run| run.events.len() as u64)
                    .sum()
            })
            .unwrap_or(0);
        if stored.len() as u64 != stream.acked
            || events != stream.events
            || recording.end.is_none()
            || recording.cut.is_some()
        {
            lost += 1;
        }
    }
    let mut latencies: Vec<Duration> = streams
        .iter()
        .flat_map(|stream| stream.latencies.iter().copied())
        .collect();
    latencies.sort_unstable();
    let at = |q: f64| crate::quantile(&latencies, q);
    Ok(Figures {
        runtimes,
        seconds,
        frames: streams.iter().map(|s| s.frames).sum(),
        events: streams.iter().map(|s| s.events).sum(),
        bytes: streams.iter().map(|s| s.acked).sum(),
        ack_median: at(0.5),
        ack_p99: at(0.99),
        peak_rss_kib,
        end_rss_kib,
        lost,
    })
}

/// One runtime: frames of events until `until`, then the end chunk.
async fn stream(client: Client, n: usize, until: Instant) -> Result<Stream> {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(n as u64).to_le_bytes());
    id[8..12].copy_from_slice(&rand_tag().to_le_bytes());
    let header = Header {
        recording_id: id,
        created_unix_ms: 0,
        guest_name: "load".into(),
        guest_digest: "sha256:00".into(),
        mode: Mode::Continuous,
        settings: Vec::new(),
    };
    let mut writer = Writer::new(Vec::new(), &header)?;
    let mut stream = Stream {
        id: format!("load-{n}-{:08x}", rand_tag()),
        frames: 0,
        events: 0,
        acked: 0,
        latencies: Vec::new(),
    };
    let mut inputs = 0;
    while Instant::now() < until {
        writer.inputs(0, inputs, &[Input::MonotonicClock { nanos: inputs }])?;
        inputs += 1;
        let events: Vec<Event> = (0..EVENTS_PER_FRAME)
            .map(|k| Event::Line {
                line: (k % 50) as u32 + 1,
                changed: vec![("i".into(), (stream.events + k as u64).to_string())],
            })
            .collect();
        writer.events(0, stream.events, &events)?;
        stream.events += events.len() as u64;
        send(&client, &mut stream, writer.get_ref()).await?;
    }
    let bytes = writer.end(&End { exit_code: Some(0) })?;
    send(&client, &mut stream, &bytes).await?;
    Ok(stream)
}

/// Sends the recording's bytes past those acknowledged.
async fn send(client: &Client, stream: &mut Stream, bytes: &[u8]) -> Result<()> {
    let frame = Bytes::copy_from_slice(&bytes[stream.acked as usize..]);
    let sent = Instant::now();
    let ack = client
        .put_frame(&stream.id, stream.acked, "load", frame)
        .await
        .map_err(|err| anyhow::anyhow!("{}: {err}", stream.id))?;
    stream.latencies.push(sent.elapsed());
    stream.acked = ack.acked;
    stream.frames += 1;
    Ok(())
}

fn rand_tag() -> u32 {
    rand::random()
}

/// VmHWM and VmRSS of a process, in KiB.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

pub fn print(figures: &Figures) {
    println!("## Collector under load\n");
    println!(
        "{} concurrent streams to `rewind collect` on loopback (local store, fsync on) for {:.1} s: {} events in {} frames of {} line events each.\n",
        figures.runtimes, figures.seconds, figures.events, figures.frames, EVENTS_PER_FRAME,
    );
    println!("| measure | value |");
    println!("|---|---:|");
    println!(
        "| events ingested per second | {:.0} |",
        figures.events as f64 / figures.seconds
    );
    println!(
        "| bytes ingested per second | {:.1} MB/s |",
        figures.bytes as f64 / figures.seconds / 1e6
    );
    println!("| frames acknowledged | {} |", figures.frames);
    println!(
        "| acknowledgement, median | {:.1} ms |",
        figures.ack_median.as_secs_f64() * 1e3
    );
    println!(
        "| acknowledgement, 99th percentile | {:.1} ms |",
        figures.ack_p99.as_secs_f64() * 1e3
    );
    println!(
        "| collector memory, peak resident | {:.1} MiB |",
        figures.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "| collector memory, resident at the end | {:.1} MiB |",
        figures.end_rss_kib as f64 / 1024.0
    );
    println!(
        "| streams missing acknowledged data | {} of {} |",
        figures.lost, figures.runtimes
    );
    println!();
}
