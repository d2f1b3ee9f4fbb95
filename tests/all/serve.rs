//! `rewind serve`: a real server on a loopback port, a WSGI app in the guest,
//! Paste's registry and restorer rules checked over HTTP, and the debugger.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::{Scripts, rewind};

/// The application: one endpoint per rule, and failures to debug.
const APP: &str = r#"
import sys
from revdebug.registry import RegistryManager, StackedObjectProxy, restorer

user = StackedObjectProxy(name="user")
session = StackedObjectProxy(name="session")
settings = StackedObjectProxy(default="defaults", name="settings")
nothing = StackedObjectProxy(name="nothing")

def text(start_response, body, status="200 OK"):
    start_response(status, [("Content-Type", "text/plain")])
    return [body.encode()]

def uses(proxy):
    results = []
    for use in (bool, lambda p: p.anything, lambda p: p["key"], len, iter):
        try:
            use(proxy)
            results.append("ok")
        except TypeError:
            results.append("TypeError")
    return " ".join(results)

def inner(environ, start_response):
    registry = environ["paste.registry"]
    path = environ["PATH_INFO"]
    name = environ.get("QUERY_STRING") or "anon"
    if path == "/empty":
        return text(start_response, uses(nothing))
    if path == "/register":
        registry.register(user, {"name": "first"})
        registry.register(user, {"name": name})
        return text(start_response, "%s %d %s" % (
            user["name"], len(user._object_stack()), environ["outer_registry"] is registry))
    if path == "/outside":
        return text(start_response, repr(restorer.in_restoration()))
    if path == "/fail":
        registry.register(user, {"name": name})
        who = user
        total = 40 + 2
        raise ValueError("failed for %s" % name)
    if path == "/expected":
        raise KeyError("expected")
    if path == "/expected-here":
        environ["paste.expected_exceptions"].append(LookupError)
        raise IndexError("expected by this request")
    if path == "/slow":
        while True:
            pass
    if path == "/sleep":
        import time
        time.sleep(600)
    if path == "/clock":
        import time
        raise ValueError("failed at %r" % time.time())
    if path == "/hungry":
        hoard = []
        while True:
            hoard.append(bytearray(16 << 20))
    if path == "/echo":
        size = int(environ.get("CONTENT_LENGTH") or 0)
        return text(start_response, "%d bytes" % len(environ["wsgi.input"].read(size)))
    return text(start_response, "hello %s" % name)

def outer(environ, start_response):
    environ["outer_registry"] = environ["paste.registry"]
    environ["paste.registry"].register(session, {"id": "outer-session"})
    environ["paste.registry"].register(user, {"name": "outer-user"})
    # The registry is empty again after each request.
    after = inner_manager(environ, start_response)
    return after

inner_manager = RegistryManager(inner)
app = RegistryManager(outer)
"#;

/// A `rewind serve` child, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    fn start(scripts: &Scripts, extra: &[&str]) -> Server {
        let app = scripts.write("app.py", APP);
        let port = free_port();
        let mut child = rewind()
            .arg("serve")
            .arg(format!("{}:app", app.display()))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--out"])
            .arg(scripts.path("recordings"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting rewind serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        // The workers may speak first (`recording live to ...`).
        let mut before = String::new();
        loop {
            let mut line = String::new();
            let read = lines.read_line(&mut line).unwrap();
            assert!(read > 0, "rewind serve ended: {before}");
            if line.contains("rewind: serving") {
                break;
            }
            before.push_str(&line);
        }
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(before));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Server {
            child,
            port,
            stderr,
        }
    }

    fn get(&self, path: &str) -> Answer {
        http(self.port, "GET", path, &[], b"")
    }

    fn post(&self, path: &str, body: &[u8]) -> Answer {
        http(
            self.port,
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body,
        )
    }

    /// Fails a request as `name`: its debug URL.
    fn fail(&self, name: &str) -> String {
        let answer = self.get(&format!("/fail?{name}"));
        assert_eq!(answer.status, 500, "{}", answer.body);
        // What the guest tells the server's log is not sent on.
        assert_eq!(answer.header("x-rewind-failure"), None, "{answer:?}");
        answer.header("x-debug-url").expect("an X-Debug-URL header")
    }

    /// Evaluates `input` in frame `frame` of the failed request at `url`.
    fn eval(&self, url: &str, frame: usize, input: &str) -> String {
        let exec = url.replace("/view/", "/exec/");
        let body = format!("frame={frame}&input={}", form_encode(input));
        let answer = self.post(&exec, body.as_bytes());
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    }
}

