-- Per-route capture switch for the traffic inspector (off for a noisy route).
ALTER TABLE routes ADD COLUMN capture INTEGER NOT NULL DEFAULT 1;
