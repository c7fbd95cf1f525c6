//! Talking to a running engine's admin API. The CLI uses it whenever an engine runs for the
//! data dir (so changes are validated and applied in one place, at once), and edits the
//! database directly when none does.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A running engine's admin API.
pub(crate) struct Admin {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Admin {
    /// The engine running for `data_dir`, if one answers.
    pub(crate) fn connect(data_dir: &Path) -> Option<Admin> {
        let info = std::fs::read_to_string(data_dir.join(portico_core::ADMIN_FILE)).ok()?;
        let info: serde_json::Value = serde_json::from_str(&info).ok()?;
        let base = info["url"].as_str()?.trim_end_matches('/').to_owned();
        let token = std::fs::read_to_string(data_dir.join(portico_core::admin::TOKEN_FILE)).ok()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .timeout_connect(Some(Duration::from_secs(1)))
            .http_status_as_error(false)
            .build()
            .into();
        let admin = Admin {
            base,
            token: token.trim().to_owned(),
            agent,
        };
        // A stale file (the engine was killed) must not stop the CLI: check it answers.
        admin.get::<serde_json::Value>("/status").ok()?;
        Some(admin)
    }

    /// `GET /api/v1{path}`.
    pub(crate) fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let resp = self
            .agent
            .get(format!("{}/api/v1{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .call()
            .with_context(|| format!("cannot reach the running engine at {}", self.base))?;
        read(resp)
    }

    /// `METHOD /api/v1{path}` with a JSON body.
    pub(crate) fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        let url = format!("{}/api/v1{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let request = match method {
            "POST" => self.agent.post(url),
            "PATCH" => self.agent.patch(url),
            "PUT" => self.agent.put(url),
            other => return Err(anyhow!("unsupported method {other}")),
        };
        let resp = request
            .header("authorization", auth)
            .send_json(body)
            .with_context(|| format!("cannot reach the running engine at {}", self.base))?;
        read(resp)
    }

    /// `DELETE /api/v1{path}`, reading the JSON answer.
    pub(crate) fn delete_for<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let resp = self
            .agent
            .delete(format!("{}/api/v1{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .call()
            .with_context(|| format!("cannot reach the running engine at {}", self.base))?;
        read(resp)
    }

    /// `DELETE /api/v1{path}`.
    pub(crate) fn delete(&self, path: &str) -> anyhow::Result<()> {
        let resp = self
            .agent
            .delete(format!("{}/api/v1{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .call()
            .with_context(|| format!("cannot reach the running engine at {}", self.base))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(problem(resp))
        }
    }
}

fn read<T: DeserializeOwned>(mut resp: ureq::http::Response<ureq::Body>) -> anyhow::Result<T> {
    if !resp.status().is_success() {
        return Err(problem(resp));
    }
    resp.body_mut()
        .read_json()
        .context("the engine answered with something that is not the expected JSON")
}

/// An error answer as one line: the problem's detail, and every listed problem.
fn problem(mut resp: ureq::http::Response<ureq::Body>) -> anyhow::Error {
    let status = resp.status();
    let body: serde_json::Value = resp.body_mut().read_json().unwrap_or_default();
    let mut text = body["detail"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("the engine answered {status}"));
    if let Some(errors) = body["errors"].as_array() {
        for e in errors {
            text.push_str(&format!(
                "\n  {}: {}",
                e["at"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("?")
            ));
        }
    }
    anyhow!(text)
}
