//! The body of a miss: passed to the client frame by frame as the upstream sends it, while a
//! copy (shared `Bytes`, no data copied) accumulates for the store. Copying stops past the
//! per-entry cap, on trailers or on an error; the client still gets everything.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_cache_semantics::CachePolicy;
use pin_project_lite::pin_project;
use tokio::task::JoinHandle;

use super::collapse::{Flights, Leader};
use super::store::{Key, Store, Stored};
use crate::proxy::{BoxError, ProxyBody};

/// Everything needed to store a response once its body is complete.
pub(super) struct Pending {
    pub(super) store: Arc<Store>,
    pub(super) flights: Arc<Flights>,
    pub(super) key: Key,
    pub(super) client_target: Box<str>,
    pub(super) policy_req: http::request::Parts,
    pub(super) policy: CachePolicy,
    pub(super) status: StatusCode,
    /// The headers as stored (hop-by-hop fields removed).
    pub(super) headers: HeaderMap,
    /// When the response headers arrived (the policy's response time).
    pub(super) received: SystemTime,
    /// Set when concurrent requests wait for this response.
    pub(super) leader: Option<Leader>,
}

impl Pending {
    /// Store the response with `body`, then tell the waiters.
    pub(super) async fn finish(self, body: Bytes) {
        let stored = Arc::new(Stored::new(
            self.policy,
            self.status,
            self.headers,
            body,
            &self.policy_req.headers,
            self.received,
        ));
        self.store
            .put(&self.key, &self.client_target, &self.policy_req, stored)
            .await;
        self.flights.clear_pass(&self.key);
        if let Some(leader) = self.leader {
            leader.stored();
        }
    }

    /// Give up storing; `pass` when the response cannot be stored at all (too big,
    /// trailers), as opposed to a transient failure.
    fn abandon(self, pass: bool) {
        if let Some(leader) = self.leader {
            leader.release(pass);
        }
    }
}

struct Tee {
    chunks: Vec<Bytes>,
    len: u64,
    cap: u64,
    /// The announced `Content-Length`: reaching it completes the body, and ending short of
    /// it means the copy is truncated.
    expected: Option<u64>,
    pending: Pending,
}

/// Where the copy stands after a frame.
enum Copied {
    /// More is to come.
    More,
    /// The body is complete.
    Complete,
    /// Copying must stop (past the cap, or trailers); the client still gets everything.
    Stop,
}

impl Tee {
    /// Copy `frame`'s data.
    fn copy(&mut self, frame: &Frame<Bytes>) -> Copied {
        // Trailers cannot be replayed from the store.
        let Some(data) = frame.data_ref() else {
            return Copied::Stop;
        };
        self.len += data.len() as u64;
        if self.len > self.cap {
            return Copied::Stop;
        }
        self.chunks.push(data.clone());
        if self.expected == Some(self.len) {
            Copied::Complete
        } else {
            Copied::More
        }
    }

    /// The body ended: store the copy unless it is shorter than announced.
    fn end(self) -> Option<JoinHandle<()>> {
        if self.expected.is_none_or(|n| n == self.len) {
            self.complete()
        } else {
            self.pending.abandon(false);
            None
        }
    }

    /// Start storing the complete body; the task outlives the body if the client stops
    /// polling after the last byte.
    fn complete(self) -> Option<JoinHandle<()>> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.pending.abandon(false);
            return None;
        };
        let body = concat(self.chunks, self.len);
        Some(runtime.spawn(self.pending.finish(body)))
    }
}

fn concat(mut chunks: Vec<Bytes>, len: u64) -> Bytes {
    if chunks.len() <= 1 {
        return chunks.pop().unwrap_or_default();
    }
    let mut body = BytesMut::with_capacity(usize::try_from(len).unwrap_or(0));
    for chunk in chunks {
        body.extend_from_slice(&chunk);
    }
    body.freeze()
}

pin_project! {
    /// Streams the upstream body to the client and stores a copy when it completes.
    pub(super) struct TeeBody {
        #[pin]
        inner: ProxyBody,
        tee: Option<Tee>,
        storing: Option<JoinHandle<()>>,
        // The last chunk of a body whose length was announced, held while the copy is
        // stored: the client has every byte only once the entry is in.
        held: Option<Frame<Bytes>>,
    }
}

impl TeeBody {
    /// Tee `inner` into the store, copying at most `cap` bytes.
    pub(super) fn new(
        inner: ProxyBody,
        pending: Pending,
        cap: u64,
        expected: Option<u64>,
    ) -> TeeBody {
        TeeBody {
            inner,
            tee: Some(Tee {
                chunks: Vec::new(),
                len: 0,
                cap,
                expected,
                pending,
            }),
            storing: None,
            held: None,
        }
    }
}

impl Body for TeeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        loop {
            if let Some(storing) = this.storing.as_mut() {
                // The last bytes (or the end, for a body of unknown length) are held back
                // until the entry is in, so whoever read the whole body can rely on the next
                // request finding it.
                let _joined = ready!(Pin::new(storing).poll(cx));
                *this.storing = None;
                return Poll::Ready(this.held.take().map(Ok));
            }
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => {
                    match this.tee.as_mut().map(|tee| tee.copy(&frame)) {
                        None | Some(Copied::More) => {}
                        Some(Copied::Stop) => {
                            if let Some(tee) = this.tee.take() {
                                tee.pending.abandon(true);
                            }
                        }
                        Some(Copied::Complete) => {
                            *this.storing = this.tee.take().and_then(Tee::complete);
                            if this.storing.is_some() {
                                *this.held = Some(frame);
                                continue;
                            }
                        }
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Some(Err(err)) => {
                    if let Some(tee) = this.tee.take() {
                        tee.pending.abandon(false);
                    }
                    return Poll::Ready(Some(Err(err)));
                }
                None => {
                    *this.storing = this.tee.take().and_then(Tee::end);
                    if this.storing.is_none() {
                        return Poll::Ready(None);
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // While copying, the end must be observed by polling (to store the copy).
        self.tee.is_none() && self.storing.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
