-- Portico's first schema: routes and settings.
PRAGMA application_id = 1347572803;

CREATE TABLE routes (
    id            INTEGER PRIMARY KEY,
    host          TEXT    NOT NULL,
    path          TEXT    NOT NULL DEFAULT '/',
    -- JSON array of upstream URLs, e.g. ["http://127.0.0.1:5173"]
    upstreams     TEXT    NOT NULL,
    strip_prefix  INTEGER NOT NULL DEFAULT 0,
    upstream_host INTEGER NOT NULL DEFAULT 0,
    timeout_ms    INTEGER NOT NULL DEFAULT 60000,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (host, path)
) STRICT;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
