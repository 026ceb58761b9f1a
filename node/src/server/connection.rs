//! One API connection: hyper's HTTP/1 serving the router, under the
//! connection's timeouts. A connection is in one phase at a time (see
//! `Phase`), which its socket, its service and its responses keep, and each
//! phase but answering has a deadline after which the connection is closed:
//!
//! - waiting for a request's headers: `api_header_read_timeout_ms` from the
//!   connection's acceptance, or from the first byte of a request on a
//!   kept-alive connection;
//! - kept alive between requests: `api_idle_timeout_ms` from the last
//!   response;
//! - answering: none while the answer is made or its client reads it, but
//!   `api_write_stall_timeout_ms` once the client reads nothing of it (the
//!   socket takes no more bytes): a client that stopped reading an event
//!   stream or a bundle gives its place back.
//!
//! A request's body has its own deadline, `api_body_read_timeout_ms` from
//! its headers; past it the answer is 408 `request_timeout`.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::{BoxError, Router};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Notify};
use tokio::time::{sleep_until, Instant, Sleep};
use tower::ServiceExt;
use tracing::debug;

use super::limits::ApiLimits;
use crate::http::error::ErrorResponse;
use crate::lock::lock;

/// A connection's read buffer, at most: room for any request's headers
/// (hyper answers 431 to longer ones) and the largest body. hyper's own
/// default, about 400 KiB, would let the connections at the cap hold
/// 200 MiB of half-sent headers.
const READ_BUFFER_BYTES_MAX: usize = 64 * 1024;

/// A connection's timeouts (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    header_read: Duration,
    body_read: Duration,
    idle: Duration,
    write_stall: Duration,
}

impl From<ApiLimits> for Timeouts {
    fn from(limits: ApiLimits) -> Self {
        Timeouts {
            header_read: Duration::from_millis(limits.header_read_timeout_ms),
            body_read: Duration::from_millis(limits.body_read_timeout_ms),
            idle: Duration::from_millis(limits.idle_timeout_ms),
            write_stall: Duration::from_millis(limits.write_stall_timeout_ms),
        }
    }
}

/// Serves one connection until it ends, a timeout closes it, or the node
/// stops (after what it is sending).
pub(super) async fn serve_connection<S>(
    stream: S,
    router: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        service_fn(move |request| {
            respond(
                router.clone(),
                request,
                activity.request_started(),
                timeouts.body_read,
            )
        })
    };
    let connection = http1::Builder::new()
        // The timeouts are `Activity`'s: hyper's header timer runs from the
        // end of the last response, so it would be the idle timeout too.
        .header_read_timeout(None)
        .max_buf_size(READ_BUFFER_BYTES_MAX)
        .serve_connection(io, service);
    let mut connection = pin!(connection);
    let mut stopping = false;
    loop {
        let deadline = activity.deadline(&timeouts);
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(e) = served {
                    debug!("API connection ended: {e}");
                }
                return;
            }
            () = sleep_until_some(deadline.map(|(at, _)| at)) => {
                if let Some((at, why)) = activity.deadline(&timeouts) {
                    if at <= Instant::now() {
                        debug!("API connection closed: {why}");
                        return;
                    }
                }
            }
            () = activity.changed.notified() => {}
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Answers one request with `router`: 408 instead if its body did not
/// arrive in time, whatever the handler made of the failed read.
async fn respond(
    router: Router,
    request: Request<Incoming>,
    in_flight: InFlight,
    body_read_timeout: Duration,
) -> Result<Response<Answer>, Infallible> {
    let expired = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + body_read_timeout;
    let request = request.map(|body| DeadlineBody {
        body,
        deadline,
        timer: None,
        expired: expired.clone(),
    });
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let response = if expired.load(Ordering::SeqCst) {
        body_timed_out(body_read_timeout)
    } else {
        response
    };
    Ok(response.map(|body| Answer {
        body,
        _in_flight: in_flight,
    }))
}

fn body_timed_out(timeout: Duration) -> Response<AxumBody> {
    let message = format!(
        "the request's body did not arrive within {} ms",
        timeout.as_millis()
    );
    let mut response =
        ErrorResponse::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", message).into_response();
    // The rest of the body may still come: the connection closes rather
    // than read it as the next request.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Where a connection is, for its timeouts.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request's headers: since the connection was accepted,
    /// or since the first byte of a request on a kept-alive connection.
    Head { since: Instant },
    /// A kept-alive connection between requests, since the last response.
    Idle { since: Instant },
    /// Answering: no connection timeout while a response is being made or
    /// sent (a request's body has its own).
    Busy { requests: usize },
}

