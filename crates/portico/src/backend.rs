//! Where the CLI's changes go: through the admin API of the engine running for the data dir
//! (validated and applied there, live at once), or straight into the database when no engine
//! runs (a later `portico serve` reads it).

use std::path::Path;

use anyhow::Context;
use portico_core::config::{Export, NewRoute, Route, RouteId, RoutePatch, Settings, SettingsPatch};
use portico_core::store::{ImportSummary, Store};

use crate::client::Admin;

/// The API of a running engine, or the database.
pub(crate) enum Backend {
    /// An engine runs for this data dir.
    Api(Admin),
    /// None does.
    Store(Store),
}

/// A stored route that does not validate (only seen when reading the database directly).
pub(crate) struct Broken {
    pub(crate) id: RouteId,
    pub(crate) host: String,
    pub(crate) error: String,
}

impl Backend {
    pub(crate) fn open(data_dir: &Path) -> anyhow::Result<Backend> {
        match Admin::connect(data_dir) {
            Some(admin) => Ok(Backend::Api(admin)),
            None => Ok(Backend::Store(Store::open_dir(data_dir)?)),
        }
    }

    /// Whether changes reach a running engine at once.
    pub(crate) fn is_live(&self) -> bool {
        matches!(self, Backend::Api(_))
    }

    pub(crate) fn routes(&self) -> anyhow::Result<(Vec<Route>, Vec<Broken>)> {
        match self {
            Backend::Api(api) => Ok((api.get("/routes")?, Vec::new())),
            Backend::Store(store) => {
                let rows = store.list_routes()?;
                let broken = rows
                    .invalid
                    .into_iter()
                    .map(|b| Broken {
                        id: b.id,
                        host: b.host,
                        error: b.error.to_string(),
                    })
                    .collect();
                Ok((rows.routes, broken))
            }
        }
    }

    pub(crate) fn add(&self, route: NewRoute) -> anyhow::Result<Route> {
        match self {
            Backend::Api(api) => api.send("POST", "/routes", &route),
            Backend::Store(store) => {
                let route = route.with_defaults(&store.settings()?);
                Ok(store.insert_route(&route.validate()?)?)
            }
        }
    }

    pub(crate) fn update(&self, id: RouteId, patch: RoutePatch) -> anyhow::Result<Route> {
        match self {
            Backend::Api(api) => api.send("PATCH", &format!("/routes/{id}"), &patch),
            Backend::Store(store) => {
                let next = patch.apply(&store.route(id)?)?;
                store.update_route(&next)?;
                Ok(next)
            }
        }
    }

    pub(crate) fn remove(&self, id: RouteId) -> anyhow::Result<()> {
        match self {
            Backend::Api(api) => api.delete(&format!("/routes/{id}")),
            Backend::Store(store) => Ok(store.delete_route(id)?),
        }
    }

    pub(crate) fn settings(&self) -> anyhow::Result<Settings> {
        match self {
            Backend::Api(api) => api.get("/settings"),
            Backend::Store(store) => Ok(store.settings()?),
        }
    }

    pub(crate) fn update_settings(&self, patch: SettingsPatch) -> anyhow::Result<Settings> {
        match self {
            Backend::Api(api) => api.send("PATCH", "/settings", &patch),
            Backend::Store(store) => {
                let next = patch.apply(&store.settings()?)?;
                store.put_settings(&next)?;
                Ok(next)
            }
        }
    }

    pub(crate) fn export(&self) -> anyhow::Result<Export> {
        match self {
            Backend::Api(api) => api.get("/export"),
            Backend::Store(store) => {
                Ok(Export::new(&store.list_routes()?.routes, store.settings()?))
            }
        }
    }

    pub(crate) fn import(&self, export: Export) -> anyhow::Result<ImportSummary> {
        match self {
            Backend::Api(api) => api.send("POST", "/import", &export),
            Backend::Store(store) => {
                let (routes, settings) = export.validate().map_err(portico_core::Error::Import)?;
                Ok(store.import(&routes, settings.as_ref())?)
            }
        }
    }

    pub(crate) fn project_up(
        &self,
        project: &str,
        routes: Vec<NewRoute>,
    ) -> anyhow::Result<ImportSummary> {
        match self {
            Backend::Api(api) => api.send(
                "POST",
                "/projects/up",
                &portico_core::admin::ProjectRoutes {
                    project: project.to_owned(),
                    routes,
                },
            ),
            Backend::Store(store) => {
                let valid = portico_core::config::validate_project(project, &routes)
                    .map_err(portico_core::Error::Import)?;
                Ok(store.sync_project(project, &valid)?)
            }
        }
    }

    pub(crate) fn project_down(&self, project: &str) -> anyhow::Result<usize> {
        match self {
            Backend::Api(api) => {
                let reply: serde_json::Value = api.send(
                    "POST",
                    "/projects/down",
                    &serde_json::json!({ "project": project }),
                )?;
                reply["removed"]
                    .as_u64()
                    .map(|n| n as usize)
                    .context("the engine did not say how many routes it removed")
            }
            Backend::Store(store) => Ok(store.remove_project(project)?),
        }
    }
}
