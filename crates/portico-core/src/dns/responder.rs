//! The responder's sockets and life: UDP and TCP bound on one loopback address, served by
//! `hickory-server` in a task of its own, off the proxy's path. [`Dns`] keeps it in step with
//! the settings.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_server::Server;
use serde::Serialize;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

use super::resolver::{Platform, ResolverEnv, SuffixStatus, suffix_status};
use super::{Answerer, Error};

/// A TCP client silent for this long is dropped.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// After a failed bind, try again at most this often (the port may be freed).
const RETRY_EVERY: Duration = Duration::from_secs(5);

/// With port 0, how many free UDP ports to try before giving up on finding one whose TCP
/// port is free too.
const PORT_ZERO_TRIES: usize = 16;

/// The DNS responder as the engine runs it: started, stopped, re-bound or given new
/// suffixes by [`Dns::sync`], and reported by [`Dns::status`].
#[derive(Debug)]
pub struct Dns {
    state: tokio::sync::Mutex<State>,
    /// The engine's stop: the responder ends with it.
    stop: CancellationToken,
}

#[derive(Debug, Default)]
struct State {
    /// The settings last applied.
    listen: String,
    suffixes: Vec<String>,
    running: Option<Running>,
    /// Why the responder does not run although suffixes are set.
    error: Option<String>,
    last_attempt: Option<Instant>,
}

#[derive(Debug)]
struct Running {
    /// The `dns_listen` it was bound for.
    listen: String,
    /// Where it is bound (the port chosen, for port 0).
    addr: SocketAddr,
    answerer: Answerer,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// The responder's state, as `/api/v1/status` shows it under `dns`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DnsStatus {
    /// Whether it should run: the `dns_suffixes` setting is not empty.
    pub enabled: bool,
    /// The `dns_listen` setting.
    #[schema(example = "127.0.0.1:5354")]
    pub listen: String,
    /// Where it answers now, UDP and TCP; null while off or when it could not bind.
    #[schema(value_type = Option<String>, required = true, example = "127.0.0.1:5354")]
    pub listening: Option<SocketAddr>,
    /// Why it does not answer although suffixes are set (a port in use …), and what to do;
    /// null otherwise. Portico keeps trying every few seconds.
    #[schema(required = true)]
    pub error: Option<String>,
    /// Each suffix, and whether the system resolver sends it to the responder.
    pub suffixes: Vec<SuffixStatus>,
    /// How this machine's resolver is configured (`GET /api/v1/dns` has the commands).
    pub platform: Platform,
}

impl Dns {
    /// A responder that is off until [`Dns::sync`]; it stops for good when `stop` is
    /// cancelled.
    pub fn new(stop: CancellationToken) -> Dns {
        Dns {
            state: tokio::sync::Mutex::new(State::default()),
            stop,
        }
    }

    /// Make the responder match the settings: off without suffixes; new suffixes apply in
    /// place; a new address re-binds (the old sockets are closed first, so the same port can
    /// be taken again). A bind that fails is kept as the status's error, never returned.
    pub async fn sync(&self, listen: &str, suffixes: &[String]) {
        let mut state = self.state.lock().await;
        let unchanged = state.listen == listen && state.suffixes == suffixes;
        state.listen = listen.to_owned();
        state.suffixes = suffixes.to_vec();
        if suffixes.is_empty() {
            state.error = None;
            if let Some(running) = state.running.take() {
                running.shut().await;
                tracing::info!("DNS responder stopped (no dns_suffixes)");
            }
            return;
        }
        if let Some(running) = &state.running {
            if running.listen == listen {
                running.answerer.set_suffixes(suffixes);
                return;
            }
        } else if unchanged && state.error.is_some() && !retry_due(&state) {
            return;
        }
        if let Some(running) = state.running.take() {
            running.shut().await;
        }
        state.last_attempt = Some(Instant::now());
        match self.start(listen, suffixes).await {
            Ok(running) => {
                tracing::info!(
                    addr = %running.addr,
                    "DNS responder answering for {:?} on {} (UDP and TCP)",
                    suffixes,
                    running.addr
                );
                state.error = None;
                state.running = Some(running);
            }
            Err(err) => {
                let text = err.to_string();
                if state.error.as_deref() != Some(&text) {
                    tracing::warn!("DNS responder is off: {text}");
                }
                state.error = Some(text);
            }
        }
    }

