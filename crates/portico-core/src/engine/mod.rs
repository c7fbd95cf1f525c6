//! Starting and stopping everything: opens the store, binds listeners, serves the proxy and
//! the admin API, and rebuilds the route table and swaps it in atomically whenever routes
//! change (through the admin API, this handle, or another process writing the same
//! database, such as the CLI).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Error;
use crate::admin::{
    self, AdminState, CaReport, Control, Event, ListenerStatus, ProjectRoutes, RotationReport,
    RouteCounts, Status, StoreChange, Token,
};
use crate::cache::Cache;
use crate::config::{Export, NewRoute, Route, RouteId, RoutePatch, Settings, SettingsPatch};
use crate::hosts::{self, HostsChange, HostsConfig, HostsStatus};
use crate::inspect::capture::Inspector;
use crate::inspect::recorder::{Live, Retention};
use crate::proxy::{
    self, Fallback, HealthMonitor, ListenSpec, Listeners, Proxy, ProxyOptions, RouteTable,
    ServeOptions,
};
use crate::share::{self, Lan, ShareInfo, Sharing};
use crate::store::{self, ImportSummary, RouteRows, Store, StoredCertificate, TrafficStore};
use crate::tls::trust::{self, TrustEnv};
use crate::tls::{Ca, CaEvent, IssuedLeaf, LeafPolicy, Tls};

/// File in the data dir that tells other processes (the CLI) where this engine's admin API
/// is, while it runs.
pub const ADMIN_FILE: &str = "admin.json";

/// Sends each newly issued leaf to the task that stores it.
type IssuedTx = tokio::sync::mpsc::UnboundedSender<IssuedLeaf>;

/// How often the engine checks whether another process changed the database.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

/// What the engine needs to start.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Holds `portico.db` and `admin-token`. Created (mode 0700) if missing.
    pub data_dir: PathBuf,
    /// Where plain HTTP listens. Default: port 80 on loopback, else 8080.
    pub http: ListenSpec,
    /// Where HTTPS listens; `None` serves no HTTPS. Default: port 443 on loopback, else 8443.
    pub https: Option<ListenSpec>,
    /// Who the CA belongs to, e.g. `alice@laptop`: shown in its name in trust stores.
    /// Default: `portico`.
    pub owner: String,
    /// Leaf certificate lifetime and renewal. Default: [`LeafPolicy::default`].
    pub leaf_policy: LeafPolicy,
    /// Where the trust stores are, for the admin API's trust, untrust and rotate. Default:
    /// none (those calls answer 503; the CLI passes the real machine's).
    pub trust: Option<TrustEnv>,
    /// How many captured exchanges may wait for the recorder before capture drops them.
    /// Default: 4096.
    pub capture_queue: usize,
    /// Where the admin API listens; `None` serves no admin API.
    /// Default: port 7080 on loopback, else a free port.
    pub admin: Option<AdminListen>,
    /// Where the system resolver's files are, to report whether they send the DNS suffixes
    /// to the responder and to plan their setup (the engine never writes them). Default:
    /// [`crate::dns::ResolverEnv::system`].
    pub resolver: crate::dns::ResolverEnv,
    /// The hosts file to keep route names in (see [`crate::hosts`]), while the `hosts_sync`
    /// setting is on. Default: none (the engine touches no hosts file; the `portico` command
    /// and the desktop app pass the platform's).
    pub hosts: Option<HostsConfig>,
}

/// Where the admin API listens.
#[derive(Debug, Clone)]
pub struct AdminListen {
    /// The address.
    pub listen: ListenSpec,
    /// Serve on a non-loopback address. Default: false (such an address is refused).
    pub allow_remote: bool,
    /// Serve the web UI from this folder (a Vite build) instead of the one built in.
    /// Default: none.
    pub ui_dir: Option<PathBuf>,
}

impl EngineConfig {
    /// The default listeners for `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            http: ListenSpec::Default {
                preferred: 80,
                fallback: 8080,
            },
            https: Some(ListenSpec::Default {
                preferred: 443,
                fallback: 8443,
            }),
            owner: "portico".to_owned(),
            leaf_policy: LeafPolicy::default(),
            trust: None,
            capture_queue: crate::inspect::capture::DEFAULT_QUEUE,
            admin: Some(AdminListen {
                listen: ListenSpec::Default {
                    preferred: 7080,
                    fallback: 0,
                },
                allow_remote: false,
                ui_dir: None,
            }),
            resolver: crate::dns::ResolverEnv::system(),
            hosts: None,
        }
    }
}

/// The engine. See [`Engine::start`].
#[derive(Debug)]
pub struct Engine;

/// A running engine. Dropping it stops everything at once; [`EngineHandle::shutdown`] stops
/// gracefully.
#[derive(Debug)]
pub struct EngineHandle {
    core: Arc<Core>,
    http_fallback: Option<Fallback>,
    https_fallback: Option<Fallback>,
    admin_fallback: Option<Fallback>,
    admin_token: Option<Token>,
    admin_state: Option<AdminState>,
    proxy: Proxy,
    /// Stops accepting and starts the graceful drain.
    stop: CancellationToken,
    /// Ends upgraded connections; fired after the drain.
    stop_tunnels: CancellationToken,
    tasks: TaskTracker,
    /// Stops the capture recorder once everything else has.
    stop_recorder: CancellationToken,
    recorder: Option<tokio::task::JoinHandle<()>>,
}

/// The engine's shared state and the operations every front end uses.
#[derive(Debug)]
struct Core {
    store: Store,
    table: Arc<ArcSwap<RouteTable>>,
    data_dir: PathBuf,
    http_addrs: Vec<SocketAddr>,
    https_addrs: Vec<SocketAddr>,
    admin_addrs: Vec<SocketAddr>,
    started: Instant,
    /// Serialises rebuilds so an older snapshot never replaces a newer one.
    rebuild: tokio::sync::Mutex<()>,
    tls: Tls,
    ca: CaSource,
    trust: Option<TrustEnv>,
    events: tokio::sync::broadcast::Sender<Event>,
    traffic: TrafficStore,
    inspector: Inspector,
    live: tokio::sync::broadcast::Sender<Live>,
    retention: Arc<Retention>,
    cache: Cache,
    compress_min_bytes: Arc<std::sync::atomic::AtomicU64>,
    /// The proxy's settings-wide checks (pause, addresses, rate, body size).
    gate: Arc<ArcSwap<crate::proxy::Gate>>,
    /// The proxy listeners that did not get the port they wanted.
    fallbacks: Vec<admin::PortFallback>,
    /// The LAN listeners of shared routes; set once the proxy exists.
    sharing: std::sync::OnceLock<Arc<Sharing>>,
    /// What the proxy has open (connections, requests, tunnels).
    load: Arc<crate::proxy::Load>,
    /// The DNS responder for the `dns_suffixes` setting.
    dns: crate::dns::Dns,
    /// The system resolver's files, for the DNS status and setup plan.
    resolver: crate::dns::ResolverEnv,
    /// The hosts file kept in sync, when there is one.
    hosts: Option<hosts::Manager>,
    /// Wakes the hosts-file sync task (after every table swap and settings change).
    hosts_wake: tokio::sync::Notify,
}

