//! The web UI: the Vite build in `ui/dist`, embedded in the binary by `rust-embed` (read from
//! disk in debug builds, so a rebuilt UI shows without recompiling). `index.html` is served at
//! `/` with `no-cache`; the content-hashed files under `/assets/` are immutable and cached for a
//! year. Both sit behind the admin router's Host/Origin check like everything else.
//!
//! A build without `ui/dist` still compiles (`allow_missing`): `/` then says how to build the
//! UI (`make ui`) instead of failing, so `cargo build` works on a fresh clone. It does not own
//! the login flow (`auth.rs`) or anything under `/api/v1`.
//!
//! With a UI folder set (`portico serve --ui-dir`), the files come from that folder on every
//! request instead: for working on the UI, and so tests serve the checkout's build whatever
//! checkout compiled the binary.

use std::path::{Component, Path as FsPath};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::Embed;

/// The built UI. The folder is relative to this crate's `Cargo.toml`.
#[derive(Embed)]
#[folder = "../../ui/dist/"]
#[allow_missing = true]
struct Dist;

/// Hashed assets never change under one name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `index.html` names the current hashes, so the browser must revalidate it every time.
const REVALIDATE: &str = "no-cache";

/// Shown at `/` by a binary built before the UI was.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Portico</title>\
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#1f2328}\
code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}\
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}code{background:#161b22}}</style></head>\
<body><h1>Portico</h1><p>This binary was built without its web UI. Run <code>make ui</code> \
(or <code>make build</code>, which builds the UI first) and build again. Meanwhile this admin \
address serves the JSON API under <a href=\"/api/v1/status\"><code>/api/v1</code></a> \
(described at <a href=\"/api/v1/openapi.json\"><code>/api/v1/openapi.json</code></a>), and \
the <code>portico</code> command does everything: \
<code>portico route add app.localhost 5173</code>, <code>portico ca trust</code>.</p></body></html>";

/// `GET /`: the UI's `index.html`, or a page saying how to build it.
pub(super) async fn index(State(state): State<super::AdminState>) -> Response {
    match file(state.ui_dir.as_deref(), "index.html", REVALIDATE).await {
        Some(resp) => resp,
        None => {
            let mut resp = Html(NOT_BUILT).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
            resp
        }
    }
}

/// `GET /assets/{*path}`: one of the build's hashed files.
pub(super) async fn asset(
    State(state): State<super::AdminState>,
    Path(path): Path<String>,
) -> Response {
    match file(
        state.ui_dir.as_deref(),
        &format!("assets/{path}"),
        IMMUTABLE,
    )
    .await
    {
        Some(resp) => resp,
        None => super::error::not_found().await.into_response(),
    }
}

/// The file at `path` (from `dir` when set, else the embedded build) with its content type
/// and `cache_control`, if there is one.
async fn file(dir: Option<&FsPath>, path: &str, cache_control: &'static str) -> Option<Response> {
    let (mime, data) = match dir {
        Some(dir) => {
            let relative = FsPath::new(path);
            // Only plain names below the folder: no `..`, no root, no prefix.
            if !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
            {
                return None;
            }
            let data = tokio::fs::read(dir.join(relative)).await.ok()?;
            let mime = mime_guess::from_path(relative).first_or_octet_stream();
            (mime.essence_str().to_owned(), data)
        }
        None => {
            let file = Dist::get(path)?;
            (file.metadata.mimetype().to_owned(), file.data.into_owned())
        }
    };
    let mime = mime.as_str();
    let content_type = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Some(
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, content_type),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(cache_control),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            data,
        )
            .into_response(),
    )
}
