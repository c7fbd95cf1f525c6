//! Starting and stopping everything: opens the store, binds listeners, builds the route
//! table and swaps a new one in atomically whenever routes change (through this handle, or
//! by another process writing the same database, such as the CLI).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Error;
use crate::config::{NewRoute, Route, RouteId, RoutePatch};
use crate::proxy::{self, Fallback, ListenSpec, Listeners, Proxy, RouteTable, ServeOptions};
use crate::store::{self, RouteRows, Store};

/// How often the engine checks whether another process changed the database.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

/// What the engine needs to start.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Holds `portico.db`. Created (mode 0700) if missing.
    pub data_dir: PathBuf,
    /// Where plain HTTP listens. Default: port 80 on loopback, else 8080.
    pub http: ListenSpec,
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
    shared: Arc<Shared>,
    data_dir: PathBuf,
    http_addrs: Vec<SocketAddr>,
    http_fallback: Option<Fallback>,
    proxy: Proxy,
    /// Stops accepting and starts the graceful drain.
    stop: CancellationToken,
    /// Ends upgraded connections; fired after the drain.
    stop_tunnels: CancellationToken,
    tasks: TaskTracker,
}

#[derive(Debug)]
struct Shared {
    store: Store,
    table: Arc<ArcSwap<RouteTable>>,
    own_addrs: Vec<SocketAddr>,
    /// Serialises rebuilds so an older snapshot never replaces a newer one.
    rebuild: tokio::sync::Mutex<()>,
}

impl Engine {
    /// Open the store, bind the listeners and start serving.
    pub async fn start(config: EngineConfig) -> Result<EngineHandle, Error> {
        let dir = config.data_dir.clone();
        let store = tokio::task::spawn_blocking(move || Store::open_dir(&dir)).await??;
        let settings = blocking(&store, Store::settings).await?;

        let listeners = Listeners::bind(&config.http).await?;
        let http_addrs = listeners.addrs();
        let stop = CancellationToken::new();
        let stop_tunnels = CancellationToken::new();
        let table = Arc::new(ArcSwap::from_pointee(RouteTable::default()));
        let shared = Arc::new(Shared {
            store,
            table: table.clone(),
            own_addrs: http_addrs.clone(),
            rebuild: tokio::sync::Mutex::new(()),
        });
        // The baseline is taken before the first build, so a write landing in between is
        // seen as a change rather than lost.
        let baseline = blocking(&shared.store, Store::data_version).await?;
        shared.rebuild().await?;

        let proxy = Proxy::new(table, stop_tunnels.clone());
        let tasks = TaskTracker::new();
        let opts = ServeOptions {
            header_read_timeout: Duration::from_millis(settings.header_read_timeout_ms),
            grace: Duration::from_millis(settings.shutdown_grace_ms),
        };
        for socket in listeners.sockets {
            tasks.spawn(proxy::serve(socket, proxy.clone(), opts, stop.clone()));
        }
        tasks.spawn(watch_store(shared.clone(), baseline, stop.clone()));

        Ok(EngineHandle {
            shared,
            data_dir: config.data_dir,
            http_addrs,
            http_fallback: listeners.fallback,
            proxy,
            stop,
            stop_tunnels,
            tasks,
        })
    }
}

impl Shared {
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
        self.table
            .store(Arc::new(RouteTable::new(routes, &self.own_addrs)));
        Ok(())
    }
}

/// Rebuild the table when another process commits to the database.
async fn watch_store(shared: Arc<Shared>, baseline: i64, stop: CancellationToken) {
    let mut seen = baseline;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
        let now = match blocking(&shared.store, Store::data_version).await {
            Ok(v) => v,
            Err(err) => {
                tracing::warn!("cannot check the database for changes: {err}");
                continue;
            }
        };
        if seen != now {
            seen = now;
            if let Err(err) = shared.rebuild().await {
                tracing::warn!("cannot reload routes: {err}");
            }
        }
    }
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
        &self.http_addrs
    }

    /// Set when the preferred HTTP port could not be used.
    pub fn http_fallback(&self) -> Option<&Fallback> {
        self.http_fallback.as_ref()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Every stored route.
    pub async fn routes(&self) -> Result<RouteRows, Error> {
        blocking(&self.shared.store, Store::list_routes).await
    }

    /// Validate and store a route; it serves from the next request on.
    pub async fn add_route(&self, route: NewRoute) -> Result<Route, Error> {
        let valid = route.validate()?;
        let stored = blocking(&self.shared.store, move |s| s.insert_route(&valid)).await?;
        self.shared.rebuild().await?;
        Ok(stored)
    }

    /// Change a route; requests already in flight finish on the old one.
    pub async fn update_route(&self, id: RouteId, patch: RoutePatch) -> Result<Route, Error> {
        let store = self.shared.store.clone();
        let updated = tokio::task::spawn_blocking(move || -> Result<Route, Error> {
            let next = patch.apply(&store.route(id)?)?;
            store.update_route(&next)?;
            Ok(next)
        })
        .await??;
        self.shared.rebuild().await?;
        Ok(updated)
    }

    /// Remove a route.
    pub async fn remove_route(&self, id: RouteId) -> Result<(), Error> {
        blocking(&self.shared.store, move |s| s.delete_route(id)).await?;
        self.shared.rebuild().await
    }

    /// Stop accepting, let in-flight requests finish (bounded by the shutdown grace
    /// setting), then close upgraded connections.
    pub async fn shutdown(self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.stop_tunnels.cancel();
        self.proxy.tunnels().close();
        self.proxy.tunnels().wait().await;
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop.cancel();
        self.stop_tunnels.cancel();
    }
}
