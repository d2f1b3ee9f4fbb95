//! `rewind serve`: an HTTP/1.1 server whose requests a WSGI application
//! answers inside the Python guest, with the debugger for failed requests.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderName, HeaderValue, Request as HttpRequest, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use clap::Args;
use rewind_collector::server::token_matches;
use rewind_runtime::{
    Component, ComponentSource, DirGrant, Job, Jobs, Limits, Mode, Recorder, RecordingConfig,
    Request, Response, Runtime, Sandbox,
};

use crate::common::args::{
    ANY_SIZE, parse_duration, parse_env, parse_grants, parse_mode, parse_python_memory, parse_size,
    script_path,
};
use crate::common::guest::PythonArg;
use crate::common::{UsageError, guest, io_message, report};

/// Serve a WSGI application over HTTP, sandboxed, with a debugger for the
/// requests that fail.
///
/// APP is FILE.py:CALLABLE (CALLABLE defaults to `application`): the file
/// is imported as a module in the Python guest and CALLABLE, a PEP 3333
/// application, answers every request. Requests run on --workers guest
/// instances, one request at a time each; each request is a thread of its
/// worker's recording.
///
/// A request that fails with an unexpected exception is answered with a
/// 500 whose `X-Debug-URL` header names its debug page: the traceback, each
/// frame's locals, and a prompt in each frame that evaluates Python there
/// (inside the sandbox) with the request's registered objects restored
/// (`revdebug.registry`, Paste's registry and restorer). Its recording is
/// written into --out. Exceptions named with --expect are not kept: they
/// get the plain 500 any WSGI server gives.
///
/// On loopback the debug pages are open; bound elsewhere, they need the
/// token printed at start (`?token=TOKEN` once, then a cookie).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,

    /// Guest instances serving requests side by side.
    #[arg(long, value_name = "N", default_value_t = 2)]
    workers: usize,

    /// The longest a request may run; past it the request is answered with
    /// 504 and its worker is replaced.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    request_timeout: String,

    /// The most memory a worker may use; a request that needs more is
    /// answered with 500 and its worker is replaced.
    #[arg(long, value_name = "SIZE", default_value = "512MiB")]
    max_memory: String,

    /// The largest request body; a larger one is answered with 413.
    #[arg(long, value_name = "SIZE", default_value = "10MiB")]
    max_body: String,

    /// An exception class (`KeyError`, `myapp.errors.NotFound`) that is
    /// part of normal operation: it is not kept for the debugger.
    #[arg(long = "expect", value_name = "EXCEPTION")]
    expected: Vec<String>,

    /// The debugger's token; generated and printed when the server is not
    /// on loopback and none is given.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "REWIND_DEBUG_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    #[command(flatten)]
    guest: PythonArg,

    /// Grant a host directory, read-only (`HOST_DIR[::GUEST_DIR]`).
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]")]
    dirs: Vec<String>,

    /// Set an environment variable of the guest.
    #[arg(long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,

    /// The recording mode of each worker: off, on-event or continuous.
    #[arg(long, value_name = "MODE", default_value = "on-event", value_parser = parse_mode)]
    mode: Mode,

    /// Where recordings are written.
    #[arg(
        long,
        value_name = "DIR",
        env = "REWIND_OUT",
        default_value = "rewind-recordings"
    )]
    out: PathBuf,

    /// FILE.py:CALLABLE
    #[arg(value_name = "APP")]
    app: String,
}

/// Everything a worker needs to start (again).
struct Plan {
    runtime: Runtime,
    /// The Python guest, named and digested for its recordings.
    source: ComponentSource,
    component: Component,
    script: String,
    callable: String,
    grants: Vec<DirGrant>,
    env: Vec<(String, String)>,
    expected: Vec<String>,
    limits: Limits,
    request_timeout: Duration,
    mode: Mode,
    out: PathBuf,
    /// This server's tag in debug ids: an id from another server is not
    /// one of ours.
    tag: String,
    /// Set when the server has stopped taking requests.
    stopping: AtomicBool,
    /// Opened once the first worker has started, or the server stops.
    first_started: Arc<Gate>,
    /// Why the server must stop, when a worker cannot start at all.
    failed: Mutex<Option<String>>,
    stop: tokio::sync::Notify,
}

