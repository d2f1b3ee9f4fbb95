//! The collector's HTTP service (axum on tokio): the policy, frames of live
//! streams, whole recordings, the listing, and the recordings themselves.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use futures::StreamExt as _;
use rewind_format::model::Mode;
use serde::Deserialize;

use crate::protocol::{ErrorBody, Kind, Policy, valid_id};
use crate::store::{Store, StoreError};

/// How a collector runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The highest mode runtimes may use.
    pub max_mode: Mode,
    /// The bearer token every request needs, if any.
    pub token: Option<String>,
    pub max_frame_bytes: u64,
    pub max_recording_bytes: u64,
    /// How long an upload may go without a byte arriving: a client that
    /// stalls gives back its turn among the [`UPLOADS`] read at once.
    pub upload_idle: std::time::Duration,
}

struct Shared {
    config: ServerConfig,
    store: Store,
    /// Uploads whose bodies are being read: at most [`UPLOADS`] at once, so
    /// that the memory bodies take stays within that many times the limits.
    uploads: tokio::sync::Semaphore,
}

/// Uploads read at once; more wait for their turn.
const UPLOADS: usize = 4;

/// The collector's routes over `store`.
pub fn app(config: ServerConfig, store: Store) -> Router {
    let shared = Arc::new(Shared {
        config,
        store,
        uploads: tokio::sync::Semaphore::new(UPLOADS),
    });
    // Bodies are read whole, up to their route's limit: a frame's, or a
    // whole recording's. A longer one gets 413 — at once when its declared
    // length says so (`admit`), else when the reading passes the limit —
    // before anything is stored.
    let bytes = |limit: u64| usize::try_from(limit).unwrap_or(usize::MAX);
    let api = Router::new()
        .route("/v1/policy", get(policy))
        .route("/v1/recordings", get(list))
        .route(
            "/v1/recordings/{id}",
            put(put_whole)
                .get(download)
                .layer(DefaultBodyLimit::max(bytes(
                    shared.config.max_recording_bytes,
                ))),
        )
        .route("/v1/recordings/{id}/info", get(info))
        .route(
            "/v1/streams/{id}",
            put(put_frame).layer(DefaultBodyLimit::max(bytes(shared.config.max_frame_bytes))),
        )
        .layer(middleware::from_fn_with_state(shared.clone(), admit))
        .layer(middleware::from_fn_with_state(shared.clone(), authorize));
    Router::new()
        .merge(api)
        .fallback(not_found)
        .with_state(shared)
}

/// An upload is read only if its declared length fits its route's limit,
/// and when its turn comes among [`UPLOADS`] at once.
async fn admit(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::PUT {
        return next.run(request).await;
    }
    let (limit, what) = match request.uri().path().starts_with("/v1/streams/") {
        true => (shared.config.max_frame_bytes, "a frame"),
        false => (shared.config.max_recording_bytes, "a recording"),
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|declared| declared > limit) {
        return Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what} is at most {limit} bytes"),
        )
        .into_response();
    }
    let Ok(_turn) = shared.uploads.acquire().await else {
        return Failure::new(StatusCode::SERVICE_UNAVAILABLE, "the collector is stopping")
            .into_response();
    };
    let (parts, body) = request.into_parts();
    let body = idle_bounded(body, shared.config.upload_idle);
    next.run(Request::from_parts(parts, body)).await
}

/// `body`, ending in an error when no byte arrives for `idle`: reading it
/// then fails, and the upload is answered and gives back its turn.
fn idle_bounded(body: Body, idle: std::time::Duration) -> Body {
    let frames = futures::stream::unfold(Some(body.into_data_stream()), move |stream| async move {
        let mut stream = stream?;
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(Some(frame)) => Some((frame, Some(stream))),
            Ok(None) => None,
            Err(_) => {
                let stalled = format!(
                    "the upload sent nothing for {}",
                    humantime::format_duration(idle)
                );
                Some((Err(axum::Error::new(stalled)), None))
            }
        }
    });
    Body::from_stream(frames)
}

/// Serves the collector on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    store: Store,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = app(config, store);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("the collector stopped")
}

/// A 4xx or 5xx answer with its JSON body.
struct Failure {
    status: StatusCode,
    body: ErrorBody,
}

