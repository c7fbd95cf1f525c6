-- Routes added by `portico up` from a project's portico.json carry the project's folder, so
-- `portico down` removes exactly those.
ALTER TABLE routes ADD COLUMN project TEXT;
CREATE INDEX routes_project ON routes (project) WHERE project IS NOT NULL;
