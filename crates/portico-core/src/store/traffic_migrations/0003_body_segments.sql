-- Body previews move out of the row into append-only segment files beside this database
-- (traffic-bodies/): which segment, where in it, and how many bytes of each preview. Rows
-- written before keep their previews in request_body/response_body (these columns stay,
-- empty for new rows).
ALTER TABLE exchanges ADD COLUMN body_file INTEGER;
ALTER TABLE exchanges ADD COLUMN body_at INTEGER;
ALTER TABLE exchanges ADD COLUMN request_kept INTEGER;
ALTER TABLE exchanges ADD COLUMN response_kept INTEGER;