/// Where the CA comes from, to reload it when its files or the local suffixes change.
#[derive(Debug)]
struct CaSource {
    dir: PathBuf,
    owner: String,
    policy: LeafPolicy,
    issued: IssuedTx,
    /// The suffixes and file stamps the loaded CA was built from.
    loaded: std::sync::Mutex<(Vec<String>, CaStamp)>,
    /// One CA change at a time in this process (a rotation and a reload must not both
    /// write an intermediate).
    changing: tokio::sync::Mutex<()>,
}

/// Modification time and length of the CA files: a change means another process (such as
/// `portico ca rotate`) replaced the CA.
type CaStamp = Vec<Option<(std::time::SystemTime, u64)>>;

impl Engine {
    /// Open the store, bind the listeners and start serving.
    pub async fn start(config: EngineConfig) -> Result<EngineHandle, Error> {
        if let Some(admin) = &config.admin
            && let ListenSpec::Addr(addr) = admin.listen
            && !admin.allow_remote
            && !admin::is_local(&addr)
        {
            return Err(Error::AdminNotLoopback { addr });
        }
        let dir = config.data_dir.clone();
        let store = tokio::task::spawn_blocking(move || Store::open_dir(&dir)).await??;
        let settings = blocking(&store, Store::settings).await?;
        let dir = config.data_dir.clone();
        let (traffic, last_id) = tokio::task::spawn_blocking(move || {
            let traffic = TrafficStore::open_dir(&dir)?;
            let last = traffic.max_id()?;
            Ok::<_, store::Error>((traffic, last))
        })
        .await??;
        let (inspector, queue) = Inspector::new(
            config.capture_queue,
            settings.capture_body_limit as usize,
            last_id,
        );
        inspector.set_paused(settings.capture_paused);
        let retention = Retention::new(
            settings.capture_retention_count,
            settings.capture_retention_days,
            settings.capture_max_mb,
        );
        traffic.fit_bodies(settings.capture_max_mb << 20);
        let live = tokio::sync::broadcast::channel(1024).0;
        let cache = Cache::new(settings.cache_max_mb << 20);
        let compress_min_bytes = Arc::new(std::sync::atomic::AtomicU64::new(
            settings.compress_min_bytes,
        ));
        let gate = Arc::new(ArcSwap::from_pointee(crate::proxy::Gate::new(
            &settings, None,
        )));

        let http = Listeners::bind(&config.http).await?;
        let https = match &config.https {
            Some(spec) => Some(Listeners::bind(spec).await?),
            None => None,
        };
        let admin = match &config.admin {
            Some(admin) => Some(Listeners::bind(&admin.listen).await?),
            None => None,
        };
        // Listeners first: a start that fails on a busy port leaves nothing behind.
        let ca_dir = config.data_dir.join("ca");
        let (issued_tx, issued_rx) = tokio::sync::mpsc::unbounded_channel();
        let ca = load_ca(&ca_dir, &config.owner, &settings.local_suffixes, true).await?;
        let tls = Tls::new(ca, config.leaf_policy, Some(issued_tx.clone()))?;
        let issuer = tls.authority().ca().intermediate_fingerprint();
        let stored = blocking(&store, move |s| s.certificates(&issuer)).await?;
        tls.authority()
            .preload(stored.into_iter().map(to_issued).collect());

        let stop = CancellationToken::new();
        let stop_tunnels = CancellationToken::new();
        let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
        let stamp = ca_stamp(&ca_dir).await;
        let core = Arc::new(Core {
            store,
            table: table.clone(),
            data_dir: config.data_dir.clone(),
            http_addrs: http.addrs(),
            https_addrs: https.as_ref().map(Listeners::addrs).unwrap_or_default(),
            admin_addrs: admin.as_ref().map(Listeners::addrs).unwrap_or_default(),
            started: Instant::now(),
            rebuild: tokio::sync::Mutex::new(()),
            tls: tls.clone(),
            ca: CaSource {
                dir: ca_dir,
                owner: config.owner.clone(),
                policy: config.leaf_policy,
                issued: issued_tx,
                loaded: std::sync::Mutex::new((settings.local_suffixes.clone(), stamp)),
                changing: tokio::sync::Mutex::new(()),
            },
            trust: config.trust.clone(),
            events: tokio::sync::broadcast::channel(64).0,
            traffic: traffic.clone(),
            inspector: inspector.clone(),
            live: live.clone(),
            retention: retention.clone(),
            cache: cache.clone(),
            compress_min_bytes: compress_min_bytes.clone(),
            gate: gate.clone(),
            fallbacks: [
                (admin::FallbackListener::Http, http.fallback.as_ref()),
                (
                    admin::FallbackListener::Https,
                    https.as_ref().and_then(|l| l.fallback.as_ref()),
                ),
            ]
            .into_iter()
            .filter_map(|(listener, f)| f.map(|f| admin::PortFallback::new(listener, f)))
            .collect(),
            sharing: std::sync::OnceLock::new(),
            load: Arc::default(),
            dns: crate::dns::Dns::new(stop.clone()),
            resolver: config.resolver.clone(),
            hosts: config
                .hosts
                .clone()
                .map(|h| hosts::Manager::new(h, &config.data_dir)),
            hosts_wake: tokio::sync::Notify::new(),
        });
        // The baseline is taken before the first build, so a write landing in between is
        // seen as a change rather than lost.
        let baseline = blocking(&core.store, Store::data_version).await?;
        core.rebuild().await?;

        let metrics = crate::metrics::Metrics::new();
        let options = ProxyOptions {
            https_port: core.https_addrs.first().map(SocketAddr::port),
            tls: Some(tls.clone()),
            inspector: Some(inspector.clone()),
            cache: Some(cache.clone()),
            compress_min_bytes,
            gate,
            metrics: metrics.clone(),
            conns: Arc::default(),
            load: core.load.clone(),
            lanes: std::thread::available_parallelism().map_or(1, usize::from),
        };
        // The recorder outlives the listeners: it stops after connections drain, writing
        // what they captured.
        let stop_recorder = CancellationToken::new();
        let recorder = tokio::spawn(crate::inspect::recorder::run(
            queue,
            traffic,
            live,
            inspector,
            retention,
            stop_recorder.clone(),
        ));
        let proxy = Proxy::new(table, stop_tunnels.clone(), options);
        let health = HealthMonitor::default();
        let tasks = TaskTracker::new();
        let opts = ServeOptions {
            header_read_timeout: Duration::from_millis(settings.header_read_timeout_ms),
            grace: Duration::from_millis(settings.shutdown_grace_ms),
            shared_route: None,
        };
        let http_fallback = http.fallback.clone();
        for socket in http.sockets {
            tasks.spawn(proxy::serve(
                socket,
                proxy.clone(),
                opts,
                None,
                stop.clone(),
            ));
        }
        let mut https_fallback = None;
        if let Some(https) = https {
            https_fallback = https.fallback.clone();
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
            for socket in https.sockets {
                let acceptor = Some(acceptor.clone());
                tasks.spawn(proxy::serve(
                    socket,
                    proxy.clone(),
                    opts,
                    acceptor,
                    stop.clone(),
                ));
            }
        }
        tasks.spawn(store_leaves(core.store.clone(), issued_rx, stop.clone()));
        let sharing = Sharing::new(
            proxy.clone(),
            tls.clone(),
            opts,
            stop.clone(),
            tasks.clone(),
        );
        let _ = core.sharing.set(Arc::new(sharing));
        core.sync_sharing().await;
        // A responder that cannot bind is reported in the status; the engine starts anyway.
        core.dns
            .sync(&settings.dns_listen, &settings.dns_suffixes)
            .await;

        let mut admin_token = None;
        let mut admin_fallback = None;
        let mut admin_state = None;
        if let (Some(listeners), Some(admin_config)) = (admin, &config.admin) {
            let token = Token::generate().map_err(|source| Error::AdminToken {
                path: config.data_dir.join(admin::TOKEN_FILE),
                source,
            })?;
            token
                .write_to(&config.data_dir)
                .map_err(|source| Error::AdminToken {
                    path: config.data_dir.join(admin::TOKEN_FILE),
                    source,
                })?;
            let proxy_ports: Vec<u16> = core
                .http_addrs
                .iter()
                .chain(&core.https_addrs)
                .map(SocketAddr::port)
                .collect();
            let state = AdminState::new(
                core.clone(),
                token.clone(),
                &core.admin_addrs,
                &proxy_ports,
                admin_config.allow_remote,
            );
            let state = state.with_traffic(admin::TrafficApi {
                store: core.traffic.clone(),
                inspector: core.inspector.clone(),
                live: core.live.clone(),
                proxy: proxy.clone(),
                http: core.http_addrs[0],
                https: core.https_addrs.first().copied(),
                ca_file: tls.authority().ca().root_path(),
            });
            let own: Vec<SocketAddr> = core
                .http_addrs
                .iter()
                .chain(&core.https_addrs)
                .copied()
                .collect();
            let state = state
                .with_cache(cache)
                .with_own_listeners(&own)
                .with_health(health.clone())
                .with_ui_dir(admin_config.ui_dir.as_deref())
                .with_metrics(metrics.clone())
                .with_stop(stop.clone());
            let router = admin::router(state.clone());
            admin_fallback = listeners.fallback.clone();
            for socket in listeners.sockets {
                tasks.spawn(admin::serve(socket, router.clone(), stop.clone()));
            }
            if let Some(addr) = core.admin_addrs.first() {
                write_admin_file(&config.data_dir, *addr);
            }
            admin_token = Some(token);
            admin_state = Some(state);
        }
        tasks.spawn(watch_store(core.clone(), baseline, stop.clone()));
        tasks.spawn(sync_hosts(core.clone(), stop.clone()));
        let events = core.events.clone();
        tasks.spawn(
            health
                .clone()
                .run(core.table.clone(), stop.clone(), move |h| {
                    let _ = events.send(Event::UpstreamHealth {
                        route_id: h.route_id,
                        up: h.route_up,
                        upstream: h.upstream,
                        upstream_up: h.up,
                        error: h.error,
                    });
                }),
        );

        Ok(EngineHandle {
            recorder: Some(recorder),
            stop_recorder,
            core,
            http_fallback,
            https_fallback,
            admin_fallback,
            admin_token,
            admin_state,
            proxy,
            stop,
            stop_tunnels,
            tasks,
        })
    }
}

