//! The collector's client: what a runtime, `rewind recordings` and
//! `rewind replay ID` say to a collector.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use url::Url;

use crate::protocol::{Ack, ErrorBody, Kind, Policy, RecordingInfo, valid_id};

/// Why a request to the collector did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The collector could not be reached, or answered with a 5xx: worth
    /// trying again later.
    #[error("{0}")]
    Unreachable(String),
    /// The collector refused the token (401).
    #[error("the collector refused the token: {0}")]
    Unauthorized(String),
    /// The collector refused the request (a 4xx other than 401): trying
    /// again will not help.
    #[error("the collector refused it ({status}): {error}")]
    Refused {
        status: u16,
        error: String,
        /// For a frame at the wrong offset: where the collector wants the
        /// next one.
        acked: Option<u64>,
    },
}

/// The longest JSON answer the client reads (a listing of some hundred
/// thousand recordings).
const MAX_JSON: u64 = 64 << 20;

impl ClientError {
    /// Whether the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, ClientError::Unreachable(_))
    }
}

/// A collector at a base URL, with its token.
#[derive(Debug, Clone)]
pub struct Client {
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of the collector at `server` (`http://HOST:PORT`, or
    /// `https://`). Nothing is sent yet.
    pub fn new(server: &str, token: Option<String>) -> Result<Client, String> {
        let mut base =
            Url::parse(server).map_err(|err| format!("--server {server:?}: not a URL ({err})"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err(format!(
                "--server {server:?}: expected http://HOST:PORT or https://HOST"
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|err| format!("cannot start an HTTP client: {err}"))?;
        Ok(Client { base, token, http })
    }

    /// The base URL, as given.
    pub fn server(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The URL of a recording, as `rewind replay URL` takes it.
    pub fn recording_url(&self, id: &str) -> String {
        format!("{}/v1/recordings/{id}", self.server())
    }

    fn url(&self, path: &str) -> Url {
        // Paths are ours and relative: joining cannot fail.
        self.base
            .join(path.trim_start_matches('/'))
            .unwrap_or_else(|_| self.base.clone())
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let response = request.send().await.map_err(|err| {
            ClientError::Unreachable(format!(
                "the collector at {} is unreachable: {}",
                self.server(),
                reason(&err)
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let body: Option<ErrorBody> = serde_json::from_str(&text).ok();
        let error = match &body {
            Some(body) => body.error.clone(),
            None => text.trim().chars().take(200).collect(),
        };
        Err(match status {
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized(error),
            status if status.is_server_error() => ClientError::Unreachable(format!(
                "the collector at {} failed ({status}): {error}",
                self.server()
            )),
            status => ClientError::Refused {
                status: status.as_u16(),
                error,
                acked: body.and_then(|body| body.acked),
            },
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = self.send(request).await?;
        let mut body = Vec::new();
        self.read_body(response, &mut body, MAX_JSON, "an answer")
            .await?;
        serde_json::from_slice(&body).map_err(|err| {
            ClientError::Unreachable(format!(
                "the collector at {} answered something else than the collector API: {err}",
                self.server(),
            ))
        })
    }

    /// Reads `response`'s body into `out`, refusing one longer than `limit`
    /// as soon as it says so or passes it: a collector that sends without
    /// end cannot exhaust the client. Returns the bytes read.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        out: &mut impl std::io::Write,
        limit: u64,
        what: &str,
    ) -> Result<u64, ClientError> {
        let too_long = || {
            ClientError::Unreachable(format!(
                "the collector at {} sent {what} longer than {limit} bytes; nothing was kept",
                self.server()
            ))
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(too_long());
        }
        let mut read = 0u64;
        loop {
            let chunk = response.chunk().await.map_err(|err| {
                ClientError::Unreachable(format!("reading {what}: {}", reason(&err)))
            })?;
            let Some(chunk) = chunk else {
                return Ok(read);
            };
            read += chunk.len() as u64;
            if read > limit {
                return Err(too_long());
            }
            out.write_all(&chunk)
                .map_err(|err| ClientError::Unreachable(format!("keeping {what}: {err}")))?;
        }
    }

    /// What the collector allows; refused when the token is not good. The
    /// answer is waited for `wait` at most (and never more than 5 s).
    pub async fn policy(&self, wait: Duration) -> Result<Policy, ClientError> {
        let request = self
            .request(reqwest::Method::GET, "v1/policy")
            .timeout(wait.min(Duration::from_secs(5)));
        self.json(request).await
    }

    /// Every recording stored, newest first.
    pub async fn list(&self) -> Result<Vec<RecordingInfo>, ClientError> {
        self.json(self.request(reqwest::Method::GET, "v1/recordings"))
            .await
    }

    /// What is stored of `id`; `None` when nothing is.
    pub async fn info(&self, id: &str) -> Result<Option<RecordingInfo>, ClientError> {
        checked(id)?;
        let request = self.request(reqwest::Method::GET, &format!("v1/recordings/{id}/info"));
        match self.json(request).await {
            Ok(info) => Ok(Some(info)),
            Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The stored bytes of `id`.
    pub async fn download(&self, id: &str) -> Result<Bytes, ClientError> {
        let mut bytes = Vec::new();
        self.download_to(id, &mut bytes, u64::MAX).await?;
        Ok(bytes.into())
    }

    /// Writes the recording `id` into `out`, `limit` bytes at most (more is
    /// refused, and what was written must be thrown away). Returns its
    /// length.
    pub async fn download_to(
        &self,
        id: &str,
        out: &mut impl std::io::Write,
        limit: u64,
    ) -> Result<u64, ClientError> {
        checked(id)?;
        let response = self
            .send(self.request(reqwest::Method::GET, &format!("v1/recordings/{id}")))
            .await?;
        self.read_body(response, out, limit, &format!("recording {id}"))
            .await
    }

    /// Sends a whole recording (a crash, a snapshot).
    pub async fn put_whole(
        &self,
        id: &str,
        kind: Kind,
        script: &str,
        bytes: Bytes,
    ) -> Result<Ack, ClientError> {
        checked(id)?;
        let request = self
            .request(reqwest::Method::PUT, &format!("v1/recordings/{id}"))
            .query(&[("kind", kind.name()), ("script", script)])
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/vnd.rewind.recording",
            )
            .body(bytes);
        self.json(request).await
    }

    /// Sends the frame of stream `id` that starts at byte `offset`.
    pub async fn put_frame(
        &self,
        id: &str,
        offset: u64,
        script: &str,
        bytes: Bytes,
    ) -> Result<Ack, ClientError> {
        checked(id)?;
        let offset = offset.to_string();
        let request = self
            .request(reqwest::Method::PUT, &format!("v1/streams/{id}"))
            .query(&[("offset", offset.as_str()), ("script", script)])
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/vnd.rewind.recording",
            )
            .body(bytes);
        self.json(request).await
    }
}

fn checked(id: &str) -> Result<(), ClientError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ClientError::Refused {
            status: 400,
            error: format!("{id:?} is not a recording id"),
            acked: None,
        })
    }
}

/// The innermost cause of a reqwest error: "connection refused" says more
/// than "error sending request".
fn reason(err: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    let text = source.to_string();
    if err.is_timeout() {
        return "timed out".to_owned();
    }
    // "Connection refused", without Rust's " (os error 111)".
    match text.split_once(" (os error") {
        Some((message, _)) => message.to_owned(),
        None => text,
    }
}
