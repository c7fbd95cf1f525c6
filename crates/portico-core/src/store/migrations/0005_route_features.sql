-- Per-route features beyond forwarding (a static folder or a redirect instead of an upstream;
-- compression, cache, header rules), as one JSON object: `{}` means every default.
ALTER TABLE routes ADD COLUMN features TEXT NOT NULL DEFAULT '{}';