/// Load (or create) the CA on the blocking pool, logging what happened.
async fn load_ca(
    dir: &Path,
    owner: &str,
    suffixes: &[String],
    may_create_root: bool,
) -> Result<Ca, Error> {
    let (dir, owner, suffixes) = (dir.to_owned(), owner.to_owned(), suffixes.to_vec());
    let (ca, event) = tokio::task::spawn_blocking(move || {
        if may_create_root {
            Ca::load_or_create(&dir, &owner, &suffixes)
        } else {
            Ca::load(&dir, &owner, &suffixes)
        }
    })
    .await??;
    match event {
        CaEvent::CreatedRoot => tracing::info!(
            fingerprint = %ca.root_fingerprint(),
            "created a new local CA: {}; run `portico ca trust` so browsers trust it",
            ca.root_name()
        ),
        CaEvent::IssuedIntermediate => tracing::info!(
            "issued a new intermediate certificate for {:?} (the trusted root is unchanged)",
            ca.suffixes()
        ),
        CaEvent::Loaded => {}
    }
    Ok(ca)
}

async fn ca_stamp(dir: &Path) -> CaStamp {
    let mut stamp = Vec::new();
    for name in ["root.pem", "intermediate.pem"] {
        let meta = tokio::fs::metadata(dir.join(name)).await.ok();
        stamp.push(meta.and_then(|m| Some((m.modified().ok()?, m.len()))));
    }
    stamp
}

fn to_issued(cert: StoredCertificate) -> IssuedLeaf {
    IssuedLeaf {
        host: cert.host,
        cert_pem: cert.cert_pem,
        key_pem: cert.key_pem,
        not_after: std::time::SystemTime::UNIX_EPOCH
            + Duration::from_secs(cert.not_after.max(0) as u64),
        issuer: cert.issuer,
    }
}

/// Store each issued leaf, off the handshake path. Leaves still queued at shutdown are
/// written before the task ends; a lost one is only re-issued at the next start.
async fn store_leaves(
    store: Store,
    mut issued: tokio::sync::mpsc::UnboundedReceiver<IssuedLeaf>,
    stop: CancellationToken,
) {
    loop {
        let leaf = tokio::select! {
            leaf = issued.recv() => leaf,
            () = stop.cancelled() => issued.try_recv().ok(),
        };
        let Some(leaf) = leaf else { return };
        let cert = StoredCertificate {
            not_after: leaf
                .not_after
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default(),
            host: leaf.host,
            cert_pem: leaf.cert_pem,
            key_pem: leaf.key_pem,
            issuer: leaf.issuer,
        };
        if let Err(err) = blocking(&store, move |s| s.put_certificate(&cert)).await {
            tracing::warn!("cannot store an issued certificate: {err}");
        }
    }
}

