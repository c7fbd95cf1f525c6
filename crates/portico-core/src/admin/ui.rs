//! The web UI's home. The UI itself arrives with its own issue; until then this page says so
//! and points at what works today.

use axum::response::Html;

pub(super) async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Portico</title>\
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#1f2328}\
code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}\
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}code{background:#161b22}}</style></head>\
<body><h1>Portico</h1><p>The web UI is not built yet. Until it lands, this admin address serves \
the JSON API under <a href=\"/api/v1/status\"><code>/api/v1</code></a> (described at \
<a href=\"/api/v1/openapi.json\"><code>/api/v1/openapi.json</code></a>), and the \
<code>portico</code> command does everything: <code>portico route add app.localhost 5173</code>, \
<code>portico ca trust</code>.</p></body></html>",
    )
}