impl Failure {
    fn new(status: StatusCode, error: impl Into<String>) -> Failure {
        Failure {
            status,
            body: ErrorBody {
                error: error.into(),
                acked: None,
            },
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Failure {
        let status = match &err {
            StoreError::Malformed(_) => StatusCode::BAD_REQUEST,
            StoreError::Conflict { .. } => StatusCode::CONFLICT,
            StoreError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            StoreError::Failed(err) => {
                tracing::error!("store: {err:#}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let acked = match &err {
            StoreError::Conflict { acked, .. } => *acked,
            _ => None,
        };
        let error = match &err {
            StoreError::Failed(err) => format!(
                "the store failed: {}",
                crate::store::short_error(err.root_cause())
            ),
            err => err.to_string(),
        };
        Failure {
            status,
            body: ErrorBody { error, acked },
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Failure {
        StoreError::Failed(err).into()
    }
}

async fn authorize(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Some(token) = &shared.config.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if !given.is_some_and(|given| token_matches(given, token)) {
            let mut response =
                Failure::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required")
                    .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

/// Whether `given` is `token`, compared without stopping at the first
/// difference, so that the time taken says nothing about where a guessed
/// token goes wrong. `rewind serve`'s debug pages check their token with it
/// too.
pub fn token_matches(given: &str, token: &str) -> bool {
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn not_found() -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        "no such path in the collector's API (see /v1/policy)",
    )
}

async fn policy(State(shared): State<Arc<Shared>>) -> Json<Policy> {
    let config = &shared.config;
    Json(Policy {
        max_mode: config.max_mode,
        max_frame_bytes: config.max_frame_bytes,
        max_recording_bytes: config.max_recording_bytes,
        token_required: config.token.is_some(),
    })
}

#[derive(Debug, Deserialize)]
struct WholeQuery {
    kind: Kind,
    #[serde(default)]
    script: String,
}

#[derive(Debug, Deserialize)]
struct FrameQuery {
    offset: u64,
    #[serde(default)]
    script: String,
}

fn checked_id(id: &str) -> Result<(), Failure> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "a recording id is 1 to 128 of A-Z a-z 0-9 . _ - and does not start with a dot",
        ))
    }
}

fn checked_script(script: &str) -> Result<(), Failure> {
    if script.len() > 256 || script.chars().any(char::is_control) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "script: at most 256 characters, none of them control characters",
        ));
    }
    Ok(())
}

async fn put_whole(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<WholeQuery>,
    body: Bytes,
) -> Result<Response, Failure> {
    checked_id(&id)?;
    checked_script(&query.script)?;
    if shared.config.max_mode == Mode::Off {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "this collector's policy is `off`: it accepts no recordings",
        ));
    }
    if query.kind == Kind::Stream {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "a stream is sent frame by frame to /v1/streams/ID",
        ));
    }
    let ack = shared
        .store
        .put_whole(
            &id,
            query.kind,
            &query.script,
            body,
            shared.config.max_recording_bytes,
        )
        .await?;
    tracing::info!("{id}: {} bytes, {}", ack.acked, query.kind.name());
    Ok((StatusCode::CREATED, Json(ack)).into_response())
}

async fn put_frame(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<FrameQuery>,
    body: Bytes,
) -> Result<Response, Failure> {
    checked_id(&id)?;
    checked_script(&query.script)?;
    if shared.config.max_mode < Mode::Continuous {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            format!(
                "this collector's policy is `{}`: it accepts no continuous streams",
                crate::protocol::mode_name::name(shared.config.max_mode)
            ),
        ));
    }
    if body.len() as u64 > shared.config.max_frame_bytes {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a frame is at most {} bytes; send smaller frames",
                shared.config.max_frame_bytes
            ),
        ));
    }
    let ack = shared
        .store
        .append(
            &id,
            query.offset,
            &query.script,
            body,
            shared.config.max_recording_bytes,
        )
        .await?;
    tracing::debug!("{id}: acked {} bytes", ack.acked);
    Ok(Json(ack).into_response())
}

async fn list(State(shared): State<Arc<Shared>>) -> Result<Response, Failure> {
    Ok(Json(shared.store.list().await?).into_response())
}

async fn info(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    checked_id(&id)?;
    match shared.store.info(&id).await? {
        Some(info) => Ok(Json(info).into_response()),
        None => Err(no_recording(&id)),
    }
}

async fn download(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    checked_id(&id)?;
    let Some((info, pieces)) = shared.store.read(&id).await? else {
        return Err(no_recording(&id));
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.rewind.recording"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(info.size));
    headers.insert(
        "x-rewind-complete",
        HeaderValue::from_static(if info.complete { "true" } else { "false" }),
    );
    let body = Body::from_stream(pieces.map(|piece| piece.map_err(std::io::Error::other)));
    Ok((headers, body).into_response())
}

fn no_recording(id: &str) -> Failure {
    Failure::new(StatusCode::NOT_FOUND, format!("no recording {id}"))
}