impl Core {
    /// Read every route and swap in a new table.
    async fn rebuild(&self) -> Result<(), Error> {
        let _one_at_a_time = self.rebuild.lock().await;
        let RouteRows { routes, invalid } = blocking(&self.store, Store::list_routes).await?;
        for bad in &invalid {
            tracing::warn!(
                id = bad.id,
                host = %bad.host,
                "stored route is not valid and is not served: {}; fix or remove it (portico route rm {})",
                bad.error,
                bad.host
            );
        }
        let own: Vec<SocketAddr> = self
            .http_addrs
            .iter()
            .chain(&self.https_addrs)
            .copied()
            .collect();
        let table = RouteTable::new(routes, &own)
            .with_state_from(&self.table.load())
            .with_admin(self.admin_addrs.first().copied());
        self.table.store(Arc::new(table));
        self.hosts_wake.notify_one();
        let _ = self.events.send(Event::RoutesChanged);
        self.sync_sharing().await;
        Ok(())
    }

    /// Start and stop the LAN listeners to match the current table and settings.
    async fn sync_sharing(&self) {
        let Some(sharing) = self.sharing.get() else {
            return;
        };
        let table = self.table.load_full();
        let now = now_millis();
        let settings = match blocking(&self.store, Store::settings).await {
            Ok(settings) => settings,
            Err(err) => {
                tracing::warn!("cannot read settings for sharing: {err}");
                return;
            }
        };
        let lan = if table.routes().iter().any(|r| r.shared_at(now)) {
            match self.lan_for_sharing(&settings).await {
                Ok((ip, _)) => Lan::At(ip),
                Err(err) => {
                    tracing::warn!("routes are shared but cannot be served on the network: {err}");
                    Lan::Unavailable(err.to_string())
                }
            }
        } else {
            Lan::Unavailable(String::new())
        };
        sharing
            .sync(table.routes(), lan, settings.share_ca_port, now)
            .await;
    }

    /// The LAN address to share on, with the CA able to vouch for it, and a port free there.
    async fn lan_for_sharing(&self, settings: &Settings) -> Result<(IpAddr, u16), Error> {
        let ip = share::lan_address(settings.lan_address.as_deref())?;
        // Binding first proves the address is this machine's, before the CA is changed for it.
        let port = share::free_port(ip)?;
        self.ensure_ca_permits(ip).await?;
        Ok((ip, port))
    }

    /// Re-issue the intermediate (same root) when it may not vouch for `ip` yet.
    async fn ensure_ca_permits(&self, ip: IpAddr) -> Result<(), Error> {
        if self.tls.authority().ca().permits_ip(ip) {
            return Ok(());
        }
        let _one_change = self.ca.changing.lock().await;
        if self.tls.authority().ca().permits_ip(ip) {
            return Ok(());
        }
        let suffixes = self
            .ca
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone();
        let (dir, owner) = (self.ca.dir.clone(), self.ca.owner.clone());
        let (ca, _) = tokio::task::spawn_blocking(move || {
            Ca::load_permitting(&dir, &owner, &suffixes, &[ip])
        })
        .await?
        .map_err(|source| share::Error::Ca { ip, source })?;
        tracing::info!(
            %ip,
            "issued a new intermediate certificate that may also vouch for {ip} (the trusted root is unchanged)"
        );
        let _ = self.events.send(Event::CaChanged {
            fingerprint: ca.root_fingerprint(),
        });
        self.tls
            .replace_ca(ca, self.ca.policy, Some(self.ca.issued.clone()));
        let stamp = ca_stamp(&self.ca.dir).await;
        self.ca.loaded.lock().unwrap_or_else(|p| p.into_inner()).1 = stamp;
        Ok(())
    }

    /// When a route starts being shared: the LAN address must be known (and vouched for by
    /// the CA), and a route without a port gets a free one, kept from then on.
    async fn prepare_share(
        &self,
        was_shared: bool,
        shared: bool,
        port: &mut Option<u16>,
    ) -> Result<(), Error> {
        if !shared || (was_shared && port.is_some()) {
            return Ok(());
        }
        let settings = blocking(&self.store, Store::settings).await?;
        let (_, free) = self.lan_for_sharing(&settings).await?;
        port.get_or_insert(free);
        Ok(())
    }

    /// Stop sharing the routes whose time ran out.
    async fn expire_shares(&self) {
        let now = now_millis();
        let due: Vec<RouteId> = self
            .table
            .load()
            .routes()
            .iter()
            .filter(|r| r.shared && r.share_expires_at.is_some_and(|at| at <= now))
            .map(|r| r.id)
            .collect();
        for id in due {
            let patch = RoutePatch {
                shared: Some(false),
                ..RoutePatch::default()
            };
            match self.change_route(id, patch, true).await {
                Ok(route) => tracing::info!(route = %route.host, "sharing ended: its time ran out"),
                Err(err) => tracing::warn!("cannot end an expired share: {err}"),
            }
        }
    }

    /// A route's sharing as the API shows it.
    async fn share_info(&self, id: RouteId) -> Result<ShareInfo, Error> {
        let route = blocking(&self.store, move |s| s.route(id)).await?;
        Ok(self.sharing().info(&route, now_millis()).await)
    }

    fn sharing(&self) -> &Sharing {
        self.sharing
            .get()
            .expect("sharing is set up before the admin API and the handle exist")
    }

    async fn shares(&self) -> Result<Vec<ShareInfo>, Error> {
        let rows = blocking(&self.store, Store::list_routes).await?;
        let now = now_millis();
        let mut out = Vec::new();
        for route in rows.routes.iter().filter(|r| r.shared) {
            out.push(self.sharing().info(route, now).await);
        }
        Ok(out)
    }

    /// Share route `id` on the network, for `duration` or until switched off.
    async fn share(&self, id: RouteId, duration: Option<Duration>) -> Result<ShareInfo, Error> {
        let expires = duration.map(|d| now_millis().saturating_add(d.as_millis() as u64));
        let patch = RoutePatch {
            shared: Some(true),
            share_expires_at: Some(expires),
            ..RoutePatch::default()
        };
        self.change_route(id, patch, false).await?;
        self.share_info(id).await
    }

    /// Stop sharing route `id`.
    async fn unshare(&self, id: RouteId) -> Result<ShareInfo, Error> {
        let patch = RoutePatch {
            shared: Some(false),
            ..RoutePatch::default()
        };
        self.change_route(id, patch, false).await?;
        self.share_info(id).await
    }