/// What the HTTP side knows of the workers.
struct Shared {
    jobs: crossbeam_channel::Sender<Job>,
    /// Each worker's own queue, for its debug pages.
    workers: Vec<crossbeam_channel::Sender<Job>>,
    /// Each worker's incarnation: a new guest after one stopped.
    incarnations: Arc<Vec<AtomicU64>>,
    tag: String,
    token: Option<String>,
    max_body: usize,
    request_timeout: Duration,
    listen: SocketAddr,
}

pub fn main(args: ServeArgs) -> Result<ExitCode> {
    let (file, callable) = match args.app.rsplit_once(':') {
        Some((file, callable)) if !callable.is_empty() && !callable.contains('/') => {
            (file, callable)
        }
        _ => (args.app.as_str(), "application"),
    };
    if !file.ends_with(".py") {
        return Err(UsageError(format!("{}: APP is FILE.py:CALLABLE", args.app)).into());
    }
    if !callable
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(UsageError(format!("{callable:?} is not a Python name")).into());
    }
    let script = script_path(file)?;
    if args.workers == 0 || args.workers > 64 {
        return Err(UsageError("--workers: between 1 and 64".into()).into());
    }
    let request_timeout = parse_duration("--request-timeout", &args.request_timeout)?;
    let max_memory = parse_python_memory(&args.max_memory)?;
    let max_body = parse_size("--max-body", &args.max_body, ANY_SIZE)?;
    let listen = args
        .listen
        .to_socket_addrs()
        .map_err(|err| UsageError(format!("--listen {}: {err}", args.listen)))?
        .next()
        .ok_or_else(|| UsageError(format!("--listen {}: no address", args.listen)))?;
    let token = match args.token.filter(|token| !token.is_empty()) {
        Some(token) => Some(token),
        None if !listen.ip().is_loopback() => {
            Some((0..4).map(|_| format!("{:08x}", rand_u32())).collect())
        }
        None => None,
    };
    let script_dir = Path::new(&script).parent().unwrap_or(Path::new("/"));
    let mut grants = parse_grants(
        &args.dirs,
        &[],
        Some((script_dir, "the script's directory")),
    )?;
    args.guest.python.add_grants(&mut grants)?;
    let env = args
        .env
        .iter()
        .map(|spec| parse_env(spec))
        .collect::<Result<Vec<_>>>()?;

    let runtime = Runtime::new()?;
    let source = args.guest.python.source();
    let component = guest::load(&runtime, &source)?;
    let tag = format!("{:08x}", rand_u32());
    let plan = Arc::new(Plan {
        runtime,
        source,
        component,
        script,
        callable: callable.to_owned(),
        grants,
        env,
        expected: args.expected,
        limits: Limits {
            max_memory,
            timeout: None,
        },
        request_timeout,
        mode: args.mode,
        out: args.out,
        tag: tag.clone(),
        stopping: AtomicBool::new(false),
        first_started: Arc::new(Gate::default()),
        failed: Mutex::new(None),
        stop: tokio::sync::Notify::new(),
    });

    let (jobs, shared_jobs) = crossbeam_channel::unbounded::<Job>();
    let mut workers = Vec::new();
    let mut threads = Vec::new();
    for index in 0..args.workers {
        let (own, own_jobs) = crossbeam_channel::unbounded::<Job>();
        workers.push(own);
        threads.push((index, shared_jobs.clone(), own_jobs));
    }
    let incarnations: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.workers).map(|_| AtomicU64::new(0)).collect());
    let shared = Arc::new(Shared {
        jobs,
        workers,
        incarnations: incarnations.clone(),
        tag,
        token: token.clone(),
        max_body: usize::try_from(max_body).unwrap_or(usize::MAX),
        request_timeout,
        listen,
    });
    drop(shared_jobs);
    let mut handles = Vec::new();
    for (index, shared_jobs, own_jobs) in threads {
        let plan = plan.clone();
        let incarnations = incarnations.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || work(&plan, &incarnations[index], index, shared_jobs, own_jobs))?,
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the HTTP server's runtime")?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|err| UsageError(format!("cannot listen on {listen}: {}", io_message(&err))))?;
        let bound = listener.local_addr()?;
        eprintln!(
            "rewind: serving {} on http://{bound} with {} workers; Ctrl-C stops",
            args.app, args.workers
        );
        if let Some(token) = &token {
            eprintln!("rewind: the debugger's token is {token} (open a debug page once with ?token={token})");
        }
        let app = Router::new().fallback(handle).with_state(shared.clone());
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown({
            let plan = plan.clone();
            async move { stopped(&plan.stop).await }
        })
        .await
        .context("the server stopped")
    });
    // No more requests: the workers finish theirs and return.
    plan.stopping.store(true, Ordering::SeqCst);
    plan.first_started.open();
    drop(shared);
    drop(runtime);
    for handle in handles {
        let _ = handle.join();
    }
    served?;
    if let Some(why) = plan.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
        anyhow::bail!("{} cannot be served: {why}", args.app);
    }
    Ok(ExitCode::SUCCESS)
}

