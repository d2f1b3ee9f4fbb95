//! Serving HTTP requests from a guest (`rewind serve`): the host's side of
//! the `rewind:recorder/requests` interface (`wit/serve.wit`).
//!
//! The host runs the HTTP server; a guest instance is a worker that takes
//! requests one at a time from a [`Jobs`] source and answers each. Every
//! request is a logical thread of the run's recording (its own buffer, its
//! own crash), and has a deadline: a request that runs past it stops the
//! worker with a time limit, and is answered for it.

use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker};

use crate::limits::Limit;
use crate::recorder::{Recorder, RecorderCtx, ThreadRecorder};

mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "rewind:recorder/serving",
        imports: { default: trappable },
    });
}

use generated::rewind::recorder::requests;

/// An HTTP request, as the guest gets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Still percent-encoded, without the query.
    pub path: String,
    /// Without the `?`.
    pub query: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote_addr: String,
    pub remote_port: u16,
    pub server_name: String,
    pub server_port: u16,
}

/// The guest's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text answer from the host itself (a limit, a crash).
    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            headers: vec![(
                "content-type".to_owned(),
                "text/plain; charset=utf-8".to_owned(),
            )],
            body: format!("{text}\n").into_bytes(),
        }
    }
}

/// Where a request's answer goes.
pub type Respond = Box<dyn FnOnce(Response) + Send>;

/// A request and where its answer goes.
pub struct Job {
    pub request: Request,
    pub respond: Respond,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

/// Where a worker's requests come from. `next` waits for one; `None` stops
/// the worker.
pub trait Jobs: Send {
    fn next(&mut self) -> Option<Job>;
}

/// A worker's serving state, in its store.
pub(crate) struct Serving {
    jobs: Box<dyn Jobs>,
    recorder: Option<Recorder>,
    /// While a request's thread of the recording is the store's: the
    /// worker's own thread, to go back to when the request is over.
    base: Option<ThreadRecorder>,
    pub(crate) request_timeout: Duration,
    next_id: u64,
    /// The request being handled. When it must be done is the store's
    /// recorder's `deadline`, which its waits in host calls end at too.
    current: Option<(u64, Respond)>,
}

impl Serving {
    pub(crate) fn new(
        jobs: Box<dyn Jobs>,
        recorder: Option<Recorder>,
        request_timeout: Duration,
    ) -> Serving {
        Serving {
            jobs,
            recorder,
            base: None,
            request_timeout,
            next_id: 0,
            current: None,
        }
    }

    /// Answers the request in flight, if any.
    fn abandon(&mut self, response: Response) {
        if let Some((_, respond)) = self.current.take() {
            respond(response);
        }
    }

    /// The worker stopped (a limit, a crash): the request in flight is
    /// answered with `response`, and the worker's own thread of the
    /// recording, which will not run again, is forgotten, so that the
    /// request's thread, ending last, closes the recording.
    pub(crate) fn stopped(&mut self, response: Response) {
        self.abandon(response);
        if let Some(base) = self.base.take() {
            base.redirect(None);
            base.release();
        }
    }

    /// The current request's thread of the recording is over: the recorder
    /// forgets it, and the store records the worker's own thread again.
    fn leave_request(&mut self, recorder: &mut RecorderCtx) {
        if let Some(base) = self.base.take() {
            recorder.thread.release();
            base.redirect(None);
            recorder.thread = base;
        }
    }
}

/// What the requests interface needs of a store's data: its serving state
/// (none in a store that serves nothing) and its recorder, whose thread is
/// the request's while it is handled.
pub(crate) struct ServeCtx<'a> {
    pub(crate) serving: &'a mut Option<Serving>,
    pub(crate) recorder: &'a mut RecorderCtx,
}

/// A store's data whose guest may serve requests.
pub(crate) trait ServeView: Send {
    fn serve(&mut self) -> ServeCtx<'_>;
}

struct HasServe;

impl HasData for HasServe {
    type Data<'a> = ServeCtx<'a>;
}

/// Adds `rewind:recorder/requests` to `linker`.
pub(crate) fn add_to_linker<T: ServeView + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    requests::add_to_linker::<T, HasServe>(linker, T::serve).map_err(anyhow::Error::from)
}

impl requests::Host for ServeCtx<'_> {
    fn next(&mut self) -> wasmtime::Result<Option<requests::Request>> {
        let Some(serving) = self.serving.as_mut() else {
            return Ok(None);
        };
        // A request left unanswered is answered now: the guest moved on.
        serving.abandon(Response::text(500, "the application returned no response"));
        serving.leave_request(self.recorder);
        self.recorder.deadline = None;
        let Some(job) = serving.jobs.next() else {
            return Ok(None);
        };
        let id = serving.next_id;
        serving.next_id += 1;
        serving.current = Some((id, job.respond));
        // The epoch and waits in host calls end the request there.
        let limit = Limit::Time {
            timeout: serving.request_timeout,
        };
        self.recorder.deadline = Some((Instant::now() + serving.request_timeout, limit));
        // A thread of the recording per request; what the WASI context's
        // hooks log (the clock, stdin) is the request's too.
        if let Some(recorder) = &serving.recorder {
            let base = std::mem::replace(&mut self.recorder.thread, recorder.thread());
            base.redirect(Some(&self.recorder.thread));
            serving.base = Some(base);
        }
        let request = job.request;
        Ok(Some(requests::Request {
            id,
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            body: request.body,
            remote_addr: request.remote_addr,
            remote_port: request.remote_port,
            server_name: request.server_name,
            server_port: request.server_port,
        }))
    }

    fn respond(&mut self, id: u64, response: requests::Response) -> wasmtime::Result<()> {
        let Some(serving) = self.serving.as_mut() else {
            return Ok(());
        };
        if serving
            .current
            .as_ref()
            .is_some_and(|(current, _)| *current == id)
            && let Some((_, respond)) = serving.current.take()
        {
            respond(Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            });
            serving.leave_request(self.recorder);
        }
        Ok(())
    }
}