    /// Reload the CA when the local suffixes in settings or the CA files changed (rotation
    /// by another process). The old CA stays in use if the new one cannot be loaded.
    async fn refresh_ca(&self, settings_changed: bool) {
        let one_change = self.ca.changing.lock().await;
        let replaced = self.reload_ca(settings_changed).await;
        drop(one_change);
        if replaced {
            // A rotated CA (by another process) permits no LAN address yet.
            self.sync_sharing().await;
        }
    }

    /// Whether a new CA was swapped in.
    async fn reload_ca(&self, settings_changed: bool) -> bool {
        let suffixes = if settings_changed {
            match blocking(&self.store, Store::settings).await {
                Ok(s) => Some(s.local_suffixes),
                Err(err) => {
                    tracing::warn!("cannot read settings: {err}");
                    None
                }
            }
        } else {
            None
        };
        let stamp = ca_stamp(&self.ca.dir).await;
        let (wanted, changed) = {
            let loaded = self.ca.loaded.lock().unwrap_or_else(|p| p.into_inner());
            let wanted = suffixes.unwrap_or_else(|| loaded.0.clone());
            let changed = wanted != loaded.0 || stamp != loaded.1;
            (wanted, changed)
        };
        if !changed {
            return false;
        }
        match load_ca(&self.ca.dir, &self.ca.owner, &wanted, false).await {
            Ok(ca) => {
                tracing::info!(root = %ca.root_name(), "CA reloaded");
                let _ = self.events.send(Event::CaChanged {
                    fingerprint: ca.root_fingerprint(),
                });
                self.tls
                    .replace_ca(ca, self.ca.policy, Some(self.ca.issued.clone()));
                let stamp = ca_stamp(&self.ca.dir).await;
                *self.ca.loaded.lock().unwrap_or_else(|p| p.into_inner()) = (wanted, stamp);
                true
            }
            Err(err) => {
                tracing::warn!(
                    "CA files changed but cannot be loaded, keeping the current CA: {err}"
                );
                // Remember the stamp so the same broken state is not retried every tick.
                self.ca.loaded.lock().unwrap_or_else(|p| p.into_inner()).1 = stamp;
                false
            }
        }
    }

    async fn add_route(&self, route: NewRoute) -> Result<Route, Error> {
        let settings = blocking(&self.store, Store::settings).await?;
        // Validation hashes basic auth passwords (argon2): off the runtime.
        let mut valid =
            tokio::task::spawn_blocking(move || route.with_defaults(&settings).validate())
                .await??;
        self.prepare_share(false, valid.shared, &mut valid.share_port)
            .await?;
        let stored = blocking(&self.store, move |s| s.insert_route(&valid)).await?;
        self.rebuild().await?;
        Ok(stored)
    }

    async fn update_route(&self, id: RouteId, patch: RoutePatch) -> Result<Route, Error> {
        self.change_route(id, patch, false).await
    }

    /// Apply `patch` to route `id`; `expired` says a share is ending because its time ran
    /// out (for the event).
    async fn change_route(
        &self,
        id: RouteId,
        patch: RoutePatch,
        expired: bool,
    ) -> Result<Route, Error> {
        let current = blocking(&self.store, move |s| s.route(id)).await?;
        // Applying hashes basic auth passwords (argon2): off the runtime.
        let base = current.clone();
        let mut next = tokio::task::spawn_blocking(move || patch.apply(&base)).await??;
        self.prepare_share(current.shared, next.shared, &mut next.share_port)
            .await?;
        let stored = next.clone();
        blocking(&self.store, move |s| s.update_route(&stored)).await?;
        let updated = next;
        self.rebuild().await?;
        if current.shared != updated.shared {
            let _ = self.events.send(Event::ShareChanged {
                route_id: id,
                shared: updated.shared,
                expired,
            });
        }
        // Any edit drops what the route cached (its rules or target may have changed what a
        // response would be), and turning caching back on later starts empty.
        self.cache.purge_route(id);
        Ok(updated)
    }

    async fn remove_route(&self, id: RouteId) -> Result<(), Error> {
        blocking(&self.store, move |s| s.delete_route(id)).await?;
        self.cache.purge_route(id);
        self.rebuild().await
    }

    async fn status(&self) -> Result<Status, Error> {
        let rows = blocking(&self.store, Store::list_routes).await?;
        Ok(Status {
            version: env!("CARGO_PKG_VERSION"),
            uptime_secs: self.started.elapsed().as_secs(),
            data_dir: self.data_dir.clone(),
            listeners: ListenerStatus {
                http: self.http_addrs.clone(),
                https: self.https_addrs.clone(),
                admin: self.admin_addrs.clone(),
                fallbacks: self.fallbacks.clone(),
            },
            paused: self.gate.load().paused,
            routes: RouteCounts {
                total: rows.routes.len(),
                enabled: rows.routes.iter().filter(|r| r.enabled).count(),
                invalid: rows.invalid.len(),
            },
            capture: admin::CaptureStatus {
                paused: self.inspector.paused(),
                dropped: self.inspector.dropped(),
                store_error: self.inspector.store_error(),
                not_stored: self.inspector.not_stored(),
                store_reset: self.traffic.replaced().map(|r| r.to_string()),
            },
            load: self.load.status(),
            hosts: self.hosts_status().await.ok(),
            network_addresses: tokio::task::spawn_blocking(admin::network_addresses)
                .await
                .unwrap_or_default(),
            dns: self.dns.status(&self.resolver).await,
        })
    }

    async fn dns(&self) -> Result<admin::DnsSetup, Error> {
        let status = self.dns.status(&self.resolver).await;
        let env = self.resolver.clone();
        let target = status.listening.or_else(|| status.listen.parse().ok());
        let suffixes: Vec<String> = status.suffixes.iter().map(|s| s.suffix.clone()).collect();
        let plan =
            tokio::task::spawn_blocking(move || crate::dns::plan(&env, target, &suffixes)).await?;
        Ok(admin::DnsSetup { status, plan })
    }
}

