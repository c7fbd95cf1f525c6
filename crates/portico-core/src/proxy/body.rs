//! Response bodies on their way to the client: an upstream's, bounded when the upstream
//! falls silent in the middle of it and its failures named for the inspector (by then the
//! response head has been sent, so the client sees the body cut off, the connection closed
//! or the HTTP/2 stream reset, and the capture says why); and any body holding a guard (a
//! count of what is in flight) until it ends or is dropped.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::BoxError;
use crate::config::Upstream;
use crate::inspect::capture::Capture;

/// Why an upstream's response body did not end as it should.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Nothing arrived for the route's timeout while the client was waiting for more.
    #[error("{upstream} sent nothing for {timeout:?} in the middle of the response body")]
    Stalled {
        /// The upstream URL.
        upstream: String,
        /// The route's timeout.
        timeout: Duration,
    },
    /// The upstream closed or reset the connection before the body ended, or sent a body
    /// that is not valid HTTP (a bad chunk, fewer bytes than its `Content-Length`).
    #[error("{upstream} broke off the response body: {source}")]
    Failed {
        /// The upstream URL.
        upstream: String,
        /// hyper's error.
        source: hyper::Error,
    },
}

impl BodyError {
    /// Portico's code for it, as the inspector records it.
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::Stalled { .. } => "upstream-body-timeout",
            BodyError::Failed { .. } => "upstream-body-failed",
        }
    }
}

/// What [`UpstreamBody`] needs besides the body.
#[derive(Debug)]
pub(super) struct Watch {
    /// The upstream, to name it in an error (formatted only then: a clone costs nothing,
    /// a string for every response would).
    pub(super) upstream: Upstream,
    /// How long the upstream may stay silent while the client waits; `None` for no limit.
    pub(super) idle: Option<Duration>,
    /// Where to record a failure.
    pub(super) capture: Option<Capture>,
}

pin_project_lite::pin_project! {
    /// The upstream's body, failing with [`BodyError::Stalled`] when the client has been
    /// waiting for its next frame for longer than the limit. Time the client itself takes
    /// to read does not count: the clock starts when the upstream has nothing to give.
    pub(super) struct UpstreamBody {
        #[pin]
        inner: Incoming,
        watch: Watch,
        #[pin]
        deadline: Sleep,
        // The deadline runs from the first time the upstream had nothing to give.
        waiting: bool,
    }
}

impl UpstreamBody {
    pub(super) fn new(inner: Incoming, watch: Watch) -> Self {
        UpstreamBody {
            inner,
            deadline: tokio::time::sleep_until(Instant::now()),
            waiting: false,
            watch,
        }
    }
}

impl UpstreamBody {
    fn fail(watch: &Watch, err: BodyError) -> BoxError {
        tracing::debug!("{err}");
        if let Some(capture) = &watch.capture {
            capture.error(err.to_string(), "upstream", Some(err.code()));
        }
        Box::new(err)
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                *this.waiting = false;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(source))) => {
                let err = BodyError::Failed {
                    upstream: this.watch.upstream.to_string(),
                    source,
                };
                Poll::Ready(Some(Err(Self::fail(this.watch, err))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let Some(limit) = this.watch.idle else {
                    return Poll::Pending;
                };
                if !*this.waiting {
                    *this.waiting = true;
                    this.deadline.as_mut().reset(Instant::now() + limit);
                }
                if this.deadline.poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let err = BodyError::Stalled {
                    upstream: this.watch.upstream.to_string(),
                    timeout: limit,
                };
                Poll::Ready(Some(Err(Self::fail(this.watch, err))))
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

pin_project_lite::pin_project! {
    /// `inner` with `guard` kept alive until the body is dropped. Unlike
    /// `http_body_util::BodyExt::map_frame`, it keeps the body's size hint, so an answer of
    /// known length is still sent with its `Content-Length`.
    pub(super) struct Held<G> {
        #[pin]
        inner: super::ProxyBody,
        guard: G,
    }
}

impl<G> Held<G> {
    pub(super) fn new(inner: super::ProxyBody, guard: G) -> Self {
        Held { inner, guard }
    }
}

impl<G> Body for Held<G> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How long, at most, the rest of an abandoned HTTP/1 request body is read (see [`Lingering`]).
const LINGER_FOR: Duration = Duration::from_secs(5);

/// How many bytes of an abandoned HTTP/1 request body are read, at most.
const LINGER_BYTES: usize = 16 << 20;

/// An HTTP/1 request body that, dropped before its end, is read to its end in the background
/// for a while (at most [`LINGER_FOR`] and [`LINGER_BYTES`]), as nginx's lingering close does.
/// The proxy drops a body early when it answers before reading it all (413 for a body over
/// the limit; an upstream that answered without reading it); hyper then closes the
/// connection, and closing a socket with bytes still unread resets it, so a client still
/// sending could lose the answer already sent to it (a broken pipe instead of the 413).
#[derive(Debug)]
pub(super) struct Lingering {
    body: Option<Incoming>,
}

impl Lingering {
    pub(super) fn new(body: Incoming) -> Lingering {
        Lingering { body: Some(body) }
    }
}

impl Body for Lingering {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(mut body) = self.body.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        drop(runtime.spawn(async move {
            let drained = async {
                let mut read = 0;
                while let Some(Ok(frame)) = http_body_util::BodyExt::frame(&mut body).await {
                    read += frame.data_ref().map_or(0, Bytes::len);
                    if read > LINGER_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER_FOR, drained).await;
        }));
    }
}
