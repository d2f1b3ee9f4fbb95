//! `rewind serve` under load: requests per second for a hello-world WSGI
//! application, with recording off and on-event, from a load generator on
//! loopback (concurrent keep-alive connections for a bounded time).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

const HELLO: &str = r#"
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, world!\n"]
"#;

/// One mode's figures.
pub struct Figures {
    pub mode: &'static str,
    pub requests: u64,
    pub seconds: f64,
    pub median: Duration,
    pub p99: Duration,
    pub errors: u64,
}

pub fn measure(
    rewind: &Path,
    scratch: &Path,
    workers: usize,
    connections: usize,
    duration: Duration,
) -> Result<Vec<Figures>> {
    let app = scratch.join("hello_wsgi.py");
    std::fs::write(&app, HELLO)?;
    let mut figures = Vec::new();
    for mode in ["off", "on-event"] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = Command::new(rewind)
            .arg("serve")
            .arg(format!("{}:app", app.display()))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--workers", &workers.to_string(), "--mode", mode, "--out"])
            .arg(scratch.join("serve-recordings"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting rewind serve")?;
        let result = load(&child, port, connections, duration, mode);
        let _ = child.kill();
        let _ = child.wait();
        figures.push(result?);
    }
    Ok(figures)
}

fn load(
    _child: &Child,
    port: u16,
    connections: usize,
    duration: Duration,
    mode: &'static str,
) -> Result<Figures> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let url = format!("http://127.0.0.1:{port}/");
    runtime.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()?;
        // Ready when it answers.
        let ready = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                break;
            }
            if Instant::now() > ready {
                bail!("rewind serve did not answer in 2 minutes");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Warm every worker.
        for _ in 0..20 {
            let _ = client.get(&url).send().await?.bytes().await?;
        }
        let started = Instant::now();
        let until = started + duration;
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let client = client.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < until {
                    let sent = Instant::now();
                    match client.get(&url).send().await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            latencies.push(sent.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            }));
        }
        let mut latencies = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (mine, failed) = task.await?;
            latencies.extend(mine);
            errors += failed;
        }
        let seconds = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        let at = |q: f64| crate::quantile(&latencies, q);
        Ok(Figures {
            mode,
            requests: latencies.len() as u64,
            seconds,
            median: at(0.5),
            p99: at(0.99),
            errors,
        })
    })
}

pub fn print(figures: &[Figures], workers: usize, connections: usize) {
    println!("## rewind serve: requests per second\n");
    println!(
        "A hello-world WSGI application under `rewind serve --workers {workers}`, {connections} concurrent keep-alive connections on loopback.\n"
    );
    println!("| recording | requests/s | median latency | 99th percentile | errors | / off |");
    println!("|---|---:|---:|---:|---:|---:|");
    let base = figures
        .first()
        .map(|first| first.requests as f64 / first.seconds)
        .unwrap_or(1.0);
    for figure in figures {
        let rate = figure.requests as f64 / figure.seconds;
        println!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {} | {:.3}x |",
            figure.mode,
            rate,
            figure.median.as_secs_f64() * 1e3,
            figure.p99.as_secs_f64() * 1e3,
            figure.errors,
            rate / base
        );
    }
    println!();
}