impl Control for Core {
    fn routes(&self) -> BoxFuture<'_, Result<RouteRows, Error>> {
        blocking(&self.store, Store::list_routes).boxed()
    }
    fn add_route(&self, route: NewRoute) -> BoxFuture<'_, Result<Route, Error>> {
        Core::add_route(self, route).boxed()
    }
    fn route(&self, id: RouteId) -> BoxFuture<'_, Result<Route, Error>> {
        blocking(&self.store, move |s| s.route(id)).boxed()
    }
    fn update_route(&self, id: RouteId, patch: RoutePatch) -> BoxFuture<'_, Result<Route, Error>> {
        Core::update_route(self, id, patch).boxed()
    }
    fn remove_route(&self, id: RouteId) -> BoxFuture<'_, Result<(), Error>> {
        Core::remove_route(self, id).boxed()
    }
    fn status(&self) -> BoxFuture<'_, Result<Status, Error>> {
        Core::status(self).boxed()
    }
    fn ca_pem(&self) -> String {
        self.tls.authority().ca().root_pem().to_owned()
    }
    fn settings(&self) -> BoxFuture<'_, Result<Settings, Error>> {
        blocking(&self.store, Store::settings).boxed()
    }
    fn update_settings(&self, patch: SettingsPatch) -> BoxFuture<'_, Result<Settings, Error>> {
        Core::update_settings(self, patch).boxed()
    }
    fn ca_status(&self) -> BoxFuture<'_, Result<CaReport, Error>> {
        Core::ca_status(self).boxed()
    }
    fn ca_trust(&self, add: bool) -> BoxFuture<'_, Result<Vec<StoreChange>, Error>> {
        Core::ca_trust(self, add).boxed()
    }
    fn ca_rotate(&self) -> BoxFuture<'_, Result<RotationReport, Error>> {
        Core::ca_rotate(self).boxed()
    }
    fn events(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.events.subscribe()
    }
    fn export(&self) -> BoxFuture<'_, Result<Export, Error>> {
        Core::export(self).boxed()
    }
    fn import(&self, export: Export) -> BoxFuture<'_, Result<ImportSummary, Error>> {
        Core::import(self, export).boxed()
    }
    fn sync_project(&self, project: ProjectRoutes) -> BoxFuture<'_, Result<ImportSummary, Error>> {
        Core::sync_project(self, project).boxed()
    }
    fn remove_project(&self, project: String) -> BoxFuture<'_, Result<usize, Error>> {
        Core::remove_project(self, project).boxed()
    }
    fn shares(&self) -> BoxFuture<'_, Result<Vec<ShareInfo>, Error>> {
        Core::shares(self).boxed()
    }
    fn share_info(&self, id: RouteId) -> BoxFuture<'_, Result<ShareInfo, Error>> {
        Core::share_info(self, id).boxed()
    }
    fn share(
        &self,
        id: RouteId,
        duration: Option<Duration>,
    ) -> BoxFuture<'_, Result<ShareInfo, Error>> {
        Core::share(self, id, duration).boxed()
    }
    fn unshare(&self, id: RouteId) -> BoxFuture<'_, Result<ShareInfo, Error>> {
        Core::unshare(self, id).boxed()
    }
    fn share_listeners(&self) -> BoxFuture<'_, Vec<SocketAddr>> {
        self.sharing().addrs().boxed()
    }
    fn dns(&self) -> BoxFuture<'_, Result<admin::DnsSetup, Error>> {
        Core::dns(self).boxed()
    }
    fn hosts_status(&self) -> BoxFuture<'_, Result<HostsStatus, Error>> {
        Core::hosts_status(self).boxed()
    }
    fn hosts_sync(&self) -> BoxFuture<'_, Result<HostsChange, Error>> {
        Core::hosts_sync(self).boxed()
    }
    fn hosts_remove(&self) -> BoxFuture<'_, Result<HostsChange, Error>> {
        Core::hosts_remove(self).boxed()
    }
}

impl Core {
    async fn update_settings(&self, patch: SettingsPatch) -> Result<Settings, Error> {
        let store = self.store.clone();
        let settings = tokio::task::spawn_blocking(move || -> Result<Settings, Error> {
            let next = patch.apply(&store.settings()?)?;
            store.put_settings(&next)?;
            Ok(next)
        })
        .await??;
        self.apply_live_settings(&settings);
        self.hosts_wake.notify_one();
        self.refresh_ca(true).await;
        self.sync_sharing().await;
        self.dns
            .sync(&settings.dns_listen, &settings.dns_suffixes)
            .await;
        let _ = self.events.send(Event::SettingsChanged);
        Ok(settings)
    }

    fn hosts(&self) -> Result<&hosts::Manager, Error> {
        self.hosts
            .as_ref()
            .ok_or(Error::Hosts(hosts::Error::Unavailable))
    }

    async fn hosts_status(&self) -> Result<HostsStatus, Error> {
        let manager = self.hosts()?;
        let settings = blocking(&self.store, Store::settings).await?;
        let table = self.table.load_full();
        Ok(manager.status(table.routes(), settings.hosts_sync).await)
    }

    async fn hosts_sync(&self) -> Result<HostsChange, Error> {
        let manager = self.hosts()?;
        if !blocking(&self.store, Store::settings).await?.hosts_sync {
            return Err(hosts::Error::Off.into());
        }
        let table = self.table.load_full();
        let edited = manager.sync(table.routes()).await?;
        Ok(HostsChange {
            changed: edited.changed,
            backup: edited.backup,
            status: self.hosts_status().await?,
        })
    }

    /// Switch sync off (so the block stays out), then take the block out.
    async fn hosts_remove(&self) -> Result<HostsChange, Error> {
        let manager = self.hosts()?;
        if blocking(&self.store, Store::settings).await?.hosts_sync {
            self.update_settings(SettingsPatch {
                hosts_sync: Some(false),
                ..SettingsPatch::default()
            })
            .await?;
        }
        let edited = manager.remove().await?;
        Ok(HostsChange {
            changed: edited.changed,
            backup: edited.backup,
            status: self.hosts_status().await?,
        })
    }

    /// Capture, cache and compression settings take effect at once.
    fn apply_live_settings(&self, settings: &Settings) {
        use std::sync::atomic::Ordering;
        let max_bytes = settings.cache_max_mb << 20;
        if self.cache.max_bytes() != max_bytes {
            self.cache.set_max_bytes(max_bytes);
        }
        self.compress_min_bytes
            .store(settings.compress_min_bytes, Ordering::Relaxed);
        let gate = crate::proxy::Gate::new(settings, Some(&self.gate.load()));
        self.gate.store(Arc::new(gate));
        self.inspector.set_paused(settings.capture_paused);
        self.inspector
            .set_body_limit(settings.capture_body_limit as usize);
        self.retention
            .max_count
            .store(settings.capture_retention_count, Ordering::Relaxed);
        self.retention
            .max_age_secs
            .store(settings.capture_retention_days * 86_400, Ordering::Relaxed);
        self.retention
            .max_bytes
            .store(settings.capture_max_mb << 20, Ordering::Relaxed);
        self.traffic.fit_bodies(settings.capture_max_mb << 20);
    }

