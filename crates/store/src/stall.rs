//! A watchdog on S3 requests: when no byte has moved for `limit` (a server that accepted the
//! connection and never answers, or stopped sending mid-body), the request fails as a
//! connector timeout, which the S3 store reports as retryable Unavailable. Transfers that are
//! slow but moving are never cut: the clock restarts with every chunk of request body taken
//! by the connection and every chunk of response body received, and request bytes still
//! draining from socket buffers get time at a floor rate (see [`drain_allowance`]).
//!
//! It wraps the SDK's own HTTP client, so TLS, proxies and pooling stay the SDK's.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The default: long enough for a loaded server, short enough that a hang is noticed.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Request bodies are handed to the connection in chunks this large, so the clock follows
/// the socket (a whole part in one chunk would be taken at once and then sit in buffers).
const CHUNK: usize = 16 * 1024;

/// Request bytes the connection took may still sit in the kernel's socket buffers (a few
/// MiB at most) while a slow link drains them, unseen: after sending, the watchdog allows
/// them this floor rate (32 KiB/s) before it counts silence.
const DRAIN_FLOOR: u64 = 32 * 1024;
const DRAIN_CAP: u64 = 4 << 20;

/// How long bytes just handed to the connection may take to leave it, unseen.
fn drain_allowance(sent: u64) -> Duration {
    Duration::from_millis(sent.min(DRAIN_CAP) * 1000 / DRAIN_FLOOR)
}

/// The marker in a stall error's message, so the store can word it.
pub(crate) const STALLED: &str = "no byte moved for";

/// An [`HttpClient`] whose requests fail after `limit` without progress.
#[derive(Debug)]
pub(crate) struct StallGuard {
    inner: SharedHttpClient,
    limit: Duration,
}

impl StallGuard {
    pub(crate) fn new(inner: SharedHttpClient, limit: Duration) -> Self {
        StallGuard { inner, limit }
    }
}

impl HttpClient for StallGuard {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(GuardedConnector {
            inner: self.inner.http_connector(settings, components),
            limit: self.limit,
        })
    }
}

#[derive(Debug)]
struct GuardedConnector {
    inner: SharedHttpConnector,
    limit: Duration,
}

/// When bytes last moved, in milliseconds since `start`, and how many were sent.
#[derive(Clone)]
struct Progress {
    start: Instant,
    last_ms: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

impl Progress {
    fn new() -> Self {
        Progress {
            start: Instant::now(),
            last_ms: Arc::default(),
            sent: Arc::default(),
        }
    }

    fn touch(&self, bytes: usize) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
        self.sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// When silence turns into a stall: `limit` after bytes last moved, plus the time the
    /// request bytes sent may take to drain unseen.
    fn deadline(&self, limit: Duration) -> Instant {
        let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        last + limit + drain_allowance(self.sent.load(Ordering::Relaxed))
    }
}

fn stalled(limit: Duration) -> String {
    format!(
        "{STALLED} {}s (the server stopped answering)",
        limit.as_secs_f64()
    )
}

impl HttpConnector for GuardedConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let progress = Progress::new();
        let body = request.take_body();
        *request.body_mut() = SdkBody::from_body_1_x(SentBody {
            inner: body,
            pending: Bytes::new(),
            progress: progress.clone(),
        });
        let response = self.inner.call(request);
        let limit = self.limit;
        HttpConnectorFuture::new(async move {
            tokio::pin!(response);
            loop {
                tokio::select! {
                    r = &mut response => {
                        let mut response = r?;
                        let body = response.take_body();
                        *response.body_mut() = SdkBody::from_body_1_x(ReceivedBody {
                            inner: body,
                            limit,
                            timer: None,
                        });
                        return Ok(response);
                    }
                    _ = tokio::time::sleep_until(progress.deadline(limit)) => {
                        if progress.deadline(limit) <= Instant::now() {
                            return Err(ConnectorError::timeout(stalled(limit).into()));
                        }
                    }
                }
            }
        })
    }
}

/// A request body that reports each chunk the connection takes.
struct SentBody {
    inner: SdkBody,
    pending: Bytes,
    progress: Progress,
}

impl Body for SentBody {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.pending.is_empty() {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.pending = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return other,
            }
        }
        let n = this.pending.len().min(CHUNK);
        let chunk = this.pending.split_to(n);
        this.progress.touch(n);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let extra = self.pending.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + extra);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + extra);
        }
        hint
    }
}

/// A response body that fails when no data arrives for `limit` while it is awaited.
struct ReceivedBody {
    inner: SdkBody,
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Body for ReceivedBody {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                let limit = this.limit;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(stalled(limit).into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                // Data (or the end) arrived: the clock restarts at the next wait.
                this.timer = None;
                ready
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_bytes_get_time_to_drain_up_to_a_cap() {
        assert_eq!(drain_allowance(0), Duration::ZERO);
        assert_eq!(drain_allowance(64 * 1024), Duration::from_secs(2));
        assert_eq!(drain_allowance(1 << 30), drain_allowance(DRAIN_CAP));
        assert_eq!(drain_allowance(DRAIN_CAP), Duration::from_secs(128));
    }
}