fn rand_u32() -> u32 {
    rand::random()
}

async fn stopped(stop: &tokio::sync::Notify) {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = interrupt => {}
        _ = stop.notified() => return,
        _ = async {
            match &mut terminate {
                Some(terminate) => { terminate.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
    eprintln!("rewind: stopping");
}

/// A worker's requests: its own queue (debug pages of its failed requests)
/// and the shared one.
struct WorkerJobs {
    shared: crossbeam_channel::Receiver<Job>,
    own: crossbeam_channel::Receiver<Job>,
    /// Set once the guest asked for a request: it started.
    started: Arc<AtomicBool>,
    first_started: Arc<Gate>,
}

impl Jobs for WorkerJobs {
    fn next(&mut self) -> Option<Job> {
        if !self.started.swap(true, Ordering::SeqCst) {
            self.first_started.open();
        }
        crossbeam_channel::select! {
            recv(self.own) -> job => job.ok(),
            recv(self.shared) -> job => job.ok(),
        }
    }
}

/// Runs worker `index`, starting a new guest each time one stops, until the
/// server stops.
fn work(
    plan: &Plan,
    incarnation: &AtomicU64,
    index: usize,
    shared_jobs: crossbeam_channel::Receiver<Job>,
    own_jobs: crossbeam_channel::Receiver<Job>,
) {
    // The first worker starts alone: an application that cannot start then
    // fails once, with one traceback and one crash recording, not once per
    // worker. The others start as soon as it has, while it serves.
    if index > 0 {
        plan.first_started.wait();
        if plan.stopping.load(Ordering::SeqCst) {
            return;
        }
    }
    loop {
        let incarnation = incarnation.fetch_add(1, Ordering::SeqCst) + 1;
        let prefix = format!("{}-{index}.{incarnation}-", plan.tag);
        let mut args = vec![
            "python".to_owned(),
            "--script".to_owned(),
            plan.script.clone(),
            "--serve".to_owned(),
            plan.callable.clone(),
            "--debug-prefix".to_owned(),
            prefix,
        ];
        for expected in &plan.expected {
            args.extend(["--expect".to_owned(), expected.clone()]);
        }
        args.extend(["--".to_owned(), plan.script.clone()]);
        let mut sandbox = Sandbox::new(args);
        for grant in &plan.grants {
            sandbox.dir(grant.clone());
        }
        for (key, value) in &plan.env {
            sandbox.env(key, value);
        }
        if plan.mode > Mode::Off {
            sandbox.record(recorder(plan));
        }
        let started = Arc::new(AtomicBool::new(false));
        let jobs = WorkerJobs {
            shared: shared_jobs.clone(),
            own: own_jobs.clone(),
            started: started.clone(),
            first_started: plan.first_started.clone(),
        };
        let outcome = plan.runtime.serve(
            &plan.component,
            sandbox,
            &plan.limits,
            Box::new(jobs),
            plan.request_timeout,
        );
        // The server stopped: no more requests will come.
        if plan.stopping.load(Ordering::SeqCst) {
            return;
        }
        let why = match outcome {
            Ok(outcome) => outcome.to_string(),
            Err(err) => format!("{err:#}"),
        };
        if !started.load(Ordering::SeqCst) {
            // It stopped before taking a request: the application does not
            // import, or has no such callable. Starting it again would fail
            // again.
            let mut failed = plan.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert(format!("the application stopped before serving ({why})"));
            plan.stopping.store(true, Ordering::SeqCst);
            plan.first_started.open();
            plan.stop.notify_one();
            return;
        }
        eprintln!("rewind: worker {index} stopped ({why}); starting another");
    }
}

/// A gate that threads wait at until it is opened, once and for all.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.opened.notify_all();
    }

    fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        while !*open {
            open = self.opened.wait(open).unwrap_or_else(|p| p.into_inner());
        }
    }
}

