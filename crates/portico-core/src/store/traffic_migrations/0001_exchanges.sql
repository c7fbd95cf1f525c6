-- Captured traffic lives in its own database file (traffic.db), so a huge log never slows
-- reading or writing routes and settings.
PRAGMA application_id = 1347572820;

CREATE TABLE exchanges (
    id            INTEGER PRIMARY KEY,
    started_at    INTEGER NOT NULL,          -- Unix milliseconds
    method        TEXT    NOT NULL,
    scheme        TEXT    NOT NULL,
    host          TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    query         TEXT,
    version       TEXT    NOT NULL,
    client        TEXT    NOT NULL,
    route_id      INTEGER,
    route         TEXT,
    upstream      TEXT,
    status        INTEGER,
    duration_ms   REAL    NOT NULL,
    ttfb_ms       REAL,
    bytes_in      INTEGER NOT NULL,          -- request head + body, as received
    bytes_out     INTEGER NOT NULL,          -- response head + body, as sent
    error         TEXT,
    error_side    TEXT,
    error_code    TEXT,
    request_headers  TEXT NOT NULL,          -- JSON [[name, value], …]
    response_headers TEXT NOT NULL,
    request_body     BLOB NOT NULL,          -- preview, at most the capture limit
    request_size     INTEGER NOT NULL,       -- true size
    response_body    BLOB NOT NULL,
    response_size    INTEGER NOT NULL,
    websocket     TEXT,                      -- JSON frame and byte counts, for upgrades
    replay_of     INTEGER,
    imported      INTEGER NOT NULL DEFAULT 0 -- from a HAR file, not live traffic
) STRICT;

CREATE INDEX exchanges_started ON exchanges (started_at);
CREATE INDEX exchanges_host ON exchanges (host);

-- Free text over the URL and the headers. Built on demand: recording writes only the row, and
-- the index catches up (from `fts_progress`) when a search needs it, so capture never pays
-- for indexing.
CREATE VIRTUAL TABLE exchanges_fts USING fts5 (url, headers, content = '', contentless_delete = 1);
CREATE TABLE fts_progress (indexed_through INTEGER NOT NULL) STRICT;
INSERT INTO fts_progress VALUES (0);