/// One HTTP/1.1 exchange; retried while the server is still starting.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut stream = None;
    for _ in 0..600 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let mut stream = stream.expect("the server never listened");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    // Read up to the body's length: some servers (chromedriver) keep the
    // connection open whatever the request says.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok());
            if let Some(length) = length
                && raw.len() >= end + 4 + length
            {
                break;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

#[test]
fn the_registry_follows_pastes_rules() {
    let scripts = Scripts::new();
    let server = Server::start(&scripts, &[]);
    let hello = server.get("/?alice");
    assert_eq!((hello.status, hello.body.as_str()), (200, "hello alice"));
    // Nothing pushed, no default: every use is a TypeError, bool() too.
    assert_eq!(
        server.get("/empty").body,
        "TypeError TypeError TypeError TypeError TypeError"
    );
    // register replaces in its context; nested managers share a registry.
    assert_eq!(server.get("/register?bob").body, "bob 2 True");
    // Outside a restoration, in_restoration() is False.
    assert_eq!(server.get("/outside").body, "False");
}

#[test]
fn a_failed_request_is_debugged_with_its_state_restored() {
    let scripts = Scripts::new();
    let server = Server::start(&scripts, &["--expect", "KeyError"]);
    let url = server.fail("carol");
    assert!(url.starts_with("/_debug/view/"), "{url}");

    // The page lists the frames and their locals.
    let page = server.get(&url);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("ValueError: failed for carol"),
        "{}",
        page.body
    );
    let frames = server.get(&url.replace("/view/", "/frames/"));
    let frames: serde_json::Value = serde_json::from_str(&frames.body).unwrap();
    let names: Vec<&str> = frames
        .as_array()
        .unwrap()
        .iter()
        .map(|frame| frame["function"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["outer", "inner"]);
    assert_eq!(frames[1]["locals"]["total"], "42");
    assert_eq!(frames[1]["locals"]["name"], "'carol'");
    // A proxy among them shows the object it had in the request.
    assert_eq!(frames[1]["locals"]["who"], "{'name': 'carol'}");
    // Each frame's source around its line.
    let line = frames[1]["line"].as_u64().unwrap();
    let source: Vec<(u64, &str)> = frames[1]["source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["line"].as_u64().unwrap(),
                line["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(source.len(), 7, "{source:?}");
    assert_eq!(
        source[3],
        (line, r#"        raise ValueError("failed for %s" % name)"#)
    );
    assert_eq!(source[2], (line - 1, "        total = 40 + 2"));
    assert_eq!(frames[1]["repl"], serde_json::json!({}));

    // REPL: values echo, output is captured, exceptions are shown, and
    // assignments stay for the next input.
    assert_eq!(server.eval(&url, 1, "total * 2"), "84\n");
    assert_eq!(server.eval(&url, 1, "doubled = total * 2"), "");
    assert_eq!(
        server.eval(&url, 1, "print('twice', doubled)"),
        "twice 84\n"
    );
    // What the prompt made is its own, apart from the frame's locals, a
    // local bound anew included.
    assert_eq!(server.eval(&url, 1, "import json; total = 1"), "");
    assert_eq!(server.eval(&url, 1, "total"), "1\n");
    let frames = server.get(&url.replace("/view/", "/frames/"));
    let frames: serde_json::Value = serde_json::from_str(&frames.body).unwrap();
    let repl = frames[1]["repl"].as_object().unwrap();
    let made: Vec<&str> = repl.keys().map(String::as_str).collect();
    assert_eq!(made, ["_", "doubled", "json", "total"], "{repl:?}");
    assert_eq!(repl["doubled"], "84");
    assert_eq!(repl["total"], "1");
    let locals = frames[1]["locals"].as_object().unwrap();
    for name in ["_", "doubled", "json"] {
        assert!(!locals.contains_key(name), "{name} in {locals:?}");
    }
    assert_eq!(locals["total"], "42");
    assert_eq!(frames[0]["repl"], serde_json::json!({}));
    let error = server.eval(&url, 1, "1 / 0");
    assert!(
        error.ends_with("ZeroDivisionError: division by zero\n"),
        "{error}"
    );

    // The request's objects, restored, long after it ended: the innermost
    // saved context first, then the outer one.
    assert_eq!(server.eval(&url, 1, "user['name']"), "'carol'\n");
    assert_eq!(server.eval(&url, 0, "session['id']"), "'outer-session'\n");
    // Saved once, by the innermost manager, with both contexts.
    assert_eq!(
        server.eval(
            &url,
            1,
            "len(restorer.saved_registry_states[restorer.in_restoration()][1])"
        ),
        "2\n"
    );
    // Not registered in the request: the live stack, then the default,
    // then TypeError.
    assert_eq!(
        server.eval(&url, 1, "settings._current_obj()"),
        "'defaults'\n"
    );
    assert!(
        server.eval(&url, 1, "nothing.x").ends_with(
            "TypeError: No object (name: nothing) has been registered for this thread\n"
        )
    );
    // Pushes and pops do nothing while restoring.
    assert_eq!(
        server.eval(
            &url,
            1,
            "user._push_object({'name': 'x'}); user._pop_object(); user['name']"
        ),
        "'carol'\n"
    );
    // in_restoration() is the id; restoration_end() twice is fine.
    let id = url.rsplit('/').next().unwrap();
    assert_eq!(
        server.eval(&url, 1, "restorer.in_restoration()"),
        format!("'{id}'\n")
    );
    assert_eq!(
        server.eval(
            &url,
            1,
            "restorer.restoration_end(); restorer.restoration_end(); restorer.in_restoration()"
        ),
        "False\n"
    );
    // Evaluation is in the sandbox: the host's files are not there.
    assert!(
        server
            .eval(&url, 1, "open('/etc/passwd')")
            .contains("FileNotFoundError"),
    );
    // The request is recorded, too.
    let recordings: Vec<_> = std::fs::read_dir(scripts.path("recordings"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        recordings.iter().any(|name| name.contains("-crash")),
        "{recordings:?}"
    );

    // Expected exceptions: the plain 500 of any WSGI server, not kept.
    for path in ["/expected", "/expected-here"] {
        let answer = server.get(path);
        assert_eq!(answer.status, 500);
        assert_eq!(answer.header("x-debug-url"), None, "{path}");
        assert_eq!(answer.body, "Internal Server Error\n");
    }
    // Unknown ids, and ids of another server, are 404.
    for bad in [
        "/_debug/view/nope",
        "/_debug/view/00000000-0.1-1",
        "/_debug/exec/x-y-z",
    ] {
        assert_eq!(server.get(bad).status, 404, "{bad}");
    }
    let stderr = server.stderr.lock().unwrap().clone();
    assert!(
        stderr.contains(
            "rewind: GET /fail?carol failed with ValueError: failed for carol; debug it at http://127.0.0.1:"
        ),
        "{stderr}"
    );

    // A page of another site cannot reach the debugger, whether its name
    // points here (DNS rebinding: a Host that is not this server) or it
    // posts from the browser of the user (an Origin that is not this one).
    let exec = url.replace("/view/", "/exec/");
    let port = server.port;
    for (method, host, origin) in [
        ("GET", format!("evil.example:{port}"), None),
        ("POST", format!("evil.example:{port}"), None),
        ("GET", format!("127.0.0.1:{}", port + 1), None),
        (
            "POST",
            format!("127.0.0.1:{port}"),
            Some("http://evil.example".to_owned()),
        ),
    ] {
        let status = raw_status(port, method, &exec, &host, origin.as_deref());
        assert_eq!(status, 403, "{method} Host {host} Origin {origin:?}");
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let origin = format!("http://{host}");
        assert_eq!(raw_status(port, "GET", &url, &host, None), 200, "{host}");
        assert_ne!(
            raw_status(port, "POST", &exec, &host, Some(&origin)),
            403,
            "{host}"
        );
    }
}

/// The status of a request with its own `Host` (and `Origin`).
fn raw_status(port: u16, method: &str, path: &str, host: &str, origin: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let origin = origin.map_or(String::new(), |origin| format!("Origin: {origin}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{origin}Connection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

#[test]
fn concurrent_failures_keep_their_own_state() {
    let scripts = Scripts::new();
    let server = std::sync::Arc::new(Server::start(&scripts, &["--workers", "2"]));
    let names = ["dave", "erin", "frank", "grace"];
    let urls: Vec<(String, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let server = server.clone();
                scope.spawn(move || (name.to_string(), server.fail(name)))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    let mut distinct: Vec<&String> = urls.iter().map(|(_, url)| url).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), names.len());
    for (name, url) in &urls {
        assert_eq!(
            server.eval(url, 1, "user['name']"),
            format!("'{name}'\n"),
            "{url}"
        );
    }
}

#[test]
fn limits_answer_for_the_request_and_the_worker_is_replaced() {
    let scripts = Scripts::new();
    let server = Server::start(
        &scripts,
        &[
            "--workers",
            "1",
            "--request-timeout",
            "2s",
            "--max-memory",
            "256MiB",
            "--max-body",
            "1KiB",
        ],
    );
    let slow = server.get("/slow");
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert!(slow.body.contains("ran out of time"), "{}", slow.body);
    assert_eq!(server.get("/?after").body, "hello after");
    // Waiting in a host call, not running: the deadline holds as well.
    let sleeping = server.get("/sleep");
    assert_eq!(sleeping.status, 504, "{}", sleeping.body);
    assert!(
        sleeping.body.contains("ran out of time"),
        "{}",
        sleeping.body
    );
    assert_eq!(server.get("/?awake").body, "hello awake");
    let hungry = server.get("/hungry");
    assert_eq!(hungry.status, 500, "{}", hungry.body);
    assert!(hungry.body.contains("memory"), "{}", hungry.body);
    assert_eq!(server.get("/?again").body, "hello again");
    let big = server.post("/echo", &[b'x'; 2048]);
    assert_eq!(big.status, 413);
    assert_eq!(server.post("/echo", &[b'x'; 512]).body, "512 bytes");
}

#[test]
fn a_worker_stopped_under_a_request_closes_its_continuous_stream() {
    let scripts = Scripts::new();
    let server = Server::start(
        &scripts,
        &[
            "--workers",
            "1",
            "--request-timeout",
            "1s",
            "--mode",
            "continuous",
        ],
    );
    assert_eq!(server.get("/?before").body, "hello before");
    assert_eq!(server.get("/slow").status, 504);
    assert_eq!(server.get("/?after").body, "hello after");
    // The stopped worker's stream, and its replacement's (still open).
    let streams = crate::recording::recordings(&scripts.path("recordings"));
    assert_eq!(streams.len(), 2, "{streams:?}");
    let mut stopped: Vec<_> = streams
        .iter()
        .map(|stream| crate::recording::dump(stream))
        .filter(|stream| !stream["crashes"].as_array().unwrap().is_empty())
        .collect();
    let [stopped] = &mut stopped[..] else {
        panic!("one stream with the crash, not {stopped:?}");
    };
    let crashes = stopped["crashes"].as_array().unwrap();
    assert_eq!(crashes.len(), 1, "{crashes:?}");
    assert_eq!(crashes[0]["reason"]["reason"], "limit", "{crashes:?}");
    assert!(!stopped["end"].is_null(), "the stream is closed: {stopped}");
}

#[test]
fn off_loopback_the_debugger_needs_the_token() {
    let scripts = Scripts::new();
    let app = scripts.write("app.py", APP);
    let port = free_port();
    let mut child = rewind()
        .arg("serve")
        .arg(format!("{}:app", app.display()))
        .args(["--listen", &format!("0.0.0.0:{port}"), "--out"])
        .arg(scripts.path("recordings"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap());
    let mut banner = String::new();
    lines.read_line(&mut banner).unwrap();
    let mut token_line = String::new();
    lines.read_line(&mut token_line).unwrap();
    let token = token_line
        .split("token is ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no token printed: {token_line:?}"))
        .to_owned();
    let fail = http(port, "GET", "/fail?heidi", &[], b"");
    let url = fail.header("x-debug-url").unwrap();
    assert_eq!(http(port, "GET", &url, &[], b"").status, 401);
    assert_eq!(
        http(port, "GET", &format!("{url}?token=wrong"), &[], b"").status,
        401
    );
    let opened = http(port, "GET", &format!("{url}?token={token}"), &[], b"");
    assert_eq!(opened.status, 200);
    let cookie = opened.header("set-cookie").unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let frames = http(
        port,
        "GET",
        &url.replace("/view/", "/frames/"),
        &[("Cookie", cookie)],
        b"",
    );
    assert_eq!(frames.status, 200);
    // The application itself needs no token.
    assert_eq!(http(port, "GET", "/?ivan", &[], b"").body, "hello ivan");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn an_app_that_cannot_start_stops_the_server_with_one_line() {
    let scripts = Scripts::new();
    let app = scripts.write("broken.py", "import no_such_module\n");
    let run = crate::run(
        rewind()
            .arg("serve")
            .arg(format!("{}:app", app.display()))
            .args(["--listen", &format!("127.0.0.1:{}", free_port())]),
    );
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(
        run.stderr
            .contains("cannot be served: the application stopped before serving"),
        "{}",
        run.stderr
    );
    // Two workers, one traceback and one crash recording: the first worker
    // starts alone.
    assert_eq!(
        run.stderr
            .matches("ModuleNotFoundError: No module named 'no_such_module'")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(run.recorded.len(), 1, "{run:?}");
    let missing = crate::run(rewind().args(["serve", "nope.py:app"]));
    assert_eq!(missing.code, Some(2));
    let not_python = crate::run(rewind().args(["serve", "app.txt"]));
    assert_eq!(not_python.code, Some(2));
}

/// A WebDriver session on Debian's chromium, headless, through
/// chromedriver: the few commands the browser test needs, over plain HTTP.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: the README's test command installs Debian's chromium and chromium-driver"
            );
        }
        let port = free_port();
        let driver = std::process::Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = serde_json::json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                },
            }},
        });
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        let created = browser.command("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    /// A WebDriver command: its `value`.
    fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let answer = http(
            self.port,
            method,
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let json: serde_json::Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|_| panic!("not WebDriver JSON: {answer:?}"));
        assert_eq!(answer.status, 200, "{method} {path}: {json}");
        json["value"].clone()
    }

    fn session(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    fn open(&self, url: &str) {
        self.command(
            "POST",
            &self.session("/url"),
            Some(serde_json::json!({ "url": url })),
        );
    }

    /// The element `css` selects: its WebDriver id.
    fn find(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            &self.session("/element"),
            Some(serde_json::json!({"using": "css selector", "value": css})),
        );
        found
            .as_object()
            .and_then(|object| object.values().next())
            .and_then(|id| id.as_str())
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &self.session(&format!("/element/{element}/click")),
            Some(serde_json::json!({})),
        );
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &self.session(&format!("/element/{element}/value")),
            Some(serde_json::json!({ "text": text })),
        );
    }

    /// A DOM property of the element `css` selects.
    fn property(&self, css: &str, name: &str) -> serde_json::Value {
        let element = self.find(css);
        self.command(
            "GET",
            &self.session(&format!("/element/{element}/property/{name}")),
            None,
        )
    }

    fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.command(
            "GET",
            &self.session(&format!("/element/{element}/text")),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(self.port, "DELETE", &self.session(""), &[], b"");
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn a_browser_evaluates_in_a_frame_of_a_failed_request() {
    let scripts = Scripts::new();
    let server = Server::start(&scripts, &[]);
    let url = server.fail("judy");
    let browser = Browser::start();
    browser.open(&format!("http://127.0.0.1:{}{url}", server.port));
    assert!(browser.text("h1").contains("ValueError: failed for judy"));
    // The failing frame is open: its source around the line, that line
    // marked, and its locals. The other frame is closed.
    assert_eq!(browser.property("#frame-1", "open"), true);
    assert_eq!(browser.property("#frame-0", "open"), false);
    let source = browser.text("#frame-1 pre.source");
    assert!(source.contains("total = 40 + 2"), "{source}");
    let current = browser.text("#frame-1 pre.source .current");
    assert!(
        current.contains(" > ") && current.ends_with(r#"raise ValueError("failed for %s" % name)"#),
        "{source}"
    );
    assert!(browser.text("#frame-1 table.locals").contains("total"));
    assert_eq!(browser.text("#frame-0 pre.source"), "");
    browser.click("#frame-0 summary");
    assert!(
        browser
            .text("#frame-0 pre.source .current")
            .contains("after = inner_manager(environ, start_response)")
    );
    // Type an expression and Enter: the request's user, restored.
    browser.type_into("#frame-1 input.eval", "user['name'] + '!'\u{E007}");
    let mut output = String::new();
    for _ in 0..100 {
        output = browser.text("#frame-1 pre.output");
        if output.contains("'judy!'") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(output, ">>> user['name'] + '!'\n'judy!'");
    // Names made at the prompt are listed apart from the frame's locals.
    browser.type_into("#frame-1 input.eval", "doubled = total * 2\u{E007}");
    let mut made = String::new();
    for _ in 0..100 {
        made = browser.text("#frame-1 table.repl");
        if made.contains("doubled") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(made.contains("doubled 84"), "{made}");
    assert!(made.contains("_ 'judy!'"), "{made}");
    let locals = browser.text("#frame-1 table.locals");
    assert!(
        !locals.contains("doubled") && !locals.contains("judy!"),
        "{locals}"
    );
    // Up recalls the input.
    browser.type_into("#frame-1 input.eval", "\u{E013}");
    browser.type_into("#frame-1 input.eval", "\u{E013}");
    assert_eq!(
        browser.property("#frame-1 input.eval", "value"),
        "user['name'] + '!'"
    );
}

/// Restoration is per thread. The guest runs one thread per worker (wasm
/// has no threads yet), so this rule is checked on the same module under
/// CPython, with real threads.
#[test]
fn restoration_is_scoped_to_its_thread() {
    let module =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("guest/python/src/registry.py");
    let script = format!(
        r#"
import importlib.util, threading
spec = importlib.util.spec_from_file_location("registry", {module:?})
registry = importlib.util.module_from_spec(spec)
spec.loader.exec_module(registry)
proxy = registry.StackedObjectProxy(default="live default", name="proxy")
environ = {{"paste.evalexception": True, "paste.evalexception.debug_count": "r1"}}
def failing(environ, start_response):
    environ["paste.registry"].register(proxy, "saved")
    raise ValueError("boom")
try:
    registry.RegistryManager(failing)(environ, None)
except ValueError:
    pass
registry.restorer.restoration_begin("r1")
seen = {{}}
def other():
    seen["id"] = registry.restorer.in_restoration()
    seen["value"] = str(proxy)
thread = threading.Thread(target=other)
thread.start()
thread.join()
print(registry.restorer.in_restoration(), str(proxy), seen["id"], seen["value"])
"#,
        module = module.display().to_string()
    );
    let output = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("running python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "r1 'saved' False 'live default'\n"
    );
}

#[test]
fn a_failed_requests_recording_has_the_inputs_it_read() {
    let scripts = Scripts::new();
    let server = Server::start(&scripts, &["--workers", "1"]);
    for n in 0..5 {
        assert_eq!(server.get(&format!("/?{n}")).body, format!("hello {n}"));
    }
    assert_eq!(server.get("/clock").status, 500);
    let files = crate::recording::recordings(&scripts.path("recordings"));
    let [file] = &files[..] else {
        panic!("one recording of the failed request, not {files:?}");
    };
    let recording = crate::recording::dump(file);
    let crashes = recording["crashes"].as_array().unwrap();
    let thread = crashes.last().expect("the request's crash")["thread"].to_string();
    let inputs = recording["threads"][&thread]["inputs"].as_array().unwrap();
    assert!(
        inputs.iter().any(|input| input["kind"] == "wall-clock"),
        "the request's thread {thread} logged the clock it read: {inputs:?}"
    );
    // The request's own part: not the worker's start, nor the requests
    // served before it.
    let threads: Vec<&String> = recording["threads"].as_object().unwrap().keys().collect();
    assert_eq!(threads, [&thread], "{recording}");
    let replayed = crate::run(crate::rewind().args(["replay", "--exec"]).arg(file));
    assert_eq!(replayed.code, Some(3), "{replayed:?}");
    assert!(
        replayed
            .stderr
            .contains("it is the recording of one request of `rewind serve`"),
        "{replayed:?}"
    );
}