fn recorder(plan: &Plan) -> Recorder {
    let name = Path::new(&plan.script)
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".to_owned());
    let config = RecordingConfig {
        mode: plan.mode,
        name,
        settings: vec![
            ("max-memory".to_owned(), plan.limits.max_memory.to_string()),
            ("hash-seed".to_owned(), "0".to_owned()),
        ],
        max_bytes: crate::common::args::recording_budget(plan.limits.max_memory),
        // A failed request's recording is its own part, for the debugger.
        per_request_files: true,
        ..RecordingConfig::new(&plan.source, &plan.out)
    };
    Recorder::new(config, report::print_recorder_event)
}

/// Every request: the body read (up to the limit), handed to a worker, its
/// answer sent back.
async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    request: HttpRequest<Body>,
) -> HttpResponse {
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, shared.max_body).await {
        Ok(body) => body,
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the request body is larger than --max-body ({} bytes)",
                    shared.max_body
                ),
            );
        }
    };
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let mut set_cookie = None;
    let queue = match path.strip_prefix("/_debug/") {
        Some(rest) => {
            if let Err(why) = debug_request_allowed(shared.listen, &parts.method, &parts.headers) {
                return text(StatusCode::FORBIDDEN, why);
            }
            if let Some(token) = &shared.token {
                let given = query_param(&query, "token").or_else(|| cookie(&parts.headers));
                if !given.is_some_and(|given| token_matches(&given, token)) {
                    return text(
                        StatusCode::UNAUTHORIZED,
                        "the debugger needs the token rewind serve printed at start: add ?token=TOKEN",
                    );
                }
                set_cookie = Some(format!(
                    "rewind_debug={token}; Path=/_debug/; HttpOnly; SameSite=Strict"
                ));
            }
            let id = rest.split('/').nth(1).unwrap_or_default();
            match worker_of(&shared, id) {
                Some(worker) => &shared.workers[worker],
                None => return text(StatusCode::NOT_FOUND, "no such failed request"),
            }
        }
        None => &shared.jobs,
    };
    let mut headers = Vec::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.push((name.as_str().to_owned(), value.to_owned()));
        }
    }
    let request = Request {
        method: parts.method.as_str().to_owned(),
        path,
        query,
        headers,
        body: body.to_vec(),
        remote_addr: remote.ip().to_string(),
        remote_port: remote.port(),
        server_name: shared.listen.ip().to_string(),
        server_port: shared.listen.port(),
    };
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job = Job {
        request,
        respond: Box::new(move |response| {
            let _ = answer.send(response);
        }),
    };
    if queue.send(job).is_err() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    }
    // The worker answers within the request timeout, or is stopped and
    // answers for it; the margin covers a queue of requests ahead.
    let wait = shared.request_timeout * 4 + Duration::from_secs(10);
    let response = match tokio::time::timeout(wait, answered).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => Response::text(500, "rewind: the worker stopped without answering"),
        Err(_) => Response::text(503, "rewind: no worker answered in time"),
    };
    let mut reply = HttpResponse::builder()
        .status(StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    // What the debugging layer tells the log: not for the client.
    let mut failure = None;
    for (name, value) in &response.headers {
        if name.eq_ignore_ascii_case(FAILURE_HEADER) {
            failure = Some(value.as_str());
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            reply = reply.header(name, value);
        }
    }
    if let Some(cookie) = set_cookie
        && let Ok(cookie) = HeaderValue::from_str(&cookie)
    {
        reply = reply.header(header::SET_COOKIE, cookie);
    }
    if let Some(url) = response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-debug-url"))
    {
        eprintln!(
            "rewind: {} {} failed with {}; debug it at http://{}{}",
            parts.method,
            parts.uri,
            printable(failure.unwrap_or("an exception")),
            shared.listen,
            url.1
        );
    }
    reply.body(Body::from(response.body)).unwrap_or_else(|_| {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a response the server cannot send",
        )
    })
}

