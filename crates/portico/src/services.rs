//! `portico services`: what listens on loopback, to map with one command.

use std::path::Path;

use portico_core::discover;

use crate::backend::Backend;

pub(crate) fn run(data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let backend = Backend::open(data_dir)?;
    let (routes, _) = backend.routes()?;
    let routed = discover::routed_ports(&routes);
    // Portico's own listeners, when it runs, are whatever the running engine reports.
    let own = match &backend {
        Backend::Api(api) => {
            let status: serde_json::Value = api.get("/status")?;
            ["http", "https", "admin"]
                .iter()
                .flat_map(|k| {
                    status["listeners"][k]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|a| a.as_str()?.parse().ok())
                .collect()
        }
        Backend::Store(_) => Vec::new(),
    };
    let services = discover::scan(&own, &routed)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&services)?);
        return Ok(());
    }
    if services.is_empty() {
        println!("Nothing is listening on loopback. Start your dev server, then run this again.");
        return Ok(());
    }
    for s in &services {
        let what = [s.framework.as_deref(), s.process.as_deref()]
            .into_iter()
            .flatten()
            .next()
            .unwrap_or("?");
        let folder = s.cwd.as_deref().unwrap_or("");
        let mapped = if s.routes.is_empty() {
            format!("map it: portico route add {} {}", s.suggested_host, s.port)
        } else {
            "already routed".to_owned()
        };
        println!("{:>5}  {what:<18} {folder}\n       {mapped}", s.port);
    }
    Ok(())
}
