-- HTTPS: per-route redirect from http:// to https://, and issued leaf certificates.
ALTER TABLE routes ADD COLUMN https_redirect INTEGER NOT NULL DEFAULT 1;

CREATE TABLE certificates (
    host      TEXT    PRIMARY KEY,
    cert_pem  TEXT    NOT NULL,
    key_pem   TEXT    NOT NULL,
    -- Unix seconds.
    not_after INTEGER NOT NULL,
    -- SHA-256 of the intermediate that signed it; leaves of an older intermediate are stale.
    issuer    TEXT    NOT NULL
) STRICT;