/// One connection's phase, kept by its socket (bytes arrive), its service
/// (a request starts) and its responses (one is sent or dropped).
struct Activity {
    phase: Mutex<Phase>,
    /// Since when the socket has taken none of the bytes written to it.
    write_stalled_since: Mutex<Option<Instant>>,
    /// Woken at every change of phase: the deadline may have moved.
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            phase: Mutex::new(Phase::Head {
                since: Instant::now(),
            }),
            write_stalled_since: Mutex::new(None),
            changed: Notify::new(),
        }
    }

    fn set(&self, phase: Phase) {
        *lock(&self.phase) = phase;
        self.changed.notify_one();
    }

    fn bytes_read(&self) {
        let idle = matches!(*lock(&self.phase), Phase::Idle { .. });
        if idle {
            self.set(Phase::Head {
                since: Instant::now(),
            });
        }
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        let requests = match *lock(&self.phase) {
            Phase::Busy { requests } => requests + 1,
            Phase::Head { .. } | Phase::Idle { .. } => 1,
        };
        self.set(Phase::Busy { requests });
        InFlight(self.clone())
    }

    fn request_ended(&self) {
        let phase = match *lock(&self.phase) {
            Phase::Busy { requests } if requests > 1 => Phase::Busy {
                requests: requests - 1,
            },
            _ => Phase::Idle {
                since: Instant::now(),
            },
        };
        self.set(phase);
    }

    /// A write to the socket went through or was `Pending` (it took
    /// nothing): a stall starts at the first of a run of the latter.
    fn write_polled(&self, taken: bool) {
        let mut stalled = lock(&self.write_stalled_since);
        let changed = match (*stalled, taken) {
            (Some(_), true) => stalled.take().is_some(),
            (None, false) => stalled.replace(Instant::now()).is_none(),
            _ => false,
        };
        drop(stalled);
        if changed {
            self.changed.notify_one();
        }
    }

    /// When the connection is to be closed if nothing changes, and why. A
    /// stalled write decides in any phase: a response's body may be handed
    /// over whole, and the connection count as idle, while the client is
    /// still reading it.
    fn deadline(&self, timeouts: &Timeouts) -> Option<(Instant, &'static str)> {
        if let Some(since) = *lock(&self.write_stalled_since) {
            return Some((
                since + timeouts.write_stall,
                "the client stopped reading its answer",
            ));
        }
        match *lock(&self.phase) {
            Phase::Head { since } => Some((
                since + timeouts.header_read,
                "no whole request headers in time",
            )),
            Phase::Idle { since } => Some((since + timeouts.idle, "idle")),
            Phase::Busy { .. } => None,
        }
    }
}

/// A request being answered, until its response is sent or dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// A response body that keeps its request in flight while it is sent.
struct Answer {
    body: AxumBody,
    _in_flight: InFlight,
}

impl Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that must arrive whole by `deadline`; past it, reading
/// fails and `expired` is set.
struct DeadlineBody {
    body: Incoming,
    deadline: Instant,
    /// Made at the first wait, so that a body that is all there costs none.
    timer: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        ready!(timer.as_mut().poll(cx));
        this.expired.store(true, Ordering::SeqCst);
        let timed_out = io::Error::new(io::ErrorKind::TimedOut, "the request's body came too late");
        Poll::Ready(Some(Err(timed_out.into())))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket, telling its `Activity` when bytes arrive and
/// whether written ones are taken.
struct Watched<S> {
    stream: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    fn written<T>(&self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        self.activity.write_polled(poll.is_ready());
        poll
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.written(poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.written(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    /// A socket's flush is done at once whatever the client reads: it
    /// says nothing of a stall.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Far more than the test's pipe holds.
    const ANSWER_BYTES: usize = 1 << 20;
    /// Every wait of these tests is bounded by this.
    const WAIT_MAX: Duration = Duration::from_secs(10);

    /// The write-stall and idle timeouts both `ms`.
    fn timeouts(ms: u64) -> Timeouts {
        Timeouts::from(ApiLimits {
            write_stall_timeout_ms: ms,
            idle_timeout_ms: ms,
            ..ApiLimits::default()
        })
    }

    /// `/large`: a body handed over whole; `/endless`: one that never ends,
    /// as an event stream's.
    fn answers() -> Router {
        let endless = || async {
            let chunk = Bytes::from(vec![b'x'; 1024]);
            AxumBody::from_stream(futures_util::stream::repeat(Ok::<_, Infallible>(chunk)))
        };
        Router::new()
            .route("/large", get(|| async { "x".repeat(ANSWER_BYTES) }))
            .route("/endless", get(endless))
    }

    /// Serves one connection over an in-memory pipe of `pipe_bytes`, sends
    /// one request for `path`, and hands the client's end back.
    async fn ask(
        path: &str,
        pipe_bytes: usize,
        timeout_ms: u64,
    ) -> (
        tokio::io::DuplexStream,
        tokio::task::JoinHandle<()>,
        watch::Sender<bool>,
    ) {
        let (mut client, server) = tokio::io::duplex(pipe_bytes);
        let (stop_tx, stop) = watch::channel(false);
        let served = tokio::spawn(serve_connection(
            server,
            answers(),
            timeouts(timeout_ms),
            stop,
        ));
        let request = format!("GET {path} HTTP/1.1\r\nhost: node\r\n\r\n");
        client
            .write_all(request.as_bytes())
            .await
            .expect("request sent");
        (client, served, stop_tx)
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_its_answer_is_cut_off() {
        for path in ["/large", "/endless"] {
            let (_client, served, _stop) = ask(path, 4096, 200).await;
            tokio::time::timeout(WAIT_MAX, served)
                .await
                .unwrap_or_else(|_| panic!("{path}: not closed when its client stopped reading"))
                .expect("served");
        }
    }

    #[tokio::test]
    async fn a_client_that_reads_slowly_gets_its_whole_answer() {
        let (mut client, served, _stop) = ask("/large", 4096, 200).await;
        let mut received = Vec::new();
        let mut chunk = vec![0; 64 * 1024];
        let read_all = async {
            // Longer than the timeouts in all, but never stalled that long:
            // neither the stall nor (once the body is handed over) the idle
            // timeout may cut it off.
            while received.len() < ANSWER_BYTES {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let n = client.read(&mut chunk).await.expect("read");
                assert!(n > 0, "the answer ended early, at {} bytes", received.len());
                received.extend_from_slice(&chunk[..n]);
            }
        };
        tokio::time::timeout(WAIT_MAX, read_all)
            .await
            .expect("the whole answer arrived");
        assert!(
            received.ends_with(b"xxxx"),
            "the body ends the answer: {} bytes",
            received.len()
        );
        tokio::time::timeout(WAIT_MAX, served)
            .await
            .expect("then, idle, the connection was closed")
            .expect("served");
    }
}
