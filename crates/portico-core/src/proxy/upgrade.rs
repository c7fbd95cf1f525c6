//! Protocol upgrades (WebSocket, dev-server HMR, anything with `Upgrade`): once the upstream
//! answers 101, the two connections are joined and bytes are copied both ways until either
//! side closes.

use http::Response;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ProxyBody, headers};
use crate::inspect::capture::{Capture, Record};
use crate::inspect::event::WebSocketStats;
use crate::inspect::frames::FrameCounter;

/// Answer the client with the upstream's 101 and join the two upgraded connections in a
/// tracked task that ends when both sides are done or `stop` is cancelled. With a capture,
/// bytes (and, for WebSockets, frames) are counted each way and recorded at the end.
pub(crate) fn tunnel(
    mut resp: Response<Incoming>,
    client: OnUpgrade,
    tunnels: &TaskTracker,
    stop: CancellationToken,
    label: String,
    capture: Option<(Capture, bool)>,
) -> Response<ProxyBody> {
    let upstream = hyper::upgrade::on(&mut resp);
    tunnels.spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(err) => {
                tracing::debug!(route = %label, "upgrade did not complete: {err}");
                return;
            }
        };
        let count_frames = capture.as_ref().is_some_and(|(_, ws)| *ws);
        let (client_read, client_write) = tokio::io::split(TokioIo::new(client));
        let (upstream_read, upstream_write) = tokio::io::split(TokioIo::new(upstream));
        let up = pump(client_read, upstream_write, count_frames);
        let down = pump(upstream_read, client_write, count_frames);
        tokio::pin!(up, down);
        let mut stats = WebSocketStats::default();
        let (mut up_done, mut down_done) = (false, false);
        while !(up_done && down_done) {
            tokio::select! {
                () = stop.cancelled() => break,
                (bytes, frames, failed) = &mut up, if !up_done => {
                    up_done = true;
                    (stats.bytes_in, stats.frames_in) = (bytes, frames);
                    if failed { break }
                }
                (bytes, frames, failed) = &mut down, if !down_done => {
                    down_done = true;
                    (stats.bytes_out, stats.frames_out) = (bytes, frames);
                    if failed { break }
                }
            }
        }
        tracing::debug!(route = %label, up = stats.bytes_in, down = stats.bytes_out, "upgraded connection closed");
        if let Some((capture, _)) = capture {
            stats.closed = true;
            let id = capture.id();
            capture.inspector().submit(Record::WebSocket { id, stats });
        }
    });
    let (mut parts, _empty) = resp.into_parts();
    let protocol = parts.headers.get(http::header::UPGRADE).cloned();
    headers::strip_hop_by_hop(&mut parts.headers, protocol.as_ref());
    headers::append_via(&mut parts.headers, parts.version);
    parts.version = http::Version::default();
    Response::from_parts(parts, Empty::new().map_err(|never| match never {}).boxed())
}

/// Copy one direction until end of stream or an error; then shut the writer down so the
/// other side sees the close. Returns bytes, frames, and whether it failed.
async fn pump<R, W>(mut from: R, mut to: W, count_frames: bool) -> (u64, u64, bool)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    let mut counter = count_frames.then(FrameCounter::default);
    let mut total = 0u64;
    let frames = |c: &Option<FrameCounter>| c.as_ref().map_or(0, FrameCounter::frames);
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => {
                let _ = to.shutdown().await;
                return (total, frames(&counter), false);
            }
            Ok(n) => n,
            Err(_) => return (total, frames(&counter), true),
        };
        if let Some(counter) = &mut counter {
            counter.feed(&buf[..n]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return (total, frames(&counter), true);
        }
        total += n as u64;
    }
}