/// The response header in which the guest's debugging layer names the
/// exception of a failed request (`Type: message`, `revdebug.serve`), for
/// the server's log line; it is not sent on.
const FAILURE_HEADER: &str = "x-rewind-failure";

/// `text` as one line a terminal shows as it is: the guest wrote it.
fn printable(text: &str) -> String {
    const MAX: usize = 300;
    let mut line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if text.chars().nth(MAX).is_some() {
        line.push_str("...");
    }
    line
}

/// The worker whose debug id this is: `TAG-WORKER.INCARNATION-N` of this
/// server, and of the worker's current incarnation (an earlier one's
/// requests went with it).
fn worker_of(shared: &Shared, id: &str) -> Option<usize> {
    let mut parts = id.splitn(3, '-');
    let (tag, worker, _) = (parts.next()?, parts.next()?, parts.next()?);
    if tag != shared.tag {
        return None;
    }
    let (index, incarnation) = worker.split_once('.')?;
    let index: usize = index.parse().ok()?;
    let incarnation: u64 = incarnation.parse().ok()?;
    let current = shared.incarnations.get(index)?.load(Ordering::SeqCst);
    (current == incarnation).then_some(index)
}

/// The debugger answers only to requests meant for it: a `Host` that names
/// the address it listens on (for a loopback one, `localhost` too), so that
/// a page of another site whose name was made to point at this machine (DNS
/// rebinding) cannot reach it; and for a request that changes something
/// (anything but GET and HEAD), an `Origin`, when the browser sends one,
/// that is this very server. Listening on every address, the token guards
/// it and any `Host` is taken.
fn debug_request_allowed(
    listen: SocketAddr,
    method: &axum::http::Method,
    headers: &axum::http::HeaderMap,
) -> Result<(), &'static str> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !listen.ip().is_unspecified() && !names_this_server(host, listen) {
        return Err("the debugger answers only to requests for the address it listens on");
    }
    let changes = !matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD);
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok());
    if changes
        && let Some(origin) = origin
        && origin.strip_prefix("http://") != Some(host)
    {
        return Err("the debugger takes changes only from its own pages");
    }
    Ok(())
}

/// Whether `host` (a `Host` header: a name or address, and a port) names
/// the server listening on `listen`.
fn names_this_server(host: &str, listen: SocketAddr) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && !port.contains(']') => (name, Some(port)),
        _ => (host, None),
    };
    if port.is_some_and(|port| port.parse() != Ok(listen.port())) {
        return false;
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if name.eq_ignore_ascii_case("localhost") {
        return listen.ip().is_loopback();
    }
    name.parse::<std::net::IpAddr>() == Ok(listen.ip())
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

fn cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("rewind_debug=").map(str::to_owned))
}

fn text(status: StatusCode, message: &str) -> HttpResponse {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}
