//! The collector: a real `rewind collect` on a loopback port, real runtimes
//! sending to it, and raw HTTP for what a runtime would never send.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{Run, Scripts, rewind, run};

/// A `rewind collect` child, killed when dropped.
struct Collector {
    child: Child,
    url: String,
    port: u16,
}

impl Collector {
    /// Starts a collector over `store`; `listen` is `127.0.0.1:0` for any
    /// free port.
    fn start(store: &Path, listen: &str, extra: &[&str]) -> Collector {
        Collector::start_with(rewind(), store.as_os_str(), listen, extra)
    }

    fn start_with(
        mut command: std::process::Command,
        store: &std::ffi::OsStr,
        listen: &str,
        extra: &[&str],
    ) -> Collector {
        let mut child = command
            .args(["collect", "--listen", listen, "--store"])
            .arg(store)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting rewind collect");
        // Its first line says where it listens.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("the collector did not start: {line:?}"))
            .to_owned();
        // Keep draining its stderr so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        Collector { child, url, port }
    }

    /// SIGKILL, as a crash of the machine's collector process would be.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn recordings(&self, token: Option<&str>) -> serde_json::Value {
        let mut command = rewind();
        command.args(["recordings", "--json", "--server", &self.url]);
        if let Some(token) = token {
            command.args(["--token", token]);
        }
        let listed = run(&mut command);
        assert_eq!(listed.code, Some(0), "{listed:?}");
        serde_json::from_str(&listed.stdout).unwrap()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rewind replay ID --server URL --commands -` with `commands` on stdin,
/// fetching into the cache `cache`.
fn debug_on(collector: &Collector, cache: std::path::PathBuf, id: &str, commands: &[u8]) -> Run {
    let mut replay = rewind();
    replay.env("REWIND_CACHE_DIR", cache).args([
        "replay",
        id,
        "--server",
        &collector.url,
        "--commands",
        "-",
    ]);
    crate::run_with_stdin(&mut replay, commands)
}

/// `rewind run --server URL --spill DIR ARGS...`
fn run_on(collector: &Collector, spill: &Path, args: &[&str]) -> Run {
    run(rewind()
        .args(["run", "--server", &collector.url, "--spill"])
        .arg(spill)
        .args(args))
}

/// One HTTP/1.1 exchange on a fresh connection: the status and the body.
fn http(port: u16, request: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = match answer.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => answer[at + 4..].to_vec(),
        None => Vec::new(),
    };
    (status, body)
}

fn request(method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn recording_json(bytes: &[u8]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rwd");
    std::fs::write(&path, bytes).unwrap();
    crate::recording::dump(&path)
}

fn markers(recording: &serde_json::Value, kind: &str) -> usize {
    recording["threads"]["0"]["markers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|marker| marker["marker"] == kind)
        .count()
}

/// A script that streams: `revdebug.flush()` N times (forever when N is
/// 0), saying so on stdout each time.
const STREAM: &str = r#"
import sys, time, revdebug
revdebug.setrecmode(revdebug.Continuous)
n = int(sys.argv[1])
i = 0
while n == 0 or i < n:
    total = sum(range(i * 50))
    revdebug.flush()
    print("flushed", i, flush=True)
    time.sleep(0.02)
    i += 1
"#;

const CRASH: &str = r#"
def divide(a, b):
    return a / b

print("mode", revdebug.setrecmode(revdebug.Continuous))
divide(1, 0)
"#;

#[test]
fn the_collectors_policy_caps_the_mode_and_a_crash_arrives_and_replays() {
    let scripts = Scripts::new();
    let script = scripts.write(
        "app.py",
        &format!("import revdebug\nrevdebug.snapshot('before')\n{CRASH}"),
    );
    let collector = Collector::start(
        &scripts.path("store"),
        "127.0.0.1:0",
        &["--max-mode", "on-event"],
    );

    let crashed = run_on(
        &collector,
        &scripts.path("spill"),
        &["--mode", "continuous", script.to_str().unwrap()],
    );
    assert_eq!(crashed.code, Some(1), "{crashed:?}");
    // The script asked for Continuous; the collector allows OnEvent.
    assert_eq!(crashed.stdout, "mode revdebug.OnEvent\n");
    assert!(
        crashed
            .stderr
            .contains("rewind: the collector allows on-event at most; recording on-event"),
        "{}",
        crashed.stderr
    );
    let listed = collector.recordings(None);
    let kinds: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|info| info["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|kind| **kind == "snapshot").count(),
        1,
        "{listed:#}"
    );
    let crash = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|info| info["kind"] == "crash")
        .unwrap_or_else(|| panic!("{listed:#}"));
    assert_eq!(kinds.len(), 2, "{listed:#}");
    assert!(
        crashed.stderr.contains("rewind: snapshot recorded on "),
        "{}",
        crashed.stderr
    );
    assert_eq!(crash["script"], "app");
    assert_eq!(crash["guest"], crate::guest_name());
    assert_eq!(crash["complete"], true);
    let id = crash["id"].as_str().unwrap();
    assert!(
        crashed.stderr.contains(&format!(
            "rewind: crash recorded on {} as {id} ",
            collector.url
        )),
        "{}",
        crashed.stderr
    );
    // Nothing is left waiting once the collector has it.
    assert_eq!(std::fs::read_dir(scripts.path("spill")).unwrap().count(), 0);

    // Replay by id, and by URL, with nothing downloaded by hand.
    let cache = scripts.path("cache");
    let session = debug_on(&collector, cache.clone(), id, b"backtrace\nprint b\n");
    assert_eq!(session.code, Some(0), "{session:?}");
    assert!(
        session.stdout.contains("#0 divide at "),
        "{}",
        session.stdout
    );
    assert!(
        session.stdout.contains("(rewind) print b\nb = 0"),
        "{}",
        session.stdout
    );
    let url = format!("{}/v1/recordings/{id}", collector.url);
    let mut replay = rewind();
    replay
        .env("REWIND_CACHE_DIR", &cache)
        .args(["replay", &url, "--exec"]);
    let again = run(&mut replay);
    assert_eq!(again.code, Some(1), "{again:?}");
    assert_eq!(again.stdout, "mode revdebug.OnEvent\n");

    // An unknown id is one line and exit 2.
    let missing = run(rewind().args(["replay", "nope", "--server", &collector.url, "--exec"]));
    assert_eq!(missing.code, Some(2));
    assert_eq!(
        missing.stderr,
        format!("rewind: {} has no recording nope\n", collector.url)
    );
}

#[test]
fn a_continuous_run_streams_its_crash_and_it_replays() {
    let scripts = Scripts::new();
    let script = scripts.write("app.py", &format!("import revdebug\n{CRASH}"));
    let collector = Collector::start(&scripts.path("store"), "127.0.0.1:0", &[]);
    let crashed = run_on(
        &collector,
        &scripts.path("spill"),
        &[script.to_str().unwrap()],
    );
    assert_eq!(crashed.code, Some(1), "{crashed:?}");
    assert_eq!(crashed.stdout, "mode revdebug.Continuous\n");
    let listed = collector.recordings(None);
    let [stream] = listed.as_array().unwrap().as_slice() else {
        panic!("{listed:#}");
    };
    assert_eq!(stream["kind"], "stream");
    assert_eq!(stream["complete"], true);
    let id = stream["id"].as_str().unwrap();
    assert!(
        crashed.stderr.contains(&format!(
            "rewind: recording live to {}/v1/recordings/{id}\n",
            collector.url
        )),
        "{}",
        crashed.stderr
    );
    assert!(
        crashed.stderr.ends_with(&format!(
            "rewind: crash recorded on {url} as {id} (rewind replay {id} --server {url})\n",
            url = collector.url
        )),
        "{}",
        crashed.stderr
    );
    let session = debug_on(&collector, scripts.path("cache"), id, b"backtrace\n");
    assert_eq!(session.code, Some(0), "{session:?}");
    assert!(
        session.stdout.contains("#0 divide at "),
        "{}",
        session.stdout
    );
}

#[test]
fn a_stream_past_the_recording_limit_is_refused_and_keeps_what_came_before() {
    use rewind_format::Writer;
    use rewind_format::model::{Header, Mode, Source};
    let scripts = Scripts::new();
    let collector = Collector::start(
        &scripts.path("store"),
        "127.0.0.1:0",
        &[
            "--max-frame-size",
            "64KiB",
            "--max-recording-size",
            "128KiB",
        ],
    );
    let header = Header {
        recording_id: [9; 16],
        created_unix_ms: 0,
        guest_name: "python".into(),
        guest_digest: "sha256:00".into(),
        mode: Mode::Continuous,
        settings: Vec::new(),
    };
    let mut writer = Writer::new(Vec::new(), &header).unwrap();
    let mut acked = 0;
    let mut refused = None;
    for n in 0..4 {
        if n > 0 {
            let source = Source {
                path: format!("/app/{n}.py"),
                text: "x = 1\n".repeat(8000),
            };
            writer.source(&source).unwrap();
        }
        let frame = &writer.get_ref()[acked..];
        let target = format!("/v1/streams/big?offset={acked}");
        let (status, body) = http(collector.port, &request("PUT", &target, None, frame));
        match status {
            200 => acked = writer.get_ref().len(),
            _ => {
                refused = Some((status, String::from_utf8_lossy(&body).into_owned()));
                break;
            }
        }
    }
    let (status, body) = refused.expect("the limit was never reached");
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("131072 bytes"), "{body}");
    let listed = collector.recordings(None);
    assert_eq!(listed[0]["size"].as_u64().unwrap(), acked as u64);
    assert_eq!(listed[0]["complete"], false);
    let (_, stored) = http(
        collector.port,
        &request("GET", "/v1/recordings/big", None, b""),
    );
    assert!(
        stored == writer.get_ref()[..acked],
        "the stored stream changed"
    );
}

/// moto's S3 server, as the README's test command installs it.
fn moto_server() -> std::path::PathBuf {
    let path = match std::env::var_os("REWIND_TEST_MOTO_SERVER") {
        Some(path) => path.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto/bin/moto_server"),
    };
    assert!(
        path.exists(),
        "{} is missing: the README's test command installs it (moto[server] from PyPI), an S3-compatible server",
        path.display()
    );
    path
}

/// A child killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_s3_compatible_store_keeps_recordings_across_restarts() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _moto = Killed(
        std::process::Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = http(port, &request("PUT", "/recordings-bucket", None, b""));
    assert_eq!(status, 200);
    let s3 = || {
        let mut command = rewind();
        command
            .env("AWS_ENDPOINT", format!("http://127.0.0.1:{port}"))
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
        command
    };
    let store = std::ffi::OsStr::new("s3://recordings-bucket/rewind");
    let scripts = Scripts::new();
    let mut collector = Collector::start_with(s3(), store, "127.0.0.1:0", &[]);
    let streamed = run_on(
        &collector,
        &scripts.path("spill"),
        &[scripts.write("stream.py", STREAM).to_str().unwrap(), "5"],
    );
    assert_eq!(streamed.code, Some(0), "{streamed:?}");
    let app = scripts.write(
        "app.py",
        "def divide(a, b):\n    return a / b\n\ndivide(1, 0)\n",
    );
    let crashed = run_on(&collector, &scripts.path("spill"), &[app.to_str().unwrap()]);
    assert_eq!(crashed.code, Some(1), "{crashed:?}");
    let before = collector.recordings(None);
    assert_eq!(before.as_array().unwrap().len(), 2, "{before:#}");
    assert!(
        before
            .as_array()
            .unwrap()
            .iter()
            .all(|info| info["complete"] == true)
    );

    // A new collector over the same bucket knows all of it.
    let port_was = collector.port;
    collector.kill();
    let collector = Collector::start_with(s3(), store, &format!("127.0.0.1:{port_was}"), &[]);
    assert_eq!(collector.recordings(None), before);
    let crash = before
        .as_array()
        .unwrap()
        .iter()
        .find(|info| info["kind"] == "crash")
        .unwrap();
    let session = debug_on(
        &collector,
        scripts.path("cache"),
        crash["id"].as_str().unwrap(),
        b"backtrace\n",
    );
    assert_eq!(session.code, Some(0), "{session:?}");
    assert!(
        session.stdout.contains("#0 divide at "),
        "{}",
        session.stdout
    );
}

/// Reads a child's lines into a channel.
fn lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// Waits for a line for which `want` holds, up to a minute.
fn wait_for(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>, want: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let found = want(&line);
        seen.push(line);
        if found {
            return;
        }
    }
    panic!("waited a minute for a line; saw {seen:#?}");
}

/// `acked up to byte N` lines, as the uploader logs them at debug level.
fn last_ack(lines: &[String]) -> Option<u64> {
    lines
        .iter()
        .filter_map(|line| line.split("acked up to byte ").nth(1))
        .filter_map(|n| n.trim().parse().ok())
        .max()
}

fn streaming_runtime(collector: &Collector, spill: &Path, script: &Path, n: &str) -> Child {
    rewind()
        .args(["run", "--server", &collector.url, "--spill"])
        .arg(spill)
        .arg(script)
        .arg(n)
        .env("REWIND_LOG", "rewind_collector=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_runtime_killed_mid_stream_leaves_a_recording_readable_to_its_last_ack() {
    let scripts = Scripts::new();
    let script = scripts.write("stream.py", STREAM);
    let collector = Collector::start(&scripts.path("store"), "127.0.0.1:0", &[]);
    let mut child = streaming_runtime(&collector, &scripts.path("spill"), &script, "0");
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let mut out = Vec::new();
    wait_for(&stdout, &mut out, |line| line == "flushed 10");
    let mut err = Vec::new();
    wait_for(&stderr, &mut err, |line| line.contains("acked up to byte"));
    child.kill().unwrap();
    child.wait().unwrap();
    // Whatever it logged before it died.
    err.extend(stderr.try_iter());
    let acked = last_ack(&err).unwrap();

    // Frames the runtime sent before it died may still be in the
    // collector's socket: read until the listing and the download agree.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (id, bytes) = loop {
        let listed = collector.recordings(None);
        let [stream] = listed.as_array().unwrap().as_slice() else {
            panic!("{listed:#}");
        };
        assert_eq!(stream["kind"], "stream");
        assert_eq!(stream["complete"], false);
        let size = stream["size"].as_u64().unwrap();
        assert!(
            size >= acked,
            "stored {size} bytes, {acked} were acknowledged"
        );
        let id = stream["id"].as_str().unwrap().to_owned();
        let (status, bytes) = http(
            collector.port,
            &request("GET", &format!("/v1/recordings/{id}"), None, b""),
        );
        assert_eq!(status, 200);
        if bytes.len() as u64 == size {
            break (id, bytes);
        }
        assert!(
            Instant::now() < deadline,
            "listed {size} bytes, downloaded {}",
            bytes.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let id = id.as_str();
    let recording = recording_json(&bytes);
    assert!(recording["cut"].is_null(), "{:#}", recording["cut"]);
    assert!(recording["end"].is_null());
    assert!(markers(&recording, "flush") >= 1);

    // The debugger opens it as it is.
    let session = debug_on(&collector, scripts.path("cache"), id, b"info\n");
    assert_eq!(session.code, Some(0), "{session:?}");
    assert!(
        session.stderr.contains("is incomplete on the collector"),
        "{}",
        session.stderr
    );
}

#[test]
fn a_collector_restarted_mid_stream_gets_every_acknowledged_frame() {
    let scripts = Scripts::new();
    let script = scripts.write("stream.py", STREAM);
    let store = scripts.path("store");
    let mut collector = Collector::start(&store, "127.0.0.1:0", &[]);
    let mut child = streaming_runtime(&collector, &scripts.path("spill"), &script, "150");
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let mut out = Vec::new();
    let mut err = Vec::new();
    wait_for(&stdout, &mut out, |line| line == "flushed 10");
    wait_for(&stderr, &mut err, |line| line.contains("acked up to byte"));
    collector.kill();
    // The runtime goes on, and notices.
    wait_for(&stderr, &mut err, |line| line.contains("is unreachable"));
    let acked_before = last_ack(&err).unwrap();
    let restarted = Collector::start(&store, &format!("127.0.0.1:{}", collector.port), &[]);
    let status = child.wait().unwrap();
    err.extend(stderr.iter());
    assert_eq!(status.code(), Some(0), "{err:#?}");
    let unreachable = err
        .iter()
        .filter(|line| line.contains("is unreachable"))
        .count();
    assert_eq!(unreachable, 1, "said once: {err:#?}");

    let listed = restarted.recordings(None);
    let [stream] = listed.as_array().unwrap().as_slice() else {
        panic!("{listed:#}");
    };
    assert_eq!(stream["complete"], true, "{stream:#}");
    assert!(stream["size"].as_u64().unwrap() >= acked_before);
    let id = stream["id"].as_str().unwrap();
    let (status, bytes) = http(
        restarted.port,
        &request("GET", &format!("/v1/recordings/{id}"), None, b""),
    );
    assert_eq!(status, 200);
    let recording = recording_json(&bytes);
    // Every flush of the run is there, and the end.
    assert_eq!(markers(&recording, "flush"), 150);
    assert_eq!(recording["end"]["exit_code"], 0);
    assert!(recording["cut"].is_null());
}

#[test]
fn an_unreachable_collector_leaves_the_crash_for_the_next_run() {
    let scripts = Scripts::new();
    let script = scripts.write("app.py", &format!("import revdebug\n{CRASH}"));
    let spill = scripts.path("spill");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let first = run(rewind()
        .args(["run", "--server", &url, "--server-wait", "1s", "--spill"])
        .arg(&spill)
        .arg(&script));
    assert_eq!(first.code, Some(1), "{first:?}");
    // Capped to on-event, since the policy is unknown.
    assert_eq!(first.stdout, "mode revdebug.OnEvent\n");
    assert_eq!(
        first.stderr.matches("is unreachable").count(),
        1,
        "{}",
        first.stderr
    );
    assert!(first.stderr.contains("is not yet on"), "{}", first.stderr);

    let collector = Collector::start(&scripts.path("store"), &format!("127.0.0.1:{port}"), &[]);
    let second = run_on(&collector, &spill, &["-c", "pass"]);
    assert_eq!(second.code, Some(0), "{second:?}");
    let listed = collector.recordings(None);
    let [crash] = listed.as_array().unwrap().as_slice() else {
        panic!("{listed:#}");
    };
    assert_eq!(
        (&crash["kind"], &crash["script"]),
        (&"crash".into(), &"app".into())
    );
    assert_eq!(crash["complete"], true);
}

#[test]
fn a_collector_that_never_answers_costs_no_more_than_server_wait() {
    let scripts = Scripts::new();
    let script = scripts.write("app.py", &format!("import revdebug\n{CRASH}"));
    let spill = scripts.path("spill");
    // Accepts every connection and answers none.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let mut child = rewind()
        .args(["run", "--server", &url, "--server-wait", "1s", "--spill"])
        .arg(&spill)
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Far more than the run and the waits it is allowed (1 s at the start,
    // 1 s at the end); before, it took 65 s (5 s, then 60 s).
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(40) {
            child.kill().unwrap();
            panic!("rewind run waited on a silent collector past --server-wait");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // Nothing is lost: the crash waits in the spill queue.
    assert!(stderr.contains("is not yet on"), "{stderr}");
    assert!(
        walk(&spill)
            .iter()
            .any(|path| path.to_string_lossy().ends_with("-crash.rwd")),
        "{:?}",
        walk(&spill)
    );
}

/// A listing read by a reader that stops early (`| head`) ends quietly.
#[test]
fn a_listing_into_a_closed_pipe_ends_quietly() {
    let scripts = Scripts::new();
    let collector = Collector::start(&scripts.path("store"), "127.0.0.1:0", &[]);
    for json in [false, true] {
        let mut command = rewind();
        command.args(["recordings", "--server", &collector.url]);
        if json {
            command.arg("--json");
        }
        let run = crate::run_with_stdout_closed(&mut command);
        assert_eq!(run.code, Some(0), "--json {json}: {run:?}");
        assert_eq!(run.stderr, "", "--json {json}");
    }
}

/// A collector that answers every request with a body that never ends:
/// the listing, and a recording whose info says it holds 100 bytes.
fn endless_collector() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read_exact(&mut byte).is_ok() {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head);
                if head.starts_with("GET /v1/recordings/endless/info") {
                    let body = r#"{"id":"endless","kind":"crash","script":"app","guest":"python","guest_digest":"sha256:00","created_unix_ms":0,"received_unix_ms":0,"size":100,"complete":true}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                );
                let chunk = format!("{:x}\r\n{}\r\n", 1 << 16, "[".repeat(1 << 16));
                while stream.write_all(chunk.as_bytes()).is_ok() {}
            });
        }
    });
    url
}

#[test]
fn a_collector_that_sends_without_end_exhausts_nothing() {
    let scripts = Scripts::new();
    let url = endless_collector();
    let cache = scripts.path("cache");
    for args in [
        vec!["recordings", "--server", &url],
        vec!["replay", "endless", "--server", &url, "--exec"],
    ] {
        let mut child = rewind()
            .env("REWIND_CACHE_DIR", &cache)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("{args:?} kept reading an endless answer");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Status 3: the collector, not the command line, is at fault.
        assert_eq!(output.status.code(), Some(3), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("rewind: the collector at {url} sent "))
                && stderr.contains(" longer than ")
                && stderr.ends_with(" bytes; nothing was kept\n"),
            "{args:?}: {stderr}"
        );
    }
    // Nothing of the endless recording is left in the cache.
    assert!(walk(&cache).is_empty(), "{:?}", walk(&cache));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match path.is_dir() {
            true => found.extend(walk(&path)),
            false => found.push(path),
        }
    }
    found
}

#[test]
fn bad_tokens_and_malformed_or_oversized_requests_are_refused_and_lose_nothing() {
    let scripts = Scripts::new();
    let token = "s3cret-token";
    let collector = Collector::start(
        &scripts.path("store"),
        "127.0.0.1:0",
        &["--token", token, "--max-frame-size", "64KiB"],
    );
    let port = collector.port;

    // Every request needs the token, the policy's included.
    let (status, body) = http(port, &request("GET", "/v1/policy", Some(token), b""));
    assert_eq!(status, 200);
    let policy: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(policy["token_required"], true);
    assert_eq!(policy["max_mode"], "continuous");
    for given in [None, Some("wrong-token"), Some("")] {
        for path in ["/v1/policy", "/v1/recordings"] {
            let (status, _) = http(port, &request("GET", path, given, b""));
            assert_eq!(status, 401, "{path} with token {given:?}");
        }
    }
    let denied = run(rewind().args([
        "recordings",
        "--server",
        &collector.url,
        "--token",
        "wrong-token",
    ]));
    assert_eq!(denied.code, Some(2));
    assert!(
        denied.stderr.contains("refused the token"),
        "{}",
        denied.stderr
    );
    // A runtime with a bad token stops before running anything.
    let script = scripts.write(
        "app.py",
        "def divide(a, b):\n    return a / b\n\ndivide(1, 0)\n",
    );
    let refused = run(rewind()
        .args([
            "run",
            "--server",
            &collector.url,
            "--token",
            "wrong-token",
            "--spill",
        ])
        .arg(scripts.path("spill"))
        .arg(&script));
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert_eq!(refused.stdout, "");

    // One good recording.
    let good = run(rewind()
        .args([
            "run",
            "--server",
            &collector.url,
            "--token",
            token,
            "--spill",
        ])
        .arg(scripts.path("spill"))
        .arg(&script));
    assert_eq!(good.code, Some(1), "{good:?}");
    let listed = collector.recordings(Some(token));
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/recordings/{id}");
    let (status, original) = http(port, &request("GET", &path, Some(token), b""));
    assert_eq!(status, 200);

    // A body declared longer than its limit is refused before it is read,
    // however many come at once, none of them sending a byte: frames of
    // 1 GiB (a frame is at most 64 KiB here), recordings of 2 GiB (at most
    // 1 GiB).
    let declared = |path: &str, length: u64| {
        format!(
            "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\nContent-Length: {length}\r\n\r\n"
        )
    };
    let oversized: Vec<_> = (0..8)
        .map(|n| {
            let request = match n % 2 {
                0 => declared(&format!("/v1/streams/big{n}?offset=0"), 1 << 30),
                _ => declared(&format!("/v1/recordings/big{n}?kind=crash"), 2 << 30),
            };
            std::thread::spawn(move || http(port, request.as_bytes()))
        })
        .collect();
    for answer in oversized {
        let (status, body) = answer.join().unwrap();
        assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    }

    let bad: Vec<(&str, String, Vec<u8>, u16)> = vec![
        // Not a recording at all.
        (
            "PUT",
            "/v1/streams/fresh?offset=0".into(),
            b"garbage".to_vec(),
            400,
        ),
        (
            "PUT",
            "/v1/recordings/fresh?kind=crash".into(),
            b"garbage".to_vec(),
            400,
        ),
        // A recording cut short is not a whole one.
        (
            "PUT",
            "/v1/recordings/fresh?kind=crash".into(),
            original[..original.len() / 2].to_vec(),
            400,
        ),
        // Bigger than a frame may be.
        (
            "PUT",
            "/v1/streams/fresh?offset=0".into(),
            vec![0; 70 << 10],
            413,
        ),
        // Another recording under a used id.
        (
            "PUT",
            format!("{path}?kind=crash"),
            original[..original.len() - 1].to_vec(),
            400,
        ),
        (
            "PUT",
            format!("/v1/streams/{id}?offset=0"),
            original.clone(),
            409,
        ),
        // Ids that are not plain names.
        (
            "PUT",
            "/v1/recordings/..?kind=crash".into(),
            original.clone(),
            400,
        ),
        ("GET", "/v1/recordings/.hidden".into(), Vec::new(), 400),
        (
            "PUT",
            "/v1/recordings/x%2F..%2Fy?kind=crash".into(),
            original.clone(),
            400,
        ),
        // A missing or bad query.
        ("PUT", "/v1/streams/fresh".into(), original.clone(), 400),
        (
            "PUT",
            "/v1/recordings/fresh?kind=movie".into(),
            original.clone(),
            400,
        ),
        ("GET", "/v1/nothing".into(), Vec::new(), 404),
    ];
    for (method, target, body, expected) in &bad {
        let (status, answer) = http(port, &request(method, target, Some(token), body));
        assert_eq!(
            status,
            *expected,
            "{method} {target}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    // Not HTTP at all.
    let (status, _) = http(port, b"\x16\x03\x01 hello\r\n\r\n");
    assert_eq!(status, 400);

    // The same bytes again are acknowledged again; nothing else changed.
    let (status, _) = http(
        port,
        &request("PUT", &format!("{path}?kind=crash"), Some(token), &original),
    );
    assert_eq!(status, 201);
    let after = collector.recordings(Some(token));
    assert_eq!(after, listed);
    let (_, stored) = http(port, &request("GET", &path, Some(token), b""));
    assert!(stored == original, "the stored recording changed");
}

#[test]
fn a_collector_off_loopback_needs_a_token() {
    let scripts = Scripts::new();
    let refused = run(rewind()
        .args(["collect", "--listen", "0.0.0.0:0", "--store"])
        .arg(scripts.path("store")));
    assert_eq!(refused.code, Some(2));
    assert_eq!(
        refused.stderr,
        "rewind: --listen 0.0.0.0:0: a collector reachable from other machines needs a token (--token or REWIND_TOKEN)\n"
    );
    let short = run(rewind()
        .args(["collect", "--token", "short", "--store"])
        .arg(scripts.path("store")));
    assert_eq!(short.code, Some(2));
}

/// Sends `head`, then (when `chunked`) 1 MiB chunks until the collector
/// answers; returns the status of its answer.
fn oversized_upload(port: u16, head: String, chunked: bool) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // The answer is read as it comes, while the body is still being sent:
    // the collector answers before the body ends, and then closes.
    let mut reader = stream.try_clone().unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = answered.clone();
    let answer = std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(&mut reader).read_line(&mut line);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        line
    });
    let _ = stream.write_all(head.as_bytes());
    if chunked {
        let chunk = [b'x'; 1 << 20];
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        // Never the last chunk: this body does not end. 4 GiB at most, so
        // that a collector that reads on forever fails the test.
        for _ in 0..4096 {
            if answered.load(std::sync::atomic::Ordering::SeqCst)
                || stream.write_all(&frame).is_err()
            {
                break;
            }
        }
    }
    let line = answer.join().unwrap();
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {line:?}"))
}

/// Four uploads declaring 1 GiB and four chunked bodies that never end, at
/// once: each gets 413, and the collector's peak resident memory stays
/// within its bounds (four bodies read at once, each up to the limit).
/// Read from `/proc` (`VmHWM`), a generous bound; `docs/benchmarks.md` has
/// the figures.
#[test]
fn oversized_and_endless_uploads_at_once_are_refused_in_bounded_memory() {
    const BOUND: u64 = 400 << 20;
    let scripts = Scripts::new();
    let collector = Collector::start(
        &scripts.path("store"),
        "127.0.0.1:0",
        &["--max-recording-size", "64MiB"],
    );
    let port = collector.port;
    let mut uploads = Vec::new();
    for n in 0..4 {
        let declared = format!(
            "PUT /v1/recordings/big-{n}?kind=crash HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            1u64 << 30
        );
        uploads.push(std::thread::spawn(move || {
            oversized_upload(port, declared, false)
        }));
        let endless = format!(
            "PUT /v1/recordings/endless-{n}?kind=crash HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        uploads.push(std::thread::spawn(move || {
            oversized_upload(port, endless, true)
        }));
    }
    for upload in uploads {
        assert_eq!(upload.join().unwrap(), 413);
    }
    let peak = crate::peak_resident(collector.child.id());
    eprintln!("collector: peak resident {} MiB", peak >> 20);
    assert!(peak < BOUND, "{} MiB resident at most", peak >> 20);
    // Nothing was stored, and the collector still answers.
    assert_eq!(collector.recordings(None), serde_json::json!([]));
}

/// Four uploads that stall after a few bytes take every turn the collector
/// reads uploads in: each is dropped after `--upload-idle`, and an upload
/// after them is stored.
#[test]
fn stalled_uploads_give_back_their_turn() {
    use rewind_format::Writer;
    use rewind_format::model::{Header, Mode};
    let scripts = Scripts::new();
    let collector = Collector::start(
        &scripts.path("store"),
        "127.0.0.1:0",
        &["--upload-idle", "1s"],
    );
    let port = collector.port;
    let stalled: Vec<_> = (0..4)
        .map(|n| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
                let head = format!(
                    "PUT /v1/streams/stalled-{n}?offset=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n0123456789"
                );
                stream.write_all(head.as_bytes()).unwrap();
                let mut line = String::new();
                let _ = BufReader::new(&mut stream).read_line(&mut line);
                line
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let header = Header {
        recording_id: [7; 16],
        created_unix_ms: 0,
        guest_name: "python".into(),
        guest_digest: "sha256:00".into(),
        mode: Mode::Continuous,
        settings: Vec::new(),
    };
    let writer = Writer::new(Vec::new(), &header).unwrap();
    let frame = writer.get_ref().clone();
    let (status, body) = http(
        port,
        &request("PUT", "/v1/streams/after?offset=0", None, &frame),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    for upload in stalled {
        let line = upload.join().unwrap();
        assert!(
            line.starts_with("HTTP/1.1 4"),
            "a stalled upload is answered with an error: {line:?}"
        );
    }
}