    fn ca_report(ca: &Ca, stores: Vec<trust::StoreStatus>) -> CaReport {
        let unix = |t: std::time::SystemTime| {
            t.duration_since(std::time::SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
        };
        CaReport {
            name: ca.root_name().to_owned(),
            path: ca.root_path(),
            sha256: ca.root_fingerprint(),
            expires: unix(ca.root_not_after()),
            intermediate_expires: unix(ca.intermediate_not_after()),
            suffixes: ca.suffixes().iter().cloned().collect(),
            stores,
        }
    }

    async fn ca_status(&self) -> Result<CaReport, Error> {
        let authority = self.tls.authority();
        let cert = authority
            .ca()
            .trust_cert()
            .map_err(crate::tls::Error::Trust)?;
        let env = self.trust.clone();
        let stores = match env {
            Some(env) => tokio::task::spawn_blocking(move || trust::status(&env, &cert)).await?,
            None => Vec::new(),
        };
        Ok(Core::ca_report(authority.ca(), stores))
    }

    async fn ca_trust(&self, add: bool) -> Result<Vec<StoreChange>, Error> {
        let env = self.trust.clone().ok_or(Error::TrustUnavailable)?;
        let cert = self
            .tls
            .authority()
            .ca()
            .trust_cert()
            .map_err(crate::tls::Error::Trust)?;
        let outcomes = tokio::task::spawn_blocking(move || {
            if add {
                trust::trust(&env, &cert)
            } else {
                trust::untrust(&env, &cert)
            }
        })
        .await?;
        Ok(outcomes.into_iter().map(StoreChange::from).collect())
    }

    async fn ca_rotate(&self) -> Result<RotationReport, Error> {
        let env = self.trust.clone().ok_or(Error::TrustUnavailable)?;
        let suffixes = blocking(&self.store, Store::settings).await?.local_suffixes;
        let (dir, owner) = (self.ca.dir.clone(), self.ca.owner.clone());
        let one_change = self.ca.changing.lock().await;
        let rotation =
            tokio::task::spawn_blocking(move || crate::tls::rotate(&dir, &owner, &suffixes, &env))
                .await??;
        self.reload_ca(false).await;
        drop(one_change);
        // The new intermediate permits no LAN address yet: shared routes get it added again.
        self.sync_sharing().await;
        Ok(RotationReport {
            ca: Core::ca_report(&rotation.ca, Vec::new()),
            retired: rotation.retired,
            untrusted: rotation
                .untrusted
                .into_iter()
                .map(StoreChange::from)
                .collect(),
            trusted: rotation
                .trusted
                .into_iter()
                .map(StoreChange::from)
                .collect(),
        })
    }

    async fn export(&self) -> Result<Export, Error> {
        let rows = blocking(&self.store, Store::list_routes).await?;
        let settings = blocking(&self.store, Store::settings).await?;
        Ok(Export::new(&rows.routes, settings))
    }

    async fn import(&self, mut export: Export) -> Result<ImportSummary, Error> {
        let existing = blocking(&self.store, Store::list_routes).await?;
        crate::config::keep_passwords(&mut export.routes, &existing.routes);
        let (routes, settings) = tokio::task::spawn_blocking(move || export.validate())
            .await?
            .map_err(Error::Import)?;
        let has_settings = settings.is_some();
        let summary = blocking(&self.store, move |s| s.import(&routes, settings.as_ref())).await?;
        self.rebuild().await?;
        if has_settings {
            if let Ok(settings) = blocking(&self.store, Store::settings).await {
                self.apply_live_settings(&settings);
                self.dns
                    .sync(&settings.dns_listen, &settings.dns_suffixes)
                    .await;
            }
            self.refresh_ca(true).await;
            let _ = self.events.send(Event::SettingsChanged);
        }
        Ok(summary)
    }

    async fn sync_project(&self, project: ProjectRoutes) -> Result<ImportSummary, Error> {
        let settings = blocking(&self.store, Store::settings).await?;
        let mut wanted: Vec<NewRoute> = project
            .routes
            .into_iter()
            .map(|r| r.with_defaults(&settings))
            .collect();
        let existing = blocking(&self.store, Store::list_routes).await?;
        crate::config::keep_passwords(&mut wanted, &existing.routes);
        let name = project.project;
        let checked = name.clone();
        let routes =
            tokio::task::spawn_blocking(move || crate::config::validate_project(&checked, &wanted))
                .await?
                .map_err(Error::Import)?;
        let summary = blocking(&self.store, move |s| s.sync_project(&name, &routes)).await?;
        self.rebuild().await?;
        Ok(summary)
    }

    async fn remove_project(&self, project: String) -> Result<usize, Error> {
        let removed = blocking(&self.store, move |s| s.remove_project(&project)).await?;
        self.rebuild().await?;
        Ok(removed)
    }
}

/// Tell other processes where the admin API is: `{"url": …, "pid": …}`, mode 0600.
fn write_admin_file(data_dir: &Path, addr: SocketAddr) {
    let text = serde_json::json!({
        "url": format!("http://{addr}"),
        "pid": std::process::id(),
    })
    .to_string();
    let path = data_dir.join(ADMIN_FILE);
    if let Err(err) = store::write_atomically(&path, text.as_bytes(), 0o600) {
        tracing::warn!(
            "cannot write {}: {err}; the CLI will edit the database directly",
            path.display()
        );
    }
}

/// Remove the admin file if it is still ours (another engine may have replaced it).
fn remove_admin_file(data_dir: &Path) {
    let path = data_dir.join(ADMIN_FILE);
    let ours = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["pid"] == std::process::id());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

/// Rebuild the table when another process commits to the database.
async fn watch_store(core: Arc<Core>, baseline: i64, stop: CancellationToken) {
    let mut seen = baseline;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
        let now = match blocking(&core.store, Store::data_version).await {
            Ok(v) => v,
            Err(err) => {
                tracing::warn!("cannot check the database for changes: {err}");
                continue;
            }
        };
        let changed = seen != now;
        if changed {
            seen = now;
            if let Err(err) = core.rebuild().await {
                tracing::warn!("cannot reload routes: {err}");
            }
            match blocking(&core.store, Store::settings).await {
                Ok(settings) => {
                    core.apply_live_settings(&settings);
                    core.dns
                        .sync(&settings.dns_listen, &settings.dns_suffixes)
                        .await;
                }
                Err(err) => tracing::warn!("cannot reload settings: {err}"),
            }
        }
        core.dns.retry().await;
        core.refresh_ca(changed).await;
        core.expire_shares().await;
    }
}

