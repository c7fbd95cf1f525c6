//! Protocol upgrades (WebSocket, dev-server HMR, anything with `Upgrade`): once the upstream
//! answers 101, the two connections are joined and bytes are copied both ways until either
//! side closes.

use http::Response;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ProxyBody, headers};

/// Answer the client with the upstream's 101 and join the two upgraded connections in a
/// tracked task that ends when either side closes or `stop` is cancelled.
pub(crate) fn tunnel(
    mut resp: Response<Incoming>,
    client: OnUpgrade,
    tunnels: &TaskTracker,
    stop: CancellationToken,
    label: String,
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
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        tokio::select! {
            () = stop.cancelled() => {}
            copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => match copied {
                Ok((up, down)) => tracing::debug!(route = %label, up, down, "upgraded connection closed"),
                Err(err) => tracing::debug!(route = %label, "upgraded connection ended: {err}"),
            },
        }
    });
    let (mut parts, _empty) = resp.into_parts();
    let protocol = parts.headers.get(http::header::UPGRADE).cloned();
    headers::strip_hop_by_hop(&mut parts.headers, protocol.as_ref());
    headers::append_via(&mut parts.headers, parts.version);
    parts.version = http::Version::default();
    Response::from_parts(parts, Empty::new().map_err(|never| match never {}).boxed())
}