    /// Try the last settings again if binding failed a while ago (the port may be free now).
    pub async fn retry(&self) {
        let (listen, suffixes) = {
            let state = self.state.lock().await;
            if state.error.is_none() || !retry_due(&state) {
                return;
            }
            (state.listen.clone(), state.suffixes.clone())
        };
        self.sync(&listen, &suffixes).await;
    }

    /// Where the responder answers now.
    pub async fn addr(&self) -> Option<SocketAddr> {
        self.state.lock().await.running.as_ref().map(|r| r.addr)
    }

    /// The responder's state, with each suffix checked against the resolver files on `env`
    /// (read on the blocking pool).
    pub async fn status(&self, env: &ResolverEnv) -> DnsStatus {
        let (listen, suffixes, listening, error) = {
            let state = self.state.lock().await;
            (
                state.listen.clone(),
                state.suffixes.clone(),
                state.running.as_ref().map(|r| r.addr),
                state.error.clone(),
            )
        };
        let platform = env.platform();
        let env = env.clone();
        let target = listening.or_else(|| listen.parse().ok());
        let names = suffixes.clone();
        let suffixes = tokio::task::spawn_blocking(move || suffix_status(&env, target, &names))
            .await
            .unwrap_or_default();
        DnsStatus {
            enabled: !suffixes.is_empty(),
            listen,
            listening,
            error,
            suffixes,
            platform,
        }
    }

    /// Stop answering and close the sockets.
    pub async fn shutdown(&self) {
        let mut state = self.state.lock().await;
        if let Some(running) = state.running.take() {
            running.shut().await;
        }
    }

    async fn start(&self, listen: &str, suffixes: &[String]) -> Result<Running, Error> {
        let wanted: SocketAddr = listen.parse().map_err(|_| Error::Bind {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            protocol: "UDP",
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{listen:?} is not IP:PORT"),
            ),
        })?;
        let (udp, tcp, addr) = bind(wanted).await?;
        let answerer = Answerer::new(suffixes);
        let mut server = Server::new(answerer.clone());
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE, 16);
        let stop = self.stop.child_token();
        let until = stop.clone();
        let task = tokio::spawn(async move {
            tokio::select! {
                done = server.block_until_done() => {
                    if let Err(err) = done {
                        tracing::warn!("DNS responder on {addr} stopped: {err}");
                    }
                }
                () = until.cancelled() => {}
            }
            if let Err(err) = server.shutdown_gracefully().await {
                tracing::debug!("DNS responder on {addr} ended with: {err}");
            }
        });
        Ok(Running {
            listen: listen.to_owned(),
            addr,
            answerer,
            stop,
            task,
        })
    }
}

fn retry_due(state: &State) -> bool {
    state
        .last_attempt
        .is_none_or(|at| at.elapsed() >= RETRY_EVERY)
}

impl Running {
    /// Stop and wait until the sockets are closed.
    async fn shut(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// UDP and TCP on `wanted`; for port 0, one port free for both.
async fn bind(wanted: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), Error> {
    let tries = if wanted.port() == 0 {
        PORT_ZERO_TRIES
    } else {
        1
    };
    let mut last = None;
    for _ in 0..tries {
        let udp = UdpSocket::bind(wanted)
            .await
            .map_err(|source| Error::Bind {
                addr: wanted,
                protocol: "UDP",
                source,
            })?;
        let addr = udp.local_addr().map_err(|source| Error::Bind {
            addr: wanted,
            protocol: "UDP",
            source,
        })?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp, addr)),
            Err(source) => {
                last = Some(Error::Bind {
                    addr,
                    protocol: "TCP",
                    source,
                });
            }
        }
    }
    Err(last.expect("at least one try was made"))
}