/// Keep the hosts file's block in step with the routes: once at start, then whenever the
/// table or the settings change (woken by `hosts_wake`; wakes while a sync runs coalesce into
/// one more). Off the request path; a failure is logged and shown in the status, never fatal.
/// The block stays when the engine stops (its names still point at this machine).
async fn sync_hosts(core: Arc<Core>, stop: CancellationToken) {
    let Some(manager) = core.hosts.as_ref() else {
        return;
    };
    loop {
        match blocking(&core.store, Store::settings).await {
            Ok(settings) if settings.hosts_sync => {
                let table = core.table.load_full();
                // Failures are remembered by the manager (status, one log line).
                let _ = manager.sync(table.routes()).await;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!("cannot read settings for hosts-file sync: {err}"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = core.hosts_wake.notified() => {}
        }
    }
}

/// Now, in Unix milliseconds (share expiry times).
fn now_millis() -> u64 {
    u64::try_from(crate::unix_millis()).unwrap_or(0)
}

/// Run a store call on the blocking pool.
async fn blocking<T, F>(store: &Store, call: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, store::Error> + Send + 'static,
{
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || call(&store)).await??)
}

impl EngineHandle {
    /// The addresses plain HTTP listens on.
    pub fn http_addrs(&self) -> &[SocketAddr] {
        &self.core.http_addrs
    }

    /// Set when the preferred HTTP port could not be used.
    pub fn http_fallback(&self) -> Option<&Fallback> {
        self.http_fallback.as_ref()
    }

    /// The addresses HTTPS listens on (empty when it is off).
    pub fn https_addrs(&self) -> &[SocketAddr] {
        &self.core.https_addrs
    }

    /// Set when the preferred HTTPS port could not be used.
    pub fn https_fallback(&self) -> Option<&Fallback> {
        self.https_fallback.as_ref()
    }

    /// The TLS side: the CA and its leaves.
    pub fn tls(&self) -> &Tls {
        &self.core.tls
    }

    /// The addresses the admin API listens on (empty when it is off).
    pub fn admin_addrs(&self) -> &[SocketAddr] {
        &self.core.admin_addrs
    }

    /// Set when the preferred admin port could not be used.
    pub fn admin_fallback(&self) -> Option<&Fallback> {
        self.admin_fallback.as_ref()
    }

    /// A one-time link that logs a browser in to the admin API (`None` when it is off).
    pub fn login_url(&self) -> Option<String> {
        let state = self.admin_state.as_ref()?;
        let addr = self.core.admin_addrs.first()?;
        Some(state.login_url(&format!("http://{addr}")))
    }

    /// Subscribe to engine events.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.core.events.subscribe()
    }

    /// The admin API's bearer token (also in `<data-dir>/admin-token`).
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token.as_ref().map(Token::as_str)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.core.data_dir
    }

    /// How many connections `client` has open to the proxy listeners, as counted for the
    /// `max_conns_per_ip` setting.
    pub fn open_connections(&self, client: std::net::IpAddr) -> u64 {
        self.proxy.open_connections(client)
    }

    /// What the proxy has open now: client connections, requests being answered, upgraded
    /// connections.
    pub fn load(&self) -> crate::proxy::LoadStatus {
        self.core.load.status()
    }

    /// Every stored route.
    pub async fn routes(&self) -> Result<RouteRows, Error> {
        blocking(&self.core.store, Store::list_routes).await
    }

    /// Validate and store a route; it serves from the next request on.
    pub async fn add_route(&self, route: NewRoute) -> Result<Route, Error> {
        self.core.add_route(route).await
    }

    /// Change a route; requests already in flight finish on the old one.
    pub async fn update_route(&self, id: RouteId, patch: RoutePatch) -> Result<Route, Error> {
        self.core.update_route(id, patch).await
    }

    /// The settings as stored.
    pub async fn settings(&self) -> Result<Settings, Error> {
        blocking(&self.core.store, Store::settings).await
    }

    /// Change settings; capture, cache and compression settings apply at once.
    pub async fn update_settings(&self, patch: SettingsPatch) -> Result<Settings, Error> {
        self.core.update_settings(patch).await
    }

    /// Remove a route.
    pub async fn remove_route(&self, id: RouteId) -> Result<(), Error> {
        self.core.remove_route(id).await
    }

    /// Share route `id` on the LAN address, for `duration` or until [`EngineHandle::unshare`].
    pub async fn share(&self, id: RouteId, duration: Option<Duration>) -> Result<ShareInfo, Error> {
        self.core.share(id, duration).await
    }

    /// Stop sharing route `id`.
    pub async fn unshare(&self, id: RouteId) -> Result<ShareInfo, Error> {
        self.core.unshare(id).await
    }

    /// The hosts file against the routes: what is in Portico's block, what is missing, and
    /// the command that fixes it when the engine may not write the file.
    pub async fn hosts_status(&self) -> Result<HostsStatus, Error> {
        self.core.hosts_status().await
    }

    /// Sync the hosts file's block now (it also happens by itself after every change).
    pub async fn hosts_sync(&self) -> Result<HostsChange, Error> {
        self.core.hosts_sync().await
    }

    /// Switch hosts-file sync off and remove Portico's block.
    pub async fn hosts_remove(&self) -> Result<HostsChange, Error> {
        self.core.hosts_remove().await
    }

    /// Route `id`'s sharing: its LAN URL, the CA page, expiry, QR codes.
    pub async fn share_info(&self, id: RouteId) -> Result<ShareInfo, Error> {
        self.core.share_info(id).await
    }

    /// Stop accepting, let in-flight requests finish (bounded by the shutdown grace
    /// setting), then close upgraded connections.
    pub async fn shutdown(mut self) {
        remove_admin_file(&self.core.data_dir);
        self.stop.cancel();
        self.core.dns.shutdown().await;
        self.tasks.close();
        self.tasks.wait().await;
        self.stop_tunnels.cancel();
        self.proxy.tunnels().close();
        self.proxy.tunnels().wait().await;
        self.stop_recorder.cancel();
        if let Some(recorder) = self.recorder.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), recorder).await;
        }
    }

    /// The inspector: pause, resume, drop counts.
    pub fn inspector(&self) -> &Inspector {
        &self.core.inspector
    }

    /// The captured traffic.
    pub fn traffic(&self) -> &TrafficStore {
        &self.core.traffic
    }

    /// The DNS responder: where it answers, why not, and each suffix's resolver setup.
    pub async fn dns(&self) -> crate::dns::DnsStatus {
        self.core.dns.status(&self.core.resolver).await
    }

    /// Live captured exchanges.
    pub fn live_traffic(&self) -> tokio::sync::broadcast::Receiver<Live> {
        self.core.live.subscribe()
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        if !self.stop.is_cancelled() {
            remove_admin_file(&self.core.data_dir);
        }
        self.stop.cancel();
        self.stop_tunnels.cancel();
        self.stop_recorder.cancel();
    }
}
